// Health of one Key Vault-backed credential secret, and whether acr-cascade may rotate it.
//
// Rotation is opt-in by secret tags (set by whoever created the ACR token and stored its password):
//   cascade.tokenId      = ARM id of the ACR token, `/subscriptions/…/registries/{r}/tokens/{t}`
//   cascade.role         = `password` (the secret holds a token password) or `username` (it holds the token name)
//   cascade.passwordName = `password1` | `password2`, the token password slot the current value came from; rotation
//                          generates the other slot, so the old password keeps working until the secret is updated.
// Docker Hub credentials are never rotatable: only Docker Hub can issue a new access token.

import { DOCKER_HUB, normalizeLoginServer } from './imageRef.js';
import {
  type Reason,
  secretDisabled,
  secretExpired,
  secretExpiring,
  secretMissing,
  secretNotYetValid,
  type SecretUse,
  secretVersionOutdated,
} from './reasons.js';
import { parseResourceId, ResourceIdError } from './resourceId.js';
import type { SecretProperties } from './types.js';

export const TOKEN_ID_TAG = 'cascade.tokenId';
export const TOKEN_ROLE_TAG = 'cascade.role';
export const PASSWORD_NAME_TAG = 'cascade.passwordName';

export type SecretHealthStatus =
  'healthy' | 'expiring' | 'expired' | 'disabled' | 'missing' | 'accessDenied' | 'outdatedVersion' | 'notYetValid';

/** Statuses with which a run would fail to read or use the credential. */
export const BLOCKING_SECRET_STATUSES: readonly SecretHealthStatus[] = [
  'expired',
  'disabled',
  'missing',
  'accessDenied',
  'notYetValid',
];

export interface SecretHealthInput {
  /** Properties of the referenced version (latest when unpinned); absent = secret (or version) does not exist. */
  props?: SecretProperties;
  /** Latest enabled version of the secret, when known. */
  latestEnabledVersion?: string;
  /** Version the credential pins, if any. */
  referencedVersion?: string;
  /** May the identity that reads the secret read it? (see keyVaultAccess) */
  accessAllowed: boolean;
  /** Unix seconds. */
  now: number;
  warningDays: number;
  /** Where the secret is used; when given, the result carries a reason with message and fix. */
  use?: SecretUse;
  /** Which credential field the secret fills (for the fix of an outdated pin). */
  role?: 'userName' | 'password';
}

export interface SecretHealth {
  status: SecretHealthStatus;
  /** floor((exp - now) / 86400); negative once expired. */
  daysLeft?: number;
  fix?: string;
  /** Absent for `healthy`, and for `accessDenied` (the caller knows the identity and builds KeyVaultAccessDenied). */
  reason?: Reason;
}

const SECONDS_PER_DAY = 86400;

/** Unix seconds of a clock reading — every health and preflight decision of one call takes `now` from one reading. */
export function unixSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

/**
 * Whole days left until `expiresOn` (unix seconds), floored: 0 on the last day, negative once expired. The one
 * definition of "days left" — health, preflight reasons, rotation messages and reports all use it.
 */
export function daysLeft(expiresOn: number, now: number): number {
  return Math.floor((expiresOn - now) / SECONDS_PER_DAY);
}

export function secretHealth(input: SecretHealthInput): SecretHealth {
  const { props, now, use } = input;
  const left = props?.expiresOn !== undefined ? daysLeft(props.expiresOn, now) : undefined;
  const withDays = (h: SecretHealth): SecretHealth => {
    if (left !== undefined) h.daysLeft = left;
    if (h.reason?.fix !== undefined) h.fix = h.reason.fix;
    return h;
  };
  const u: SecretUse | undefined = use && props ? { ...use, version: props.version } : use;
  if (!input.accessAllowed) return withDays({ status: 'accessDenied' });
  if (!props) return withDays({ status: 'missing', ...(u ? { reason: secretMissing(u) } : {}) });
  if (!props.enabled) return withDays({ status: 'disabled', ...(u ? { reason: secretDisabled(u) } : {}) });
  if (props.notBefore !== undefined && props.notBefore > now) {
    return withDays({ status: 'notYetValid', ...(u ? { reason: secretNotYetValid(u, props.notBefore, now) } : {}) });
  }
  if (props.expiresOn !== undefined && props.expiresOn <= now) {
    return withDays({ status: 'expired', ...(u ? { reason: secretExpired(u, props.expiresOn, now) } : {}) });
  }
  const pinned = input.referencedVersion?.toLowerCase();
  const latest = input.latestEnabledVersion?.toLowerCase();
  if (pinned && latest && pinned !== latest) {
    return withDays({
      status: 'outdatedVersion',
      ...(u ? { reason: secretVersionOutdated(u, latest, input.role ?? 'password') } : {}),
    });
  }
  // Expiring = fewer whole days left than the warning window (same rule as the days shown).
  if (props.expiresOn !== undefined && left !== undefined && left < input.warningDays) {
    return withDays({
      status: 'expiring',
      ...(u ? { reason: secretExpiring(u, props.expiresOn, left) } : {}),
    });
  }
  return withDays({ status: 'healthy' });
}

export type Rotatability =
  | {
      rotatable: true;
      tokenId: string;
      registryId: string;
      registryName: string;
      tokenName: string;
      role: 'username' | 'password';
      /** Slot to generate next (the one the current value did not come from). */
      nextPasswordName: 'password1' | 'password2';
    }
  | { rotatable: false; why: string };

function tag(tags: Record<string, string>, name: string): string | undefined {
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(tags)) if (k.toLowerCase() === want) return v;
  return undefined;
}

/** Can acr-cascade rotate this secret? `loginServer` is the credential's registry (Docker Hub never rotates). */
export function isRotatable(secretTags: Record<string, string> | undefined, loginServer?: string): Rotatability {
  if (loginServer !== undefined && normalizeLoginServer(loginServer) === DOCKER_HUB) {
    return { rotatable: false, why: 'Docker Hub access tokens can only be created in Docker Hub' };
  }
  const tags = secretTags ?? {};
  const tokenId = tag(tags, TOKEN_ID_TAG);
  if (!tokenId) return { rotatable: false, why: `no ${TOKEN_ID_TAG} tag names an ACR token` };
  let parsed;
  try {
    parsed = parseResourceId(tokenId);
  } catch (err) {
    if (!(err instanceof ResourceIdError)) throw err;
    return { rotatable: false, why: `${TOKEN_ID_TAG}: ${err.message}` };
  }
  if (parsed.resourceType.toLowerCase() !== 'microsoft.containerregistry/registries/tokens') {
    return { rotatable: false, why: `${TOKEN_ID_TAG} '${tokenId}' is not an ACR token id` };
  }
  const role = tag(tags, TOKEN_ROLE_TAG)?.toLowerCase();
  if (role !== 'username' && role !== 'password') {
    return { rotatable: false, why: `${TOKEN_ROLE_TAG} must be 'username' or 'password'` };
  }
  const current = tag(tags, PASSWORD_NAME_TAG)?.toLowerCase();
  const registryName = parsed.names[0] as string;
  return {
    rotatable: true,
    tokenId: parsed.id,
    registryId: `${parsed.scope}/providers/${parsed.namespace}/${parsed.types[0]}/${registryName}`,
    registryName,
    tokenName: parsed.name,
    role,
    nextPasswordName: current === 'password1' ? 'password2' : 'password1',
  };
}
