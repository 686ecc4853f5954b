import { describe, expect, it } from 'vitest';
import {
  ACR_CONTENT_READ,
  ACR_PULL_ACTION,
  canPull,
  ConditionError,
  evaluate,
  evaluateCondition,
  matchesOperation,
  parseCondition,
  reasons,
  repositoryReadCondition,
  type RegistryInfo,
  type RoleDefinitionInfo,
} from '../../../src/domain/index.js';
import { assignment, BASEREGISTRY_ID, definitions, mybaseregistry, RG, SUB } from './seed.js';

const P = 'aaaaaaaa-0000-0000-0000-00000000000f';
const SUB_ID = `/subscriptions/${SUB}`;
const RG_ID = `${SUB_ID}/resourceGroups/${RG}`;
const abac: RegistryInfo = { ...mybaseregistry, roleAssignmentMode: 'AbacRepositoryPermissions' };

function pull(registry: RegistryInfo, repository: string, assignments: ReturnType<typeof assignment>[]) {
  return canPull({ registry, repository, principalId: P, assignments, definitions });
}

describe('operation matching', () => {
  it('matches wildcards anywhere in the pattern, case-insensitively', () => {
    expect(matchesOperation('*', ACR_PULL_ACTION)).toBe(true);
    expect(matchesOperation('*/read', ACR_PULL_ACTION)).toBe(true);
    expect(matchesOperation('*/read', 'Microsoft.ContainerRegistry/registries/push/write')).toBe(false);
    expect(matchesOperation('microsoft.containerregistry/registries/*', ACR_PULL_ACTION)).toBe(true);
    expect(matchesOperation('Microsoft.Authorization/*/Write', 'microsoft.authorization/roleassignments/write')).toBe(
      true,
    );
    expect(matchesOperation('Microsoft.ContainerRegistry/registries/pull/read', ACR_PULL_ACTION.toUpperCase())).toBe(
      true,
    );
    expect(matchesOperation('Microsoft.ContainerRegistry/registries/pull/rea', ACR_PULL_ACTION)).toBe(false);
  });
});

describe('evaluate (Legacy registry: pull is a control-plane action)', () => {
  it('grants AcrPull assigned on the registry and names the assignment', () => {
    const a = assignment(BASEREGISTRY_ID, 'AcrPull', P);
    const d = pull(mybaseregistry, 'baseimages/node', [a]);
    expect(d).toMatchObject({
      allowed: true,
      anonymous: false,
      considered: 1,
      grantedBy: { assignmentId: a.id, roleName: 'AcrPull', scope: BASEREGISTRY_ID },
    });
  });

  it('grants assignments inherited from the resource group or the subscription', () => {
    expect(pull(mybaseregistry, 'x', [assignment(RG_ID, 'AcrPull', P)]).grantedBy?.scope).toBe(RG_ID);
    expect(pull(mybaseregistry, 'x', [assignment(SUB_ID.toUpperCase(), 'AcrPull', P)]).allowed).toBe(true);
  });

  it('lets Reader (*/read) and Owner (*) satisfy registries/pull/read', () => {
    expect(pull(mybaseregistry, 'x', [assignment(BASEREGISTRY_ID, 'Reader', P)]).grantedBy?.roleName).toBe('Reader');
    expect(pull(mybaseregistry, 'x', [assignment(RG_ID, 'Owner', P)]).grantedBy?.roleName).toBe('Owner');
  });

  it('ignores assignments of other principals, on sibling registries, or below the registry', () => {
    const d = pull(mybaseregistry, 'x', [
      assignment(BASEREGISTRY_ID, 'AcrPull', 'someone-else'),
      assignment(`${RG_ID}/providers/Microsoft.ContainerRegistry/registries/other`, 'AcrPull', P),
      assignment(`${BASEREGISTRY_ID}/tasks/t`, 'AcrPull', P),
    ]);
    expect(d).toMatchObject({ allowed: false, considered: 0 });
  });

  it('does not let AcrPush-style data roles or KV roles grant the action', () => {
    const d = pull(mybaseregistry, 'x', [
      assignment(BASEREGISTRY_ID, 'ContainerRegistryRepositoryReader', P),
      assignment(BASEREGISTRY_ID, 'KeyVaultSecretsUser', P),
    ]);
    expect(d).toMatchObject({ allowed: false, considered: 2 });
  });

  it('applies a custom role wildcard minus its notActions carve-out', () => {
    const custom: RoleDefinitionInfo = {
      id: `${SUB_ID}/providers/Microsoft.Authorization/roleDefinitions/c0ffee00-0000-0000-0000-000000000001`,
      name: 'c0ffee00-0000-0000-0000-000000000001',
      roleName: 'Registry operator without pull',
      permissions: [
        {
          actions: ['Microsoft.ContainerRegistry/registries/*'],
          notActions: ['Microsoft.ContainerRegistry/registries/pull/*'],
          dataActions: [],
          notDataActions: [],
        },
      ],
    };
    const defs = [...definitions, custom];
    const a = assignment(BASEREGISTRY_ID, custom.name, P);
    const base = { principalId: P, scope: BASEREGISTRY_ID, assignments: [a], definitions: defs };
    expect(evaluate({ ...base, action: ACR_PULL_ACTION })).toMatchObject({ allowed: false, considered: 1 });
    expect(evaluate({ ...base, action: 'Microsoft.ContainerRegistry/registries/push/write' })).toMatchObject({
      allowed: true,
      grantedBy: { roleName: 'Registry operator without pull' },
    });
  });

  it('subtracts notActions only within their own permission block', () => {
    const twoBlocks: RoleDefinitionInfo = {
      id: 'x',
      name: 'c0ffee00-0000-0000-0000-000000000002',
      roleName: 'Two blocks',
      permissions: [
        { actions: ['*'], notActions: [ACR_PULL_ACTION], dataActions: [], notDataActions: [] },
        { actions: [ACR_PULL_ACTION], notActions: [], dataActions: [], notDataActions: [] },
      ],
    };
    const d = evaluate({
      principalId: P,
      scope: BASEREGISTRY_ID,
      action: ACR_PULL_ACTION,
      assignments: [assignment(BASEREGISTRY_ID, twoBlocks.name, P)],
      definitions: [twoBlocks],
    });
    expect(d.allowed).toBe(true);
  });

  it('notes assignments whose role definition is unknown', () => {
    const a = assignment(BASEREGISTRY_ID, 'deadbeef-0000-0000-0000-000000000000', P);
    const d = pull(mybaseregistry, 'x', [a]);
    expect(d.allowed).toBe(false);
    expect(d.notes).toEqual([`assignment ${a.id} refers to unknown role definition ${a.roleDefinitionId}`]);
  });

  it('notes an assignment with a malformed scope and throws on a malformed target', () => {
    const bad = { ...assignment(BASEREGISTRY_ID, 'AcrPull', P), scope: 'registries/mybaseregistry' };
    expect(pull(mybaseregistry, 'x', [bad]).notes).toEqual([
      `assignment ${bad.id} has a malformed scope 'registries/mybaseregistry'`,
    ]);
    expect(() =>
      evaluate({ principalId: P, scope: 'nope', action: ACR_PULL_ACTION, assignments: [], definitions }),
    ).toThrow(expect.objectContaining({ name: 'ResourceIdError' }));
  });

  it('refuses a question with neither or both of action and dataAction', () => {
    const base = { principalId: P, scope: BASEREGISTRY_ID, assignments: [], definitions };
    expect(() => evaluate(base)).toThrow(TypeError);
    expect(() => evaluate({ ...base, action: 'a', dataAction: 'b' })).toThrow(/exactly one/);
  });
});

describe('canPull on an ABAC registry (pull is a dataAction)', () => {
  it('gives nothing to AcrPull, AcrPush, Owner, Contributor or Reader', () => {
    const roles = ['AcrPull', 'AcrPush', 'Owner', 'Contributor', 'Reader'];
    const d = pull(
      abac,
      'baseimages/node',
      roles.map((r) => assignment(BASEREGISTRY_ID, r, P)),
    );
    expect(d).toMatchObject({
      allowed: false,
      considered: 5,
      mode: 'AbacRepositoryPermissions',
      permission: { kind: 'dataAction', operation: ACR_CONTENT_READ },
    });
  });

  it('grants Container Registry Repository Reader without a condition registry-wide', () => {
    const d = pull(abac, 'anything/at/all', [assignment(RG_ID, 'ContainerRegistryRepositoryReader', P)]);
    expect(d.grantedBy?.roleName).toBe('Container Registry Repository Reader');
  });

  it('grants Repository Reader with a matching repository condition (case-insensitive)', () => {
    const a = assignment(
      BASEREGISTRY_ID,
      'ContainerRegistryRepositoryReader',
      P,
      repositoryReadCondition('BaseImages/Node'),
    );
    expect(pull(abac, 'baseimages/node', [a])).toMatchObject({ allowed: true, grantedBy: { assignmentId: a.id } });
  });

  it('refuses Repository Reader whose condition names another repository, and says so', () => {
    const a = assignment(BASEREGISTRY_ID, 'ContainerRegistryRepositoryReader', P, repositoryReadCondition('nginx'));
    const d = pull(abac, 'baseimages/node', [a]);
    expect(d).toMatchObject({ allowed: false, considered: 1 });
    expect(d.notes).toContain(
      `assignment ${a.id} (Container Registry Repository Reader) has a condition that does not allow repository 'baseimages/node'`,
    );
  });

  it('registry-wide (no repository, as for an identity-only login): only an unconditional grant counts', () => {
    const wide = assignment(BASEREGISTRY_ID, 'ContainerRegistryRepositoryReader', P);
    const scoped = assignment(BASEREGISTRY_ID, 'ContainerRegistryRepositoryReader', P, repositoryReadCondition('node'));
    const check = (a: ReturnType<typeof assignment>[]) =>
      canPull({ registry: abac, principalId: P, assignments: a, definitions });
    expect(check([wide])).toMatchObject({ allowed: true, grantedBy: { assignmentId: wide.id } });
    expect(check([scoped])).toMatchObject({ allowed: false, considered: 1 });
    expect(check([scoped]).notes.join(' ')).toContain('does not allow this request');
  });

  it('honours OR-ed prefix conditions (the trailing slash matters)', () => {
    const condition =
      "((!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'}) AND " +
      "!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/metadata/read'})) OR " +
      "(@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWithIgnoreCase 'backend/' OR " +
      "@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWithIgnoreCase 'baseimages/'))";
    const a = [assignment(BASEREGISTRY_ID, 'ContainerRegistryRepositoryReader', P, condition)];
    expect(pull(abac, 'baseimages/node', a).allowed).toBe(true);
    expect(pull(abac, 'backend/api', a).allowed).toBe(true);
    expect(pull(abac, 'baseimagesx/node', a).allowed).toBe(false);
  });

  it('does not grant on a condition it cannot parse, and notes why', () => {
    const a = assignment(
      BASEREGISTRY_ID,
      'ContainerRegistryRepositoryReader',
      P,
      "@Resource[Microsoft.ContainerRegistry/registries:tags] StringEquals 'x'",
    );
    const d = pull(abac, 'baseimages/node', [a]);
    expect(d.allowed).toBe(false);
    expect(d.notes[0]).toMatch(
      /has a condition that cannot be evaluated, so it grants nothing: .*'@Resource' is not supported/,
    );
  });

  it('allows anonymous pull without any identity', () => {
    const open = { ...abac, anonymousPullEnabled: true };
    expect(canPull({ registry: open, repository: 'x', assignments: [], definitions })).toMatchObject({
      allowed: true,
      anonymous: true,
    });
    expect(canPull({ registry: abac, repository: 'x', assignments: [], definitions })).toMatchObject({
      allowed: false,
      notes: ['no identity to pull with'],
    });
  });
});

describe('ABAC conditions', () => {
  it('restricts only the operations the condition names', () => {
    const c = parseCondition(repositoryReadCondition('nginx'));
    expect(evaluateCondition(c, 'Microsoft.ContainerRegistry/registries/repositories/content/write', {}).value).toBe(
      true,
    );
    const unknown = evaluateCondition(c, ACR_CONTENT_READ, {});
    expect(unknown.value).toBe(false);
    expect(unknown.notes[0]).toMatch(/not known for this request/);
  });

  it('parses && / || / NOT and value lists', () => {
    const attr = 'Microsoft.ContainerRegistry/registries/repositories:name';
    const c = parseCondition(
      `!(@Request[${attr}] StringEquals {'a', 'b'}) && (ActionMatches{'*/read'} || NOT ActionMatches{'x'})`,
    );
    expect(evaluateCondition(c, 'y/read', { [attr]: 'c' }).value).toBe(true);
    expect(evaluateCondition(c, 'y/read', { [attr]: 'b' }).value).toBe(false);
  });

  it('reports where a condition stops making sense', () => {
    expect(() => parseCondition("(ActionMatches{'x'}")).toThrow(ConditionError);
    expect(() => parseCondition("(ActionMatches{'x'}")).toThrow(/expected '\)'/);
    expect(() => parseCondition("@Request[a] StringLike 'x'")).toThrow(/operator 'StringLike' is not supported/);
    expect(() => parseCondition("SubOperationMatches{'x'}")).toThrow(/'SubOperationMatches' is not supported/);
    expect(() => parseCondition("ActionMatches{'x")).toThrow(/unterminated string/);
  });
});

describe('near misses: the assignment that came closest, and why it does not count', () => {
  const MYREGISTRY = BASEREGISTRY_ID.replace(/mybaseregistry$/, 'myregistry');
  const withoutPull: RoleDefinitionInfo = {
    id: `${SUB_ID}/providers/Microsoft.Authorization/roleDefinitions/c0ffee00-0000-0000-0000-000000000002`,
    name: 'c0ffee00-0000-0000-0000-000000000002',
    roleName: 'Registry operator without pull',
    permissions: [
      {
        actions: ['Microsoft.ContainerRegistry/registries/*'],
        notActions: ['Microsoft.ContainerRegistry/registries/pull/*'],
        dataActions: [],
        notDataActions: [],
      },
    ],
  };
  const defs = [...definitions, withoutPull];

  it('names a custom role whose notActions remove pull, with the pattern', () => {
    const a = assignment(BASEREGISTRY_ID, withoutPull.name, P);
    const d = canPull({
      registry: mybaseregistry,
      repository: 'baseimages/node',
      principalId: P,
      assignments: [a],
      definitions: defs,
    });
    expect(d.allowed).toBe(false);
    expect(d.nearMiss).toEqual({
      kind: 'notActions',
      assignmentId: a.id,
      roleName: 'Registry operator without pull',
      scope: BASEREGISTRY_ID,
      pattern: 'Microsoft.ContainerRegistry/registries/pull/*',
      why: `'Registry operator without pull' at ${BASEREGISTRY_ID} includes ${ACR_PULL_ACTION} but removes it with notActions 'Microsoft.ContainerRegistry/registries/pull/*'`,
    });
  });

  it('names a Repository Reader whose condition is limited to another repository, over a role without pull', () => {
    const reader = assignment(BASEREGISTRY_ID, 'Reader', P); // Reader gives no dataAction in ABAC mode
    const limited = assignment(
      BASEREGISTRY_ID,
      'ContainerRegistryRepositoryReader',
      P,
      repositoryReadCondition('baseimages/python'),
    );
    const d = pull(abac, 'baseimages/node', [reader, limited]);
    expect(d.allowed).toBe(false);
    expect(d.nearMiss).toMatchObject({
      kind: 'condition',
      assignmentId: limited.id,
      repositories: ['baseimages/python'],
      why: `'Container Registry Repository Reader' at ${BASEREGISTRY_ID} has a condition limited to repository 'baseimages/python', not 'baseimages/node'`,
    });
  });

  it('names AcrPull on a registry in ABAC mode (it would have granted in Legacy mode)', () => {
    const a = assignment(BASEREGISTRY_ID, 'AcrPull', P);
    const d = pull(abac, 'baseimages/node', [a]);
    expect(d.allowed).toBe(false);
    expect(d.nearMiss).toMatchObject({ kind: 'abacMode', assignmentId: a.id, roleName: 'AcrPull' });
    expect(d.nearMiss?.why).toMatch(/counts only in Legacy mode; registry 'mybaseregistry' uses ABAC/);
  });

  it('names an AcrPull assigned on another registry (wrong scope)', () => {
    const a = assignment(MYREGISTRY, 'AcrPull', P);
    const d = pull(mybaseregistry, 'baseimages/node', [a]);
    expect(d).toMatchObject({ allowed: false, considered: 0 });
    expect(d.nearMiss).toMatchObject({ kind: 'scope', assignmentId: a.id, scope: MYREGISTRY });
    expect(d.nearMiss?.why).toBe(`'AcrPull' is assigned at ${MYREGISTRY}, which does not cover ${BASEREGISTRY_ID}`);
  });

  it('reports no near miss when access is granted, or when the principal has no assignment at all', () => {
    expect(
      pull(mybaseregistry, 'baseimages/node', [assignment(BASEREGISTRY_ID, 'AcrPull', P)]).nearMiss,
    ).toBeUndefined();
    expect(
      pull(mybaseregistry, 'baseimages/node', [assignment(BASEREGISTRY_ID, 'AcrPull', 'someone-else')]).nearMiss,
    ).toBeUndefined();
  });

  it('MissingPullPermission names the closest assignment in its message', () => {
    const a = assignment(BASEREGISTRY_ID, withoutPull.name, P);
    const d = canPull({
      registry: mybaseregistry,
      repository: 'baseimages/node',
      principalId: P,
      assignments: [a],
      definitions: defs,
    });
    const r = reasons.missingPullPermission(
      { id: `${MYREGISTRY}/tasks/t`, name: 't', registryId: MYREGISTRY },
      mybaseregistry,
      'baseimages/node',
      { kind: 'system', principalId: P },
      d.considered,
      d.nearMiss,
    );
    expect(r.message).toMatch(
      /\(1 assignment considered\)\. Closest: assignment [0-9a-f-]+: 'Registry operator without pull' at .* removes it with notActions 'Microsoft\.ContainerRegistry\/registries\/pull\/\*'\.$/,
    );
  });
});
