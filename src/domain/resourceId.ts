// ARM resource ids. ARM compares every segment case-insensitively and echoes inconsistent casing
// (`resourcegroups` from MSI, `resourceGroups` from ACR), so ids are compared through normalizeId, never `===`.

export type ResourceIdKind = 'tenant' | 'subscription' | 'resourceGroup' | 'resource';

export interface ParsedResourceId {
  /** The id as given, with a leading `/` and no trailing `/`. */
  id: string;
  kind: ResourceIdKind;
  subscriptionId?: string;
  resourceGroup?: string;
  /** Provider namespace of the resource itself (the last `providers/` group), e.g. `Microsoft.Authorization`. */
  namespace?: string;
  /** Type chain of the last provider group: `['registries', 'tasks']`. */
  types: string[];
  /** Names matching `types`: `['myregistry', 'helloworldtask']`. */
  names: string[];
  /** Full type: `Microsoft.ContainerRegistry/registries/tasks`; for the non-resource kinds, the ARM equivalents. */
  resourceType: string;
  /** Last name (`''` for the tenant root). */
  name: string;
  /** For resources: the scope the provider group hangs off (resource group, or the resource an extension is on). */
  scope?: string;
}

/** A malformed id; `segment` names the offending part. */
export class ResourceIdError extends Error {
  constructor(
    readonly id: string,
    readonly segment: string,
    detail: string,
  ) {
    super(`invalid resource id '${id}': ${detail}`);
    this.name = 'ResourceIdError';
  }
}

const NAMESPACE = /^[A-Za-z0-9]+(?:\.[A-Za-z0-9]+)+$/;

function segmentsOf(input: string): string[] {
  if (typeof input !== 'string') throw new ResourceIdError(String(input), '', 'not a string');
  const text = input.trim();
  if (!text.startsWith('/')) throw new ResourceIdError(input, text.split('/')[0] ?? '', 'must start with /');
  const body = text.replace(/\/+$/, '').slice(1);
  if (body === '') return [];
  const segs = body.split('/');
  segs.forEach((s, i) => {
    if (s === '') throw new ResourceIdError(input, `#${i + 1}`, `empty segment after '${segs[i - 1] ?? ''}'`);
  });
  return segs;
}

export function parseResourceId(input: string): ParsedResourceId {
  const segs = segmentsOf(input);
  const id = segs.length === 0 ? '/' : `/${segs.join('/')}`;
  const out: ParsedResourceId = { id, kind: 'tenant', types: [], names: [], resourceType: 'tenant', name: '' };
  let i = 0;
  const take = (what: string): string => {
    const v = segs[i++];
    if (v === undefined) throw new ResourceIdError(input, what, `missing ${what}`);
    return v;
  };

  if (segs[i]?.toLowerCase() === 'subscriptions') {
    i++;
    out.subscriptionId = take('subscription id');
    out.kind = 'subscription';
    out.resourceType = 'Microsoft.Resources/subscriptions';
    out.name = out.subscriptionId;
    if (segs[i]?.toLowerCase() === 'resourcegroups') {
      i++;
      out.resourceGroup = take('resource group name');
      out.kind = 'resourceGroup';
      out.resourceType = 'Microsoft.Resources/resourceGroups';
      out.name = out.resourceGroup;
    }
  }

  let scopeEnd = i;
  while (i < segs.length) {
    const kw = segs[i] as string;
    if (kw.toLowerCase() !== 'providers') {
      throw new ResourceIdError(input, kw, `expected 'providers' but found '${kw}'`);
    }
    i++;
    const ns = take('provider namespace');
    if (!NAMESPACE.test(ns)) throw new ResourceIdError(input, ns, `'${ns}' is not a provider namespace`);
    const types: string[] = [];
    const names: string[] = [];
    // Type/name pairs until the next extension `providers` keyword (a type is never called `providers`).
    while (i < segs.length && (segs[i] as string).toLowerCase() !== 'providers') {
      const type = segs[i++] as string;
      const name = segs[i++];
      if (name === undefined) throw new ResourceIdError(input, type, `resource type '${type}' has no name`);
      types.push(type);
      names.push(name);
    }
    if (types.length === 0) throw new ResourceIdError(input, ns, `provider '${ns}' has no resource type`);
    out.kind = 'resource';
    out.scope = scopeEnd === 0 ? '/' : `/${segs.slice(0, scopeEnd).join('/')}`;
    out.namespace = ns;
    out.types = types;
    out.names = names;
    out.resourceType = `${ns}/${types.join('/')}`;
    out.name = names[names.length - 1] as string;
    scopeEnd = i;
  }
  return out;
}

/** Lower-cased canonical form for map keys and comparisons. Throws ResourceIdError on malformed ids. */
export function normalizeId(id: string): string {
  return parseResourceId(id).id.toLowerCase();
}

/** Case-insensitive id equality; malformed ids are equal to nothing. */
export function sameId(a: string, b: string): boolean {
  try {
    return normalizeId(a) === normalizeId(b);
  } catch (err) {
    if (err instanceof ResourceIdError) return false;
    throw err;
  }
}

/** Child → parent resource; resource → its scope (rg, or the resource an extension is on); rg → sub; sub → `/`. */
export function parentOf(id: string): string | undefined {
  const segs = segmentsOf(id);
  const p = parseResourceId(id);
  switch (p.kind) {
    case 'tenant':
      return undefined;
    case 'subscription':
      return '/';
    case 'resourceGroup':
      return `/subscriptions/${p.subscriptionId}`;
    case 'resource':
      // Drop the last type/name pair; with one pair left, drop `providers/{ns}` too and land on the scope.
      return p.types.length > 1 ? `/${segs.slice(0, -2).join('/')}` : (p.scope as string);
  }
}

/** The id itself first, then every ancestor up to the tenant root `/` (all in the given casing). */
export function ancestorsOf(id: string): string[] {
  const out: string[] = [];
  for (let cur: string | undefined = parseResourceId(id).id; cur !== undefined; cur = parentOf(cur)) out.push(cur);
  return out;
}

/** Does an assignment at `scope` reach `id` (same, or an ancestor)? Case-insensitive, segment-wise. */
export function isAncestorOrSelf(scope: string, id: string): boolean {
  return coversNormalized(normalizeId(scope), normalizeId(id));
}

/** isAncestorOrSelf for ids already passed through normalizeId (hot loops normalise the target once). */
export function coversNormalized(normalizedScope: string, normalizedId: string): boolean {
  return normalizedScope === '/' || normalizedId === normalizedScope || normalizedId.startsWith(`${normalizedScope}/`);
}

/** The registry id of a task (or any registry child: runs, tokens). */
export function registryIdOf(childId: string): string {
  const p = parseResourceId(childId);
  if (p.namespace?.toLowerCase() !== 'microsoft.containerregistry' || p.types[0]?.toLowerCase() !== 'registries') {
    throw new ResourceIdError(childId, p.resourceType, `'${p.resourceType}' is not a container registry resource`);
  }
  return `${p.scope === '/' ? '' : p.scope}/providers/${p.namespace}/registries/${p.names[0]}`;
}

function requireName(what: string, value: string): string {
  if (typeof value !== 'string' || value === '' || value.includes('/')) {
    throw new ResourceIdError(String(value), what, `${what} '${value}' is not a name`);
  }
  return value;
}

export function registryId(subscriptionId: string, resourceGroup: string, name: string): string {
  return `/subscriptions/${requireName('subscription id', subscriptionId)}/resourceGroups/${requireName(
    'resource group',
    resourceGroup,
  )}/providers/Microsoft.ContainerRegistry/registries/${requireName('registry name', name)}`;
}

export function taskId(registryResourceId: string, name: string): string {
  const reg = parseResourceId(registryResourceId);
  if (reg.resourceType.toLowerCase() !== 'microsoft.containerregistry/registries') {
    throw new ResourceIdError(registryResourceId, reg.resourceType, 'not a container registry id');
  }
  return `${reg.id}/tasks/${requireName('task name', name)}`;
}

export function vaultId(subscriptionId: string, resourceGroup: string, name: string): string {
  return `/subscriptions/${requireName('subscription id', subscriptionId)}/resourceGroups/${requireName(
    'resource group',
    resourceGroup,
  )}/providers/Microsoft.KeyVault/vaults/${requireName('vault name', name)}`;
}

/** The RBAC scope of one secret: `{vaultId}/secrets/{name}` (Key Vault accepts assignments there). */
export function secretScope(vaultResourceId: string, secretName: string): string {
  return `${parseResourceId(vaultResourceId).id}/secrets/${requireName('secret name', secretName)}`;
}
