// Task credentials (`credentials.customRegistries`) and the Key Vault secret URIs inside them.

import { normalizeLoginServer } from './imageRef.js';
import type { CredentialValue, SecretRef, TaskCredential } from './types.js';

/** `credentials.customRegistries[ls].identity` value for the task's system-assigned identity. */
export const SYSTEM_IDENTITY = '[system]';

export class SecretUriError extends Error {
  constructor(
    readonly uri: string,
    readonly part: 'scheme' | 'host' | 'path' | 'name' | 'version',
    detail: string,
  ) {
    super(`invalid Key Vault secret URI '${uri}': ${detail}`);
    this.name = 'SecretUriError';
  }
}

const SECRET_NAME = /^[0-9A-Za-z-]{1,127}$/;
const SECRET_VERSION = /^[0-9A-Za-z]{1,64}$/;
const HOST_PORT = /^[a-z0-9.-]+(?::[0-9]{1,5})?$/;

/** `https://Host:443/` → `https://host`. Any https host is accepted: local vaults live on 127.0.0.1:port. */
export function normalizeVaultUrl(url: string): string {
  const m = /^https:\/\/([^/?#@\s]+)\/*$/i.exec(url.trim());
  if (!m) throw new SecretUriError(url, 'scheme', 'a vault URL is https://host[:port]');
  const host = (m[1] as string).toLowerCase().replace(/:443$/, '');
  if (!HOST_PORT.test(host)) throw new SecretUriError(url, 'host', `'${host}' is not a host`);
  return `https://${host}`;
}

/** Parses `https://{vault-host}/secrets/{name}[/{version}]`. */
export function parseSecretUri(uri: string): SecretRef {
  if (typeof uri !== 'string') throw new SecretUriError(String(uri), 'scheme', 'not a string');
  const text = uri.trim();
  if (!/^https:\/\//i.test(text)) throw new SecretUriError(uri, 'scheme', 'must start with https://');
  const rest = text.slice('https://'.length);
  const slash = rest.indexOf('/');
  const host = slash < 0 ? rest : rest.slice(0, slash);
  if (host === '' || /[?#@\s]/.test(host)) throw new SecretUriError(uri, 'host', `'${host}' is not a host`);
  const vaultUrl = normalizeVaultUrl(`https://${host}`);
  const path = (slash < 0 ? '' : rest.slice(slash + 1)).replace(/\/+$/, '');
  const parts = path.split('/');
  if (parts[0]?.toLowerCase() !== 'secrets' || parts.length < 2 || parts.length > 3) {
    throw new SecretUriError(uri, 'path', 'path must be /secrets/{name}[/{version}]');
  }
  const name = parts[1] as string;
  if (!SECRET_NAME.test(name)) throw new SecretUriError(uri, 'name', `secret name '${name}' is not valid`);
  const ref: SecretRef = { kind: 'vault', uri: text, vaultUrl, name };
  const version = parts[2];
  if (version !== undefined) {
    if (!SECRET_VERSION.test(version)) throw new SecretUriError(uri, 'version', `version '${version}' is not valid`);
    ref.version = version.toLowerCase();
  }
  return ref;
}

/**
 * Map key for a secret reference: `{vaultUrl}/secrets/{name lower-case}[/{version}]`. Key Vault names are
 * case-insensitive. Adapters key `SecretProperties` by the key of the reference they resolved.
 */
export function secretKey(ref: SecretRef | string): string {
  const r = typeof ref === 'string' ? parseSecretUri(ref) : ref;
  return `${r.vaultUrl}/secrets/${r.name.toLowerCase()}${r.version ? `/${r.version}` : ''}`;
}

/** Wire shape of one credential value in `customRegistries`. */
export interface WireCredentialValue {
  type?: string;
  value?: string;
}

/** Wire shape of one `customRegistries` entry. */
export interface WireCustomRegistryCredential {
  userName?: WireCredentialValue | null;
  password?: WireCredentialValue | null;
  identity?: string | null;
}

/** `{type: 'Vaultsecret', value: uri}` → SecretRef; `Opaque` → a marker without the literal. */
export function parseCredentialValue(v: WireCredentialValue, where = 'credential'): CredentialValue {
  const type = (v.type ?? 'Opaque').toLowerCase();
  if (type === 'opaque') return { kind: 'opaque' };
  if (type === 'vaultsecret') {
    if (typeof v.value !== 'string') throw new TypeError(`${where}: Vaultsecret without a secret URI`);
    return parseSecretUri(v.value);
  }
  throw new TypeError(`${where}: unknown credential type '${v.type}'`);
}

/**
 * `credentials.customRegistries` (from `tasks.getDetails`) → TaskCredential[]. A `null` entry means the task was
 * read with GET, which masks credentials; that is a caller bug, so it throws instead of guessing.
 */
export function parseCustomRegistries(
  customRegistries: Record<string, WireCustomRegistryCredential | null | undefined> | null | undefined,
): TaskCredential[] {
  const out: TaskCredential[] = [];
  for (const [loginServer, entry] of Object.entries(customRegistries ?? {})) {
    if (entry === null || entry === undefined) {
      throw new TypeError(`credentials for '${loginServer}' are masked; read the task with tasks.getDetails`);
    }
    const cred: TaskCredential = { loginServer: normalizeLoginServer(loginServer) };
    if (entry.identity) cred.identity = entry.identity;
    if (entry.userName) cred.userName = parseCredentialValue(entry.userName, `${loginServer} userName`);
    if (entry.password) cred.password = parseCredentialValue(entry.password, `${loginServer} password`);
    out.push(cred);
  }
  return out;
}

/** The Key Vault secrets a credential reads at run time. */
export function vaultSecretsOf(cred: TaskCredential): { role: 'userName' | 'password'; ref: SecretRef }[] {
  const out: { role: 'userName' | 'password'; ref: SecretRef }[] = [];
  if (cred.userName?.kind === 'vault') out.push({ role: 'userName', ref: cred.userName });
  if (cred.password?.kind === 'vault') out.push({ role: 'password', ref: cred.password });
  return out;
}

/** Vault name from its URL's first host label (`https://mykeyvault.vault.azure.net` → `mykeyvault`). */
export function vaultNameFromUrl(vaultUrl: string): string {
  const host = normalizeVaultUrl(vaultUrl).slice('https://'.length);
  return host.split('.')[0]?.split(':')[0] ?? host;
}
