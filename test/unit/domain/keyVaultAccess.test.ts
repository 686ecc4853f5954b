import { describe, expect, it } from 'vitest';
import { canGetSecret, canReadSecretMetadata, secretScope } from '../../../src/domain/index.js';
import { assignment, definitions, DOCKERHUB_SYSTEM_PRINCIPAL as P, mykeyvault, RG, SUB, VAULT_ID } from './seed.js';

const input = { principalId: P, secretName: 'UserName', assignments: [], definitions };

describe('Key Vault access (access-policy vault)', () => {
  it('grants get from an access policy, whatever the casing', () => {
    expect(canGetSecret({ ...input, vault: mykeyvault() })).toEqual({
      allowed: true,
      model: 'accessPolicy',
      policyPermission: 'get',
      notes: [],
    });
    expect(canGetSecret({ ...input, principalId: P.toUpperCase(), vault: mykeyvault() }).allowed).toBe(true);
  });

  it('grants on `all` and refuses a policy that only lists', () => {
    const all = mykeyvault({ accessPolicies: [{ objectId: P, secrets: ['All'] }] });
    expect(canGetSecret({ ...input, vault: all }).policyPermission).toBe('all');
    const listOnly = mykeyvault({ accessPolicies: [{ objectId: P, secrets: ['list'] }] });
    expect(canGetSecret({ ...input, vault: listOnly }).allowed).toBe(false);
    expect(canReadSecretMetadata({ ...input, vault: listOnly }).allowed).toBe(true);
  });

  it('ignores RBAC assignments while the vault uses access policies', () => {
    const vault = mykeyvault({ accessPolicies: [] });
    const d = canGetSecret({ ...input, vault, assignments: [assignment(VAULT_ID, 'KeyVaultSecretsUser', P)] });
    expect(d).toMatchObject({ allowed: false, model: 'accessPolicy' });
  });
});

describe('Key Vault access (RBAC vault)', () => {
  const vault = mykeyvault({ enableRbacAuthorization: true });

  it('ignores access policies and needs the getSecret dataAction', () => {
    expect(canGetSecret({ ...input, vault })).toMatchObject({ allowed: false, model: 'rbac' });
  });

  it('grants Key Vault Secrets User at the secret, the vault or the resource group', () => {
    for (const scope of [secretScope(VAULT_ID, 'UserName'), VAULT_ID, `/subscriptions/${SUB}/resourceGroups/${RG}`]) {
      const d = canGetSecret({ ...input, vault, assignments: [assignment(scope, 'KeyVaultSecretsUser', P)] });
      expect(d).toMatchObject({ allowed: true, grantedBy: { roleName: 'Key Vault Secrets User', scope } });
    }
  });

  it('does not let an assignment on another secret grant this one', () => {
    const a = assignment(secretScope(VAULT_ID, 'Password'), 'KeyVaultSecretsUser', P);
    expect(canGetSecret({ ...input, vault, assignments: [a] })).toMatchObject({ allowed: false });
  });

  it('gives Owner no data-plane access', () => {
    const d = canGetSecret({ ...input, vault, assignments: [assignment(VAULT_ID, 'Owner', P)] });
    expect(d).toMatchObject({ allowed: false });
  });

  it('reads metadata with Secrets Officer wildcard dataActions', () => {
    const a = assignment(VAULT_ID, 'KeyVaultSecretsOfficer', P);
    expect(canReadSecretMetadata({ ...input, vault, assignments: [a] }).allowed).toBe(true);
  });
});
