// Credential checks end to end on the local stack (emulator + Azurite + the Functions host running the compiled app):
// the timer run, HTTP routes, Key Vault events, refresh of a pinned version, rotation of an ACR token password, and
// secret hygiene across logs, durable history, outputs and responses. Needs `npx tsc -p tsconfig.build.json` first.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type RunningStack } from '../../local/stack/stack.js';
import { appPrincipal } from '../../local/azure/index.js';
import { SEED } from '../../local/azure/seed.js';
import { functionsCaller } from '../support/functionsHttp.js';
import {
  basicAuthStatus,
  createTokenTask,
  grantRotation,
  operatorClients,
  runTask,
  setVaultPolicy,
  type Operator,
} from '../support/credentialFixtures.js';
import type { CredentialCheckInput, CredentialCheckResult, CredentialHealth } from '../../src/contracts/index.js';

interface InstanceStatus {
  name: string;
  instanceId: string;
  runtimeStatus: string;
  input: CredentialCheckInput;
  output: CredentialCheckResult | null;
  createdTime: string;
  historyEvents?: unknown[];
}

let stack: RunningStack;
let stateDir: string;
let op: Operator;
let dataEndpoint: string;
const hostLogs: string[] = [];
const bodies: string[] = [];
/** Password values the tests saw: none may appear anywhere the app writes. */
const secretValues: string[] = [];
const FULL = 'acr-cascade-credential-check';
let counter = 0;
const unique = (prefix: string) => `${prefix}${++counter}x${process.pid % 1000}`;

const dockerhubId = () => stack.seed!.taskIds[SEED.tasks.dockerhub]!;
const dockerhubPid = () => stack.seed!.dockerhubPrincipalId;
const f = () => stack.description.functions;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'credentials-e2e-'));
  stack = await startStack({
    stateDir,
    ports: { arm: 0, identity: 0, host: 0, azurite: 0 },
    runDurationMs: 100,
    stackFile: null,
    appSettings: { CASCADE_TASK_HUB: 'AcrCascade', CASCADE_SECRET_WARNING_DAYS: '30' },
    log: (line) => hostLogs.push(line),
  });
  const seed = stack.seed!;
  op = operatorClients(stack.emu.armEndpoint, stack.operator, stack.emu.subscriptionId, stack.emu.tenantId, seed);
  secretValues.push((await op.secrets.getSecret('Password')).value!);
  // What infra grants the app for rotation, plus `get` so it can read back the version it wrote.
  await grantRotation(op, appPrincipal(stack.emu).objectId, seed.registries[SEED.baseRegistry]!, [
    'list',
    'set',
    'get',
  ]);
  dataEndpoint = stack.description.registries[SEED.baseRegistry]!.dataEndpoint!;
});

afterAll(async () => {
  await stack?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

const call = functionsCaller(() => stack.description.functions, bodies);

async function durable<T>(path: string, query: Record<string, string> = {}): Promise<T> {
  const res = await call('GET', `/runtime/webhooks/durabletask${path}`, { key: f().masterKey, query });
  if (res.status === 404) return undefined as T;
  return res.json as T;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const TERMINAL = ['Completed', 'Failed', 'Terminated', 'Canceled'];

async function instancesSince(since: string): Promise<InstanceStatus[]> {
  // createdTime has one-second resolution: ask from a little earlier, callers filter by the output's start time.
  const from = new Date(Date.parse(since) - 2000).toISOString();
  const list = await durable<InstanceStatus[]>('/instances', { createdTimeFrom: from, top: '1000' });
  return (list ?? []).filter((i) => i.name === 'credentialCheck');
}

/** Waits until no credentialCheck instance created since `since` is running. */
async function settled(since: string): Promise<InstanceStatus[]> {
  return until('credential checks to finish', async () => {
    const all = await instancesSince(since);
    return all.every((i) => TERMINAL.includes(i.runtimeStatus)) ? all : undefined;
  });
}

/** Durable histories of finished checks, kept for the hygiene test (the full check's instance id is reused). */
const histories: unknown[] = [];

async function keepHistory(instanceId: string): Promise<void> {
  histories.push(
    await durable(`/instances/${instanceId}`, { showHistory: 'true', showHistoryOutput: 'true', showInput: 'true' }),
  );
}

/** Fires the timer through the admin API and returns the output of the full check it started. */
async function timerRun(): Promise<CredentialCheckResult> {
  const t0 = Date.now();
  const res = await call('POST', '/admin/functions/credentialCheckTimer', { key: f().masterKey, body: '{}' });
  expect(res.status).toBe(202);
  // createdTime has one-second resolution and the id is reused: the output's start time tells this run apart.
  const done = await until('the timer check', async () => {
    const s = await durable<InstanceStatus | undefined>(`/instances/${FULL}`);
    return s?.runtimeStatus === 'Completed' && Date.parse(s.output!.startedAt) >= t0 ? s : undefined;
  });
  expect(done.input).toMatchObject({ scope: { kind: 'all' }, trigger: 'timer', warningDays: 30 });
  await keepHistory(FULL);
  return done.output!;
}

/** Waits for the targeted check a Key Vault event about `secret` starts (after `since`), and for every check to end. */
async function eventCheck(secret: string, since: string): Promise<InstanceStatus> {
  const sinceMs = Date.parse(since);
  const found = await until(`the event-driven check of ${secret}`, async () => {
    // createdTime has one-second resolution: the output's start time (ms) tells a new check from an older one.
    const i = (await instancesSince(since)).find(
      (x) =>
        x.input.trigger === 'event' &&
        x.input.scope.kind === 'secret' &&
        x.input.scope.name === secret &&
        x.runtimeStatus === 'Completed' &&
        Date.parse(x.output!.startedAt) >= sinceMs,
    );
    return i;
  });
  await settled(since);
  return found;
}

const of = (out: CredentialCheckResult, taskId: string) =>
  out.credentials.filter((c) => c.task.toLowerCase() === taskId.toLowerCase() && c.field !== 'identity');

describe('GET /api/credentials', () => {
  it('needs the function key and answers 200 with an empty list before any check', async () => {
    expect((await call('GET', '/api/credentials', { key: null })).status).toBe(401);
    const res = await call('GET', '/api/credentials');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ count: 0, credentials: [] });
  });

  it('refuses an unknown status filter with 400 naming the field', async () => {
    const res = await call('GET', '/api/credentials', { query: { status: 'fine' } });
    expect(res).toMatchObject({ status: 400, json: { error: { field: 'status' } } });
  });
});

describe('timer run', () => {
  it("reports the seed's dockerhubtask secrets expiring in 10 days as expiring, with days left and the fix, and touches nothing", async () => {
    const originals: [string, string, Date][] = [];
    for (const name of ['UserName', 'Password']) {
      const p = (await op.secrets.getSecret(name)).properties;
      originals.push([name, p.version!, p.expiresOn!]);
      await op.secrets.updateSecretProperties(name, p.version!, {
        expiresOn: new Date(Date.now() + 10 * 86400_000 + 3600_000),
      });
    }
    try {
      const versions = await op.secrets.getSecret('Password');
      const out = await timerRun();
      const hub = of(out, dockerhubId());
      expect(hub.map((h) => [h.field, h.status, h.daysLeft, h.rotatable])).toEqual([
        ['username', 'expiring', 10, false],
        ['password', 'expiring', 10, false],
      ]);
      for (const h of hub) expect(h.fix).toContain('Docker Hub personal access token');
      expect(out.rotations).toBeUndefined();
      expect((await op.secrets.getSecret('Password')).properties.version).toBe(versions.properties.version);

      const listed = await call('GET', '/api/credentials', { query: { task: dockerhubId() } });
      expect(listed.status).toBe(200);
      const rows = listed.json.credentials as CredentialHealth[];
      // The task's identity-only login to the base registry is listed too: its health is the pull right.
      expect(rows.map((r) => [r.loginServer, r.field, r.status, r.daysLeft])).toEqual([
        ['docker.io', 'username', 'expiring', 10],
        ['docker.io', 'password', 'expiring', 10],
        ['mybaseregistry.azurecr.io', 'identity', 'healthy', undefined],
      ]);
      expect(rows[1]!.fix).toContain('Docker Hub');
    } finally {
      for (const [name, version, exp] of originals)
        await op.secrets.updateSecretProperties(name, version, { expiresOn: exp });
    }
  });

  it("removing the task identity's vault access is reported accessDenied with the az keyvault set-policy fix", async () => {
    await setVaultPolicy(op, dockerhubPid(), []);
    try {
      const out = await timerRun();
      const hub = of(out, dockerhubId());
      expect(hub.map((h) => h.status)).toEqual(['accessDenied', 'accessDenied']);
      for (const h of hub) {
        expect(h.fix).toBe(
          `az keyvault set-policy --name ${SEED.vault} --object-id ${dockerhubPid()} --secret-permissions get`,
        );
      }
    } finally {
      await setVaultPolicy(op, dockerhubPid(), ['get']);
    }
  });

  it('refreshes a task pinned to an old version, and the next emulated run succeeds', async () => {
    const old = (await op.secrets.getSecret('Password')).properties.version!;
    const value = (await op.secrets.getSecret('Password')).value!;
    const since = new Date().toISOString();
    await op.secrets.setSecret('Password', value, { expiresOn: new Date(Date.now() + 365 * 86400_000) });
    // SecretNewVersionCreated → a targeted check (nothing pinned yet: healthy). Let it finish before pinning.
    expect((await eventCheck('Password', since)).runtimeStatus).toBe('Completed');
    const details = await op.acr.tasks.getDetails(op.rg, SEED.appRegistry, SEED.tasks.dockerhub);
    const hub = details.credentials!.customRegistries!['docker.io']!;
    await op.acr.tasks.beginUpdateAndWait(op.rg, SEED.appRegistry, SEED.tasks.dockerhub, {
      credentials: {
        customRegistries: {
          'docker.io': { ...hub, password: { type: 'Vaultsecret', value: `${op.vaultBase}/secrets/Password/${old}` } },
        },
      },
    });
    const out = await timerRun();
    const pass = of(out, dockerhubId()).find((h) => h.field === 'password')!;
    expect(pass).toMatchObject({
      status: 'refreshed',
      secret: `${op.vaultBase}/secrets/Password`,
      action: { kind: 'refresh', ok: true },
    });
    expect(out.refreshes).toEqual([
      expect.objectContaining({
        outcome: 'refreshed',
        changed: [
          expect.objectContaining({
            from: `${op.vaultBase}/secrets/Password/${old}`,
            to: `${op.vaultBase}/secrets/Password`,
          }),
        ],
      }),
    ]);
    const after = await op.acr.tasks.getDetails(op.rg, SEED.appRegistry, SEED.tasks.dockerhub);
    expect(after.credentials!.customRegistries!['docker.io']!.password!.value).toBe(`${op.vaultBase}/secrets/Password`);
    expect(after.credentials!.customRegistries!['mybaseregistry.azurecr.io']).toEqual(
      details.credentials!.customRegistries!['mybaseregistry.azurecr.io'],
    );
    expect((await runTask(op, dockerhubId())).status).toBe('Succeeded');
  });

  it('rotates an ACR token credential near expiry: the next run succeeds with the new password, the old one gets 401', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const tok = await createTokenTask(op, stack.seed!, unique('e2etok'), { expiresInDays: 5 });
    secretValues.push(tok.password);
    expect(await basicAuthStatus(dataEndpoint, tok.tokenName, tok.password)).toBe(200);
    // The new secret version fires Key Vault events (targeted checks): let them finish first.
    await settled(since);
    const out = await timerRun();
    const all = await settled(since);
    for (const i of all) await keepHistory(i.instanceId);
    // Exactly one rotation of that secret happened, whichever check did it.
    const rotations = all
      .flatMap((i) => i.output?.rotations ?? [])
      .filter((r) => r.secret.endsWith(`/secrets/${tok.name}-password`.toLowerCase()) && r.outcome === 'rotated');
    expect(rotations).toHaveLength(1);
    expect(rotations[0]).toMatchObject({ passwordName: 'password2', revoked: 'password1', verified: 'value' });
    const row = of(out, tok.taskId).find((h) => h.field === 'password')!;
    expect(['rotated', 'healthy']).toContain(row.status);
    expect(row.daysLeft).toBeGreaterThanOrEqual(89);

    const latest = await op.secrets.getSecret(`${tok.name}-password`);
    secretValues.push(latest.value!);
    expect(latest.properties.version).toBe(rotations[0]!.newVersion);
    expect(await basicAuthStatus(dataEndpoint, tok.tokenName, tok.password)).toBe(401);
    expect(await basicAuthStatus(dataEndpoint, tok.tokenName, latest.value!)).toBe(200);
    expect((await runTask(op, tok.taskId)).status).toBe('Succeeded');
  });
});

describe('POST /api/credentials/check', () => {
  it('answers 202 with status URLs and checks exactly the tasks asked for', async () => {
    const res = await call('POST', '/api/credentials/check', { body: JSON.stringify({ tasks: [dockerhubId()] }) });
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({ id: expect.stringMatching(/^check-http-/), statusUri: expect.any(String) });
    expect(res.text).not.toMatch(/runtime\/webhooks|code=/);
    const id = res.json.id as string;
    const done = await until('the requested check', async () => {
      const s = await durable<InstanceStatus | undefined>(`/instances/${id}`);
      return s && TERMINAL.includes(s.runtimeStatus) ? s : undefined;
    });
    expect(done.runtimeStatus).toBe('Completed');
    expect(done.output!.credentials.map((c) => [c.taskName, c.field, c.status])).toEqual([
      [SEED.tasks.dockerhub, 'username', 'healthy'],
      [SEED.tasks.dockerhub, 'password', 'healthy'],
      [SEED.tasks.dockerhub, 'identity', 'healthy'],
    ]);
  });

  it('refuses a malformed body with 400 naming the field, and a task outside the managed scopes with 403', async () => {
    const bad = await call('POST', '/api/credentials/check', { body: JSON.stringify({ tasks: ['nope'] }) });
    expect(bad).toMatchObject({ status: 400, json: { error: { field: 'tasks[0]' } } });
    const other = dockerhubId().replace(stack.emu.subscriptionId, '00000000-0000-0000-0000-0000000000ff');
    const outside = await call('POST', '/api/credentials/check', { body: JSON.stringify({ tasks: [other] }) });
    expect(outside).toMatchObject({
      status: 403,
      json: { error: { code: 'OutsideManagedScopes', field: 'tasks[0]' } },
    });
  });
});

describe('Key Vault events', () => {
  it('a SecretNearExpiry event starts a targeted check of exactly the tasks using that secret', async () => {
    const p = (await op.secrets.getSecret('Password')).properties;
    await op.secrets.updateSecretProperties('Password', p.version!, {
      expiresOn: new Date(Date.now() + 30 * 86400_000 + 5 * 60_000),
    });
    const since = new Date().toISOString();
    // 30 days and 5 minutes left: no event yet. Ten emulated minutes later the vault says "near expiry". (A bigger jump
    // would also expire the app's cached access tokens: the emulator checks token lifetimes on its own clock.)
    const adv = await fetch(`${stack.emu.armEndpoint}/_emulator/clock/advance`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ seconds: 600 }),
    });
    expect(adv.status).toBe(200);
    const check = await eventCheck('Password', since);
    await keepHistory(check.instanceId);
    expect(check.instanceId).toMatch(/^credential-check-event-/);
    expect(check.runtimeStatus).toBe('Completed');
    expect(check.output!.credentials.map((c) => [c.taskName, c.loginServer, c.field])).toEqual([
      [SEED.tasks.dockerhub, 'docker.io', 'password'],
    ]);
  });
});

describe('Key Vault event webhook', () => {
  const deliver = async (event: Record<string, unknown>) => {
    const url = `${f().baseUrl}/runtime/webhooks/eventgrid?functionName=onVaultEvent&code=${f().eventGridKey}`;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification' },
      body: JSON.stringify([event]),
    });
    bodies.push(await res.text());
    return res.status;
  };
  const event = (id: string, topic: string) => ({
    id,
    topic,
    subject: 'UserName',
    eventType: 'Microsoft.KeyVault.SecretNewVersionCreated',
    eventTime: new Date().toISOString(),
    data: {
      Id: `${op.vaultBase}/secrets/UserName/abc`,
      VaultName: SEED.vault,
      ObjectType: 'Secret',
      NBF: null,
      EXP: null,
    },
    dataVersion: '1',
    metadataVersion: '1',
  });

  it('a redelivered event starts one check; an event from an unwatched vault starts none', async () => {
    const since = new Date().toISOString();
    const id = unique('redelivered-');
    expect(await deliver(event(id, stack.seed!.vaultId))).toBeLessThan(300);
    const first = await until('the check of the delivered event', async () => {
      const s = await durable<InstanceStatus | undefined>(`/instances/credential-check-event-${id}`);
      return s && TERMINAL.includes(s.runtimeStatus) ? s : undefined;
    });
    expect(first.output!.credentials.map((c) => [c.taskName, c.field])).toEqual([[SEED.tasks.dockerhub, 'username']]);
    expect(await deliver(event(id, stack.seed!.vaultId))).toBeLessThan(300);
    const forged = unique('forged-');
    const otherVault = stack.seed!.vaultId.replace(/vaults\/[^/]+$/, 'vaults/othervault');
    expect(await deliver(event(forged, otherVault))).toBeLessThan(300);
    const all = await settled(since);
    expect(all.filter((i) => i.instanceId === `credential-check-event-${id}`)).toHaveLength(1);
    expect(all.find((i) => i.instanceId === `credential-check-event-${forged}`)).toBeUndefined();
    const again = await durable<InstanceStatus>(`/instances/credential-check-event-${id}`);
    expect(again.output!.startedAt).toBe(first.output!.startedAt);
    // Structured records: the event name and the event id as a dimension.
    const logged = (event: string, eventId: string) =>
      hostLogs.some((l) => l.includes(`"event":"${event}"`) && l.includes(`"eventId":"${eventId}"`));
    expect(logged('vaultEvent.ignore', forged)).toBe(true);
    expect(logged('vaultEvent.redelivered', id)).toBe(true);
  });
});

describe('secret hygiene', () => {
  it('no password value appears in any log line, durable history, output or response', async () => {
    const all = await settled('2000-01-01T00:00:00Z');
    expect(all.length).toBeGreaterThanOrEqual(6);
    for (const i of all) await keepHistory(i.instanceId);
    const text = JSON.stringify(histories);
    expect(text).toContain('rotateCredential');
    expect(text).toContain('refreshCredential');
    const haystack = [hostLogs.join('\n'), JSON.stringify(histories), bodies.join('\n')].join('\n');
    expect(hostLogs.some((l) => l.includes('credentialCheck'))).toBe(true);
    for (const value of secretValues) expect(haystack.includes(value)).toBe(false);
  });
});
