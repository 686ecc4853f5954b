// Which managed identity a task run uses for a credential: `[system]` → the task's system-assigned principal,
// a client id → the user-assigned identity with that client id (case-insensitive).

import { SYSTEM_IDENTITY } from './credentials.js';
import type { TaskInfo } from './types.js';

export interface ResolvedIdentity {
  kind: 'system' | 'user';
  principalId: string;
  clientId?: string;
  /** ARM id of a user-assigned identity (its last segment is the identity's name). */
  resourceId?: string;
}

export type IdentityResolution =
  | { ok: true; identity: ResolvedIdentity }
  | { ok: false; problem: 'noIdentity' | 'noSystemIdentity' | 'unknownClientId'; value?: string };

export function resolveIdentity(task: Pick<TaskInfo, 'identity'>, value: string | undefined): IdentityResolution {
  if (value === undefined || value.trim() === '') return { ok: false, problem: 'noIdentity' };
  const v = value.trim();
  if (v.toLowerCase() === SYSTEM_IDENTITY || v.toLowerCase() === 'system') {
    const principalId = task.identity.systemPrincipalId;
    return principalId
      ? { ok: true, identity: { kind: 'system', principalId } }
      : { ok: false, problem: 'noSystemIdentity', value: v };
  }
  const ua = task.identity.userAssigned.find((u) => u.clientId.toLowerCase() === v.toLowerCase());
  if (!ua) return { ok: false, problem: 'unknownClientId', value: v };
  return {
    ok: true,
    identity: { kind: 'user', principalId: ua.principalId, clientId: ua.clientId, resourceId: ua.resourceId },
  };
}

/** The `--use-identity` value a fix should suggest: the first user-assigned identity, else `[system]`. */
export function suggestedIdentity(task: Partial<Pick<TaskInfo, 'identity'>>): string | undefined {
  const ua = task.identity?.userAssigned[0];
  if (ua) return ua.clientId;
  return task.identity?.systemPrincipalId ? SYSTEM_IDENTITY : undefined;
}

/** Human wording: `user-assigned identity 'myACRId' (principal …)` / `system-assigned identity (principal …)`. */
export function describeIdentity(id: ResolvedIdentity): string {
  if (id.kind === 'system') return `the system-assigned identity (principal ${id.principalId})`;
  const name = id.resourceId?.replace(/\/+$/, '').split('/').pop();
  return `user-assigned identity${name ? ` '${name}'` : ''} (client id ${id.clientId}, principal ${id.principalId})`;
}
