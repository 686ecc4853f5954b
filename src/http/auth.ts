// Who is calling, and may they? Two modes (CASCADE_API_AUTH):
//  - entra: every API route needs `Authorization: Bearer <token>` issued by Entra ID for the API's app registration
//    (v2 tokens; signature checked against the tenant's published keys with `jose`). App roles in the token decide:
//    Cascade.Reader reads, Cascade.Operator also starts, cancels and changes (and reads).
//  - keys: the Functions host checks a function key (authLevel function); a key holder is an operator. The opt-in for
//    automation that cannot get tokens, and the local stack's default.
import type { HttpRequest } from '@azure/functions';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { requireEntraSettings, type Settings } from '../config/settings.js';
import { ApiError } from './errors.js';

export const ROLES = { reader: 'Cascade.Reader', operator: 'Cascade.Operator' } as const;
export type Role = (typeof ROLES)[keyof typeof ROLES];

/** The caller as recorded on what they started (no token, no key: just who). */
export interface Caller {
  kind: 'user' | 'app' | 'functionKey';
  /** Entra object id; 'function-key' for key holders. */
  id: string;
  name: string;
  roles: Role[];
}

const KEY_HOLDER: Caller = {
  kind: 'functionKey',
  id: 'function-key',
  name: 'function key holder',
  roles: [ROLES.reader, ROLES.operator],
};

const jwks = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

/** Entra ID endpoints of a tenant under an authority host (public or sovereign cloud, or the local emulator). */
export function entraEndpoints(authorityHost: string, tenantId: string): { issuer: string; jwksUri: string } {
  const base = `${authorityHost.replace(/\/+$/, '')}/${tenantId}`;
  return { issuer: `${base}/v2.0`, jwksUri: `${base}/discovery/v2.0/keys` };
}

function keySet(uri: string): ReturnType<typeof createRemoteJWKSet> {
  let set = jwks.get(uri);
  if (!set)
    jwks.set(uri, (set = createRemoteJWKSet(new URL(uri), { timeoutDuration: 10_000, cooldownDuration: 30_000 })));
  return set;
}

function callerFrom(claims: JWTPayload): Caller {
  const c = claims as JWTPayload & Record<string, unknown>;
  const str = (k: string) => (typeof c[k] === 'string' ? (c[k] as string) : undefined);
  const roles = (Array.isArray(c.roles) ? c.roles : []).filter(
    (r): r is Role => r === ROLES.reader || r === ROLES.operator,
  );
  // App-only tokens carry idtyp=app (v2) and no user name.
  const app = str('idtyp') === 'app' || (!str('preferred_username') && !str('name'));
  return {
    kind: app ? 'app' : 'user',
    id: str('oid') ?? str('sub') ?? 'unknown',
    name: str('preferred_username') ?? str('name') ?? str('azp') ?? str('appid') ?? 'unknown',
    roles,
  };
}

/** Authenticates the request in the configured mode; throws ApiError Unauthenticated (401) when it cannot. */
export async function authenticate(req: HttpRequest, settings: Settings): Promise<Caller> {
  if (settings.apiAuth === 'keys') return KEY_HOLDER; // the host already refused requests without a valid key
  requireEntraSettings(settings);
  const header = req.headers.get('authorization') ?? '';
  const m = /^Bearer\s+([A-Za-z0-9._~+/=-]+)$/i.exec(header.trim());
  if (!m)
    throw new ApiError(
      'Unauthenticated',
      'sign in: send an Entra ID access token for this API as Authorization: Bearer <token>',
    );
  const { issuer, jwksUri } = entraEndpoints(settings.authorityHost, settings.apiTenantId);
  try {
    const { payload } = await jwtVerify(m[1]!, keySet(jwksUri), {
      issuer,
      audience: settings.apiAudience,
      algorithms: ['RS256'],
      clockTolerance: 300,
    });
    if (payload.tid !== undefined && String(payload.tid).toLowerCase() !== settings.apiTenantId.toLowerCase()) {
      throw new ApiError('Unauthenticated', 'the token was issued for another tenant');
    }
    return callerFrom(payload);
  } catch (err) {
    if (err instanceof ApiError) throw err;
    if (err instanceof joseErrors.JOSEError) {
      throw new ApiError('Unauthenticated', `the access token is not valid for this API (${reasonOf(err)})`);
    }
    throw err;
  }
}

function reasonOf(err: InstanceType<typeof joseErrors.JOSEError>): string {
  if (err instanceof joseErrors.JWTExpired) return 'expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed)
    return `claim '${err.claim}' ${err.reason === 'check_failed' ? 'does not match' : err.reason}`;
  if (err instanceof joseErrors.JWSSignatureVerificationFailed || err instanceof joseErrors.JWKSNoMatchingKey)
    return 'signature not from the tenant';
  if (err instanceof joseErrors.JWKSTimeout) return 'the tenant signing keys could not be fetched';
  return err.code;
}

/** Operator includes Reader. Throws ApiError Forbidden naming the missing role. */
export function authorize(caller: Caller, needs: Role): void {
  const ok = caller.roles.includes(needs) || (needs === ROLES.reader && caller.roles.includes(ROLES.operator));
  if (!ok) {
    const has = caller.roles.length ? caller.roles.join(', ') : 'no acr-cascade app role';
    throw new ApiError('MissingRole', `this needs the app role ${needs}; ${caller.name} has ${has}`);
  }
}

/** What is recorded of a caller on what they started: who, never a credential. */
export function describeCaller(caller: Caller): string {
  return caller.kind === 'functionKey' ? caller.name : `${caller.kind} ${caller.name} (${caller.id})`;
}
