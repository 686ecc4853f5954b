// Azure RBAC evaluation, done the way Azure does it rather than guessed from role names: assignments at the scope or
// any ancestor, wildcards, notActions subtracted per permission block, actions never granting dataActions, and
// ABAC conditions (ACR repository form). Deny assignments are not modelled.

import { type Condition, ConditionError, evaluateCondition, parseCondition } from './abacCondition.js';
import { ACR_CONTENT_READ, ACR_PULL_ACTION, ACR_REPOSITORY_ATTRIBUTE } from './builtInRoles.js';
import { matchesOperation } from './operationMatch.js';
import { coversNormalized, normalizeId, ResourceIdError } from './resourceId.js';
import type {
  PermissionBlock,
  RegistryInfo,
  RoleAssignmentInfo,
  RoleDefinitionInfo,
  RoleAssignmentMode,
} from './types.js';

export interface EvaluateInput {
  principalId: string;
  /** The resource the operation targets (a registry, a vault, `{vaultId}/secrets/{name}`). */
  scope: string;
  /** Exactly one of action / dataAction. */
  action?: string;
  dataAction?: string;
  assignments: readonly RoleAssignmentInfo[];
  definitions: readonly RoleDefinitionInfo[];
  /** Repository name of the request, for ACR ABAC conditions. */
  repository?: string;
}

export interface Grant {
  assignmentId: string;
  roleName: string;
  scope: string;
}

/**
 * Why an assignment of the principal came close but does not count, most convincing first:
 * - condition: the role grants the operation, but its ABAC condition does not allow this request (`repositories`
 *   names what it is limited to, when it says);
 * - notActions: the role's actions match, but its notActions remove the operation (`pattern`);
 * - abacMode: a registry-wide pull role (AcrPull and the like) on a registry in ABAC repository-permissions mode;
 * - scope: the role would grant, but the assignment is on another resource (`scope` does not cover the target);
 * - noPermission: the role simply does not include the operation.
 */
export type NearMissKind = 'condition' | 'notActions' | 'abacMode' | 'scope' | 'noPermission';

export interface NearMiss {
  kind: NearMissKind;
  assignmentId: string;
  roleName: string;
  scope: string;
  /** One sentence: which assignment, and why it does not count. */
  why: string;
  /** notActions: the pattern that removes the operation. */
  pattern?: string;
  /** condition: the repositories the condition limits the assignment to. */
  repositories?: string[];
}

const NEAR_MISS_RANK: Record<NearMissKind, number> = {
  condition: 0,
  notActions: 1,
  abacMode: 2,
  scope: 3,
  noPermission: 4,
};

/** The nearer of two near misses (lower rank wins; the first seen wins a tie, so list order decides). */
export function closerNearMiss(a: NearMiss | undefined, b: NearMiss | undefined): NearMiss | undefined {
  if (!a) return b;
  if (!b) return a;
  return NEAR_MISS_RANK[b.kind] < NEAR_MISS_RANK[a.kind] ? b : a;
}

export interface EvaluateResult {
  allowed: boolean;
  grantedBy?: Grant;
  /** Assignments of this principal that apply at the scope (at it or above). */
  considered: number;
  /** Why an applicable assignment did not grant (unknown role, condition not met or not understood). */
  notes: string[];
  /** When not allowed: the assignment of this principal that came closest, and why it does not count. */
  nearMiss?: NearMiss;
}

/** Repository names an ACR condition compares the request's repository with (positive comparisons only). */
export function conditionRepositories(c: Condition): string[] {
  const out: string[] = [];
  const walk = (n: Condition, negated: boolean): void => {
    if (n.op === 'or' || n.op === 'and') n.items.forEach((i) => walk(i, negated));
    else if (n.op === 'not') walk(n.item, !negated);
    else if (n.op === 'compare' && n.attribute.toLowerCase() === ACR_REPOSITORY_ATTRIBUTE.toLowerCase()) {
      if (!negated && !n.operator.includes('Not')) out.push(...n.values);
    }
  };
  walk(c, false);
  return [...new Set(out)];
}

function listWords(names: readonly string[]): string {
  return names.map((n) => `'${n}'`).join(', ');
}

const definitionIndexes = new WeakMap<readonly RoleDefinitionInfo[], Map<string, RoleDefinitionInfo>>();

function definitionIndex(definitions: readonly RoleDefinitionInfo[]): Map<string, RoleDefinitionInfo> {
  let index = definitionIndexes.get(definitions);
  if (index === undefined) {
    index = new Map(definitions.map((d) => [d.name.toLowerCase(), d]));
    definitionIndexes.set(definitions, index);
  }
  return index;
}

/** A role definition id in any form (`/providers/...`, `/subscriptions/s/providers/...`, or a bare GUID) → GUID. */
export function roleGuidOf(roleDefinitionId: string): string {
  const parts = roleDefinitionId.trim().replace(/\/+$/, '').split('/');
  return (parts[parts.length - 1] ?? '').toLowerCase();
}

function blockGrants(block: PermissionBlock, operation: string, data: boolean): boolean {
  const allow = data ? block.dataActions : block.actions;
  const deny = data ? block.notDataActions : block.notActions;
  return allow.some((p) => matchesOperation(p, operation)) && !deny.some((p) => matchesOperation(p, operation));
}

export function evaluate(input: EvaluateInput): EvaluateResult {
  const { principalId, scope, action, dataAction, repository } = input;
  if ((action === undefined) === (dataAction === undefined)) {
    throw new TypeError('evaluate: give exactly one of action or dataAction');
  }
  const data = dataAction !== undefined;
  const operation = (dataAction ?? action) as string;
  const principal = principalId.toLowerCase();
  // Validates the target once (a bad target is the caller's error and throws ResourceIdError).
  const target = normalizeId(scope);
  const index = definitionIndex(input.definitions);
  const notes: string[] = [];
  let considered = 0;
  let grantedBy: Grant | undefined;

  let nearMiss: NearMiss | undefined;
  const miss = (kind: NearMissKind, a: RoleAssignmentInfo, roleName: string, why: string, extra = {}): void => {
    nearMiss = closerNearMiss(nearMiss, { kind, assignmentId: a.id, roleName, scope: a.scope, why, ...extra });
  };

  for (const a of input.assignments) {
    if (a.principalId.toLowerCase() !== principal) continue;
    let applies: boolean;
    try {
      applies = coversNormalized(normalizeId(a.scope), target);
    } catch (err) {
      if (!(err instanceof ResourceIdError)) throw err;
      notes.push(`assignment ${a.id} has a malformed scope '${a.scope}'`);
      continue;
    }
    const def = index.get(roleGuidOf(a.roleDefinitionId));
    if (!applies) {
      // Only a role that would have granted here makes another resource's assignment a near miss.
      if (!grantedBy && def?.permissions.some((b) => blockGrants(b, operation, data))) {
        miss('scope', a, def.roleName, `'${def.roleName}' is assigned at ${a.scope}, which does not cover ${scope}`);
      }
      continue;
    }
    considered++;
    if (grantedBy) continue;

    if (def === undefined) {
      notes.push(`assignment ${a.id} refers to unknown role definition ${a.roleDefinitionId}`);
      continue;
    }
    // notActions subtract only inside their own block: a block grants on its own terms.
    if (!def.permissions.some((b) => blockGrants(b, operation, data))) {
      const removedBy = def.permissions
        .filter((b) => (data ? b.dataActions : b.actions).some((p) => matchesOperation(p, operation)))
        .flatMap((b) => (data ? b.notDataActions : b.notActions).filter((p) => matchesOperation(p, operation)))[0];
      if (removedBy !== undefined) {
        miss(
          'notActions',
          a,
          def.roleName,
          `'${def.roleName}' at ${a.scope} includes ${operation} but removes it with ${data ? 'notDataActions' : 'notActions'} '${removedBy}'`,
          { pattern: removedBy },
        );
      } else {
        miss('noPermission', a, def.roleName, `'${def.roleName}' at ${a.scope} does not include ${operation}`);
      }
      continue;
    }

    if (a.condition !== undefined && a.condition !== null && a.condition.trim() !== '') {
      let ok: boolean;
      try {
        const res = evaluateCondition(parseCondition(a.condition), operation, {
          [ACR_REPOSITORY_ATTRIBUTE]: repository,
        });
        ok = res.value;
        notes.push(...res.notes);
      } catch (err) {
        if (!(err instanceof ConditionError)) throw err;
        notes.push(
          `assignment ${a.id} (${def.roleName}) has a condition that cannot be evaluated, so it grants nothing: ${err.message}`,
        );
        continue;
      }
      if (!ok) {
        const repositories = conditionRepositories(parseCondition(a.condition));
        miss(
          'condition',
          a,
          def.roleName,
          `'${def.roleName}' at ${a.scope} has a condition ${
            repositories.length
              ? `limited to repositor${repositories.length === 1 ? 'y' : 'ies'} ${listWords(repositories)}`
              : 'that does not allow this request'
          }${repository !== undefined ? `, not '${repository}'` : ''}`,
          { repositories },
        );
        notes.push(
          `assignment ${a.id} (${def.roleName}) has a condition that does not allow ${
            repository === undefined ? 'this request' : `repository '${repository}'`
          }`,
        );
        continue;
      }
    }
    grantedBy = { assignmentId: a.id, roleName: def.roleName, scope: a.scope };
  }
  const result: EvaluateResult = { allowed: grantedBy !== undefined, considered, notes: [...new Set(notes)] };
  if (grantedBy) result.grantedBy = grantedBy;
  else if (nearMiss) result.nearMiss = nearMiss;
  return result;
}

export interface CanPullInput {
  registry: RegistryInfo;
  /** Absent: registry-wide (an ABAC condition on the repository then does not grant). */
  repository?: string;
  /** Absent when the run has no identity for this registry (only anonymous pull can work). */
  principalId?: string;
  assignments: readonly RoleAssignmentInfo[];
  definitions: readonly RoleDefinitionInfo[];
}

export interface PullDecision extends EvaluateResult {
  mode: RoleAssignmentMode;
  /** Allowed because the registry permits anonymous pull. */
  anonymous: boolean;
  /** The permission that was checked. */
  permission: { kind: 'action' | 'dataAction'; operation: string };
}

/** The permission a pull needs in this registry's role-assignment mode. */
export function pullPermission(mode: RoleAssignmentMode): { kind: 'action' | 'dataAction'; operation: string } {
  // Legacy: registry-wide control-plane action (AcrPull; Reader's */read and Owner's * match it too).
  // ABAC: only the Container Registry Repository roles' dataAction counts; AcrPull/Owner/Reader give nothing.
  return mode === 'AbacRepositoryPermissions'
    ? { kind: 'dataAction', operation: ACR_CONTENT_READ }
    : { kind: 'action', operation: ACR_PULL_ACTION };
}

export function canPull(input: CanPullInput): PullDecision {
  const { registry } = input;
  const permission = pullPermission(registry.roleAssignmentMode);
  const base = { mode: registry.roleAssignmentMode, permission };
  if (registry.anonymousPullEnabled) {
    return { ...base, allowed: true, anonymous: true, considered: 0, notes: [] };
  }
  if (input.principalId === undefined) {
    return { ...base, allowed: false, anonymous: false, considered: 0, notes: ['no identity to pull with'] };
  }
  const res = evaluate({
    principalId: input.principalId,
    scope: registry.id,
    assignments: input.assignments,
    definitions: input.definitions,
    repository: input.repository,
    ...(permission.kind === 'action' ? { action: permission.operation } : { dataAction: permission.operation }),
  });
  if (!res.allowed && registry.roleAssignmentMode === 'AbacRepositoryPermissions') {
    // A registry-wide pull role (AcrPull, Reader, Owner…) would have granted in Legacy mode: name it, it is the
    // usual mistake after a registry switches to ABAC.
    const legacy = evaluate({
      principalId: input.principalId,
      scope: registry.id,
      assignments: input.assignments,
      definitions: input.definitions,
      action: ACR_PULL_ACTION,
    });
    if (legacy.grantedBy) {
      const g = legacy.grantedBy;
      res.nearMiss = closerNearMiss(res.nearMiss, {
        kind: 'abacMode',
        assignmentId: g.assignmentId,
        roleName: g.roleName,
        scope: g.scope,
        why: `'${g.roleName}' at ${g.scope} grants registry-wide pull, which counts only in Legacy mode; registry '${registry.name}' uses ABAC repository permissions`,
      });
    }
  }
  return { ...base, ...res, anonymous: false };
}
