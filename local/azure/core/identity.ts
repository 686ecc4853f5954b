// Principals the emulator knows and the bearer tokens it issues for them (HS256 JWTs signed with a per-state key).
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

export type PrincipalKind = 'app' | 'operator' | 'userAssigned' | 'system';

export interface Principal {
  objectId: string;
  clientId: string;
  kind: PrincipalKind;
  displayName: string;
  /** For user-assigned identities: their ARM id. For system identities: the resource they belong to. */
  resourceId?: string;
  /** May the app's token endpoint mint tokens for it (the app's own identities and the operator)? */
  tokenEndpoint: boolean;
}

export interface TokenClaims {
  aud: string;
  iss: string;
  oid: string;
  tid: string;
  appid: string;
  sub: string;
  iat: number;
  nbf: number;
  exp: number;
  xms_mirid?: string;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export class IdentityService {
  private readonly byObjectId = new Map<string, Principal>();
  readonly signingKey: Buffer;

  constructor(
    readonly tenantId: string,
    signingKey?: string,
  ) {
    this.signingKey = signingKey ? Buffer.from(signingKey, 'base64') : randomBytes(32);
  }

  add(p: Principal): Principal {
    this.byObjectId.set(p.objectId.toLowerCase(), p);
    return p;
  }

  newPrincipal(kind: PrincipalKind, displayName: string, resourceId?: string, tokenEndpoint = false): Principal {
    return this.add({ objectId: randomUUID(), clientId: randomUUID(), kind, displayName, resourceId, tokenEndpoint });
  }

  remove(objectId: string): void {
    this.byObjectId.delete(objectId.toLowerCase());
  }

  get(objectId: string): Principal | undefined {
    return this.byObjectId.get(objectId.toLowerCase());
  }

  find(pred: (p: Principal) => boolean): Principal | undefined {
    for (const p of this.byObjectId.values()) if (pred(p)) return p;
    return undefined;
  }

  all(): Principal[] {
    return [...this.byObjectId.values()];
  }

  // Token lifetimes follow the wall clock, not the emulator clock: SDKs cache tokens by real time, while tests advance
  // the emulator clock (secret expiry) without wanting cached tokens to expire. The clock parameters are ignored.
  issue(
    p: Principal,
    audience: string,
    _emulatorNowSeconds: number,
    lifetimeSeconds = 3600,
  ): { token: string; expiresOn: number } {
    const nowSeconds = Math.floor(Date.now() / 1000);
    const claims: TokenClaims = {
      aud: audience,
      iss: `https://sts.windows.net/${this.tenantId}/`,
      oid: p.objectId,
      tid: this.tenantId,
      appid: p.clientId,
      sub: p.objectId,
      iat: nowSeconds,
      nbf: nowSeconds - 300,
      exp: nowSeconds + lifetimeSeconds,
      ...(p.resourceId && p.kind === 'userAssigned' ? { xms_mirid: p.resourceId } : {}),
    };
    const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: 'emulator' }));
    const body = b64url(JSON.stringify(claims));
    const sig = b64url(createHmac('sha256', this.signingKey).update(`${head}.${body}`).digest());
    return { token: `${head}.${body}.${sig}`, expiresOn: claims.exp };
  }

  /** Verifies signature, lifetime and audience; returns the principal or a reason. */
  verify(
    token: string,
    audiences: string[],
    _emulatorNowSeconds: number,
  ): { principal: Principal; claims: TokenClaims } | { error: string } {
    const nowSeconds = Math.floor(Date.now() / 1000);
    const parts = token.split('.');
    if (parts.length !== 3) return { error: 'The access token is not a JWT.' };
    const [head, body, sig] = parts as [string, string, string];
    const expected = createHmac('sha256', this.signingKey).update(`${head}.${body}`).digest();
    const given = Buffer.from(sig, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      return { error: 'The access token signature is invalid.' };
    let claims: TokenClaims;
    try {
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as TokenClaims;
    } catch {
      return { error: 'The access token payload is not JSON.' };
    }
    if (claims.exp <= nowSeconds)
      return { error: 'The access token expiry UTC time is earlier than current UTC time.' };
    const norm = (a: string) => a.toLowerCase().replace(/\/+$/, '');
    if (!audiences.map(norm).includes(norm(claims.aud)))
      return { error: `The access token has an invalid audience '${claims.aud}'.` };
    const principal = this.get(claims.oid);
    if (!principal) return { error: `The principal '${claims.oid}' no longer exists.` };
    return { principal, claims };
  }
}
