// Sovereign clouds: the app asks for ARM tokens for the configured audience (CASCADE_ARM_AUDIENCE) and reaches tables
// at the configured table endpoint, never at a public-cloud name it built itself.
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import { afterEach, describe, expect, it } from 'vitest';
import { createAzureClients } from '../../src/azure/clients.js';
import { loadSettings } from '../../src/config/settings.js';

/** A credential that records the scopes it is asked for and refuses, so no request leaves the process. */
class RecordingCredential implements TokenCredential {
  readonly scopes: string[][] = [];
  async getToken(scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken | null> {
    this.scopes.push([scopes].flat());
    throw Object.assign(new Error('recording credential: no token'), { name: 'CredentialUnavailableError' });
  }
}

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe('sovereign-cloud endpoints from settings', () => {
  it('requests ARM tokens for the configured audience', async () => {
    const credential = new RecordingCredential();
    const settings = loadSettings({
      CASCADE_ARM_ENDPOINT: 'https://management.usgovcloudapi.net/',
      CASCADE_ARM_AUDIENCE: 'https://management.usgovcloudapi.net/',
    });
    const clients = createAzureClients(settings, credential);
    await expect(clients.acr('00000000-0000-0000-0000-000000000001').registries.list().next()).rejects.toThrow(
      /no token/,
    );
    expect(credential.scopes).toEqual([['https://management.usgovcloudapi.net/.default']]);
  });

  it('defaults to the public cloud audience', async () => {
    const credential = new RecordingCredential();
    const clients = createAzureClients(loadSettings({}), credential);
    await expect(clients.acr('00000000-0000-0000-0000-000000000001').registries.list().next()).rejects.toThrow(
      /no token/,
    );
    expect(credential.scopes).toEqual([['https://management.azure.com/.default']]);
  });

  it('uses the table service URL infra sets before building one from the account name', () => {
    process.env.AzureWebJobsStorage__accountName = 'stcascade';
    process.env.AzureWebJobsStorage__tableServiceUri = 'https://stcascade.table.core.usgovcloudapi.net/';
    const clients = createAzureClients(loadSettings({}), new RecordingCredential());
    const table = clients.table('CascadeIndex');
    expect([table.url, table.tableName]).toEqual(['https://stcascade.table.core.usgovcloudapi.net/', 'CascadeIndex']);
  });
});

describe('ARM pacing', () => {
  it('puts the pacers on every ARM client: ARM counts all requests of one principal in the same buckets', () => {
    const clients = createAzureClients(loadSettings({}), new RecordingCredential());
    const sub = '00000000-0000-0000-0000-000000000001';
    const policies = (client: { pipeline: { getOrderedPolicies(): { name: string }[] } }) =>
      client.pipeline.getOrderedPolicies().map((p) => p.name);
    for (const client of [clients.acr(sub), clients.authorization(sub), clients.identities(sub), clients.vaults(sub)]) {
      expect(policies(client)).toContain('acrCascadeWritePacer');
    }
  });
});
