// Microsoft.KeyVault/vaults (ARM): PUT/GET/PATCH/DELETE, list by resource group / subscription, access policy
// updates (`accessPolicies/{add|replace|remove}`, what `az keyvault set-policy` sends) and checkNameAvailability.
// Each vault gets its own HTTPS data-plane listener; `properties.vaultUri` points at it.
import type { EmuRequest, Emulator } from '../core/emulator.js';
import { arm } from '../core/errors.js';
import { requireResourceGroup } from '../arm/resourceGroups.js';
import {
  VAULT_API_VERSIONS,
  VAULT_TYPE,
  findVaultByName,
  secretsBucket,
  type AccessPolicyEntry,
  type VaultResource,
} from './model.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const VAULT_NAME = /^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/;
const PERMISSIONS: Record<string, string[]> = {
  secrets: ['all', 'get', 'list', 'set', 'delete', 'backup', 'restore', 'recover', 'purge'],
  keys: [
    'all',
    'encrypt',
    'decrypt',
    'wrapkey',
    'unwrapkey',
    'sign',
    'verify',
    'get',
    'list',
    'create',
    'update',
    'import',
    'delete',
    'backup',
    'restore',
    'recover',
    'purge',
    'release',
    'rotate',
    'getrotationpolicy',
    'setrotationpolicy',
  ],
  certificates: [
    'all',
    'get',
    'list',
    'delete',
    'create',
    'import',
    'update',
    'managecontacts',
    'getissuers',
    'listissuers',
    'setissuers',
    'deleteissuers',
    'manageissuers',
    'recover',
    'purge',
    'backup',
    'restore',
  ],
  storage: [
    'all',
    'get',
    'list',
    'delete',
    'set',
    'update',
    'regeneratekey',
    'recover',
    'purge',
    'backup',
    'restore',
    'setsas',
    'listsas',
    'getsas',
    'deletesas',
  ],
};

interface VaultBody {
  location?: string;
  tags?: Record<string, string>;
  properties?: Partial<VaultResource['properties']> & { createMode?: string };
}

export function vaultId(sub: string, rg: string, name: string): string {
  return `/subscriptions/${sub}/resourceGroups/${rg}/providers/${VAULT_TYPE}/${name}`;
}

/** Port of a stored vaultUri (0 when unknown), reused on restart so the topology stays stable. */
function persistedPort(v: VaultResource | undefined): number {
  if (!v?.properties.vaultUri) return 0;
  const port = Number(new URL(v.properties.vaultUri).port);
  return Number.isFinite(port) ? port : 0;
}

function validatePolicies(policies: unknown, field: string): AccessPolicyEntry[] {
  if (!Array.isArray(policies)) throw arm.badRequest('BadRequest', `The property '${field}' must be an array.`);
  return policies.map((raw, i) => {
    const p = raw as Partial<AccessPolicyEntry> | null;
    if (!p || typeof p.tenantId !== 'string' || !GUID.test(p.tenantId))
      throw arm.badRequest('BadRequest', `Invalid value found at ${field}[${i}].tenantId.`);
    if (typeof p.objectId !== 'string' || p.objectId === '')
      throw arm.badRequest('BadRequest', `Invalid value found at ${field}[${i}].objectId.`);
    if (!p.permissions || typeof p.permissions !== 'object')
      throw arm.badRequest('BadRequest', `Invalid value found at ${field}[${i}].permissions.`);
    const permissions: AccessPolicyEntry['permissions'] = {};
    for (const [kind, allowed] of Object.entries(PERMISSIONS)) {
      const list = (p.permissions as Record<string, unknown>)[kind];
      if (list === undefined || list === null) continue;
      if (!Array.isArray(list))
        throw arm.badRequest('BadRequest', `${field}[${i}].permissions.${kind} must be an array.`);
      list.forEach((perm, j) => {
        if (typeof perm !== 'string' || !allowed.includes(perm.toLowerCase()))
          throw arm.badRequest(
            'BadRequest',
            `Invalid value found at ${field}[${i}].permissions.${kind}[${j}]: ${String(perm)}`,
          );
      });
      permissions[kind as keyof AccessPolicyEntry['permissions']] = list as string[];
    }
    return {
      tenantId: p.tenantId,
      objectId: p.objectId,
      ...(p.applicationId ? { applicationId: p.applicationId } : {}),
      permissions,
    };
  });
}

function samePolicyTarget(a: AccessPolicyEntry, b: AccessPolicyEntry): boolean {
  const eq = (x?: string, y?: string) => (x ?? '').toLowerCase() === (y ?? '').toLowerCase();
  return eq(a.tenantId, b.tenantId) && eq(a.objectId, b.objectId) && eq(a.applicationId, b.applicationId);
}

/** `add` unions permissions, `replace` overwrites them, `remove` subtracts them (dropping emptied entries). */
function applyPolicyChange(
  current: AccessPolicyEntry[],
  kind: 'add' | 'replace' | 'remove',
  changes: AccessPolicyEntry[],
): AccessPolicyEntry[] {
  const out = current.map((p) => structuredClone(p));
  for (const change of changes) {
    const i = out.findIndex((p) => samePolicyTarget(p, change));
    if (kind === 'add') {
      if (i < 0) out.push(structuredClone(change));
      else {
        const target = out[i]!;
        for (const k of Object.keys(PERMISSIONS) as (keyof AccessPolicyEntry['permissions'])[]) {
          const merged = [...(target.permissions[k] ?? [])];
          for (const perm of change.permissions[k] ?? [])
            if (!merged.some((m) => m.toLowerCase() === perm.toLowerCase())) merged.push(perm);
          if (merged.length) target.permissions[k] = merged;
        }
      }
    } else if (kind === 'replace') {
      if (i < 0) out.push(structuredClone(change));
      else out[i] = structuredClone(change);
    } else if (i >= 0) {
      const target = out[i]!;
      const listed = Object.values(change.permissions).some((l) => l && l.length > 0);
      if (!listed) {
        out.splice(i, 1);
        continue;
      }
      for (const k of Object.keys(PERMISSIONS) as (keyof AccessPolicyEntry['permissions'])[]) {
        const remove = new Set((change.permissions[k] ?? []).map((x) => x.toLowerCase()));
        if (target.permissions[k])
          target.permissions[k] = target.permissions[k].filter((x) => !remove.has(x.toLowerCase()));
      }
      if (!Object.values(target.permissions).some((l) => l && l.length > 0)) out.splice(i, 1);
    }
  }
  return out;
}

function requireVault(emu: Emulator, req: EmuRequest): VaultResource {
  const rg = requireResourceGroup(emu, req.params.subscriptionId!, req.params.resourceGroupName!);
  const v = emu.store.getResource<VaultResource>(vaultId(emu.subscriptionId, rg.name, req.params.vaultName!));
  if (!v) throw arm.resourceNotFound(`${VAULT_TYPE}/${req.params.vaultName}`, req.params.resourceGroupName!);
  return v;
}

/** Pages a list with `$top` and an opaque `$skipToken` (offset), the way ARM list APIs do. */
function page<T>(req: EmuRequest, items: T[]): { value: T[]; nextLink?: string } {
  const top = req.q('$top') ? Number(req.q('$top')) : undefined;
  if (top !== undefined && (!Number.isInteger(top) || top < 1))
    throw arm.badRequest('InvalidTopValue', `The value '${req.q('$top')}' is not valid for $top.`);
  const skip = Number(req.q('$skipToken') ?? '0') || 0;
  if (top === undefined) return { value: items.slice(skip) };
  const value = items.slice(skip, skip + top);
  if (skip + top >= items.length) return { value };
  const next = new URLSearchParams({
    'api-version': req.apiVersion!,
    $top: String(top),
    $skipToken: String(skip + top),
  });
  return { value, nextLink: `${req.baseUrl}${req.path}?${next.toString()}` };
}

export function registerKeyVaultArm(emu: Emulator): void {
  const rgBase = '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}';
  const base = `${rgBase}/providers/Microsoft.KeyVault/vaults`;
  const rgScope = (req: EmuRequest) =>
    `/subscriptions/${req.params.subscriptionId}/resourceGroups/${req.params.resourceGroupName}`;

  emu.armRoute({
    op: 'vaults.get',
    method: 'GET',
    path: `${base}/{vaultName}`,
    apiVersions: VAULT_API_VERSIONS,
    action: 'Microsoft.KeyVault/vaults/read',
    handler: (req) => ({ status: 200, body: requireVault(emu, req) }),
  });

  emu.armRoute({
    op: 'vaults.listByResourceGroup',
    method: 'GET',
    path: base,
    apiVersions: VAULT_API_VERSIONS,
    action: 'Microsoft.KeyVault/vaults/read',
    scope: rgScope,
    handler: (req) => {
      const rg = requireResourceGroup(emu, req.params.subscriptionId!, req.params.resourceGroupName!);
      const items = emu.store.listResources<VaultResource>(
        VAULT_TYPE,
        `/subscriptions/${emu.subscriptionId}/resourceGroups/${rg.name}`,
      );
      return { status: 200, body: page(req, items) };
    },
  });

  emu.armRoute({
    op: 'vaults.listBySubscription',
    method: 'GET',
    path: '/subscriptions/{subscriptionId}/providers/Microsoft.KeyVault/vaults',
    apiVersions: VAULT_API_VERSIONS,
    action: 'Microsoft.KeyVault/vaults/read',
    scope: (req) => `/subscriptions/${req.params.subscriptionId}`,
    handler: (req) => {
      const items = emu.store.listResources<VaultResource>(VAULT_TYPE, `/subscriptions/${emu.subscriptionId}`);
      return { status: 200, body: page(req, items) };
    },
  });

  emu.armRoute({
    op: 'vaults.checkNameAvailability',
    method: 'POST',
    path: '/subscriptions/{subscriptionId}/providers/Microsoft.KeyVault/checkNameAvailability',
    apiVersions: VAULT_API_VERSIONS,
    action: 'Microsoft.KeyVault/checkNameAvailability/read',
    scope: (req) => `/subscriptions/${req.params.subscriptionId}`,
    kind: 'read',
    handler: (req) => {
      const body = req.json<{ name?: string; type?: string }>();
      if (!body?.name) throw arm.badRequest('BadRequest', "The property 'name' is required.");
      if (!VAULT_NAME.test(body.name) || body.name.includes('--'))
        return {
          status: 200,
          body: { nameAvailable: false, reason: 'AccountNameInvalid', message: invalidNameMessage(body.name) },
        };
      if (findVaultByName(emu, body.name))
        return {
          status: 200,
          body: { nameAvailable: false, reason: 'AlreadyExists', message: alreadyExistsMessage(body.name) },
        };
      return { status: 200, body: { nameAvailable: true } };
    },
  });

  emu.armRoute({
    op: 'vaults.createOrUpdate',
    method: 'PUT',
    path: `${base}/{vaultName}`,
    apiVersions: VAULT_API_VERSIONS,
    action: 'Microsoft.KeyVault/vaults/write',
    handler: async (req) => {
      const rg = requireResourceGroup(emu, req.params.subscriptionId!, req.params.resourceGroupName!);
      const name = req.params.vaultName!;
      if (!VAULT_NAME.test(name) || name.includes('--'))
        throw arm.badRequest('VaultNameNotValid', invalidNameMessage(name));
      const body = req.json<VaultBody>();
      if (!body?.location)
        throw arm.badRequest('LocationRequired', 'The location property is required for this definition.');
      const p = body.properties;
      if (!p) throw arm.badRequest('BadRequest', "The property 'properties' is required.");
      if (typeof p.tenantId !== 'string' || !GUID.test(p.tenantId))
        throw arm.badRequest('BadRequest', "The property 'tenantId' is required and must be a GUID.");
      if (!p.sku || !/^(standard|premium)$/i.test(p.sku.name ?? '') || (p.sku.family ?? 'A') !== 'A')
        throw arm.badRequest(
          'BadRequest',
          "The property 'sku' is required: { family: 'A', name: 'standard' | 'premium' }.",
        );
      const id = vaultId(emu.subscriptionId, rg.name, name);
      const existing = emu.store.getResource<VaultResource>(id);
      const other = findVaultByName(emu, name);
      if (other && other.id.toLowerCase() !== id.toLowerCase())
        throw arm.conflict('VaultAlreadyExists', alreadyExistsMessage(name));
      const retention = p.softDeleteRetentionInDays ?? existing?.properties.softDeleteRetentionInDays ?? 90;
      if (!Number.isInteger(retention) || retention < 7 || retention > 90)
        throw arm.badRequest('BadRequest', "The property 'softDeleteRetentionInDays' must be between 7 and 90.");
      if (existing?.properties.enablePurgeProtection && p.enablePurgeProtection === false)
        throw arm.badRequest(
          'BadRequest',
          "The property 'enablePurgeProtection' cannot be set to false. Enabling the purge protection for a vault is an irreversible action.",
        );
      // New vaults default to RBAC from 2026-02-01; existing vaults keep their model unless the body says otherwise.
      const rbac =
        typeof p.enableRbacAuthorization === 'boolean'
          ? p.enableRbacAuthorization
          : (existing?.properties.enableRbacAuthorization ?? req.apiVersion! >= '2026-02-01');
      const policies =
        p.accessPolicies !== undefined && p.accessPolicies !== null
          ? validatePolicies(p.accessPolicies, 'accessPolicies')
          : (existing?.properties.accessPolicies ?? []);
      const url = await emu.openListener('vault', name, persistedPort(existing));
      const vault: VaultResource = {
        id: existing?.id ?? id,
        name: existing?.name ?? name,
        type: VAULT_TYPE,
        location: body.location,
        ...(body.tags ? { tags: body.tags } : {}),
        properties: {
          tenantId: p.tenantId,
          sku: { family: 'A', name: p.sku.name!.toLowerCase() },
          accessPolicies: policies,
          vaultUri: `${url}/`,
          enabledForDeployment: p.enabledForDeployment ?? existing?.properties.enabledForDeployment ?? false,
          enabledForDiskEncryption:
            p.enabledForDiskEncryption ?? existing?.properties.enabledForDiskEncryption ?? false,
          enabledForTemplateDeployment:
            p.enabledForTemplateDeployment ?? existing?.properties.enabledForTemplateDeployment ?? false,
          enableSoftDelete: p.enableSoftDelete ?? existing?.properties.enableSoftDelete ?? true,
          softDeleteRetentionInDays: retention,
          enableRbacAuthorization: rbac,
          ...((p.enablePurgeProtection ?? existing?.properties.enablePurgeProtection)
            ? { enablePurgeProtection: true }
            : {}),
          publicNetworkAccess: p.publicNetworkAccess ?? existing?.properties.publicNetworkAccess ?? 'Enabled',
          provisioningState: 'Succeeded',
        },
      };
      emu.store.putResource(vault);
      return { status: existing ? 200 : 201, body: vault };
    },
  });

  emu.armRoute({
    op: 'vaults.update',
    method: 'PATCH',
    path: `${base}/{vaultName}`,
    apiVersions: VAULT_API_VERSIONS,
    action: 'Microsoft.KeyVault/vaults/write',
    handler: (req) => {
      const vault = structuredClone(requireVault(emu, req));
      const body = req.json<VaultBody>() ?? {};
      const p = body.properties ?? {};
      if (p.tenantId !== undefined) {
        if (typeof p.tenantId !== 'string' || !GUID.test(p.tenantId))
          throw arm.badRequest('BadRequest', "The property 'tenantId' must be a GUID.");
        vault.properties.tenantId = p.tenantId;
      }
      if (p.sku) {
        if (!/^(standard|premium)$/i.test(p.sku.name ?? ''))
          throw arm.badRequest('BadRequest', "The property 'sku.name' must be 'standard' or 'premium'.");
        vault.properties.sku = { family: 'A', name: p.sku.name!.toLowerCase() };
      }
      if (p.accessPolicies) vault.properties.accessPolicies = validatePolicies(p.accessPolicies, 'accessPolicies');
      if (p.enablePurgeProtection === false && vault.properties.enablePurgeProtection)
        throw arm.badRequest(
          'BadRequest',
          "The property 'enablePurgeProtection' cannot be set to false. Enabling the purge protection for a vault is an irreversible action.",
        );
      if (p.enablePurgeProtection) vault.properties.enablePurgeProtection = true;
      if (p.softDeleteRetentionInDays !== undefined) {
        const d = p.softDeleteRetentionInDays;
        if (!Number.isInteger(d) || d < 7 || d > 90)
          throw arm.badRequest('BadRequest', "The property 'softDeleteRetentionInDays' must be between 7 and 90.");
        vault.properties.softDeleteRetentionInDays = d;
      }
      for (const k of [
        'enableRbacAuthorization',
        'enableSoftDelete',
        'enabledForDeployment',
        'enabledForDiskEncryption',
        'enabledForTemplateDeployment',
      ] as const) {
        if (typeof p[k] === 'boolean') vault.properties[k] = p[k];
      }
      if (typeof p.publicNetworkAccess === 'string') vault.properties.publicNetworkAccess = p.publicNetworkAccess;
      if (body.tags) vault.tags = body.tags;
      emu.store.putResource(vault);
      return { status: 200, body: vault };
    },
  });

  emu.armRoute({
    op: 'vaults.delete',
    method: 'DELETE',
    path: `${base}/{vaultName}`,
    apiVersions: VAULT_API_VERSIONS,
    action: 'Microsoft.KeyVault/vaults/delete',
    handler: async (req) => {
      const rg = requireResourceGroup(emu, req.params.subscriptionId!, req.params.resourceGroupName!);
      const vault = emu.store.getResource<VaultResource>(vaultId(emu.subscriptionId, rg.name, req.params.vaultName!));
      if (!vault) return { status: 204 };
      emu.store.deleteResource(vault.id);
      // The vault's secrets go with it (vault soft delete is not emulated).
      const secrets = secretsBucket(emu);
      const prefix = `${vault.name.toLowerCase()}/`;
      for (const k of [...secrets.keys()]) if (k.startsWith(prefix)) secrets.delete(k);
      emu.store.changed();
      await emu.closeListener('vault', vault.name);
      return { status: 200 };
    },
  });

  emu.armRoute({
    op: 'vaults.updateAccessPolicy',
    method: 'PUT',
    path: `${base}/{vaultName}/accessPolicies/{operationKind}`,
    apiVersions: VAULT_API_VERSIONS,
    action: 'Microsoft.KeyVault/vaults/accessPolicies/write',
    scope: (req) => `${rgScope(req)}/providers/${VAULT_TYPE}/${req.params.vaultName}`,
    handler: (req) => {
      const kind = req.params.operationKind!.toLowerCase();
      if (kind !== 'add' && kind !== 'replace' && kind !== 'remove')
        throw arm.badRequest(
          'BadRequest',
          `The operation kind '${req.params.operationKind}' is invalid. Valid values are 'add', 'replace' and 'remove'.`,
        );
      const vault = structuredClone(requireVault(emu, req));
      const body = req.json<{ properties?: { accessPolicies?: unknown } }>();
      if (!body?.properties?.accessPolicies)
        throw arm.badRequest('BadRequest', "The property 'properties.accessPolicies' is required.");
      const changes = validatePolicies(body.properties.accessPolicies, 'properties.accessPolicies');
      vault.properties.accessPolicies = applyPolicyChange(vault.properties.accessPolicies, kind, changes);
      emu.store.putResource(vault);
      return {
        status: 200,
        body: {
          id: `${vault.id}/accessPolicies/${kind}`,
          name: kind,
          type: 'Microsoft.KeyVault/vaults/accessPolicies',
          location: vault.location,
          properties: { accessPolicies: changes },
        },
      };
    },
  });

  // Persisted state: re-open each vault's listener (on its old port when free) and keep vaultUri truthful.
  emu.onStart(async () => {
    for (const v of emu.store.listResources<VaultResource>(VAULT_TYPE)) {
      const url = await emu.openListener('vault', v.name, persistedPort(v));
      if (v.properties.vaultUri !== `${url}/`) {
        v.properties.vaultUri = `${url}/`;
        emu.store.putResource(v);
      }
    }
  });
}

function invalidNameMessage(name: string): string {
  return `The vault name '${name}' is invalid. A vault's name must be between 3-24 alphanumeric characters. The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens. Follow this link for more information: https://go.microsoft.com/fwlink/?linkid=2147742`;
}

function alreadyExistsMessage(name: string): string {
  return `The vault name '${name}' is already in use. Vault names are globally unique so it is possible that the name is already taken. If you are sure that the vault name was not taken then it is possible that a vault with the same name was recently deleted but not purged after being placed in a recoverable state. If the vault is in a recoverable state then the vault will need to be purged before reusing the name. For more information on soft delete and purging a vault follow this link https://go.microsoft.com/fwlink/?linkid=2147740.`;
}
