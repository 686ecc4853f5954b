// Unit tests of the emulator's own RBAC evaluator (local/azure/core/rbac.ts), over an in-memory store.
import { describe, expect, it } from 'vitest';
import { Store } from '../../local/azure/core/state.js';
import {
  authorize,
  evaluateCondition,
  scopeCovers,
  type RoleAssignmentResource,
  type RoleDefinitionResource,
} from '../../local/azure/core/rbac.js';
import type { Permission } from '../../local/azure/core/roles.js';

const SUB = '/subscriptions/11111111-2222-4333-8444-555555555555';
const RG = `${SUB}/resourceGroups/rg-app`;
const REGISTRY = `${RG}/providers/Microsoft.ContainerRegistry/registries/myregistry`;
const VAULT = `${RG}/providers/Microsoft.KeyVault/vaults/mykeyvault`;
const ROLE = {
  owner: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
  contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c',
  reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
  userAccessAdministrator: '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9',
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d',
  repositoryReader: 'b93aa761-3e63-49ed-ac28-beffa264f7ac',
  secretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
};
const ACR = 'Microsoft.ContainerRegistry/registries';
const CONTENT_READ = { dataAction: `${ACR}/repositories/content/read` };
const GET_SECRET = { dataAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action' };
const REPO = 'Request:Microsoft.ContainerRegistry/registries/repositories:name';

let counter = 0;
const nextGuid = () => `00000000-0000-4000-8000-${(++counter).toString(16).padStart(12, '0')}`;

function assign(store: Store, principalId: string, scope: string, role: string, condition?: string): string {
  const name = nextGuid();
  const id = `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`;
  const ra: RoleAssignmentResource = {
    id,
    name,
    type: 'Microsoft.Authorization/roleAssignments',
    properties: {
      roleDefinitionId: `${SUB}/providers/Microsoft.Authorization/roleDefinitions/${role}`,
      principalId,
      scope,
      ...(condition ? { condition, conditionVersion: '2.0' } : {}),
    },
  };
  store.putResource(ra);
  return id;
}

function customRole(store: Store, permissions: Partial<Permission>[]): string {
  const name = nextGuid();
  const def: RoleDefinitionResource = {
    id: `${SUB}/providers/Microsoft.Authorization/roleDefinitions/${name}`,
    name,
    type: 'Microsoft.Authorization/roleDefinitions',
    properties: {
      roleName: `custom ${name}`,
      description: '',
      type: 'CustomRole',
      assignableScopes: [SUB],
      permissions: permissions.map((p) => ({
        actions: p.actions ?? [],
        notActions: p.notActions ?? [],
        dataActions: p.dataActions ?? [],
        notDataActions: p.notDataActions ?? [],
      })),
    },
  };
  store.putResource(def);
  return name;
}

const principal = () => `aaaaaaaa-0000-4000-8000-${(++counter).toString(16).padStart(12, '0')}`;

describe('rbac: wildcards', () => {
  it('lets */read match any read operation, case-insensitively, but no write', () => {
    const store = new Store();
    const p = principal();
    assign(store, p, SUB, ROLE.reader);
    expect(authorize(store, p, REGISTRY, { action: `${ACR}/read` }).allowed).toBe(true);
    expect(authorize(store, p, REGISTRY, { action: 'MICROSOFT.CONTAINERREGISTRY/REGISTRIES/PULL/READ' }).allowed).toBe(
      true,
    );
    expect(authorize(store, p, REGISTRY, { action: `${ACR}/write` }).allowed).toBe(false);
  });

  it('lets a provider wildcard span nested resource types', () => {
    const store = new Store();
    const p = principal();
    assign(store, p, SUB, ROLE.userAccessAdministrator);
    expect(authorize(store, p, RG, { action: 'Microsoft.Authorization/roleAssignments/write' })).toMatchObject({
      allowed: true,
      roleName: 'User Access Administrator',
    });
    expect(authorize(store, p, RG, { action: 'Microsoft.Resources/subscriptions/resourceGroups/write' }).allowed).toBe(
      false,
    );
  });

  it('matches a mid-pattern wildcard only where the rest of the operation agrees', () => {
    const store = new Store();
    const p = principal();
    const role = customRole(store, [{ actions: ['Microsoft.KeyVault/vaults/*/read'] }]);
    assign(store, p, SUB, role);
    expect(authorize(store, p, VAULT, { action: 'Microsoft.KeyVault/vaults/secrets/read' }).allowed).toBe(true);
    expect(authorize(store, p, VAULT, { action: 'Microsoft.KeyVault/vaults/secrets/write' }).allowed).toBe(false);
    expect(authorize(store, p, VAULT, { action: 'Microsoft.KeyVault/vaults/read' }).allowed).toBe(false);
  });
});

describe('rbac: notActions', () => {
  it('subtracts notActions from the actions of the same role', () => {
    const store = new Store();
    const p = principal();
    assign(store, p, SUB, ROLE.contributor);
    expect(authorize(store, p, RG, { action: 'Microsoft.ManagedIdentity/userAssignedIdentities/write' }).allowed).toBe(
      true,
    );
    expect(authorize(store, p, RG, { action: 'Microsoft.Authorization/roleAssignments/write' }).allowed).toBe(false);
  });

  it('does not let one role’s notActions deny what another role grants', () => {
    const store = new Store();
    const p = principal();
    assign(store, p, SUB, ROLE.contributor);
    const granting = customRole(store, [{ actions: ['Microsoft.Authorization/roleAssignments/write'] }]);
    assign(store, p, RG, granting);
    expect(authorize(store, p, RG, { action: 'Microsoft.Authorization/roleAssignments/write' }).allowed).toBe(true);
    // Outside the second assignment's scope only Contributor applies.
    expect(authorize(store, p, SUB, { action: 'Microsoft.Authorization/roleAssignments/write' }).allowed).toBe(false);
  });

  it('subtracts notDataActions from dataActions', () => {
    const store = new Store();
    const p = principal();
    const role = customRole(store, [
      {
        dataActions: ['Microsoft.KeyVault/vaults/secrets/*'],
        notDataActions: ['Microsoft.KeyVault/vaults/secrets/getSecret/action'],
      },
    ]);
    assign(store, p, VAULT, role);
    expect(
      authorize(store, p, `${VAULT}/secrets/a`, { dataAction: 'Microsoft.KeyVault/vaults/secrets/readMetadata/action' })
        .allowed,
    ).toBe(true);
    expect(authorize(store, p, `${VAULT}/secrets/a`, GET_SECRET).allowed).toBe(false);
  });
});

describe('rbac: actions and dataActions', () => {
  it('never lets actions (even Owner’s *) grant a data action', () => {
    const store = new Store();
    const p = principal();
    assign(store, p, SUB, ROLE.owner);
    expect(authorize(store, p, `${VAULT}/secrets/Password`, GET_SECRET).allowed).toBe(false);
    expect(authorize(store, p, REGISTRY, CONTENT_READ).allowed).toBe(false);
    expect(authorize(store, p, REGISTRY, { action: `${ACR}/pull/read` }).allowed).toBe(true);
  });

  it('never lets dataActions grant a control-plane action', () => {
    const store = new Store();
    const p = principal();
    assign(store, p, VAULT, ROLE.secretsUser);
    expect(authorize(store, p, `${VAULT}/secrets/x`, GET_SECRET).allowed).toBe(true);
    expect(authorize(store, p, VAULT, { action: 'Microsoft.KeyVault/vaults/read' }).allowed).toBe(false);
  });
});

describe('rbac: conditions', () => {
  const onlyRepo = (op: string, value: string) =>
    `((!(ActionMatches{'${ACR}/repositories/content/read'}) AND !(ActionMatches{'${ACR}/repositories/metadata/read'})) OR ` +
    `(@Request[Microsoft.ContainerRegistry/registries/repositories:name] ${op} '${value}'))`;

  it('grants with StringEqualsIgnoreCase only for the named repository', () => {
    const store = new Store();
    const p = principal();
    assign(store, p, REGISTRY, ROLE.repositoryReader, onlyRepo('StringEqualsIgnoreCase', 'baseimages/node'));
    expect(authorize(store, p, REGISTRY, CONTENT_READ, { [REPO]: 'BaseImages/Node' }).allowed).toBe(true);
    expect(authorize(store, p, REGISTRY, CONTENT_READ, { [REPO]: 'baseimages/node-extra' }).allowed).toBe(false);
    expect(authorize(store, p, REGISTRY, CONTENT_READ).allowed).toBe(false);
  });

  it('grants with StringStartsWithIgnoreCase for every repository under the prefix', () => {
    const store = new Store();
    const p = principal();
    assign(store, p, REGISTRY, ROLE.repositoryReader, onlyRepo('StringStartsWithIgnoreCase', 'baseimages/'));
    expect(authorize(store, p, REGISTRY, CONTENT_READ, { [REPO]: 'BASEIMAGES/node' }).allowed).toBe(true);
    expect(authorize(store, p, REGISTRY, CONTENT_READ, { [REPO]: 'baseimagesX/node' }).allowed).toBe(false);
  });

  it('leaves actions the condition does not name unrestricted', () => {
    expect(evaluateCondition(onlyRepo('StringEquals', 'a'), `${ACR}/repositories/metadata/write`, {})).toBe(true);
    expect(evaluateCondition(onlyRepo('StringEquals', 'a'), `${ACR}/repositories/metadata/read`, {})).toBe(false);
  });

  it('denies when the condition cannot be parsed or uses an unsupported operator', () => {
    const store = new Store();
    const p = principal();
    assign(store, p, REGISTRY, ROLE.repositoryReader, '((@Request[x:name] StringEquals ');
    expect(authorize(store, p, REGISTRY, CONTENT_READ, { [REPO]: 'anything' }).allowed).toBe(false);
    expect(evaluateCondition(`@Request[${REPO.slice(8)}] NumericEquals '1'`, 'op', { [REPO]: '1' })).toBe(false);
    expect(evaluateCondition("ActionMatches{'a'} AND", 'a', {})).toBe(false);
    expect(evaluateCondition("(ActionMatches{'a'}", 'a', {})).toBe(false);
  });

  it('accepts NOT and ! alike, and && / || for AND / OR', () => {
    expect(evaluateCondition("NOT ActionMatches{'x/read'} || ActionMatches{'y/*'}", 'y/write', {})).toBe(true);
    expect(evaluateCondition("!(ActionMatches{'x/read'}) && ActionMatches{'y/*'}", 'x/read', {})).toBe(false);
    expect(evaluateCondition("NOT(ActionMatches{'x/read'})", 'z/read', {})).toBe(true);
  });

  it('matches StringLike case-sensitively with * and ?', () => {
    const c = "@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringLike 'base?/*'";
    expect(evaluateCondition(c, 'op', { [REPO]: 'base1/node' })).toBe(true);
    expect(evaluateCondition(c, 'op', { [REPO]: 'BASE1/node' })).toBe(false);
    expect(evaluateCondition(c, 'op', { [REPO]: 'base12/node' })).toBe(false);
  });
});

describe('rbac: scope inheritance', () => {
  it('applies an assignment to its scope and every descendant, down to a single secret', () => {
    const store = new Store();
    const p = principal();
    assign(store, p, RG, ROLE.secretsUser);
    expect(authorize(store, p, `${VAULT}/secrets/UserName`, GET_SECRET).allowed).toBe(true);
    expect(
      authorize(store, p, `${SUB}/resourceGroups/rg-other/providers/Microsoft.KeyVault/vaults/v/secrets/s`, GET_SECRET)
        .allowed,
    ).toBe(false);
  });

  it('limits a secret-level assignment to that secret', () => {
    const store = new Store();
    const p = principal();
    assign(store, p, `${VAULT}/secrets/UserName`, ROLE.secretsUser);
    expect(authorize(store, p, `${VAULT.toUpperCase()}/secrets/username`, GET_SECRET).allowed).toBe(true);
    expect(authorize(store, p, `${VAULT}/secrets/Password`, GET_SECRET).allowed).toBe(false);
    expect(authorize(store, p, `${VAULT}/secrets/UserName2`, GET_SECRET).allowed).toBe(false);
    expect(authorize(store, p, VAULT, GET_SECRET).allowed).toBe(false);
  });

  it('compares scopes segment-wise, so rg-app does not cover rg-application', () => {
    expect(scopeCovers(RG, `${RG}lication/providers/x/y/z`)).toBe(false);
    expect(scopeCovers(RG, `${RG}/providers/x/y/z`)).toBe(true);
    expect(scopeCovers(`${RG}/`, RG.toUpperCase())).toBe(true);
    expect(scopeCovers(`${RG}/providers/x/y/z`, RG)).toBe(false);
  });

  it('grants nothing to other principals, nor through an assignment whose custom role is gone', () => {
    const store = new Store();
    const p = principal();
    const role = customRole(store, [{ actions: ['*'] }]);
    assign(store, p, SUB, role);
    expect(authorize(store, principal(), RG, { action: `${ACR}/read` }).allowed).toBe(false);
    expect(authorize(store, p, RG, { action: `${ACR}/read` }).allowed).toBe(true);
    store.deleteResource(`${SUB}/providers/Microsoft.Authorization/roleDefinitions/${role}`);
    expect(authorize(store, p, RG, { action: `${ACR}/read` }).allowed).toBe(false);
  });
});
