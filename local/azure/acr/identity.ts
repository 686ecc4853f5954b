// Managed identities of registries and tasks: a system-assigned principal owned by the resource (created and removed
// with it) and user-assigned identities resolved from their ARM resources.
import type { Emulator } from '../core/emulator.js';
import { arm } from '../core/errors.js';
import { findUserAssignedIdentity } from '../arm/managedIdentity.js';
import type { Principal } from '../core/identity.js';
import { isObject, type StoredIdentity } from './model.js';

const TYPES = ['None', 'SystemAssigned', 'UserAssigned', 'SystemAssigned, UserAssigned'];

function canonicalType(t: unknown): string {
  if (typeof t !== 'string') throw arm.badRequest('InvalidIdentityType', 'identity.type is required.');
  const norm = t.replace(/\s+/g, '').toLowerCase();
  const found = TYPES.find((x) => x.replace(/\s+/g, '').toLowerCase() === norm);
  if (!found)
    throw arm.badRequest(
      'InvalidIdentityType',
      `The identity type '${t}' is invalid. Allowed values: ${TYPES.map((x) => `'${x}'`).join(', ')}.`,
    );
  return found;
}

function requireUserAssigned(emu: Emulator, id: string): void {
  if (!findUserAssignedIdentity(emu, id))
    throw arm.badRequest(
      'FailedIdentityOperation',
      `Identity operation for resource failed with error 'Failed to perform resource identity operation. Status: 'NotFound'. Response: {"error":{"code":"NotFound","message":"Resource '${id}' was not found."}}'.`,
    );
}

/**
 * Computes the stored identity after a PUT (`merge = false`: the body replaces it) or a PATCH (`merge = true`:
 * user-assigned entries merge, `null` removes one). Creates/removes the system principal as the type requires.
 */
export function applyIdentity(
  emu: Emulator,
  resourceId: string,
  displayName: string,
  input: unknown,
  existing: StoredIdentity | undefined,
  merge: boolean,
): StoredIdentity | undefined {
  if (merge && (input === undefined || input === null)) return existing;
  if (input !== undefined && input !== null && !isObject(input))
    throw arm.badRequest('InvalidIdentity', 'identity must be an object.');
  const body = (input ?? { type: 'None' }) as { type?: unknown; userAssignedIdentities?: unknown };
  const type = body.type === undefined && merge && existing ? existing.type : canonicalType(body.type ?? 'None');
  const wantsSystem = type.startsWith('SystemAssigned');
  const wantsUser = type.endsWith('UserAssigned');

  let users: Record<string, Record<string, never>> = merge && existing?.userAssignedIdentities
    ? { ...existing.userAssignedIdentities }
    : {};
  if (body.userAssignedIdentities !== undefined && body.userAssignedIdentities !== null) {
    if (!isObject(body.userAssignedIdentities))
      throw arm.badRequest('InvalidIdentity', 'identity.userAssignedIdentities must be an object.');
    for (const [id, v] of Object.entries(body.userAssignedIdentities)) {
      const existingKey = Object.keys(users).find((k) => k.toLowerCase() === id.toLowerCase());
      if (existingKey) delete users[existingKey];
      if (v === null) continue;
      requireUserAssigned(emu, id);
      users[id] = {};
    }
  }
  if (!wantsUser) users = {};
  if (wantsUser && Object.keys(users).length === 0)
    throw arm.badRequest(
      'InvalidIdentity',
      "The identity type 'UserAssigned' requires at least one entry in identity.userAssignedIdentities.",
    );

  let principalId = existing?.principalId;
  if (wantsSystem && !principalId) principalId = emu.newPrincipal('system', displayName, resourceId).objectId;
  if (!wantsSystem && principalId) {
    emu.removePrincipal(principalId);
    principalId = undefined;
  }
  if (type === 'None') return undefined;
  return {
    type,
    ...(principalId ? { principalId, tenantId: emu.tenantId } : {}),
    ...(wantsUser ? { userAssignedIdentities: users } : {}),
  };
}

/** Removes the system principal of a deleted resource. */
export function dropIdentity(emu: Emulator, identity: StoredIdentity | undefined): void {
  if (identity?.principalId) emu.removePrincipal(identity.principalId);
}

/** Wire form: user-assigned entries carry their current principalId/clientId. */
export function presentIdentity(emu: Emulator, identity: StoredIdentity | undefined): unknown {
  if (!identity) return undefined;
  const users = identity.userAssignedIdentities
    ? Object.fromEntries(
        Object.keys(identity.userAssignedIdentities).map((id) => {
          const found = findUserAssignedIdentity(emu, id);
          return [id, found ? { principalId: found.principalId, clientId: found.clientId } : {}];
        }),
      )
    : undefined;
  return {
    type: identity.type,
    ...(identity.principalId ? { principalId: identity.principalId, tenantId: identity.tenantId } : {}),
    ...(users ? { userAssignedIdentities: users } : {}),
  };
}

/**
 * The principal a task credential's `identity` names: `[system]` (or `system`) → the system principal; otherwise the
 * client id of one of the resource's user-assigned identities.
 */
export function principalForIdentity(
  emu: Emulator,
  identity: StoredIdentity | undefined,
  name: string,
): { principal: Principal } | { error: string } {
  if (/^\[?system\]?$/i.test(name.trim())) {
    if (!identity?.principalId) return { error: "identity '[system]' is not enabled on the task" };
    const p = emu.identities.get(identity.principalId);
    return p ? { principal: p } : { error: "the task's system-assigned identity no longer exists" };
  }
  for (const id of Object.keys(identity?.userAssignedIdentities ?? {})) {
    const found = findUserAssignedIdentity(emu, id);
    if (found && found.clientId.toLowerCase() === name.trim().toLowerCase()) {
      const p = emu.identities.get(found.principalId);
      if (p) return { principal: p };
    }
  }
  return { error: `no user-assigned identity with client id '${name}' is assigned to the task` };
}
