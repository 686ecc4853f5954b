// ARM and Key Vault calls of credential refresh and rotation that the shared adapters do not make: ACR token password
// slots, generateCredentials, the task credential PATCH, and writing (and, for verification only, reading back) a
// secret version. Secret VALUES pass through here only on their way between ACR and Key Vault inside the rotation
// activity: they are returned to the caller, never logged, and never part of an error message.
import type { CustomRegistryCredentials, SecretObject } from '@azure/arm-containerregistry';
import { LRO_POLL, type AzureClients } from './clients.js';
import { registryAddress, taskAddress, toAzureError, toSecretProperties } from './adapters.js';
import { parseResourceId, type SecretProperties, type WireCustomRegistryCredential } from '../domain/index.js';

export type PasswordName = 'password1' | 'password2';

export interface TokenPasswordInfo {
  name: PasswordName;
  creationTime?: string;
  expiry?: string;
}

/** A freshly generated token password. `value` is a secret: keep it in a local variable, never log or return it. */
export interface GeneratedPassword {
  name: PasswordName;
  value: string;
  expiry?: string;
}

export interface SetSecretOptions {
  expiresOn: Date;
  tags: Record<string, string>;
  contentType?: string;
}

export interface CredentialOps {
  /** The password slots a token has (`tokens.get`, needs `registries/tokens/read`). Values are never returned. */
  getTokenPasswords(tokenId: string): Promise<TokenPasswordInfo[]>;
  /** `registries.generateCredentials` for one slot (replaces that slot's previous value at once). */
  generateTokenPassword(tokenId: string, name: PasswordName, expiry: Date): Promise<GeneratedPassword>;
  /**
   * One PATCH of `properties.credentials.customRegistries` carrying each given entry complete (keyed by the login
   * server as the task spells it); entries not given, and every other task property, stay as they are.
   */
  updateTaskCustomRegistries(taskId: string, entries: Record<string, WireCustomRegistryCredential>): Promise<void>;
  /** A new secret version; returns its properties (never the value). */
  setSecretVersion(vaultUrl: string, name: string, value: string, options: SetSecretOptions): Promise<SecretProperties>;
  /** Reads one version's value back (`get`) — only to verify a version the rotation itself just wrote. */
  readSecretVersionValue(vaultUrl: string, name: string, version: string): Promise<string | undefined>;
}

function tokenAddress(tokenId: string): {
  subscriptionId: string;
  resourceGroup: string;
  registry: string;
  token: string;
} {
  const p = parseResourceId(tokenId);
  if (p.types.length !== 2 || p.types[1]?.toLowerCase() !== 'tokens') {
    throw new TypeError(`'${tokenId}' is not an ACR token id (…/registries/{registry}/tokens/{token})`);
  }
  const registry = registryAddress(tokenId);
  return {
    subscriptionId: registry.subscriptionId,
    resourceGroup: registry.resourceGroup,
    registry: registry.name,
    token: p.name,
  };
}

async function call<T>(operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw toAzureError(err, operation);
  }
}

const asPasswordName = (n: string | undefined): PasswordName | undefined => {
  const v = n?.toLowerCase();
  return v === 'password1' || v === 'password2' ? v : undefined;
};

function toSecretObject(v: WireCustomRegistryCredential['userName']): SecretObject | undefined {
  if (!v) return undefined;
  const type = (v.type ?? 'Opaque').toLowerCase() === 'vaultsecret' ? 'Vaultsecret' : 'Opaque';
  return { type, ...(v.value !== undefined ? { value: v.value } : {}) };
}

export function createCredentialOps(clients: AzureClients): CredentialOps {
  return {
    async getTokenPasswords(tokenId) {
      const a = tokenAddress(tokenId);
      const token = await call(`tokens.get ${tokenId}`, () =>
        clients.acr(a.subscriptionId).tokens.get(a.resourceGroup, a.registry, a.token),
      );
      const out: TokenPasswordInfo[] = [];
      for (const p of token.credentials?.passwords ?? []) {
        const name = asPasswordName(p.name);
        if (!name) continue;
        out.push({
          name,
          ...(p.creationTime ? { creationTime: p.creationTime.toISOString() } : {}),
          ...(p.expiry ? { expiry: p.expiry.toISOString() } : {}),
        });
      }
      return out;
    },

    async generateTokenPassword(tokenId, name, expiry) {
      const a = tokenAddress(tokenId);
      const result = await call(`registries.generateCredentials ${tokenId} (${name})`, () =>
        clients
          .acr(a.subscriptionId)
          .registries.beginGenerateCredentialsAndWait(a.resourceGroup, a.registry, { tokenId, name, expiry }, LRO_POLL),
      );
      const issued = (result.passwords ?? []).find((p) => asPasswordName(p.name) === name);
      if (!issued?.value) {
        throw new TypeError(`registries.generateCredentials ${tokenId}: no ${name} value in the response`);
      }
      return { name, value: issued.value, ...(issued.expiry ? { expiry: issued.expiry.toISOString() } : {}) };
    },

    async updateTaskCustomRegistries(taskId, entries) {
      const a = taskAddress(taskId);
      const customRegistries: Record<string, CustomRegistryCredentials> = {};
      for (const [loginServerKey, entry] of Object.entries(entries)) {
        const wire: CustomRegistryCredentials = {};
        const userName = toSecretObject(entry.userName);
        const password = toSecretObject(entry.password);
        if (userName) wire.userName = userName;
        if (password) wire.password = password;
        if (entry.identity) wire.identity = entry.identity;
        customRegistries[loginServerKey] = wire;
      }
      // Only `properties.credentials`: touching `identity` would need userAssignedIdentities/assign/action.
      await call(`tasks.update ${taskId} credentials`, () =>
        clients.acr(a.subscriptionId).tasks.beginUpdateAndWait(
          a.resourceGroup,
          a.name,
          a.taskName,
          {
            credentials: { customRegistries },
          },
          LRO_POLL,
        ),
      );
    },

    async setSecretVersion(vaultUrl, name, value, options) {
      const secret = await call(`secrets.set ${vaultUrl}/secrets/${name}`, () =>
        clients.secrets(vaultUrl).setSecret(name, value, {
          enabled: true,
          expiresOn: options.expiresOn,
          tags: options.tags,
          ...(options.contentType ? { contentType: options.contentType } : {}),
        }),
      );
      return toSecretProperties(secret.properties);
    },

    async readSecretVersionValue(vaultUrl, name, version) {
      const secret = await call(`secrets.get ${vaultUrl}/secrets/${name}/${version}`, () =>
        clients.secrets(vaultUrl).getSecret(name, { version }),
      );
      return secret.value;
    },
  };
}
