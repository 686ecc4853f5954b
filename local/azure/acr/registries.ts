// Microsoft.ContainerRegistry/registries (2025-11-01, 2023-07-01): get/list/put/patch/delete and name checks. Each
// registry gets its own HTTPS data-plane listener; its URL is the emulator-only `properties.dataEndpoint`.
import type { Emulator, EmuRequest } from '../core/emulator.js';
import { arm } from '../core/errors.js';
import { requireResourceGroup } from '../arm/resourceGroups.js';
import { acr } from './errors.js';
import { applyIdentity, dropIdentity, presentIdentity } from './identity.js';
import {
  ABAC_MODE,
  LEGACY_MODE,
  REGISTRY_API_VERSIONS,
  REGISTRY_TYPE,
  findRegistryByName,
  isObject,
  registryId,
  requireRegistry,
  type Dict,
  type RegistryResource,
} from './model.js';
import { createSystemScopeMaps } from './tokens.js';

const NAME_RX = /^[a-zA-Z0-9]{5,50}$/;
const SKUS = ['Basic', 'Standard', 'Premium', 'Classic'];
const MODES = [LEGACY_MODE, ABAC_MODE];

interface RegistryBody {
  location?: unknown;
  tags?: unknown;
  sku?: { name?: unknown };
  identity?: unknown;
  properties?: Dict<unknown>;
}

function enumValue(field: string, value: unknown, allowed: string[]): string {
  const found = typeof value === 'string' ? allowed.find((a) => a.toLowerCase() === value.toLowerCase()) : undefined;
  if (!found)
    throw acr.invalid(`The value '${String(value)}' of ${field} is invalid. Allowed values: ${allowed.join(', ')}.`);
  return found;
}

function boolValue(field: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw acr.invalid(`The value of ${field} must be a boolean.`);
  return value;
}

function tagsValue(tags: unknown): Dict<string> | undefined {
  if (tags === undefined || tags === null) return undefined;
  if (!isObject(tags) || Object.values(tags).some((v) => typeof v !== 'string'))
    throw arm.badRequest('InvalidTag', 'The tags must be an object of string values.');
  return tags as Dict<string>;
}

/** Settable properties, applied over `base` (PUT: defaults; PATCH: the stored registry). */
function applyProperties(base: RegistryResource['properties'], props: Dict<unknown>): RegistryResource['properties'] {
  const out = { ...base };
  if (props.adminUserEnabled !== undefined)
    out.adminUserEnabled = boolValue('adminUserEnabled', props.adminUserEnabled);
  if (props.anonymousPullEnabled !== undefined)
    out.anonymousPullEnabled = boolValue('anonymousPullEnabled', props.anonymousPullEnabled);
  if (props.roleAssignmentMode !== undefined && props.roleAssignmentMode !== null)
    out.roleAssignmentMode = enumValue('roleAssignmentMode', props.roleAssignmentMode, MODES);
  if (props.publicNetworkAccess !== undefined)
    out.publicNetworkAccess = enumValue('publicNetworkAccess', props.publicNetworkAccess, ['Enabled', 'Disabled']);
  if (props.networkRuleBypassOptions !== undefined)
    out.networkRuleBypassOptions = enumValue('networkRuleBypassOptions', props.networkRuleBypassOptions, [
      'AzureServices',
      'None',
    ]);
  if (props.dataEndpointEnabled !== undefined)
    out.dataEndpointEnabled = boolValue('dataEndpointEnabled', props.dataEndpointEnabled);
  if (props.zoneRedundancy !== undefined)
    out.zoneRedundancy = enumValue('zoneRedundancy', props.zoneRedundancy, ['Enabled', 'Disabled']);
  if (props.networkRuleBypassAllowedForTasks !== undefined)
    out.networkRuleBypassAllowedForTasks = boolValue(
      'networkRuleBypassAllowedForTasks',
      props.networkRuleBypassAllowedForTasks,
    );
  if (isObject(props.policies)) out.policies = { ...(isObject(base.policies) ? base.policies : {}), ...props.policies };
  return out;
}

export function presentRegistry(emu: Emulator, r: RegistryResource): unknown {
  const identity = presentIdentity(emu, r.identity);
  return { ...r, ...(identity ? { identity } : {}) };
}

function portOf(url: string | undefined): number {
  const m = /:(\d+)\/?$/.exec(url ?? '');
  return m ? Number(m[1]) : 0;
}

export interface RegistryHooks {
  /** Called before a new registry is stored (forgets data a deleted resource group may have left for the name). */
  onCreating(name: string): void;
  /** Called after a registry and its ARM children are deleted (data plane, runs, principals). */
  onDeleted(registry: RegistryResource): void;
}

export function registerRegistries(emu: Emulator, hooks: RegistryHooks): void {
  const rgBase =
    '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry';
  const item = `${rgBase}/registries/{registryName}`;

  // Persisted registries keep their data-plane port when it is still free.
  emu.onStart(async () => {
    for (const r of emu.store.listResources<RegistryResource>(REGISTRY_TYPE)) {
      const url = await emu.openListener('registry', r.name, portOf(r.properties.dataEndpoint));
      if (url !== r.properties.dataEndpoint) {
        r.properties.dataEndpoint = url;
        emu.store.putResource(r);
      }
    }
  });

  // A registry the caller may not read is left out of a list, not refused: only the reads it was granted are logged.
  const visible = (req: EmuRequest, list: RegistryResource[]) =>
    list.filter((r) => {
      const need = { action: `${REGISTRY_TYPE}/read` };
      const allowed = emu.authorize(req.caller!.objectId, r.id, need).allowed;
      if (allowed) emu.recordAccess(req.caller!.objectId, r.id, need, true);
      return allowed;
    });

  emu.armRoute({
    op: 'registries.list',
    method: 'GET',
    path: '/subscriptions/{subscriptionId}/providers/Microsoft.ContainerRegistry/registries',
    apiVersions: REGISTRY_API_VERSIONS,
    // ARM lists what the caller may read instead of refusing the whole list.
    action: null,
    handler: (req) => ({
      status: 200,
      body: {
        value: visible(req, emu.store.listResources<RegistryResource>(REGISTRY_TYPE)).map((r) =>
          presentRegistry(emu, r),
        ),
      },
    }),
  });
  emu.armRoute({
    op: 'registries.listByResourceGroup',
    method: 'GET',
    path: `${rgBase}/registries`,
    apiVersions: REGISTRY_API_VERSIONS,
    action: null,
    handler: (req) => {
      const rg = requireResourceGroup(emu, req.params.subscriptionId!, req.params.resourceGroupName!);
      const list = emu.store.listResources<RegistryResource>(REGISTRY_TYPE, rg.id);
      return { status: 200, body: { value: visible(req, list).map((r) => presentRegistry(emu, r)) } };
    },
  });
  emu.armRoute({
    op: 'registries.checkNameAvailability',
    method: 'POST',
    path: '/subscriptions/{subscriptionId}/providers/Microsoft.ContainerRegistry/checkNameAvailability',
    apiVersions: REGISTRY_API_VERSIONS,
    action: 'Microsoft.ContainerRegistry/checkNameAvailability/read',
    scope: (req) => `/subscriptions/${req.params.subscriptionId}`,
    handler: (req) => {
      const body = req.json<{ name?: unknown; type?: unknown }>() ?? {};
      const name = typeof body.name === 'string' ? body.name : '';
      if (!NAME_RX.test(name))
        return {
          status: 200,
          body: {
            nameAvailable: false,
            reason: 'Invalid',
            message: 'The registry name must be 5 to 50 alphanumeric characters.',
          },
        };
      if (findRegistryByName(emu, name))
        return {
          status: 200,
          body: {
            nameAvailable: false,
            reason: 'AlreadyExists',
            message: `The registry ${name} is already in use.`,
          },
        };
      return { status: 200, body: { nameAvailable: true } };
    },
  });
  emu.armRoute({
    op: 'registries.get',
    method: 'GET',
    path: item,
    apiVersions: REGISTRY_API_VERSIONS,
    action: `${REGISTRY_TYPE}/read`,
    handler: (req) => ({ status: 200, body: presentRegistry(emu, requireRegistry(emu, req)) }),
  });

  emu.armRoute({
    op: 'registries.create',
    method: 'PUT',
    path: item,
    apiVersions: REGISTRY_API_VERSIONS,
    action: `${REGISTRY_TYPE}/write`,
    handler: async (req) => {
      const rg = requireResourceGroup(emu, req.params.subscriptionId!, req.params.resourceGroupName!);
      const name = req.params.registryName!;
      if (!NAME_RX.test(name))
        throw acr.invalidName('a container registry', name, 'The name must be 5 to 50 alphanumeric characters.');
      const id = registryId(emu.subscriptionId, rg.name, name);
      const existing = emu.store.getResource<RegistryResource>(id);
      const other = findRegistryByName(emu, name);
      if (!existing && other) throw acr.nameInUse(name);
      const body = req.json<RegistryBody>() ?? {};
      if (typeof body.location !== 'string' || !body.location) throw acr.locationRequired();
      const location = body.location.toLowerCase().replace(/\s+/g, '');
      if (existing && existing.location !== location)
        throw arm.badRequest(
          'InvalidResourceLocation',
          `The resource '${existing.name}' already exists in location '${existing.location}' in resource group '${rg.name}'. A resource with the same name cannot be created in location '${location}'. Please select a new resource name.`,
        );
      if (!isObject(body.sku)) throw acr.invalid('The sku property is required: { "name": "Basic|Standard|Premium" }.');
      const sku = enumValue('sku.name', body.sku.name, SKUS);
      const props = isObject(body.properties) ? body.properties : {};
      const realId = existing?.id ?? id;
      const realName = existing?.name ?? name;
      if (!existing) hooks.onCreating(realName);
      const dataEndpoint = existing?.properties.dataEndpoint ?? (await emu.openListener('registry', realName, 0));
      const defaults: RegistryResource['properties'] = {
        loginServer: `${realName.toLowerCase()}.azurecr.io`,
        creationDate: existing?.properties.creationDate ?? emu.nowIso(),
        provisioningState: 'Succeeded',
        adminUserEnabled: false,
        anonymousPullEnabled: false,
        roleAssignmentMode: LEGACY_MODE,
        publicNetworkAccess: 'Enabled',
        networkRuleBypassOptions: 'AzureServices',
        networkRuleBypassAllowedForTasks: false,
        dataEndpointEnabled: false,
        dataEndpointHostNames: [],
        privateEndpointConnections: [],
        zoneRedundancy: 'Disabled',
        encryption: { status: 'disabled' },
        policies: {
          quarantinePolicy: { status: 'disabled' },
          trustPolicy: { type: 'Notary', status: 'disabled' },
          retentionPolicy: { days: 7, status: 'disabled' },
          exportPolicy: { status: 'enabled' },
          azureADAuthenticationAsArmPolicy: { status: 'enabled' },
        },
        dataEndpoint,
      };
      const tags = tagsValue(body.tags);
      const identity = applyIdentity(emu, realId, realName, body.identity, existing?.identity, false);
      const res: RegistryResource = {
        id: realId,
        name: realName,
        type: REGISTRY_TYPE,
        location,
        ...(tags ? { tags } : {}),
        sku: { name: sku, tier: sku },
        ...(identity ? { identity } : {}),
        properties: applyProperties(defaults, props),
      };
      emu.store.putResource(res);
      createSystemScopeMaps(emu, res);
      return { status: existing ? 200 : 201, body: presentRegistry(emu, res) };
    },
  });

  emu.armRoute({
    op: 'registries.update',
    method: 'PATCH',
    path: item,
    apiVersions: REGISTRY_API_VERSIONS,
    action: `${REGISTRY_TYPE}/write`,
    handler: (req) => {
      const existing = requireRegistry(emu, req);
      const body = req.json<RegistryBody>() ?? {};
      const sku = isObject(body.sku) ? enumValue('sku.name', body.sku.name, SKUS) : existing.sku.name;
      const tags = body.tags === undefined ? existing.tags : tagsValue(body.tags);
      const identity = applyIdentity(emu, existing.id, existing.name, body.identity, existing.identity, true);
      const res: RegistryResource = {
        ...existing,
        ...(tags ? { tags } : {}),
        sku: { name: sku, tier: sku },
        properties: applyProperties(existing.properties, isObject(body.properties) ? body.properties : {}),
      };
      if (!tags) delete res.tags;
      if (identity) res.identity = identity;
      else delete res.identity;
      emu.store.putResource(res);
      return { status: 200, body: presentRegistry(emu, res) };
    },
  });

  emu.armRoute({
    op: 'registries.delete',
    method: 'DELETE',
    path: item,
    apiVersions: REGISTRY_API_VERSIONS,
    action: `${REGISTRY_TYPE}/delete`,
    handler: async (req) => {
      const rg = requireResourceGroup(emu, req.params.subscriptionId!, req.params.resourceGroupName!);
      const existing = emu.store.getResource<RegistryResource>(
        registryId(emu.subscriptionId, rg.name, req.params.registryName!),
      );
      if (!existing) return { status: 204 };
      hooks.onDeleted(existing);
      dropIdentity(emu, existing.identity);
      emu.store.deleteResource(existing.id);
      await emu.closeListener('registry', existing.name);
      return { status: 200 };
    },
  });
}
