// Key Vault secret events on the emulator clock, and vaults surviving an emulator restart with persisted state.
// Own emulators: advancing the clock expires tokens other test files hold.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { SecretClient } from '@azure/keyvault-secrets';
import type { TokenCredential } from '@azure/identity';
import { startTestEmulator, EmulatorTokenCredential, type TestEmulator } from '../support/emulator.js';
import { describeStack, operatorPrincipal, startEmulator, type Emulator } from '../../local/azure/index.js';
import type { EmittedEvent } from '../../local/azure/core/emulator.js';

const DAY = 86400;
let counter = 0;
const unique = (prefix: string) => `${prefix}${++counter}`;

function armClient(emu: Emulator, cred: TokenCredential) {
  return new KeyVaultManagementClient(cred, emu.subscriptionId, {
    endpoint: emu.armEndpoint,
    credentials: { scopes: ['https://management.azure.com/.default'] },
  });
}

async function seedVault(emu: Emulator, cred: TokenCredential, name: string) {
  const { token } = (await cred.getToken('https://management.azure.com/.default'))!;
  const rg = await fetch(
    `${emu.armEndpoint}/subscriptions/${emu.subscriptionId}/resourcegroups/rg-ev?api-version=2021-04-01`,
    {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ location: 'westeurope' }),
    },
  );
  expect(rg.status).toBeLessThan(300);
  return armClient(emu, cred).vaults.createOrUpdate('rg-ev', name, {
    location: 'westeurope',
    properties: {
      tenantId: emu.tenantId,
      sku: { family: 'A', name: 'standard' },
      enableRbacAuthorization: false,
      accessPolicies: [
        { tenantId: emu.tenantId, objectId: operatorPrincipal(emu).objectId, permissions: { secrets: ['all'] } },
      ],
    },
  });
}

describe('Key Vault secret events', () => {
  let t: TestEmulator;
  let vaultId: string;
  let vaultUri: string;
  let vaultName: string;
  const events: EmittedEvent[] = [];
  // A fresh client per phase: tokens cached by an older client expire on the advanced emulator clock.
  const client = () => new SecretClient(vaultUri, t.operator, { disableChallengeResourceVerification: true });
  const of = (subject: string, type?: string) =>
    events.filter((e) => e.subject === subject && (!type || e.eventType === `Microsoft.KeyVault.${type}`));
  const advance = async (seconds: number) => {
    const res = await t.admin('POST', '/clock/advance', { seconds });
    expect(res.status).toBe(200);
  };

  beforeAll(async () => {
    t = await startTestEmulator();
    t.emu.onEvent((e) => events.push(e));
    vaultName = unique('kvev');
    const v = await seedVault(t.emu, t.operator, vaultName);
    vaultId = v.id!;
    vaultUri = v.properties.vaultUri!;
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('emits SecretNewVersionCreated with PascalCase data on every set', async () => {
    const exp = t.emu.nowSeconds() + 40 * DAY;
    const first = await client().setSecret('rotating', 'a', { expiresOn: new Date(exp * 1000) });
    const second = await client().setSecret('plain', 'b');
    expect(of('rotating')).toEqual([
      {
        source: vaultId,
        eventType: 'Microsoft.KeyVault.SecretNewVersionCreated',
        subject: 'rotating',
        data: {
          Id: `${vaultUri}secrets/rotating/${first.properties.version}`,
          VaultName: vaultName,
          ObjectType: 'Secret',
          ObjectName: 'rotating',
          Version: first.properties.version,
          NBF: null,
          EXP: exp,
        },
      },
    ]);
    expect(of('plain', 'SecretNewVersionCreated')).toHaveLength(1);
    expect(of('plain')[0]!.data).toMatchObject({ Version: second.properties.version, EXP: null });
  });

  it('emits SecretNearExpiry once when the clock passes 30 days before exp, and SecretExpired once at exp', async () => {
    await advance(9 * DAY);
    expect(of('rotating', 'SecretNearExpiry')).toHaveLength(0);
    await advance(2 * DAY);
    expect(of('rotating', 'SecretNearExpiry')).toHaveLength(1);
    expect(of('rotating', 'SecretNearExpiry')[0]!.source).toBe(vaultId);
    expect(of('rotating', 'SecretExpired')).toHaveLength(0);
    await advance(30 * DAY);
    expect(of('rotating', 'SecretExpired')).toHaveLength(1);
    await advance(DAY);
    expect(of('rotating', 'SecretNearExpiry')).toHaveLength(1);
    expect(of('rotating', 'SecretExpired')).toHaveLength(1);
    expect(of('plain').map((e) => e.eventType)).toEqual(['Microsoft.KeyVault.SecretNewVersionCreated']);
  });

  it('tracks the current version: a rotation gets its own events and an exp within 30 days is near expiry at once', async () => {
    const exp = t.emu.nowSeconds() + 10 * DAY;
    const rotated = await client().setSecret('rotating', 'c', { expiresOn: new Date(exp * 1000) });
    expect(of('rotating', 'SecretNewVersionCreated')).toHaveLength(2);
    await advance(1);
    const near = of('rotating', 'SecretNearExpiry');
    expect(near).toHaveLength(2);
    expect(near[1]!.data).toMatchObject({ Version: rotated.properties.version, EXP: exp });
    await advance(10 * DAY);
    const expired = of('rotating', 'SecretExpired');
    expect(expired).toHaveLength(2);
    expect(expired[1]!.data.Version).toBe(rotated.properties.version);
  });

  it('purges soft-deleted secrets once their scheduled purge date passes', async () => {
    await client().setSecret('temporary', 'x');
    await (await client().beginDeleteSecret('temporary')).pollUntilDone();
    expect((await client().getDeletedSecret('temporary')).name).toBe('temporary');
    await advance(91 * DAY);
    await expect(client().getDeletedSecret('temporary')).rejects.toMatchObject({
      code: 'SecretNotFound',
      statusCode: 404,
    });
  });
});

describe('Key Vault with persisted state', () => {
  it('re-opens each vault listener on its old port after a restart and keeps its secrets', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kv-persist-'));
    let emu: Emulator | undefined;
    try {
      emu = await startEmulator({ port: 0, identityPort: 0, persistDir: dir });
      const op = new EmulatorTokenCredential(emu.identityEndpoint, emu.identityHeader, operatorPrincipal(emu).clientId);
      const name = unique('kvpersist');
      const vault = await seedVault(emu, op, name);
      const uri = vault.properties.vaultUri!;
      await new SecretClient(uri, op, { disableChallengeResourceVerification: true }).setSecret('kept', 'persisted');
      await emu.stop();
      emu = undefined;

      emu = await startEmulator({ port: 0, identityPort: 0, persistDir: dir });
      const op2 = new EmulatorTokenCredential(
        emu.identityEndpoint,
        emu.identityHeader,
        operatorPrincipal(emu).clientId,
      );
      const again = await armClient(emu, op2).vaults.get('rg-ev', name);
      expect(again.properties.vaultUri).toBe(uri);
      expect(describeStack(emu).vaults[name]?.vaultUri).toBe(uri);
      const secret = await new SecretClient(uri, op2, { disableChallengeResourceVerification: true }).getSecret('kept');
      expect(secret.value).toBe('persisted');
    } finally {
      await emu?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
