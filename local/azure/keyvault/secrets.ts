// Key Vault data plane (one HTTPS listener per vault): the challenge handshake, authorisation by the vault's model
// (RBAC dataActions or access policies), secrets with versions, soft delete, paging — plus the cross-module
// `services.keyVault.resolveSecret` an ACR run uses, and the SecretNewVersionCreated / NearExpiry / Expired events.
import { randomBytes } from 'node:crypto';
import { VAULT_AUDIENCES, type EmuRequest, type Emulator } from '../core/emulator.js';
import { EmulatorError, type Reply } from '../core/errors.js';
import type { Principal, TokenClaims } from '../core/identity.js';
import type { OpKind } from '../core/throttle.js';
import {
  KV_DATA_API_VERSIONS,
  VAULT_TYPE,
  findVaultByName,
  kv,
  recoveryLevel,
  secretKey,
  secretsBucket,
  vaultBase,
  type SecretRecord,
  type SecretVersion,
  type VaultResource,
} from './model.js';

const NAME = /^[0-9a-zA-Z-]{1,127}$/;
const MAX_VALUE_CHARS = 25 * 1024;
const NEAR_EXPIRY_SECONDS = 30 * 86400;
const CHECK_INTERVAL_MS = 1000;

/** What a data-plane operation needs: the access-policy permission and the RBAC dataAction. */
type Need = 'get' | 'list' | 'set' | 'delete' | 'recover' | 'purge';
const DATA_ACTIONS: Record<Need, string> = {
  get: 'Microsoft.KeyVault/vaults/secrets/getSecret/action',
  list: 'Microsoft.KeyVault/vaults/secrets/readMetadata/action',
  set: 'Microsoft.KeyVault/vaults/secrets/setSecret/action',
  delete: 'Microsoft.KeyVault/vaults/secrets/delete',
  recover: 'Microsoft.KeyVault/vaults/secrets/recover/action',
  purge: 'Microsoft.KeyVault/vaults/secrets/purge/action',
};

interface Ctx {
  req: EmuRequest;
  vault: VaultResource;
  principal: Principal;
  claims: TokenClaims;
  apiVersion: string;
}

interface SetBody {
  value?: unknown;
  contentType?: unknown;
  attributes?: { enabled?: unknown; nbf?: unknown; exp?: unknown } | null;
  tags?: unknown;
}

function callerString(principal: { clientId?: string; objectId: string }, tenantId: string): string {
  return `appid=${principal.clientId ?? ''};oid=${principal.objectId};iss=https://sts.windows.net/${tenantId}/`;
}

/** Throws the vault's 403 unless `principalId` may do `need` on the secret (or the vault, for lists). */
function authorizeSecret(
  emu: Emulator,
  vault: VaultResource,
  principal: { clientId?: string; objectId: string },
  need: Need,
  secretName?: string,
): void {
  const caller = callerString(principal, emu.tenantId);
  if (vault.properties.enableRbacAuthorization) {
    const scope = secretName ? `${vault.id}/secrets/${secretName}` : vault.id;
    const decision = emu.check(principal.objectId, scope, { dataAction: DATA_ACTIONS[need] });
    if (!decision.allowed) throw kv.forbiddenByRbac(caller, DATA_ACTIONS[need], scope, vault);
    return;
  }
  // Access-policy model: RBAC data actions are ignored entirely; permissions match case-insensitively.
  const oid = principal.objectId.toLowerCase();
  const tenant = vault.properties.tenantId.toLowerCase();
  const allowed = vault.properties.accessPolicies.some(
    (p) =>
      p.objectId.toLowerCase() === oid &&
      p.tenantId.toLowerCase() === tenant &&
      (p.permissions.secrets ?? []).some((s) => s.toLowerCase() === need || s.toLowerCase() === 'all'),
  );
  emu.recordAccess(principal.objectId, vault.id, { accessPolicy: `secrets/${need}` }, allowed);
  if (!allowed) throw kv.accessDenied(caller, need, vault);
}

function newVersionId(): string {
  return randomBytes(16).toString('hex');
}

function attributes(vault: VaultResource, v: SecretVersion): Record<string, unknown> {
  return {
    enabled: v.enabled,
    ...(v.nbf !== undefined ? { nbf: v.nbf } : {}),
    ...(v.exp !== undefined ? { exp: v.exp } : {}),
    created: v.created,
    updated: v.updated,
    recoveryLevel: recoveryLevel(vault),
    ...(vault.properties.enableSoftDelete ? { recoverableDays: vault.properties.softDeleteRetentionInDays } : {}),
  };
}

function bundle(vault: VaultResource, rec: SecretRecord, v: SecretVersion, withValue: boolean) {
  return {
    ...(withValue ? { value: v.value } : {}),
    id: `${vaultBase(vault)}/secrets/${rec.name}/${v.version}`,
    ...(v.contentType !== undefined ? { contentType: v.contentType } : {}),
    attributes: attributes(vault, v),
    ...(v.tags ? { tags: v.tags } : {}),
  };
}

function deletedBundle(vault: VaultResource, rec: SecretRecord, item: boolean) {
  const v = current(rec);
  const base = item ? itemOf(vault, rec, v, false) : bundle(vault, rec, v, false);
  return {
    ...base,
    recoveryId: `${vaultBase(vault)}/deletedsecrets/${rec.name}`,
    deletedDate: rec.deleted?.deletedDate,
    scheduledPurgeDate: rec.deleted?.scheduledPurgeDate,
  };
}

/** SecretItem (list entries): no value; list-of-secrets ids carry no version. */
function itemOf(vault: VaultResource, rec: SecretRecord, v: SecretVersion, withVersion: boolean) {
  return {
    id: `${vaultBase(vault)}/secrets/${rec.name}${withVersion ? `/${v.version}` : ''}`,
    attributes: attributes(vault, v),
    ...(v.tags ? { tags: v.tags } : {}),
    ...(v.contentType !== undefined ? { contentType: v.contentType } : {}),
  };
}

function current(rec: SecretRecord): SecretVersion {
  return rec.versions[rec.versions.length - 1]!;
}

function validName(name: string): string {
  if (!NAME.test(name)) throw kv.badParameter(`The request URI contains an invalid name: ${name}`);
  return name;
}

function optionalSeconds(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw kv.badParameter(`Property ${field} must be an integer number of seconds since 1970-01-01 UTC.`);
  return v;
}

function parseTags(tags: unknown): Record<string, string> | undefined {
  if (tags === undefined || tags === null) return undefined;
  if (typeof tags !== 'object' || Array.isArray(tags)) throw kv.badParameter('Property tags must be an object.');
  const entries = Object.entries(tags as Record<string, unknown>);
  if (entries.length > 15) throw kv.badParameter('The number of tags exceeds the maximum of 15.');
  for (const [k, v] of entries)
    if (typeof v !== 'string') throw kv.badParameter(`The value of tag '${k}' must be a string.`);
  return tags as Record<string, string>;
}

function parseAttributes(a: SetBody['attributes']): { enabled?: boolean; nbf?: number; exp?: number } {
  if (a === undefined || a === null) return {};
  if (typeof a !== 'object') throw kv.badParameter('Property attributes must be an object.');
  if (a.enabled !== undefined && a.enabled !== null && typeof a.enabled !== 'boolean')
    throw kv.badParameter('Property attributes.enabled must be a boolean.');
  const nbf = optionalSeconds(a.nbf, 'attributes.nbf');
  const exp = optionalSeconds(a.exp, 'attributes.exp');
  if (nbf !== undefined && exp !== undefined && exp <= nbf)
    throw kv.badParameter('The expiration time (exp) must be later than the not-before time (nbf).');
  return { ...(typeof a.enabled === 'boolean' ? { enabled: a.enabled } : {}), nbf, exp };
}

/** Page of a list with `maxresults` (1–25, default 25) and an absolute nextLink carrying `$skiptoken`. */
function page<T>(ctx: Ctx, listPath: string, items: T[]): { value: T[]; nextLink: string | null } {
  const raw = ctx.req.q('maxresults');
  const max = raw === undefined || raw === '' ? 25 : Number(raw);
  if (!Number.isInteger(max) || max < 1 || max > 25)
    throw kv.badParameter(`The value '${raw}' is invalid for parameter maxresults. It must be between 1 and 25.`);
  let offset = 0;
  const token = ctx.req.q('$skiptoken');
  if (token) {
    try {
      offset = (JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { NextOffset: number }).NextOffset;
    } catch {
      throw kv.badParameter('The $skiptoken is invalid.');
    }
    if (!Number.isInteger(offset) || offset < 0) throw kv.badParameter('The $skiptoken is invalid.');
  }
  const value = items.slice(offset, offset + max);
  if (offset + max >= items.length) return { value, nextLink: null };
  const next = Buffer.from(JSON.stringify({ NextOffset: offset + max })).toString('base64url');
  return {
    value,
    nextLink: `${vaultBase(ctx.vault)}${listPath}?api-version=${ctx.apiVersion}&$skiptoken=${next}&maxresults=${max}`,
  };
}

export function registerKeyVaultData(emu: Emulator): void {
  const bucket = () => secretsBucket(emu);
  const live = (vault: VaultResource, name: string): SecretRecord | undefined => {
    const rec = bucket().get(secretKey(vault.name, name));
    return rec && !rec.deleted ? rec : undefined;
  };
  const deleted = (vault: VaultResource, name: string): SecretRecord | undefined => {
    const rec = bucket().get(secretKey(vault.name, name));
    return rec?.deleted ? rec : undefined;
  };
  /** The requested version ('' = current) or SecretNotFound. */
  const versionOf = (vault: VaultResource, name: string, version: string) => {
    const rec = live(vault, name);
    if (!rec) throw kv.secretNotFound(name);
    if (!version) return { rec, v: current(rec) };
    const v = rec.versions.find((x) => x.version === version.toLowerCase());
    if (!v) throw kv.secretNotFound(`${name}/${version}`);
    return { rec, v };
  };

  function authenticate(req: EmuRequest): Ctx {
    const vault = findVaultByName(emu, req.target ?? '');
    if (!vault) throw kv.badParameter(`The vault '${req.target}' does not exist.`);
    const tenantId = vault.properties.tenantId;
    const auth = req.headers.authorization;
    if (!auth || !/^bearer\s+\S/i.test(auth)) throw kv.missingToken(tenantId);
    const verified = emu.identities.verify(auth.replace(/^bearer\s+/i, '').trim(), VAULT_AUDIENCES, emu.nowSeconds());
    if ('error' in verified) {
      const aud = /invalid audience '(.*)'/.exec(verified.error)?.[1];
      if (aud !== undefined)
        throw kv.badToken(tenantId, `AKV10022: Invalid audience. Expected https://vault.azure.net, found: ${aud}.`);
      if (/expiry/i.test(verified.error))
        throw kv.badToken(tenantId, "[TokenExpired] Error validating token: 'S2S12086'.");
      throw kv.badToken(tenantId, `AKV10001: ${verified.error}`);
    }
    if (verified.claims.tid.toLowerCase() !== tenantId.toLowerCase())
      throw kv.badToken(
        tenantId,
        `AKV10032: Invalid issuer. Expected one of https://sts.windows.net/${tenantId}/, found https://sts.windows.net/${verified.claims.tid}/.`,
      );
    const apiVersion = req.q('api-version');
    if (!apiVersion) throw kv.missingApiVersion();
    if (!KV_DATA_API_VERSIONS.includes(apiVersion)) throw kv.badApiVersion(apiVersion);
    return { req, vault, principal: verified.principal, claims: verified.claims, apiVersion };
  }

  const route = (op: string, method: string, path: string, kind: OpKind, handler: (ctx: Ctx) => Reply) =>
    emu.vaultRoute({
      op,
      method,
      path,
      handler: (req) => {
        emu.throttle.count(op, kind);
        const ctx = authenticate(req);
        const reply = handler(ctx);
        reply.headers = { 'x-ms-keyvault-region': ctx.vault.location, ...reply.headers };
        return reply;
      },
    });
  const allow = (ctx: Ctx, need: Need, name?: string) => authorizeSecret(emu, ctx.vault, ctx.principal, need, name);

  // Events ---------------------------------------------------------------------------------------------------------
  const emitSecretEvent = (eventType: string, vault: VaultResource, rec: SecretRecord, v: SecretVersion) =>
    emu.emit({
      source: vault.id,
      eventType: `Microsoft.KeyVault.${eventType}`,
      subject: rec.name,
      data: {
        Id: `${vaultBase(vault)}/secrets/${rec.name}/${v.version}`,
        VaultName: vault.name,
        ObjectType: 'Secret',
        ObjectName: rec.name,
        Version: v.version,
        NBF: v.nbf ?? null,
        EXP: v.exp ?? null,
      },
    });

  /** Emits NearExpiry/Expired once per current version (and expiry), and purges soft-deleted secrets when due. */
  const checkTimes = () => {
    const now = emu.nowSeconds();
    const vaults = new Map(
      emu.store.listResources<VaultResource>(VAULT_TYPE).map((v) => [v.name.toLowerCase(), v] as const),
    );
    let dirty = false;
    for (const [k, rec] of [...bucket()]) {
      const vault = vaults.get(rec.vault.toLowerCase());
      if (!vault) continue;
      if (rec.deleted) {
        if (rec.deleted.scheduledPurgeDate !== undefined && now >= rec.deleted.scheduledPurgeDate) {
          bucket().delete(k);
          dirty = true;
        }
        continue;
      }
      const v = current(rec);
      if (v.exp === undefined) continue;
      if (now >= v.exp - NEAR_EXPIRY_SECONDS && v.nearExpiryEmittedFor !== v.exp && v.exp > v.created) {
        v.nearExpiryEmittedFor = v.exp;
        dirty = true;
        emitSecretEvent('SecretNearExpiry', vault, rec, v);
      }
      if (now >= v.exp && v.expiredEmittedFor !== v.exp) {
        v.expiredEmittedFor = v.exp;
        dirty = true;
        emitSecretEvent('SecretExpired', vault, rec, v);
      }
    }
    if (dirty) emu.store.changed();
  };
  let timer: NodeJS.Timeout | undefined;
  emu.onStart(() => {
    timer = setInterval(checkTimes, CHECK_INTERVAL_MS);
    timer.unref();
  });
  emu.onStop(() => {
    if (timer) clearInterval(timer);
    timer = undefined;
  });
  emu.onClockAdvance(checkTimes);

  // Secrets --------------------------------------------------------------------------------------------------------
  route('secrets.list', 'GET', '/secrets', 'read', (ctx) => {
    allow(ctx, 'list');
    const prefix = `${ctx.vault.name.toLowerCase()}/`;
    const items = [...bucket()]
      .filter(([k, rec]) => k.startsWith(prefix) && !rec.deleted)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, rec]) => itemOf(ctx.vault, rec, current(rec), false));
    return { status: 200, body: page(ctx, '/secrets', items) };
  });

  route('secrets.listVersions', 'GET', '/secrets/{name}/versions', 'read', (ctx) => {
    const name = validName(ctx.req.params.name!);
    allow(ctx, 'list', name);
    // Listing the versions of a secret that does not exist is an empty list, not a 404.
    const rec = live(ctx.vault, name);
    const items = rec ? rec.versions.map((v) => itemOf(ctx.vault, rec, v, true)) : [];
    return { status: 200, body: page(ctx, `/secrets/${rec?.name ?? name}/versions`, items) };
  });

  const getSecret = (ctx: Ctx): Reply => {
    const name = validName(ctx.req.params.name!);
    allow(ctx, 'get', name);
    const { rec, v } = versionOf(ctx.vault, name, ctx.req.params.version ?? '');
    if (!v.enabled) throw kv.secretDisabled();
    // Key Vault still returns values outside nbf/exp for secrets (documented); only ACR-style resolution refuses.
    return { status: 200, body: bundle(ctx.vault, rec, v, true) };
  };
  route('secrets.get', 'GET', '/secrets/{name}', 'read', getSecret);
  route('secrets.get', 'GET', '/secrets/{name}/{version?}', 'read', getSecret);

  route('secrets.set', 'PUT', '/secrets/{name}', 'write', (ctx) => {
    const name = validName(ctx.req.params.name!);
    allow(ctx, 'set', name);
    const body = ctx.req.json<SetBody>();
    if (!body || typeof body !== 'object') throw kv.badParameter('The request body is required.');
    if (body.value === undefined || body.value === null) throw kv.badParameter('Property value is required.');
    if (typeof body.value !== 'string') throw kv.badParameter('Property value must be a string.');
    if (body.value.length > MAX_VALUE_CHARS)
      throw kv.badParameter(`Secret value exceeds the maximum size of ${MAX_VALUE_CHARS} characters.`);
    if (body.contentType !== undefined && body.contentType !== null && typeof body.contentType !== 'string')
      throw kv.badParameter('Property contentType must be a string.');
    const attrs = parseAttributes(body.attributes);
    const tags = parseTags(body.tags);
    const existing = bucket().get(secretKey(ctx.vault.name, name));
    if (existing?.deleted) throw kv.deletedButRecoverable(existing.name);
    const now = emu.nowSeconds();
    const v: SecretVersion = {
      version: newVersionId(),
      value: body.value,
      ...(typeof body.contentType === 'string' ? { contentType: body.contentType } : {}),
      ...(tags ? { tags } : {}),
      enabled: attrs.enabled ?? true,
      ...(attrs.nbf !== undefined ? { nbf: attrs.nbf } : {}),
      ...(attrs.exp !== undefined ? { exp: attrs.exp } : {}),
      created: now,
      updated: now,
    };
    const rec: SecretRecord = existing ?? { vault: ctx.vault.name, name, versions: [] };
    rec.versions.push(v);
    bucket().set(secretKey(ctx.vault.name, name), rec);
    emu.store.changed();
    emitSecretEvent('SecretNewVersionCreated', ctx.vault, rec, v);
    return { status: 200, body: bundle(ctx.vault, rec, v, true) };
  });

  const updateSecret = (ctx: Ctx): Reply => {
    const name = validName(ctx.req.params.name!);
    allow(ctx, 'set', name);
    const body = ctx.req.json<SetBody>() ?? {};
    const { rec, v } = versionOf(ctx.vault, name, ctx.req.params.version ?? '');
    const attrs = parseAttributes(body.attributes);
    const tags = parseTags(body.tags);
    if (body.contentType !== undefined && body.contentType !== null && typeof body.contentType !== 'string')
      throw kv.badParameter('Property contentType must be a string.');
    const nbf = attrs.nbf ?? v.nbf;
    const exp = attrs.exp ?? v.exp;
    if (nbf !== undefined && exp !== undefined && exp <= nbf)
      throw kv.badParameter('The expiration time (exp) must be later than the not-before time (nbf).');
    if (attrs.enabled !== undefined) v.enabled = attrs.enabled;
    if (attrs.nbf !== undefined) v.nbf = attrs.nbf;
    if (attrs.exp !== undefined) v.exp = attrs.exp;
    if (typeof body.contentType === 'string') v.contentType = body.contentType;
    if (tags) v.tags = tags;
    v.updated = emu.nowSeconds();
    emu.store.changed();
    return { status: 200, body: bundle(ctx.vault, rec, v, false) };
  };
  route('secrets.update', 'PATCH', '/secrets/{name}', 'write', updateSecret);
  route('secrets.update', 'PATCH', '/secrets/{name}/{version?}', 'write', updateSecret);

  route('secrets.delete', 'DELETE', '/secrets/{name}', 'delete', (ctx) => {
    const name = validName(ctx.req.params.name!);
    allow(ctx, 'delete', name);
    const rec = live(ctx.vault, name);
    if (!rec) throw kv.secretNotFound(name);
    if (!ctx.vault.properties.enableSoftDelete) {
      bucket().delete(secretKey(ctx.vault.name, name));
      emu.store.changed();
      const {
        recoveryId: _r,
        deletedDate: _d,
        scheduledPurgeDate: _s,
        ...plain
      } = deletedBundle(ctx.vault, rec, false);
      return { status: 200, body: plain };
    }
    const now = emu.nowSeconds();
    rec.deleted = {
      deletedDate: now,
      scheduledPurgeDate: now + ctx.vault.properties.softDeleteRetentionInDays * 86400,
    };
    emu.store.changed();
    return { status: 200, body: deletedBundle(ctx.vault, rec, false) };
  });

  // Deleted secrets ------------------------------------------------------------------------------------------------
  route('deletedSecrets.list', 'GET', '/deletedsecrets', 'read', (ctx) => {
    allow(ctx, 'list');
    const prefix = `${ctx.vault.name.toLowerCase()}/`;
    const items = [...bucket()]
      .filter(([k, rec]) => k.startsWith(prefix) && rec.deleted)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, rec]) => deletedBundle(ctx.vault, rec, true));
    return { status: 200, body: page(ctx, '/deletedsecrets', items) };
  });

  route('deletedSecrets.get', 'GET', '/deletedsecrets/{name}', 'read', (ctx) => {
    const name = validName(ctx.req.params.name!);
    allow(ctx, 'get', name);
    const rec = deleted(ctx.vault, name);
    if (!rec) throw kv.deletedSecretNotFound();
    return { status: 200, body: deletedBundle(ctx.vault, rec, false) };
  });

  route('deletedSecrets.purge', 'DELETE', '/deletedsecrets/{name}', 'delete', (ctx) => {
    const name = validName(ctx.req.params.name!);
    allow(ctx, 'purge', name);
    const rec = deleted(ctx.vault, name);
    if (!rec) throw kv.deletedSecretNotFound();
    if (ctx.vault.properties.enablePurgeProtection) throw kv.purgeProtected();
    bucket().delete(secretKey(ctx.vault.name, name));
    emu.store.changed();
    return { status: 204 };
  });

  route('deletedSecrets.recover', 'POST', '/deletedsecrets/{name}/recover', 'write', (ctx) => {
    const name = validName(ctx.req.params.name!);
    allow(ctx, 'recover', name);
    const rec = deleted(ctx.vault, name);
    if (!rec) throw kv.deletedSecretNotFound();
    delete rec.deleted;
    emu.store.changed();
    return { status: 200, body: bundle(ctx.vault, rec, current(rec), false) };
  });

  // Cross-module service: how an ACR run resolves a Key Vault secret URI as its identity ---------------------------
  emu.services.keyVault = {
    resolveSecret(uri, principalId) {
      let url: URL;
      try {
        url = new URL(uri);
      } catch {
        return { ok: false, code: 'BadParameter', message: `'${uri}' is not a valid Key Vault secret URI.` };
      }
      const m = /^\/secrets\/([^/]+)(?:\/([^/]*))?\/?$/i.exec(url.pathname);
      if (url.protocol !== 'https:' || !m)
        return { ok: false, code: 'BadParameter', message: `'${uri}' is not a valid Key Vault secret URI.` };
      const vault = vaultForUrl(emu, url);
      if (!vault)
        return {
          ok: false,
          code: 'VaultNotFound',
          message: `failed to resolve key vault '${url.host}': no such host`,
        };
      const name = m[1]!;
      const version = m[2] ?? '';
      const principal = emu.identities.get(principalId) ?? { objectId: principalId };
      try {
        validName(name);
        authorizeSecret(emu, vault, principal, 'get', name);
        const { v } = versionOf(vault, name, version);
        if (!v.enabled) throw kv.secretDisabled();
        const now = emu.nowSeconds();
        if (v.nbf !== undefined && now < v.nbf)
          return {
            ok: false,
            code: 'SecretNotYetValid',
            message: `Secret '${name}' (version ${v.version}) is not valid before ${new Date(v.nbf * 1000).toISOString()}.`,
          };
        if (v.exp !== undefined && now >= v.exp)
          return {
            ok: false,
            code: 'SecretExpired',
            message: `Secret '${name}' (version ${v.version}) expired at ${new Date(v.exp * 1000).toISOString()}.`,
          };
        return { ok: true, value: v.value };
      } catch (err) {
        if (!(err instanceof EmulatorError)) throw err;
        const e = (err.body as { error: { code: string; message: string; innererror?: { code: string } } }).error;
        return { ok: false, code: e.innererror?.code ?? e.code, message: e.message };
      }
    },
  };
}

/** The vault a secret URI names: by its emulated vaultUri origin, or by `https://{name}.vault.azure.net`. */
function vaultForUrl(emu: Emulator, url: URL): VaultResource | undefined {
  const vaults = emu.store.listResources<VaultResource>(VAULT_TYPE);
  const byOrigin = vaults.find((v) => {
    try {
      return new URL(v.properties.vaultUri).origin === url.origin;
    } catch {
      return false;
    }
  });
  if (byOrigin) return byOrigin;
  const azure = /^([a-z0-9-]+)\.vault\.azure\.net$/i.exec(url.hostname);
  return azure ? findVaultByName(emu, azure[1]!) : undefined;
}
