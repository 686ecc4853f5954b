// Microsoft.Resources: resource groups (get/put/delete/list) and the subscription itself.
import type { Emulator } from '../core/emulator.js';
import { arm } from '../core/errors.js';
import type { ArmResource } from '../core/state.js';

export const RESOURCES_API_VERSIONS = ['2021-04-01', '2022-09-01', '2023-07-01', '2024-03-01', '2024-11-01'];
const RG_TYPE = 'Microsoft.Resources/resourceGroups';

export interface ResourceGroupResource extends ArmResource {
  location: string;
  tags?: Record<string, string>;
  properties: { provisioningState: string };
}

export function rgId(sub: string, rg: string): string {
  return `/subscriptions/${sub}/resourceGroups/${rg}`;
}

/** Throws ResourceGroupNotFound unless the group exists; returns it (with its stored casing). */
export function requireResourceGroup(emu: Emulator, sub: string, rg: string): ResourceGroupResource {
  const found = emu.store.getResource<ResourceGroupResource>(rgId(sub, rg));
  if (!found) throw arm.resourceGroupNotFound(rg);
  return found;
}

export function registerResourceGroups(emu: Emulator): void {
  const base = '/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}';
  emu.armRoute({
    op: 'subscriptions.get',
    method: 'GET',
    path: '/subscriptions/{subscriptionId}',
    apiVersions: ['2016-06-01', '2020-01-01', '2021-01-01', '2022-12-01'],
    action: 'Microsoft.Resources/subscriptions/read',
    handler: () => ({
      status: 200,
      body: {
        id: `/subscriptions/${emu.subscriptionId}`,
        subscriptionId: emu.subscriptionId,
        tenantId: emu.tenantId,
        displayName: 'acr-cascade emulated subscription',
        state: 'Enabled',
      },
    }),
  });
  emu.armRoute({
    op: 'resourceGroups.get',
    method: 'GET',
    path: base,
    apiVersions: RESOURCES_API_VERSIONS,
    action: 'Microsoft.Resources/subscriptions/resourceGroups/read',
    handler: (req) => ({
      status: 200,
      body: requireResourceGroup(emu, req.params.subscriptionId!, req.params.resourceGroupName!),
    }),
  });
  emu.armRoute({
    op: 'resourceGroups.list',
    method: 'GET',
    path: '/subscriptions/{subscriptionId}/resourcegroups',
    apiVersions: RESOURCES_API_VERSIONS,
    action: 'Microsoft.Resources/subscriptions/resourceGroups/read',
    handler: () => ({ status: 200, body: { value: emu.store.listResources(RG_TYPE) } }),
  });
  emu.armRoute({
    op: 'resourceGroups.createOrUpdate',
    method: 'PUT',
    path: base,
    apiVersions: RESOURCES_API_VERSIONS,
    action: 'Microsoft.Resources/subscriptions/resourceGroups/write',
    handler: (req) => {
      const body = req.json<{ location?: string; tags?: Record<string, string> }>();
      if (!body?.location)
        throw arm.badRequest('LocationRequired', 'The location property is required for this definition.');
      if (!/^[-\w._()]{1,90}$/.test(req.params.resourceGroupName!) || req.params.resourceGroupName!.endsWith('.')) {
        throw arm.badRequest(
          'InvalidResourceGroup',
          `The provided resource group name '${req.params.resourceGroupName}' has these invalid characters.`,
        );
      }
      const existing = emu.store.getResource<ResourceGroupResource>(
        rgId(req.params.subscriptionId!, req.params.resourceGroupName!),
      );
      const rg: ResourceGroupResource = {
        id: existing?.id ?? rgId(emu.subscriptionId, req.params.resourceGroupName!),
        name: existing?.name ?? req.params.resourceGroupName!,
        type: RG_TYPE,
        location: body.location.toLowerCase(),
        ...(body.tags ? { tags: body.tags } : {}),
        properties: { provisioningState: 'Succeeded' },
      };
      emu.store.putResource(rg);
      return { status: existing ? 200 : 201, body: rg };
    },
  });
  emu.armRoute({
    op: 'resourceGroups.delete',
    method: 'DELETE',
    path: base,
    apiVersions: RESOURCES_API_VERSIONS,
    action: 'Microsoft.Resources/subscriptions/resourceGroups/delete',
    handler: (req) => {
      const id = rgId(req.params.subscriptionId!, req.params.resourceGroupName!);
      if (!emu.store.getResource(id)) throw arm.resourceGroupNotFound(req.params.resourceGroupName!);
      emu.store.deleteResource(id);
      return { status: 200 };
    },
  });
}
