// Microsoft.ManagedIdentity/userAssignedIdentities: get/list/put/patch/delete. Each identity owns an emulator principal
// (object id = principalId, client id = clientId) that role assignments, access policies and ACR tasks refer to.
import type { Emulator, EmuRequest } from '../core/emulator.js';
import { arm } from '../core/errors.js';
import type { ArmResource } from '../core/state.js';
import { requireResourceGroup } from './resourceGroups.js';

/** What `@azure/arm-msi` 2.2 sends, plus the version the contracts document. */
export const MSI_API_VERSIONS = ['2024-11-30', '2023-01-31'];
export const USER_ASSIGNED_IDENTITY_TYPE = 'Microsoft.ManagedIdentity/userAssignedIdentities';

export interface UserAssignedIdentityResource extends ArmResource {
  location: string;
  tags: Record<string, string>;
  properties: { tenantId: string; principalId: string; clientId: string; isolationScope: 'None' | 'Regional' };
}

/** The principal behind a user-assigned identity (by ARM id, compared case-insensitively), if it exists. */
export function findUserAssignedIdentity(
  emu: Emulator,
  id: string,
): { principalId: string; clientId: string } | undefined {
  const found = emu.store.getResource<UserAssignedIdentityResource>(id);
  if (!found || found.type.toLowerCase() !== USER_ASSIGNED_IDENTITY_TYPE.toLowerCase()) return undefined;
  return { principalId: found.properties.principalId, clientId: found.properties.clientId };
}

// The real service echoes ids with lower-case `resourcegroups` (contracts section 5).
function identityId(sub: string, rg: string, name: string): string {
  return `/subscriptions/${sub}/resourcegroups/${rg}/providers/${USER_ASSIGNED_IDENTITY_TYPE}/${name}`;
}

const NAME_RX = /^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$/;
const ISOLATION_SCOPES = ['None', 'Regional'];

interface IdentityBody {
  location?: string;
  tags?: Record<string, string>;
  properties?: { isolationScope?: string };
}

function validateTags(tags: unknown): Record<string, string> | undefined {
  if (tags === undefined || tags === null) return undefined;
  if (typeof tags !== 'object' || Array.isArray(tags) || Object.values(tags).some((v) => typeof v !== 'string'))
    throw arm.badRequest('InvalidTag', 'The tags must be an object of string values.');
  return tags as Record<string, string>;
}

function validateIsolationScope(value: unknown): 'None' | 'Regional' | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || !ISOLATION_SCOPES.includes(value))
    throw arm.badRequest(
      'InvalidRequestContent',
      `The value '${String(value)}' of properties.isolationScope is invalid. Allowed values: ${ISOLATION_SCOPES.join(', ')}.`,
    );
  return value as 'None' | 'Regional';
}

/** Wire form for the request's api-version: `isolationScope` only exists from 2024-11-30 on. */
function present(res: UserAssignedIdentityResource, apiVersion: string | undefined) {
  const { isolationScope, ...rest } = res.properties;
  return {
    ...res,
    properties: apiVersion && apiVersion >= '2024-11-30' ? { ...rest, isolationScope } : rest,
  };
}

export function registerManagedIdentity(emu: Emulator): void {
  const base = '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ManagedIdentity';
  const item = `${base}/userAssignedIdentities/{resourceName}`;

  const lookup = (req: EmuRequest) => {
    const rg = requireResourceGroup(emu, req.params.subscriptionId!, req.params.resourceGroupName!);
    const id = identityId(emu.subscriptionId, rg.name, req.params.resourceName!);
    return { rg, id, existing: emu.store.getResource<UserAssignedIdentityResource>(id) };
  };
  const notFound = (req: EmuRequest, rgName: string) =>
    arm.resourceNotFound(`${USER_ASSIGNED_IDENTITY_TYPE}/${req.params.resourceName}`, rgName);

  emu.armRoute({
    op: 'userAssignedIdentities.createOrUpdate',
    method: 'PUT',
    path: item,
    apiVersions: MSI_API_VERSIONS,
    action: `${USER_ASSIGNED_IDENTITY_TYPE}/write`,
    handler: (req) => {
      const { rg, id, existing } = lookup(req);
      const name = req.params.resourceName!;
      if (!NAME_RX.test(name))
        throw arm.badRequest(
          'InvalidResourceName',
          `Resource name '${name}' is invalid. The name can contain only letters, numbers, underscores and hyphens, must start with a letter or number, and must be 3 to 128 characters long.`,
        );
      const body = req.json<IdentityBody>() ?? {};
      if (!body.location || typeof body.location !== 'string')
        throw arm.badRequest('LocationRequired', 'The location property is required for this definition.');
      const location = body.location.toLowerCase().replace(/\s+/g, '');
      if (existing && existing.location !== location)
        throw arm.badRequest(
          'InvalidResourceLocation',
          `The resource '${existing.name}' already exists in location '${existing.location}' in resource group '${rg.name}'. A resource with the same name cannot be created in location '${location}'. Please select a new resource name.`,
        );
      const tags = validateTags(body.tags) ?? {};
      const isolationScope = validateIsolationScope(body.properties?.isolationScope);
      let res: UserAssignedIdentityResource;
      if (existing) {
        // PUT replaces tags and settings but never the principal: principalId/clientId are stable for the resource.
        res = {
          ...existing,
          tags,
          properties: { ...existing.properties, isolationScope: isolationScope ?? existing.properties.isolationScope },
        };
      } else {
        const principal = emu.newPrincipal('userAssigned', name, id, false);
        res = {
          id,
          name,
          type: USER_ASSIGNED_IDENTITY_TYPE,
          location,
          tags,
          properties: {
            tenantId: emu.tenantId,
            principalId: principal.objectId,
            clientId: principal.clientId,
            isolationScope: isolationScope ?? 'None',
          },
        };
      }
      emu.store.putResource(res);
      return { status: existing ? 200 : 201, body: present(res, req.apiVersion) };
    },
  });

  emu.armRoute({
    op: 'userAssignedIdentities.update',
    method: 'PATCH',
    path: item,
    apiVersions: MSI_API_VERSIONS,
    action: `${USER_ASSIGNED_IDENTITY_TYPE}/write`,
    handler: (req) => {
      const { rg, existing } = lookup(req);
      if (!existing) throw notFound(req, rg.name);
      const body = req.json<IdentityBody>() ?? {};
      if (body.location && body.location.toLowerCase().replace(/\s+/g, '') !== existing.location)
        throw arm.badRequest('LocationNotAvailableForResourceType', 'The location of an identity cannot be changed.');
      const tags = validateTags(body.tags);
      const isolationScope = validateIsolationScope(body.properties?.isolationScope);
      const res: UserAssignedIdentityResource = {
        ...existing,
        tags: tags ?? existing.tags,
        properties: { ...existing.properties, isolationScope: isolationScope ?? existing.properties.isolationScope },
      };
      emu.store.putResource(res);
      return { status: 200, body: present(res, req.apiVersion) };
    },
  });

  emu.armRoute({
    op: 'userAssignedIdentities.get',
    method: 'GET',
    path: item,
    apiVersions: MSI_API_VERSIONS,
    action: `${USER_ASSIGNED_IDENTITY_TYPE}/read`,
    handler: (req) => {
      const { rg, existing } = lookup(req);
      if (!existing) throw notFound(req, rg.name);
      return { status: 200, body: present(existing, req.apiVersion) };
    },
  });

  emu.armRoute({
    op: 'userAssignedIdentities.delete',
    method: 'DELETE',
    path: item,
    apiVersions: MSI_API_VERSIONS,
    action: `${USER_ASSIGNED_IDENTITY_TYPE}/delete`,
    handler: (req) => {
      const { id, existing } = lookup(req);
      if (!existing) return { status: 204 };
      // Role assignments *on* the identity go with it (extension resources); assignments *to* its principal stay
      // behind as orphans, as in Azure ("Identity not found").
      emu.store.deleteResource(id);
      emu.removePrincipal(existing.properties.principalId);
      return { status: 200 };
    },
  });

  emu.armRoute({
    op: 'userAssignedIdentities.listByResourceGroup',
    method: 'GET',
    path: `${base}/userAssignedIdentities`,
    apiVersions: MSI_API_VERSIONS,
    action: `${USER_ASSIGNED_IDENTITY_TYPE}/read`,
    handler: (req) => {
      const rg = requireResourceGroup(emu, req.params.subscriptionId!, req.params.resourceGroupName!);
      const scope = `/subscriptions/${emu.subscriptionId}/resourceGroups/${rg.name}`;
      const value = emu.store
        .listResources<UserAssignedIdentityResource>(USER_ASSIGNED_IDENTITY_TYPE, scope)
        .map((r) => present(r, req.apiVersion));
      return { status: 200, body: { value } };
    },
  });

  emu.armRoute({
    op: 'userAssignedIdentities.listBySubscription',
    method: 'GET',
    path: '/subscriptions/{subscriptionId}/providers/Microsoft.ManagedIdentity/userAssignedIdentities',
    apiVersions: MSI_API_VERSIONS,
    action: `${USER_ASSIGNED_IDENTITY_TYPE}/read`,
    handler: (req) => {
      const value = emu.store
        .listResources<UserAssignedIdentityResource>(
          USER_ASSIGNED_IDENTITY_TYPE,
          `/subscriptions/${emu.subscriptionId}`,
        )
        .map((r) => present(r, req.apiVersion));
      return { status: 200, body: { value } };
    },
  });
}
