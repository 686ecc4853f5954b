// Entra ID for the app's own HTTP API, as far as the app sees it: OpenID discovery, the tenant's signing keys (JWKS)
// and v2 access tokens with app roles. Real Entra signs with RS256 and publishes its keys; so does this.
// Tokens are minted by an emulator-only route (there is no interactive sign-in here):
//   POST /_emulator/entra/tokens { audience, roles?, name?, kind?: 'user'|'app', lifetimeSeconds?, tenant? }
// Discovery and keys live under /_emulator/entra/{tenant}/…, so the app's authority host is
// `${armEndpoint}/_emulator/entra` (CASCADE_AUTHORITY_HOST on the local stack).
import { createSign, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import type { Emulator } from '../core/emulator.js';
import { EmulatorError } from '../core/errors.js';
import { guidFrom } from '../guid.js';

/** Application (client) id of the local stack's API registration: the audience of its tokens. */
export const LOCAL_API_AUDIENCE = guidFrom('acr-cascade-local-api');

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

class EntraKeys {
  readonly kid = randomUUID();
  readonly privateKey: KeyObject;
  readonly publicJwk: Record<string, unknown>;
  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKey = privateKey;
    this.publicJwk = { ...publicKey.export({ format: 'jwk' }), kid: this.kid, use: 'sig', alg: 'RS256', kty: 'RSA' };
  }
  sign(claims: Record<string, unknown>): string {
    const head = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: this.kid }));
    const body = b64url(JSON.stringify(claims));
    const sig = createSign('RSA-SHA256').update(`${head}.${body}`).sign(this.privateKey);
    return `${head}.${body}.${b64url(sig)}`;
  }
}

function bad(message: string) {
  return new EmulatorError(400, { error: 'invalid_request', error_description: message });
}

export function registerEntra(emu: Emulator): void {
  const keys = new EntraKeys();
  const authority = (tenant: string) => `${emu.armEndpoint}/_emulator/entra/${tenant}`;
  const known = (tenant: string) => {
    if (tenant.toLowerCase() !== emu.tenantId.toLowerCase()) {
      throw new EmulatorError(400, { error: 'invalid_tenant', error_description: `Tenant '${tenant}' not found.` });
    }
  };
  emu.adminRoute({
    op: 'entra.discovery',
    method: 'GET',
    path: '/entra/{tenant}/v2.0/.well-known/openid-configuration',
    handler: (req) => {
      const tenant = req.params.tenant ?? '';
      known(tenant);
      return {
        status: 200,
        body: {
          issuer: `${authority(tenant)}/v2.0`,
          jwks_uri: `${authority(tenant)}/discovery/v2.0/keys`,
          token_endpoint: `${authority(tenant)}/oauth2/v2.0/token`,
          id_token_signing_alg_values_supported: ['RS256'],
        },
      };
    },
  });
  emu.adminRoute({
    op: 'entra.keys',
    method: 'GET',
    path: '/entra/{tenant}/discovery/v2.0/keys',
    handler: (req) => {
      known(req.params.tenant ?? '');
      return { status: 200, body: { keys: [keys.publicJwk] } };
    },
  });
  emu.adminRoute({
    op: 'entra.token',
    method: 'POST',
    path: '/entra/tokens',
    handler: (req) => {
      const b = req.json<Record<string, unknown>>() ?? {};
      if (typeof b.audience !== 'string' || b.audience === '') throw bad('audience is required');
      const roles = b.roles ?? [];
      if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) throw bad('roles must be strings');
      const kind = b.kind === 'app' ? 'app' : 'user';
      const tenant = typeof b.tenant === 'string' ? b.tenant : emu.tenantId;
      const lifetime = typeof b.lifetimeSeconds === 'number' ? b.lifetimeSeconds : 3600;
      const name = typeof b.name === 'string' ? b.name : kind === 'app' ? 'automation' : 'someone@contoso.example';
      const now = Math.floor(Date.now() / 1000);
      const oid = guidFrom(`entra-user|${name}`);
      const claims: Record<string, unknown> = {
        aud: b.audience,
        iss: `${authority(tenant)}/v2.0`,
        iat: now,
        nbf: now - 60,
        exp: now + lifetime,
        tid: tenant,
        oid,
        sub: oid,
        ver: '2.0',
        ...(roles.length ? { roles } : {}),
        ...(kind === 'app' ? { idtyp: 'app', azp: guidFrom(`entra-app|${name}`) } : { name, preferred_username: name }),
      };
      return {
        status: 200,
        body: { access_token: keys.sign(claims), token_type: 'Bearer', expires_on: now + lifetime },
      };
    },
  });
}
