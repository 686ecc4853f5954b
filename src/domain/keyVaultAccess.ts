// Can a principal read a Key Vault secret? The vault's permission model decides which mechanism counts:
// `enableRbacAuthorization` → RBAC dataActions only (access policies ignored); otherwise access policies only.

import { KV_GET_SECRET, KV_READ_SECRET_METADATA } from './builtInRoles.js';
import { evaluate, type Grant } from './rbac.js';
import { secretScope } from './resourceId.js';
import type { RoleAssignmentInfo, RoleDefinitionInfo, VaultInfo } from './types.js';

export interface SecretAccessInput {
  vault: VaultInfo;
  principalId: string;
  secretName: string;
  assignments: readonly RoleAssignmentInfo[];
  definitions: readonly RoleDefinitionInfo[];
}

export interface SecretAccessDecision {
  allowed: boolean;
  model: 'rbac' | 'accessPolicy';
  /** RBAC model: the assignment that grants. */
  grantedBy?: Grant;
  /** Access-policy model: the permission that grants (`get`, `list`, `all`). */
  policyPermission?: string;
  notes: string[];
}

function decide(input: SecretAccessInput, dataAction: string, policyPermission: string): SecretAccessDecision {
  const { vault, principalId } = input;
  if (vault.enableRbacAuthorization) {
    // Scope is the secret itself so assignments at the secret, the vault or above all count.
    const res = evaluate({
      principalId,
      scope: secretScope(vault.id, input.secretName),
      dataAction,
      assignments: input.assignments,
      definitions: input.definitions,
    });
    const out: SecretAccessDecision = { allowed: res.allowed, model: 'rbac', notes: res.notes };
    if (res.grantedBy) out.grantedBy = res.grantedBy;
    return out;
  }
  const principal = principalId.toLowerCase();
  for (const p of vault.accessPolicies) {
    if (p.objectId.toLowerCase() !== principal) continue;
    const granted = p.secrets.find((s) => {
      const perm = s.toLowerCase();
      return perm === policyPermission || perm === 'all';
    });
    if (granted !== undefined) {
      return { allowed: true, model: 'accessPolicy', policyPermission: granted.toLowerCase(), notes: [] };
    }
  }
  return { allowed: false, model: 'accessPolicy', notes: [] };
}

/** Can the principal read the secret's value (what a task run does)? */
export function canGetSecret(input: SecretAccessInput): SecretAccessDecision {
  return decide(input, KV_GET_SECRET, 'get');
}

/** Can the principal read the secret's attributes and versions (what the credential check does)? */
export function canReadSecretMetadata(input: SecretAccessInput): SecretAccessDecision {
  return decide(input, KV_READ_SECRET_METADATA, 'list');
}
