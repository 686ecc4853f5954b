import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { AuthorizationManagementClient, type RoleAssignment, type RoleDefinition } from '@azure/arm-authorization';
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import type { TokenCredential } from '@azure/identity';
import { appPrincipal, startTestEmulator, type TestEmulator } from '../support/emulator.js';
import type { Principal } from '../../local/azure/core/identity.js';

const ARM_SCOPE = 'https://management.azure.com/.default';
const ROLE = {
  owner: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
  reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d',
  repositoryReader: 'b93aa761-3e63-49ed-ac28-beffa264f7ac',
  secretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
};
const REPO_NAME_ATTR = 'Request:Microsoft.ContainerRegistry/registries/repositories:name';

let t: TestEmulator;
let authz: AuthorizationManagementClient;
let sub: string;
let counter = 0;
const unique = (prefix: string) => `${prefix}-${++counter}`;
// Deterministic, distinct GUIDs for assignment names (which must be GUIDs); the prefix keeps clear of the
// operator's bootstrap assignment.
const guid = () => `a0000000-0000-4000-8000-${(++counter).toString(16).padStart(12, '0')}`;
const tenantRoleId = (role: string) => `/providers/Microsoft.Authorization/roleDefinitions/${role}`;
const subRoleId = (role: string) => `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${role}`;

function authzClient(cred: TokenCredential) {
  return new AuthorizationManagementClient(cred, sub, { endpoint: t.emu.armEndpoint, credentialScopes: [ARM_SCOPE] });
}
function msiClient(cred: TokenCredential) {
  return new ManagedServiceIdentityClient(cred, sub, { endpoint: t.emu.armEndpoint, credentialScopes: [ARM_SCOPE] });
}

async function createResourceGroup(name: string): Promise<string> {
  const { token } = (await t.operator.getToken(ARM_SCOPE))!;
  const res = await fetch(`${t.emu.armEndpoint}/subscriptions/${sub}/resourcegroups/${name}?api-version=2021-04-01`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ location: 'eastus' }),
  });
  expect(res.status).toBe(201);
  return `/subscriptions/${sub}/resourceGroups/${name}`;
}

/** A principal the directory knows (as a managed identity would be) but with no role yet. */
function newPrincipal(): Principal {
  return t.emu.newPrincipal('system', unique('principal'));
}

/**
 * Resources other modules own, placed straight into ARM state: these tests only need them to exist as scopes.
 * Role assignments on them are still created and evaluated through the real API.
 */
function seedResource(rgScope: string, type: string, name: string, properties: Record<string, unknown>): string {
  const id = `${rgScope}/providers/${type}/${name}`;
  t.emu.store.putResource({ id, name, type, location: 'eastus', properties });
  return id;
}

async function collect<T>(iter: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iter) out.push(x);
  return out;
}

let rgScope: string;
let identityScope: string;
beforeAll(async () => {
  t = await startTestEmulator();
  sub = t.emu.subscriptionId;
  authz = authzClient(t.operator);
  rgScope = await createResourceGroup('rg-authz');
  const identity = await msiClient(t.operator).userAssignedIdentities.createOrUpdate('rg-authz', 'scope-identity', {
    location: 'eastus',
  });
  identityScope = identity.id!;
});
afterAll(async () => {
  await t?.stop();
});

describe('role assignments', () => {
  it('creates, reads (by scope and by id) and deletes an assignment at subscription scope', async () => {
    const p = newPrincipal();
    const scope = `/subscriptions/${sub}`;
    const name = guid();
    let status = 0;
    const created = await authz.roleAssignments.create(
      scope,
      name,
      { roleDefinitionId: tenantRoleId(ROLE.reader), principalId: p.objectId, principalType: 'ServicePrincipal' },
      { onResponse: (r) => (status = r.status) },
    );
    expect(status).toBe(201);
    expect(created).toMatchObject({
      id: `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`,
      name,
      type: 'Microsoft.Authorization/roleAssignments',
      scope,
      roleDefinitionId: subRoleId(ROLE.reader),
      principalId: p.objectId,
      principalType: 'ServicePrincipal',
    });
    expect(created.createdOn).toBeInstanceOf(Date);
    expect(await authz.roleAssignments.get(scope, name)).toMatchObject({ id: created.id });
    expect(await authz.roleAssignments.getById(created.id!)).toMatchObject({ name, principalId: p.objectId });

    const statuses: number[] = [];
    const deleted = await authz.roleAssignments.delete(scope, name, { onResponse: (r) => statuses.push(r.status) });
    expect(deleted).toMatchObject({ id: created.id });
    await authz.roleAssignments.delete(scope, name, { onResponse: (r) => statuses.push(r.status) });
    expect(statuses).toEqual([200, 204]);
    await expect(authz.roleAssignments.get(scope, name)).rejects.toMatchObject({
      code: 'RoleAssignmentNotFound',
      statusCode: 404,
    });
  });

  it('creates assignments at resource group and resource scope and lists them with the SDK list shapes', async () => {
    const p = newPrincipal();
    const atRg = await authz.roleAssignments.create(rgScope, guid(), {
      roleDefinitionId: subRoleId(ROLE.reader),
      principalId: p.objectId,
    });
    const atResource = await authz.roleAssignments.create(identityScope, guid(), {
      roleDefinitionId: tenantRoleId(ROLE.owner),
      principalId: p.objectId,
    });
    expect(atResource.scope).toBe(identityScope);

    const forSub = await collect(authz.roleAssignments.listForSubscription());
    expect(forSub.map((r) => r.id)).toEqual(expect.arrayContaining([atRg.id, atResource.id]));
    const forRg = await collect(authz.roleAssignments.listForResourceGroup('rg-authz'));
    expect(forRg.map((r) => r.id)).toEqual(expect.arrayContaining([atRg.id, atResource.id]));
    const forResource = await collect(
      authz.roleAssignments.listForResource(
        'rg-authz',
        'Microsoft.ManagedIdentity',
        'userAssignedIdentities',
        'scope-identity',
      ),
    );
    expect(forResource.map((r) => r.id)).toContain(atResource.id);
  });

  it('rejects the same principal, role and scope under another name with 409 RoleAssignmentExists', async () => {
    const p = newPrincipal();
    const body = { roleDefinitionId: subRoleId(ROLE.acrPull), principalId: p.objectId };
    await authz.roleAssignments.create(rgScope, guid(), body);
    await expect(
      authz.roleAssignments.create(rgScope, guid(), { ...body, roleDefinitionId: tenantRoleId(ROLE.acrPull) }),
    ).rejects.toMatchObject({ code: 'RoleAssignmentExists', statusCode: 409 });
  });

  it('treats a repeated PUT of the same assignment as a success and refuses to change its principal or scope', async () => {
    const p = newPrincipal();
    const name = guid();
    const body = { roleDefinitionId: subRoleId(ROLE.reader), principalId: p.objectId };
    const first = await authz.roleAssignments.create(rgScope, name, body);
    let status = 0;
    const again = await authz.roleAssignments.create(rgScope, name, body, { onResponse: (r) => (status = r.status) });
    expect(status).toBe(200);
    expect(again).toMatchObject({ id: first.id, principalId: p.objectId });
    // Description and condition are the updatable parts.
    const described = await authz.roleAssignments.create(rgScope, name, { ...body, description: 'read-only access' });
    expect(described).toMatchObject({ id: first.id, description: 'read-only access' });

    await expect(
      authz.roleAssignments.create(rgScope, name, { ...body, principalId: newPrincipal().objectId }),
    ).rejects.toMatchObject({ code: 'RoleAssignmentUpdateNotPermitted', statusCode: 409 });
    await expect(authz.roleAssignments.create(`/subscriptions/${sub}`, name, body)).rejects.toMatchObject({
      code: 'RoleAssignmentUpdateNotPermitted',
      statusCode: 409,
    });
  });

  it('validates the name, the principal, its type and the role definition', async () => {
    const p = newPrincipal();
    const body = { roleDefinitionId: subRoleId(ROLE.reader), principalId: p.objectId };
    await expect(authz.roleAssignments.create(rgScope, 'not-a-guid', body)).rejects.toMatchObject({
      code: 'InvalidRoleAssignmentId',
      statusCode: 400,
    });
    await expect(
      authz.roleAssignments.create(rgScope, guid(), { ...body, principalId: randomUUID() }),
    ).rejects.toMatchObject({ code: 'PrincipalNotFound', statusCode: 400 });
    await expect(
      authz.roleAssignments.create(rgScope, guid(), { ...body, principalType: 'User' }),
    ).rejects.toMatchObject({ code: 'UnmatchedPrincipalType', statusCode: 400 });
    await expect(
      authz.roleAssignments.create(rgScope, guid(), { ...body, roleDefinitionId: subRoleId(randomUUID()) }),
    ).rejects.toMatchObject({ code: 'RoleDefinitionDoesNotExist', statusCode: 400 });
  });

  it('reports a missing scope with ARM 404 taxonomy: resource group first, then the resource', async () => {
    const body = { roleDefinitionId: subRoleId(ROLE.reader), principalId: newPrincipal().objectId };
    await expect(
      authz.roleAssignments.create(`/subscriptions/${sub}/resourceGroups/rg-nope`, guid(), body),
    ).rejects.toMatchObject({ code: 'ResourceGroupNotFound', statusCode: 404 });
    await expect(
      authz.roleAssignments.create(
        `${rgScope}/providers/Microsoft.ContainerRegistry/registries/nosuchregistry`,
        guid(),
        body,
      ),
    ).rejects.toMatchObject({ code: 'ResourceNotFound', statusCode: 404 });
  });

  it('lists at and above a scope with atScope(), and also below it without a filter', async () => {
    const rg = await createResourceGroup(unique('rg-list'));
    const child = seedResource(rg, 'Microsoft.KeyVault/vaults', 'vlist', { vaultUri: 'https://127.0.0.1:1/' });
    const p = newPrincipal();
    const make = (scope: string, role: string) =>
      authz.roleAssignments.create(scope, guid(), { roleDefinitionId: subRoleId(role), principalId: p.objectId });
    const above = await make(`/subscriptions/${sub}`, ROLE.reader);
    const at = await make(rg, ROLE.acrPull);
    const below = await make(child, ROLE.secretsUser);

    const ids = async (filter?: string) =>
      (await collect(authz.roleAssignments.listForScope(rg, filter ? { filter } : {}))).map((r) => r.id);
    const unfiltered = await ids();
    expect(unfiltered).toEqual(expect.arrayContaining([above.id, at.id, below.id]));
    const atScope = await ids('atScope()');
    expect(atScope).toEqual(expect.arrayContaining([above.id, at.id]));
    expect(atScope).not.toContain(below.id);
  });

  it("filters by principal with principalId eq '…' and assignedTo('…'), alone or with atScope()", async () => {
    const rg = await createResourceGroup(unique('rg-filter'));
    const child = seedResource(rg, 'Microsoft.KeyVault/vaults', 'vfilter', { vaultUri: 'https://127.0.0.1:1/' });
    const p = newPrincipal();
    const other = newPrincipal();
    const mine = [
      await authz.roleAssignments.create(`/subscriptions/${sub}`, guid(), {
        roleDefinitionId: subRoleId(ROLE.reader),
        principalId: p.objectId,
      }),
      await authz.roleAssignments.create(child, guid(), {
        roleDefinitionId: subRoleId(ROLE.secretsUser),
        principalId: p.objectId,
      }),
    ];
    const theirs = await authz.roleAssignments.create(rg, guid(), {
      roleDefinitionId: subRoleId(ROLE.reader),
      principalId: other.objectId,
    });

    const byPrincipal = await collect(
      authz.roleAssignments.listForScope(rg, { filter: `principalId eq '${p.objectId}'` }),
    );
    expect(byPrincipal.map((r) => r.id).sort()).toEqual(mine.map((r) => r.id).sort());
    const assignedTo = await collect(authz.roleAssignments.listForScope(rg, { filter: `assignedTo('${p.objectId}')` }));
    expect(assignedTo.map((r) => r.id).sort()).toEqual(mine.map((r) => r.id).sort());
    const combined = await collect(
      authz.roleAssignments.listForScope(rg, { filter: `atScope() and assignedTo('${p.objectId}')` }),
    );
    expect(combined.map((r) => r.id)).toEqual([mine[0]!.id]);
    expect(byPrincipal.map((r) => r.id)).not.toContain(theirs.id);

    await expect(collect(authz.roleAssignments.listForScope(rg, { filter: "roleName eq 'x'" }))).rejects.toMatchObject({
      code: 'UnsupportedQuery',
      statusCode: 400,
    });
  });

  it('pages long lists with a nextLink the SDK follows', async () => {
    const rg = await createResourceGroup(unique('rg-paging'));
    const created = new Set<string>();
    for (let i = 0; i < 105; i++) {
      const ra = await authz.roleAssignments.create(rg, guid(), {
        roleDefinitionId: subRoleId(ROLE.reader),
        principalId: newPrincipal().objectId,
      });
      created.add(ra.id!);
    }
    const pages: RoleAssignment[][] = [];
    for await (const pageItems of authz.roleAssignments.listForScope(rg).byPage()) pages.push(pageItems);
    expect(pages.length).toBeGreaterThanOrEqual(2);
    expect(pages[0]).toHaveLength(100);
    const all = pages.flat().map((r) => r.id!);
    expect(new Set(all).size).toBe(all.length);
    expect(all).toEqual(expect.arrayContaining([...created]));
  });

  it('answers 403 AuthorizationFailed when an identity without roles creates an assignment', async () => {
    const app = appPrincipal(t.emu);
    await expect(
      authzClient(t.app).roleAssignments.create(rgScope, guid(), {
        roleDefinitionId: subRoleId(ROLE.owner),
        principalId: app.objectId,
      }),
    ).rejects.toMatchObject({ code: 'AuthorizationFailed', statusCode: 403 });
  });

  it('stores an ABAC condition and evaluates it for the repositories it names', async () => {
    const rg = await createResourceGroup(unique('rg-abac'));
    const registry = seedResource(rg, 'Microsoft.ContainerRegistry/registries', 'abacregistry', {
      loginServer: 'abacregistry.azurecr.io',
      roleAssignmentMode: 'AbacRepositoryPermissions',
    });
    const p = newPrincipal();
    const condition =
      "((!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'}) AND " +
      "!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/metadata/read'})) OR " +
      "(@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWithIgnoreCase 'baseimages/'))";
    const created = await authz.roleAssignments.create(registry, guid(), {
      roleDefinitionId: subRoleId(ROLE.repositoryReader),
      principalId: p.objectId,
      principalType: 'ServicePrincipal',
      condition,
      conditionVersion: '2.0',
    });
    expect(await authz.roleAssignments.getById(created.id!)).toMatchObject({ condition, conditionVersion: '2.0' });

    const read = { dataAction: 'Microsoft.ContainerRegistry/registries/repositories/content/read' };
    expect(t.emu.authorize(p.objectId, registry, read, { [REPO_NAME_ATTR]: 'BaseImages/node' }).allowed).toBe(true);
    expect(t.emu.authorize(p.objectId, registry, read, { [REPO_NAME_ATTR]: 'apps/hello' }).allowed).toBe(false);

    await expect(
      authz.roleAssignments.create(registry, guid(), {
        roleDefinitionId: subRoleId(ROLE.repositoryReader),
        principalId: newPrincipal().objectId,
        condition,
        conditionVersion: '1.0',
      }),
    ).rejects.toMatchObject({ code: 'InvalidConditionVersion', statusCode: 400 });
  });

  it('grants a secret-level assignment on that secret only', async () => {
    const rg = await createResourceGroup(unique('rg-secret'));
    const vault = seedResource(rg, 'Microsoft.KeyVault/vaults', 'vsecret', { vaultUri: 'https://127.0.0.1:1/' });
    const p = newPrincipal();
    const ra = await authz.roleAssignments.create(`${vault}/secrets/UserName`, guid(), {
      roleDefinitionId: subRoleId(ROLE.secretsUser),
      principalId: p.objectId,
    });
    expect(ra.scope).toBe(`${vault}/secrets/UserName`);
    const get = { dataAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action' };
    expect(t.emu.authorize(p.objectId, `${vault}/secrets/username`, get).allowed).toBe(true);
    expect(t.emu.authorize(p.objectId, `${vault}/secrets/Password`, get).allowed).toBe(false);
    const atVault = await collect(authz.roleAssignments.listForScope(vault, { filter: 'atScope()' }));
    expect(atVault.map((r) => r.id)).not.toContain(ra.id);
  });
});

describe('role definitions', () => {
  it('finds built-in roles by name filter and by id in both forms', async () => {
    const byName = await collect(
      authz.roleDefinitions.list(`/subscriptions/${sub}`, { filter: "roleName eq 'AcrPull'" }),
    );
    expect(byName).toHaveLength(1);
    expect(byName[0]).toMatchObject({
      id: subRoleId(ROLE.acrPull),
      name: ROLE.acrPull,
      roleName: 'AcrPull',
      roleType: 'BuiltInRole',
      assignableScopes: ['/'],
      permissions: [{ actions: ['Microsoft.ContainerRegistry/registries/pull/read'] }],
    });
    expect(await authz.roleDefinitions.getById(subRoleId(ROLE.reader))).toMatchObject({ roleName: 'Reader' });
    expect(await authz.roleDefinitions.getById(tenantRoleId(ROLE.reader))).toMatchObject({
      id: tenantRoleId(ROLE.reader),
      roleName: 'Reader',
    });
    expect(await authz.roleDefinitions.get(rgScope, ROLE.secretsUser)).toMatchObject({
      roleName: 'Key Vault Secrets User',
    });
    await expect(authz.roleDefinitions.get(`/subscriptions/${sub}`, randomUUID())).rejects.toMatchObject({
      code: 'RoleDefinitionDoesNotExist',
      statusCode: 404,
    });
  });

  it('enforces a custom role with a wildcard and a notActions carve-out on real calls', async () => {
    const rgName = unique('rg-custom');
    const rg = await createResourceGroup(rgName);
    const operatorRole = randomUUID();
    const custom: RoleDefinition = {
      roleName: unique('Identity operator'),
      description: 'Manage identities but never delete them',
      roleType: 'CustomRole',
      assignableScopes: [rg],
      permissions: [
        {
          actions: ['Microsoft.ManagedIdentity/userAssignedIdentities/*'],
          notActions: ['Microsoft.ManagedIdentity/userAssignedIdentities/delete'],
        },
      ],
    };
    let status = 0;
    const def = await authz.roleDefinitions.createOrUpdate(rg, operatorRole, custom, {
      onResponse: (r) => (status = r.status),
    });
    expect(status).toBe(201);
    expect(def).toMatchObject({ id: subRoleId(operatorRole), roleType: 'CustomRole' });
    const app = appPrincipal(t.emu);
    await authz.roleAssignments.create(rg, guid(), { roleDefinitionId: def.id!, principalId: app.objectId });

    const asApp = msiClient(t.app).userAssignedIdentities;
    const identity = await asApp.createOrUpdate(rgName, 'made-by-app', { location: 'eastus' });
    expect(await asApp.get(rgName, 'made-by-app')).toMatchObject({ principalId: identity.principalId });
    await expect(asApp.delete(rgName, 'made-by-app')).rejects.toMatchObject({
      code: 'AuthorizationFailed',
      statusCode: 403,
      message: expect.stringContaining("'Microsoft.ManagedIdentity/userAssignedIdentities/delete'"),
    });
    // Outside the assignment's scope the wildcard grants nothing.
    await expect(asApp.get('rg-authz', 'scope-identity')).rejects.toMatchObject({
      code: 'AuthorizationFailed',
      statusCode: 403,
    });

    // notActions subtract only within their own role: a second role that allows delete makes it succeed.
    const deleter = await authz.roleDefinitions.createOrUpdate(rg, randomUUID(), {
      roleName: unique('Identity deleter'),
      roleType: 'CustomRole',
      assignableScopes: [rg],
      permissions: [{ actions: ['Microsoft.ManagedIdentity/*/delete'] }],
    });
    await authz.roleAssignments.create(rg, guid(), { roleDefinitionId: deleter.id!, principalId: app.objectId });
    await asApp.delete(rgName, 'made-by-app');
    expect(t.emu.identities.get(identity.principalId!)).toBeUndefined();
  });

  it('lists custom roles by type, refuses a duplicate role name, and keeps a role while it is assigned', async () => {
    const rg = await createResourceGroup(unique('rg-roles'));
    const roleName = unique('Registry peeker');
    const id = randomUUID();
    const def = await authz.roleDefinitions.createOrUpdate(`/subscriptions/${sub}`, id, {
      roleName,
      assignableScopes: [rg],
      permissions: [{ actions: ['Microsoft.ContainerRegistry/registries/read'] }],
    });
    const customs = await collect(authz.roleDefinitions.list(rg, { filter: "type eq 'CustomRole'" }));
    expect(customs.map((d) => d.roleName)).toContain(roleName);
    expect(customs.every((d) => d.roleType === 'CustomRole')).toBe(true);
    const outside = await collect(
      authz.roleDefinitions.list(`/subscriptions/${sub}`, { filter: `roleName eq '${roleName}'` }),
    );
    expect(outside).toHaveLength(0);

    await expect(
      authz.roleDefinitions.createOrUpdate(`/subscriptions/${sub}`, randomUUID(), {
        roleName,
        assignableScopes: [rg],
        permissions: [{ actions: ['*/read'] }],
      }),
    ).rejects.toMatchObject({ code: 'RoleDefinitionWithSameNameExists', statusCode: 409 });

    const name = guid();
    await authz.roleAssignments.create(rg, name, { roleDefinitionId: def.id!, principalId: newPrincipal().objectId });
    await expect(authz.roleDefinitions.delete(`/subscriptions/${sub}`, id)).rejects.toMatchObject({
      code: 'RoleDefinitionHasAssignments',
      statusCode: 409,
    });
    await authz.roleAssignments.delete(rg, name);
    expect(await authz.roleDefinitions.delete(`/subscriptions/${sub}`, id)).toMatchObject({ roleName });
    await expect(authz.roleDefinitions.getById(def.id!)).rejects.toMatchObject({
      code: 'RoleDefinitionDoesNotExist',
      statusCode: 404,
    });
  });

  it('refuses to create a custom role for the app, which has no roleDefinitions/write', async () => {
    await expect(
      authzClient(t.app).roleDefinitions.createOrUpdate(`/subscriptions/${sub}`, randomUUID(), {
        roleName: unique('Sneaky'),
        assignableScopes: [`/subscriptions/${sub}`],
        permissions: [{ actions: ['*'] }],
      }),
    ).rejects.toMatchObject({ code: 'AuthorizationFailed', statusCode: 403 });
  });
});
