// Registry tokens and scope maps (2025-11-01), `generateCredentials`, and the check a data-plane request or a run
// makes with a token's name and password. Password values are shown once and stored only as salted hashes.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Emulator, EmuRequest } from '../core/emulator.js';
import { arm } from '../core/errors.js';
import { key } from '../core/state.js';
import { acr } from './errors.js';
import type { AsyncOperations } from './operations.js';
import {
  REGISTRY_API_VERSIONS,
  REGISTRY_TYPE,
  SCOPE_MAP_TYPE,
  TOKEN_TYPE,
  childNotFound,
  isObject,
  requireParentRegistry,
  type RegistryResource,
  type ScopeMapResource,
  type TokenResource,
} from './model.js';

const PASSWORD_NAMES = ['password1', 'password2'] as const;
type PasswordName = (typeof PASSWORD_NAMES)[number];

interface StoredPassword {
  salt: string;
  hash: string;
  creationTime: string;
  expiry?: string;
}

const NAME_RX = /^[a-zA-Z0-9-_]{5,50}$/;
const ACTION_RX = /^repositories\/[^/]+(?:\/[^/]+)*\/(content\/(read|write|delete)|metadata\/(read|write))$/i;

const SYSTEM_SCOPE_MAPS: Record<string, { description: string; actions: string[] }> = {
  _repositories_admin: {
    description: 'Can perform all read, write and delete operations on the registry',
    actions: [
      'repositories/*/metadata/read',
      'repositories/*/metadata/write',
      'repositories/*/content/read',
      'repositories/*/content/write',
      'repositories/*/content/delete',
    ],
  },
  _repositories_pull: {
    description: 'Can pull any repository of the registry',
    actions: ['repositories/*/content/read'],
  },
  _repositories_pull_metadata_read: {
    description: 'Can perform all read operations on the registry',
    actions: ['repositories/*/content/read', 'repositories/*/metadata/read'],
  },
  _repositories_push: {
    description: 'Can push to any repository of the registry',
    actions: ['repositories/*/content/read', 'repositories/*/content/write'],
  },
  _repositories_push_metadata_write: {
    description: 'Can perform all read and write operations on the registry',
    actions: [
      'repositories/*/metadata/read',
      'repositories/*/metadata/write',
      'repositories/*/content/read',
      'repositories/*/content/write',
    ],
  },
};

function passwords(emu: Emulator): Map<string, Partial<Record<PasswordName, StoredPassword>>> {
  return emu.store.bucket('acr.tokenPasswords');
}

const hashOf = (salt: string, value: string) => createHash('sha256').update(`${salt}:${value}`).digest('hex');

/** Creates the system-defined scope maps every registry has. */
export function createSystemScopeMaps(emu: Emulator, registry: RegistryResource): void {
  for (const [name, def] of Object.entries(SYSTEM_SCOPE_MAPS)) {
    const id = `${registry.id}/scopeMaps/${name}`;
    if (emu.store.getResource(id)) continue;
    emu.store.putResource<ScopeMapResource>({
      id,
      name,
      type: SCOPE_MAP_TYPE,
      properties: {
        description: def.description,
        type: 'SystemDefined',
        creationDate: registry.properties.creationDate,
        provisioningState: 'Succeeded',
        actions: def.actions,
      },
    });
  }
}

/** Forgets the token secrets of a deleted registry (its ARM children are deleted by the store). */
export function dropTokenSecrets(emu: Emulator, registry: RegistryResource): void {
  const prefix = key(registry.id) + '/';
  for (const k of [...passwords(emu).keys()]) if (k.startsWith(prefix)) passwords(emu).delete(k);
  emu.store.changed();
}

/** True when a scope map action list grants `perm` (`content/read`...) on `repository` (`*` globs). */
export function scopeAllows(actions: string[], repository: string, perm: string): boolean {
  return actions.some((a) => {
    const m = /^repositories\/(.+)\/((?:content|metadata)\/(?:read|write|delete))$/i.exec(a);
    if (!m || m[2]!.toLowerCase() !== perm.toLowerCase()) return false;
    const rx = new RegExp(
      '^' +
        m[1]!
          .split('*')
          .map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
          .join('.*') +
        '$',
      'i',
    );
    return rx.test(repository);
  });
}

export type TokenCheck = { ok: true; token: TokenResource; actions: string[] } | { ok: false; why: string };

/** Checks a token name + password against a registry (status, password hash, expiry on the emulator clock). */
export function verifyTokenPassword(
  emu: Emulator,
  registry: RegistryResource,
  username: string,
  password: string,
): TokenCheck {
  const token = emu.store.getResource<TokenResource>(`${registry.id}/tokens/${username}`);
  if (!token || token.type !== TOKEN_TYPE) return { ok: false, why: 'invalid username or password' };
  if (token.properties.status.toLowerCase() !== 'enabled') return { ok: false, why: 'the token is disabled' };
  const stored = passwords(emu).get(key(token.id)) ?? {};
  const now = emu.nowMs();
  const match = PASSWORD_NAMES.map((n) => stored[n]).find((p) => {
    if (!p) return false;
    const a = Buffer.from(hashOf(p.salt, password), 'hex');
    const b = Buffer.from(p.hash, 'hex');
    return a.length === b.length && timingSafeEqual(a, b);
  });
  if (!match) return { ok: false, why: 'invalid username or password' };
  if (match.expiry && Date.parse(match.expiry) <= now) return { ok: false, why: 'the token password has expired' };
  const scopeMap = token.properties.scopeMapId
    ? emu.store.getResource<ScopeMapResource>(token.properties.scopeMapId)
    : undefined;
  return { ok: true, token, actions: scopeMap?.properties.actions ?? [] };
}

function presentToken(token: TokenResource): TokenResource {
  return structuredClone(token);
}

function parseExpiry(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || Number.isNaN(Date.parse(v)))
    throw acr.invalid(`The expiry '${String(v)}' is not a valid date-time.`);
  return new Date(Date.parse(v)).toISOString();
}

export function registerTokens(emu: Emulator, ops: AsyncOperations): void {
  const base =
    '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}';

  // Scope maps ----------------------------------------------------------------------------------------------------
  const scopeMapOf = (req: EmuRequest) => {
    const registry = requireParentRegistry(emu, req);
    const id = `${registry.id}/scopeMaps/${req.params.scopeMapName}`;
    return { registry, id, existing: emu.store.getResource<ScopeMapResource>(id) };
  };
  const validateActions = (actions: unknown): string[] => {
    if (!Array.isArray(actions) || actions.length === 0 || actions.some((a) => typeof a !== 'string'))
      throw acr.invalid('The scope map must have at least one action in properties.actions.');
    const bad = (actions as string[]).find((a) => !ACTION_RX.test(a));
    if (bad)
      throw acr.invalid(
        `The action '${bad}' is invalid. Actions look like 'repositories/{repository}/content/read' (content/read|write|delete, metadata/read|write).`,
      );
    return actions as string[];
  };
  emu.armRoute({
    op: 'scopeMaps.list',
    method: 'GET',
    path: `${base}/scopeMaps`,
    apiVersions: REGISTRY_API_VERSIONS,
    action: `${REGISTRY_TYPE}/scopeMaps/read`,
    handler: (req) => {
      const registry = requireParentRegistry(emu, req);
      return { status: 200, body: { value: emu.store.listResources(SCOPE_MAP_TYPE, registry.id) } };
    },
  });
  emu.armRoute({
    op: 'scopeMaps.get',
    method: 'GET',
    path: `${base}/scopeMaps/{scopeMapName}`,
    apiVersions: REGISTRY_API_VERSIONS,
    action: `${REGISTRY_TYPE}/scopeMaps/read`,
    handler: (req) => {
      const { registry, existing } = scopeMapOf(req);
      if (!existing) throw childNotFound(registry, 'scopeMaps', req.params.scopeMapName!);
      return { status: 200, body: existing };
    },
  });
  const writeScopeMap = (req: EmuRequest, patch: boolean) => {
    const { registry, id, existing } = scopeMapOf(req);
    const name = req.params.scopeMapName!;
    if (patch && !existing) throw childNotFound(registry, 'scopeMaps', name);
    if (existing?.properties.type === 'SystemDefined')
      throw acr.invalid(`The scope map '${name}' is system defined and cannot be modified.`);
    if (!existing && !NAME_RX.test(name))
      throw acr.invalidName('a scope map', name, 'It must be 5 to 50 letters, numbers, hyphens or underscores.');
    const body = req.json<{ properties?: { description?: string; actions?: unknown } }>() ?? {};
    const props = isObject(body.properties) ? body.properties : {};
    const actions =
      patch && props.actions === undefined ? existing!.properties.actions : validateActions(props.actions);
    const res: ScopeMapResource = {
      id: existing?.id ?? id,
      name: existing?.name ?? name,
      type: SCOPE_MAP_TYPE,
      properties: {
        ...(props.description !== undefined
          ? { description: props.description }
          : existing?.properties.description !== undefined
            ? { description: existing.properties.description }
            : {}),
        type: 'UserDefined',
        creationDate: existing?.properties.creationDate ?? emu.nowIso(),
        provisioningState: 'Succeeded',
        actions,
      },
    };
    emu.store.putResource(res);
    return { status: existing ? 200 : 201, body: res };
  };
  emu.armRoute({
    op: 'scopeMaps.create',
    method: 'PUT',
    path: `${base}/scopeMaps/{scopeMapName}`,
    apiVersions: REGISTRY_API_VERSIONS,
    action: `${REGISTRY_TYPE}/scopeMaps/write`,
    handler: (req) => writeScopeMap(req, false),
  });
  emu.armRoute({
    op: 'scopeMaps.update',
    method: 'PATCH',
    path: `${base}/scopeMaps/{scopeMapName}`,
    apiVersions: REGISTRY_API_VERSIONS,
    action: `${REGISTRY_TYPE}/scopeMaps/write`,
    handler: (req) => writeScopeMap(req, true),
  });
  emu.armRoute({
    op: 'scopeMaps.delete',
    method: 'DELETE',
    path: `${base}/scopeMaps/{scopeMapName}`,
    apiVersions: REGISTRY_API_VERSIONS,
    action: `${REGISTRY_TYPE}/scopeMaps/delete`,
    handler: (req) => {
      const { registry, existing } = scopeMapOf(req);
      if (!existing) return { status: 204 };
      if (existing.properties.type === 'SystemDefined')
        throw acr.invalid(`The scope map '${existing.name}' is system defined and cannot be deleted.`);
      const users = emu.store
        .listResources<TokenResource>(TOKEN_TYPE, registry.id)
        .filter((t) => key(t.properties.scopeMapId ?? '') === key(existing.id));
      if (users.length)
        throw arm.conflict(
          'ScopeMapInUse',
          `The scope map '${existing.name}' is used by token(s) ${users.map((t) => `'${t.name}'`).join(', ')}.`,
        );
      emu.store.deleteResource(existing.id);
      return { status: 200 };
    },
  });

  // Tokens --------------------------------------------------------------------------------------------------------
  const tokenOf = (req: EmuRequest) => {
    const registry = requireParentRegistry(emu, req);
    const id = `${registry.id}/tokens/${req.params.tokenName}`;
    return { registry, id, existing: emu.store.getResource<TokenResource>(id) };
  };
  const resolveScopeMap = (registry: RegistryResource, scopeMapId: unknown): string => {
    if (typeof scopeMapId !== 'string' || !scopeMapId)
      throw acr.invalid('properties.scopeMapId is required: the resource id of a scope map of this registry.');
    const sm = emu.store.getResource<ScopeMapResource>(scopeMapId);
    if (!sm || sm.type !== SCOPE_MAP_TYPE || !key(sm.id).startsWith(key(registry.id) + '/'))
      throw acr.invalid(`The scope map '${scopeMapId}' does not exist in registry '${registry.name}'.`);
    return sm.id;
  };
  const writeToken = (req: EmuRequest, patch: boolean) => {
    const { registry, id, existing } = tokenOf(req);
    const name = req.params.tokenName!;
    if (patch && !existing) throw childNotFound(registry, 'tokens', name);
    if (!existing && !NAME_RX.test(name))
      throw acr.invalidName('a token', name, 'It must be 5 to 50 letters, numbers, hyphens or underscores.');
    const body = req.json<{ properties?: Record<string, unknown> }>() ?? {};
    const props = isObject(body.properties) ? body.properties : {};
    const scopeMapId =
      patch && props.scopeMapId === undefined
        ? existing!.properties.scopeMapId
        : resolveScopeMap(registry, props.scopeMapId);
    const status =
      props.status === undefined ? (existing?.properties.status ?? 'enabled') : String(props.status).toLowerCase();
    if (status !== 'enabled' && status !== 'disabled')
      throw acr.invalid(`The token status '${String(props.status)}' is invalid. Allowed values: enabled, disabled.`);
    // A new token starts without passwords (even if a deleted resource group left some behind).
    const secrets = existing ? { ...(passwords(emu).get(key(id)) ?? {}) } : {};
    // A credentials.passwords list keeps only the passwords it names (how `az acr token credential delete` works).
    const credIn = isObject(props.credentials) ? props.credentials : undefined;
    if (credIn && Array.isArray(credIn.passwords)) {
      const keep = new Set(credIn.passwords.filter(isObject).map((p) => String(p.name ?? '').toLowerCase()));
      for (const n of PASSWORD_NAMES) if (!keep.has(n)) delete secrets[n];
    }
    passwords(emu).set(key(id), secrets);
    const res: TokenResource = {
      id: existing?.id ?? id,
      name: existing?.name ?? name,
      type: TOKEN_TYPE,
      properties: {
        creationDate: existing?.properties.creationDate ?? emu.nowIso(),
        provisioningState: 'Succeeded',
        ...(scopeMapId ? { scopeMapId } : {}),
        status,
        credentials: { certificates: [], passwords: publicPasswords(secrets) },
      },
    };
    emu.store.putResource(res);
    return { status: existing ? 200 : 201, body: presentToken(res) };
  };
  emu.armRoute({
    op: 'tokens.list',
    method: 'GET',
    path: `${base}/tokens`,
    apiVersions: REGISTRY_API_VERSIONS,
    action: `${REGISTRY_TYPE}/tokens/read`,
    handler: (req) => {
      const registry = requireParentRegistry(emu, req);
      return {
        status: 200,
        body: { value: emu.store.listResources<TokenResource>(TOKEN_TYPE, registry.id).map(presentToken) },
      };
    },
  });
  emu.armRoute({
    op: 'tokens.get',
    method: 'GET',
    path: `${base}/tokens/{tokenName}`,
    apiVersions: REGISTRY_API_VERSIONS,
    action: `${REGISTRY_TYPE}/tokens/read`,
    handler: (req) => {
      const { registry, existing } = tokenOf(req);
      if (!existing) throw childNotFound(registry, 'tokens', req.params.tokenName!);
      return { status: 200, body: presentToken(existing) };
    },
  });
  emu.armRoute({
    op: 'tokens.create',
    method: 'PUT',
    path: `${base}/tokens/{tokenName}`,
    apiVersions: REGISTRY_API_VERSIONS,
    action: `${REGISTRY_TYPE}/tokens/write`,
    handler: (req) => writeToken(req, false),
  });
  emu.armRoute({
    op: 'tokens.update',
    method: 'PATCH',
    path: `${base}/tokens/{tokenName}`,
    apiVersions: REGISTRY_API_VERSIONS,
    action: `${REGISTRY_TYPE}/tokens/write`,
    handler: (req) => writeToken(req, true),
  });
  emu.armRoute({
    op: 'tokens.delete',
    method: 'DELETE',
    path: `${base}/tokens/{tokenName}`,
    apiVersions: REGISTRY_API_VERSIONS,
    action: `${REGISTRY_TYPE}/tokens/delete`,
    handler: (req) => {
      const { existing } = tokenOf(req);
      if (!existing) return { status: 204 };
      emu.store.deleteResource(existing.id);
      passwords(emu).delete(key(existing.id));
      emu.store.changed();
      return { status: 200 };
    },
  });

  emu.armRoute({
    op: 'registries.generateCredentials',
    method: 'POST',
    path: `${base}/generateCredentials`,
    apiVersions: REGISTRY_API_VERSIONS,
    action: `${REGISTRY_TYPE}/generateCredentials/action`,
    handler: (req) => {
      const registry = requireParentRegistry(emu, req);
      const body = req.json<{ tokenId?: unknown; expiry?: unknown; name?: unknown }>() ?? {};
      if (typeof body.tokenId !== 'string' || !body.tokenId)
        throw acr.invalid('tokenId is required: the resource id of a token of this registry.');
      if (!key(body.tokenId).startsWith(key(registry.id) + '/tokens/'))
        throw acr.invalid(`The token '${body.tokenId}' does not belong to registry '${registry.name}'.`);
      const token = emu.store.getResource<TokenResource>(body.tokenId);
      if (!token) throw childNotFound(registry, 'tokens', body.tokenId.split('/').pop()!);
      const which =
        body.name === undefined || body.name === null ? [...PASSWORD_NAMES] : [String(body.name).toLowerCase()];
      if (!which.every((n): n is PasswordName => (PASSWORD_NAMES as readonly string[]).includes(n)))
        throw acr.invalid(`The password name '${String(body.name)}' is invalid. Allowed values: password1, password2.`);
      const expiry = parseExpiry(body.expiry);
      const secrets = { ...(passwords(emu).get(key(token.id)) ?? {}) };
      const creationTime = emu.nowIso();
      const issued = which.map((name) => {
        const value = randomBytes(33).toString('base64').replace(/[+/]/g, 'A');
        const salt = randomBytes(16).toString('hex');
        // Regenerating a password replaces (revokes) the previous value of that name.
        secrets[name] = { salt, hash: hashOf(salt, value), creationTime, ...(expiry ? { expiry } : {}) };
        return { creationTime, ...(expiry ? { expiry } : {}), name, value };
      });
      passwords(emu).set(key(token.id), secrets);
      token.properties.credentials = { certificates: [], passwords: publicPasswords(secrets) };
      emu.store.putResource(token);
      const result = { username: token.name, passwords: issued };
      // final-state-via location: the passwords are read from the operation's Location once it has succeeded.
      return ops.accepted(req, registry, { status: 200, body: result }, { result });
    },
  });
}

function publicPasswords(secrets: Partial<Record<PasswordName, StoredPassword>>) {
  return PASSWORD_NAMES.filter((n) => secrets[n]).map((n) => ({
    name: n,
    creationTime: secrets[n]!.creationTime,
    ...(secrets[n]!.expiry ? { expiry: secrets[n]!.expiry } : {}),
  }));
}
