// Starts a private emulator for one test file and hands out credentials that use the real token endpoint protocol.
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import {
  startEmulator,
  describeStack,
  operatorPrincipal,
  appPrincipal,
  type Emulator,
  type StackDescription,
} from '../../local/azure/index.js';
import type { Principal } from '../../local/azure/core/identity.js';

export interface TestEmulator {
  emu: Emulator;
  stack: () => StackDescription;
  operator: TokenCredential;
  app: TokenCredential;
  /** A credential for any principal the token endpoint serves (by client id). */
  credentialFor(p: Principal): TokenCredential;
  /** Calls the admin API. */
  admin(method: string, path: string, body?: unknown): Promise<Response>;
  stop(): Promise<void>;
}

/** TokenCredential over the App Service managed-identity protocol (what @azure/identity speaks on Functions). */
export class EmulatorTokenCredential implements TokenCredential {
  constructor(
    private readonly endpoint: string,
    private readonly header: string,
    private readonly clientId?: string,
  ) {}
  async getToken(scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken> {
    const scope = Array.isArray(scopes) ? scopes[0]! : scopes;
    const resource = scope.replace(/\/\.default$/, '');
    const url = new URL(this.endpoint);
    url.searchParams.set('api-version', '2019-08-01');
    url.searchParams.set('resource', resource);
    if (this.clientId) url.searchParams.set('client_id', this.clientId);
    const res = await fetch(url, { headers: { 'X-IDENTITY-HEADER': this.header } });
    if (!res.ok) throw new Error(`token endpoint answered ${res.status}: ${await res.text()}`);
    const body = (await res.json()) as { access_token: string; expires_on: string };
    return { token: body.access_token, expiresOnTimestamp: Number(body.expires_on) * 1000 };
  }
}

export async function startTestEmulator(): Promise<TestEmulator> {
  const emu = await startEmulator({ port: 0, identityPort: 0 });
  const credentialFor = (p: Principal) =>
    new EmulatorTokenCredential(emu.identityEndpoint, emu.identityHeader, p.clientId);
  return {
    emu,
    stack: () => describeStack(emu),
    operator: credentialFor(operatorPrincipal(emu)),
    app: new EmulatorTokenCredential(emu.identityEndpoint, emu.identityHeader),
    credentialFor,
    admin: (method, path, body) =>
      fetch(`${emu.armEndpoint}/_emulator${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    stop: () => emu.stop(),
  };
}

/** Makes a principal's user-assigned identity usable from the app's token endpoint (as if assigned to the app). */
export function allowTokenEndpoint(p: Principal): void {
  p.tokenEndpoint = true;
}

export { appPrincipal, operatorPrincipal };
