// A TokenCredential that speaks the App Service managed-identity protocol to the emulator's token endpoint
// (what @azure/identity does on Functions), for local scripts and tests acting as a given identity.
import type { AccessToken, TokenCredential } from '@azure/identity';

export class EmulatorTokenCredential implements TokenCredential {
  constructor(
    private readonly endpoint: string,
    private readonly header: string,
    private readonly clientId?: string,
  ) {}

  async getToken(scopes: string | string[]): Promise<AccessToken> {
    const scope = Array.isArray(scopes) ? scopes[0]! : scopes;
    const url = new URL(this.endpoint);
    url.searchParams.set('api-version', '2019-08-01');
    url.searchParams.set('resource', scope.replace(/\/\.default$/, ''));
    if (this.clientId) url.searchParams.set('client_id', this.clientId);
    const res = await fetch(url, { headers: { 'X-IDENTITY-HEADER': this.header } });
    if (!res.ok) throw new Error(`token endpoint answered ${res.status}: ${await res.text()}`);
    const body = (await res.json()) as { access_token: string; expires_on: string };
    return { token: body.access_token, expiresOnTimestamp: Number(body.expires_on) * 1000 };
  }
}
