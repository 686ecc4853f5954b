// Verdicts from current facts, end to end on the local stack: a user applies the fix acr-cascade printed, and the very
// next plan and push rebuild the task — no index refresh in between (masked task GETs cannot show credential edits,
// so the index alone would keep the old verdict for up to a day). And a Key Vault event re-checks every task that uses
// the secret now, including one created and one edited since the last index refresh.
// Needs `npm run build` (or `npx tsc -p tsconfig.build.json`) first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task } from '@azure/arm-containerregistry';
import { SEED } from '../../local/azure/seed.js';
import type { CredentialHealth, PlanEntry, TaskResult } from '../../src/contracts/index.js';
import { operatorClients, setVaultPolicy, type Operator } from '../support/credentialFixtures.js';
import { startCascadeStack, waitFor, type CascadeStack } from './cascadeStack.js';

let s: CascadeStack;
let op: Operator;
let counter = 0;
const unique = (prefix: string) => `${prefix}${++counter}x${process.pid % 1000}`;
const DAY_MS = 86400_000;
const STRANGER_CLIENT_ID = 'dddddddd-0000-4000-8000-000000000013';

const seed = () => s.stack.seed!;
const baseLs = () => `${SEED.baseRegistry}.azurecr.io`;

beforeAll(async () => {
  s = await startCascadeStack('index-freshness-e2e');
  op = operatorClients(
    s.stack.emu.armEndpoint,
    s.stack.operator,
    s.stack.emu.subscriptionId,
    s.stack.emu.tenantId,
    seed(),
  );
  // The tasks below read Key Vault secrets with the seed's user-assigned identity (myACRId).
  await setVaultPolicy(op, seed().identity.principalId, ['get']);
}, 120_000);

afterAll(async () => {
  await s?.stop();
});

/** An EncodedTask in the app registry that builds from the seed base image, logging in with myACRId. */
async function createTask(name: string, customRegistries: Record<string, unknown>): Promise<string> {
  const yaml = [
    'version: v1.1.0',
    'steps:',
    `  - build: -t $Registry/${name}:$ID -f Dockerfile . --build-arg BASE=${seed().baseImageRef}`,
    `  - push: ["$Registry/${name}:$ID"]`,
    '',
  ].join('\n');
  const task: Task = {
    location: SEED.location,
    tags: { 'cascade.baseImages': seed().baseImageRef },
    identity: { type: 'UserAssigned', userAssignedIdentities: { [seed().identity.id]: {} } },
    platform: { os: 'Linux' },
    step: { type: 'EncodedTask', encodedTaskContent: Buffer.from(yaml).toString('base64'), contextPath: '/dev/null' },
    credentials: { customRegistries: customRegistries as NonNullable<Task['credentials']>['customRegistries'] },
    timeout: 600,
  };
  return (await op.acr.tasks.beginCreateAndWait(op.rg, SEED.appRegistry, name, task)).id!;
}

const updateCredentials = (name: string, customRegistries: Record<string, unknown>) =>
  op.acr.tasks.beginUpdateAndWait(op.rg, SEED.appRegistry, name, {
    credentials: { customRegistries: customRegistries as NonNullable<Task['credentials']>['customRegistries'] },
  });

const vaultSecret = (name: string, version?: string) => ({
  type: 'Vaultsecret',
  value: `${op.vaultBase}/secrets/${name}${version ? `/${version}` : ''}`,
});

/** Runs POST /api/index/refresh to completion. */
async function refreshIndex(): Promise<void> {
  const started = await s.call('POST', '/api/index/refresh');
  expect(started.status).toBe(202);
  await waitFor('the index refresh', async () => {
    const res = await s.call('GET', '/api/index/refresh');
    return res.status === 200 && res.json.status === 'Completed' ? res : undefined;
  });
}

interface Instance {
  name: string;
  runtimeStatus: string;
  input: { trigger?: string; scope?: { name?: string } };
}

/** Waits until `count` event-driven credential checks of `secret` exist and every credential check has ended. */
async function eventChecksSettled(secret: string, count: number): Promise<void> {
  const f = s.stack.description.functions;
  await waitFor(
    `the event checks of ${secret}`,
    async () => {
      const res = await s.call('GET', '/runtime/webhooks/durabletask/instances', {
        key: f.masterKey,
        query: { top: '1000' },
      });
      const checks = (res.json as unknown as Instance[]).filter((i) => i.name === 'credentialCheck');
      const mine = checks.filter((i) => i.input.trigger === 'event' && i.input.scope?.name === secret);
      const ended = checks.every((i) => ['Completed', 'Failed', 'Terminated'].includes(i.runtimeStatus));
      return mine.length >= count && ended ? true : undefined;
    },
    60_000,
  );
}

async function planned(): Promise<Map<string, PlanEntry>> {
  const res = await s.call('GET', '/api/plan', { query: { image: seed().baseImageRef } });
  expect(res.status).toBe(200);
  return new Map((res.json.tasks as PlanEntry[]).map((t) => [t.taskName, t]));
}

describe('a printed fix, applied, shows in the very next plan and push', () => {
  it('UnknownIdentity, an expired secret and a pinned version: fixed without a refresh, rebuilt by the next push', async () => {
    const idName = unique('idfix');
    const pwName = unique('pwfix');
    const pinName = unique('pinfix');
    const expiredSecret = unique('ExpiredPw');
    const pinSecret = unique('PinPw');

    await op.secrets.setSecret(expiredSecret, 'old-hub-token', { expiresOn: new Date(Date.now() - DAY_MS) });
    const pinned = await op.secrets.setSecret(pinSecret, 'first', { expiresOn: new Date(Date.now() + 365 * DAY_MS) });
    // Key Vault orders versions by creation time (whole seconds): the second version must be visibly newer.
    await new Promise((r) => setTimeout(r, 1100));
    await op.secrets.setSecret(pinSecret, 'second', { expiresOn: new Date(Date.now() + 365 * DAY_MS) });
    // Each new version is a SecretNewVersionCreated event, whose check would refresh the pin by itself: let those
    // checks end before the pinned task exists.
    await eventChecksSettled(pinSecret, 2);
    const login = { identity: seed().identity.clientId };
    await createTask(idName, { [baseLs()]: { identity: STRANGER_CLIENT_ID } });
    await createTask(pwName, {
      [baseLs()]: login,
      'docker.io': { ...login, userName: vaultSecret('UserName'), password: vaultSecret(expiredSecret) },
    });
    await createTask(pinName, {
      [baseLs()]: login,
      'docker.io': {
        ...login,
        userName: vaultSecret('UserName'),
        password: vaultSecret(pinSecret, pinned.properties.version),
      },
    });
    await refreshIndex();

    const before = await planned();
    const idReason = before.get(idName)!.reasons.find((r) => r.code === 'UnknownIdentity')!;
    expect(before.get(idName)!.decision).toBe('blocked');
    // Both fixes: attach the identity the client id names, or use the one attached.
    expect(idReason.fix).toContain(`--identities <resource id of the identity with client id ${STRANGER_CLIENT_ID}>`);
    expect(idReason.fix).toContain(`--login-server ${baseLs()} --use-identity ${seed().identity.clientId}`);
    expect(before.get(pwName)).toMatchObject({
      decision: 'blocked',
      reasons: [expect.objectContaining({ code: 'SecretExpired' })],
    });
    const pinReason = before.get(pinName)!.reasons.find((r) => r.code === 'SecretVersionOutdated')!;
    expect(pinReason.fix).toBe(
      `az acr task credential update --name ${pinName} --registry ${SEED.appRegistry} --login-server docker.io --password ${op.vaultBase}/secrets/${pinSecret}`,
    );

    // The fixes, as printed (the expired password: pointed at the healthy Password secret instead).
    await updateCredentials(idName, { [baseLs()]: { identity: seed().identity.clientId } });
    await updateCredentials(pwName, {
      'docker.io': { ...login, userName: vaultSecret('UserName'), password: vaultSecret('Password') },
    });
    await updateCredentials(pinName, {
      'docker.io': { ...login, userName: vaultSecret('UserName'), password: vaultSecret(pinSecret) },
    });

    const after = await planned();
    for (const name of [idName, pwName, pinName]) {
      expect(after.get(name), name).toMatchObject({ decision: 'rebuild', reasons: [] });
    }
    expect(after.get(idName)!.identity[baseLs()]).toMatchObject({ clientId: seed().identity.clientId });

    const digest = s.pushBase(unique('fixed'));
    const done = await s.waitDone(s.cascadeId(), digest);
    for (const name of [idName, pwName, pinName]) {
      const r = done.result!.tasks.find((t) => t.taskName === name) as TaskResult;
      expect(r, name).toMatchObject({ decision: 'rebuild', reasons: [] });
      expect(r.run, `${name} was scheduled`).toBeDefined();
    }
    expect(done.result!.tasks.find((t) => t.taskName === idName)).toMatchObject({ outcome: 'succeeded' });
  });
});

describe('a Key Vault event re-checks the tasks that use the secret now', () => {
  it('a task created and a task edited since the last refresh both read expired after the event alone', async () => {
    const secret = unique('EventPw');
    const other = unique('OtherPw');
    const year = { expiresOn: new Date(Date.now() + 365 * DAY_MS) };
    await op.secrets.setSecret(secret, 'event-token', year);
    await op.secrets.setSecret(other, 'other-token', year);
    const login = { identity: seed().identity.clientId };
    const hub = (password: string) => ({
      'docker.io': { ...login, userName: vaultSecret('UserName'), password: vaultSecret(password) },
    });
    const fName = unique('edited');
    const fId = await createTask(fName, { [baseLs()]: login, ...hub(other) });
    await refreshIndex();

    // Since the refresh: D is created with the secret, F's docker.io credential is edited to read it (same login
    // server, so F's masked view does not change at all).
    const dId = await createTask(unique('created'), { [baseLs()]: login, ...hub(secret) });
    await updateCredentials(fName, hub(secret));

    const version = (await op.secrets.getSecret(secret)).properties.version!;
    await op.secrets.updateSecretProperties(secret, version, { expiresOn: new Date(Date.now() - 60_000) });

    const rows = await waitFor(
      `both tasks to read ${secret} as expired`,
      async () => {
        const res = await s.call('GET', '/api/credentials', { query: { status: 'expired' } });
        const list = (res.json.credentials as CredentialHealth[]).filter(
          (c) => c.field === 'password' && 'secret' in c && c.secret.includes(`/secrets/${secret}`),
        );
        const tasks = new Set(list.map((c) => c.task.toLowerCase()));
        return tasks.has(dId.toLowerCase()) && tasks.has(fId.toLowerCase()) ? list : undefined;
      },
      120_000,
    );
    expect(rows.every((r) => r.status === 'expired')).toBe(true);
    // Only the event did it: no refresh ran since, and the index now knows F's new credential too (write-through).
    const plan = await planned();
    expect(plan.get(fName)).toMatchObject({
      decision: 'blocked',
      reasons: [expect.objectContaining({ code: 'SecretExpired' })],
    });
  });
});
