import { describe, expect, it } from 'vitest';
import {
  daysLeft,
  isRotatable,
  normalizeVaultUrl,
  parseCredentialValue,
  parseCustomRegistries,
  parseSecretUri,
  secretHealth,
  secretKey,
  SecretUriError,
  unixSeconds,
  vaultNameFromUrl,
} from '../../../src/domain/index.js';
import { DAY, NOW, secret, VAULT_URL } from './seed.js';

const ref = parseSecretUri(`${VAULT_URL}/secrets/Password`);
const base = { accessAllowed: true, now: NOW, warningDays: 30 };

describe('secretHealth', () => {
  it('is healthy with days left when far from expiry', () => {
    expect(secretHealth({ ...base, props: secret('Password', { expiresOn: NOW + 100 * DAY + 5 }) })).toEqual({
      status: 'healthy',
      daysLeft: 100,
    });
  });

  it('reports each unhealthy state, the most blocking first', () => {
    const cases: [Parameters<typeof secretHealth>[0], string][] = [
      [{ ...base, accessAllowed: false, props: secret('Password', { enabled: false }) }, 'accessDenied'],
      [{ ...base }, 'missing'],
      [{ ...base, props: secret('Password', { enabled: false, expiresOn: NOW - DAY }) }, 'disabled'],
      [{ ...base, props: secret('Password', { notBefore: NOW + 1 }) }, 'notYetValid'],
      [{ ...base, props: secret('Password', { expiresOn: NOW }) }, 'expired'],
      [
        {
          ...base,
          props: secret('Password', { expiresOn: NOW + DAY }),
          referencedVersion: 'a',
          latestEnabledVersion: 'B',
        },
        'outdatedVersion',
      ],
      [{ ...base, props: secret('Password', { expiresOn: NOW + 29 * DAY }) }, 'expiring'],
    ];
    for (const [input, status] of cases) expect(secretHealth(input).status).toBe(status);
  });

  it('counts days left as floor((exp - now) / 86400), negative once expired', () => {
    expect(secretHealth({ ...base, props: secret('Password', { expiresOn: NOW + 30 * DAY - 1 }) })).toMatchObject({
      status: 'expiring',
      daysLeft: 29,
    });
    expect(secretHealth({ ...base, props: secret('Password', { expiresOn: NOW + 30 * DAY }) }).status).toBe('healthy');
    expect(secretHealth({ ...base, props: secret('Password', { expiresOn: NOW - 1 }) }).daysLeft).toBe(-1);
  });

  it('carries the reason and its fix when told where the secret is used', () => {
    const h = secretHealth({
      ...base,
      props: secret('Password', { enabled: false, version: 'v1' }),
      use: { secret: ref },
    });
    expect(h.reason?.code).toBe('SecretDisabled');
    expect(h.fix).toBe(
      'az keyvault secret set-attributes --vault-name mykeyvault --name Password --version v1 --enabled true',
    );
    expect(secretHealth({ ...base, use: { secret: ref } }).fix).toBe(
      'az keyvault secret set --vault-name mykeyvault --name Password --value <value>',
    );
  });
});

describe('daysLeft: one definition everywhere', () => {
  it('counts whole days, rounded down: 0 on the last day, -1 the second after expiry', () => {
    expect(daysLeft(NOW + 30 * DAY, NOW)).toBe(30);
    expect(daysLeft(NOW + 30 * DAY - 1, NOW)).toBe(29);
    expect(daysLeft(NOW + 1, NOW)).toBe(0);
    expect(daysLeft(NOW, NOW)).toBe(0);
    expect(daysLeft(NOW - 1, NOW)).toBe(-1);
    expect(unixSeconds(new Date((NOW + 0.999) * 1000))).toBe(NOW);
  });

  it('calls a secret expiring exactly when fewer whole days than the warning window are left', () => {
    const at = (exp: number) => secretHealth({ ...base, props: secret('Password', { expiresOn: exp }) });
    expect(at(NOW + 30 * DAY)).toMatchObject({ status: 'healthy', daysLeft: 30 });
    expect(at(NOW + 30 * DAY - 1)).toMatchObject({ status: 'expiring', daysLeft: 29 });
  });
});

describe('isRotatable', () => {
  const tokenId =
    '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/mybaseregistry/tokens/basepull';

  it('recognises an ACR token password by its tags and alternates the password slot', () => {
    expect(isRotatable({ 'Cascade.TokenId': tokenId, 'cascade.role': 'Password' })).toEqual({
      rotatable: true,
      tokenId,
      registryId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/mybaseregistry',
      registryName: 'mybaseregistry',
      tokenName: 'basepull',
      role: 'password',
      nextPasswordName: 'password1',
    });
    expect(
      isRotatable({ 'cascade.tokenId': tokenId, 'cascade.role': 'password', 'cascade.passwordName': 'password1' }),
    ).toMatchObject({ nextPasswordName: 'password2' });
  });

  it('never rotates Docker Hub credentials', () => {
    expect(isRotatable({ 'cascade.tokenId': tokenId, 'cascade.role': 'password' }, 'index.docker.io')).toEqual({
      rotatable: false,
      why: 'Docker Hub access tokens can only be created in Docker Hub',
    });
  });

  it('says why untagged or mistagged secrets are not rotatable', () => {
    expect(isRotatable({})).toEqual({ rotatable: false, why: 'no cascade.tokenId tag names an ACR token' });
    expect(
      isRotatable({ 'cascade.tokenId': tokenId.replace('/tokens/', '/scopeMaps/'), 'cascade.role': 'password' }),
    ).toMatchObject({
      rotatable: false,
      why: expect.stringMatching(/is not an ACR token id/),
    });
    expect(isRotatable({ 'cascade.tokenId': 'nope', 'cascade.role': 'password' }).rotatable).toBe(false);
    expect(isRotatable({ 'cascade.tokenId': tokenId, 'cascade.role': 'both' })).toEqual({
      rotatable: false,
      why: "cascade.role must be 'username' or 'password'",
    });
  });
});

describe('secret references in task credentials', () => {
  it('parses vault secret URIs on any https host, with or without a version', () => {
    expect(parseSecretUri('https://MyKeyVault.vault.azure.net:443/secrets/UserName/')).toEqual({
      kind: 'vault',
      uri: 'https://MyKeyVault.vault.azure.net:443/secrets/UserName/',
      vaultUrl: 'https://mykeyvault.vault.azure.net',
      name: 'UserName',
    });
    expect(parseSecretUri('https://127.0.0.1:8443/secrets/Password/ABCDEF0123')).toMatchObject({
      vaultUrl: 'https://127.0.0.1:8443',
      version: 'abcdef0123',
    });
  });

  it('names what is wrong with a bad secret URI', () => {
    expect(() => parseSecretUri('http://v.vault.azure.net/secrets/x')).toThrow(
      expect.objectContaining({ part: 'scheme' }),
    );
    expect(() => parseSecretUri('https://v.vault.azure.net/keys/x')).toThrow(expect.objectContaining({ part: 'path' }));
    expect(() => parseSecretUri('https://v.vault.azure.net/secrets/bad_name')).toThrow(SecretUriError);
    expect(() => parseSecretUri('https://v.vault.azure.net/secrets/x/v-1')).toThrow(
      expect.objectContaining({ part: 'version' }),
    );
  });

  it('keys secrets case-insensitively by name and normalises vault URLs', () => {
    expect(secretKey('https://MYKEYVAULT.vault.azure.net/secrets/username')).toBe(
      secretKey(`${VAULT_URL}/secrets/UserName`),
    );
    expect(normalizeVaultUrl('https://mykeyvault.vault.azure.net/')).toBe(VAULT_URL);
    expect(vaultNameFromUrl('https://127.0.0.1:8443')).toBe('127');
    expect(vaultNameFromUrl(VAULT_URL)).toBe('mykeyvault');
  });

  it('reads customRegistries without keeping opaque values, and refuses masked entries', () => {
    const creds = parseCustomRegistries({
      'Index.Docker.io': {
        userName: { type: 'Opaque', value: 'literal-user' },
        password: { type: 'Vaultsecret', value: `${VAULT_URL}/secrets/Password` },
        identity: '[system]',
      },
    });
    expect(creds).toEqual([
      { loginServer: 'docker.io', identity: '[system]', userName: { kind: 'opaque' }, password: ref },
    ]);
    expect(JSON.stringify(creds)).not.toContain('literal-user');
    expect(() => parseCustomRegistries({ 'mybaseregistry.azurecr.io': null })).toThrow(
      /masked; read the task with tasks.getDetails/,
    );
    expect(() => parseCredentialValue({ type: 'Weird', value: 'x' })).toThrow(/unknown credential type 'Weird'/);
  });
});
