// credentialCheck through the real durable-functions executor with hand-made histories: what it schedules for healthy,
// rotatable, Docker Hub and pinned credentials, and what it records and announces.
import { describe, expect, it } from 'vitest';
import { ReplayDriver, type Scheduled } from '../support/histories.js';
import { CHECK_BATCH_SIZE, MAX_PARALLEL_CHECKS, credentialCheck } from '../../src/orchestrations/credentialCheck.js';
import type {
  CredentialCheckInput,
  CredentialCheckResult,
  CredentialHealth,
  CredentialRef,
  SecretCredentialHealth,
  SecretCredentialRef,
  InventoryCredentialsOutput,
  PublishNotificationsInput,
  RecordCredentialHealthInput,
  RefreshCredentialInput,
  RefreshCredentialOutput,
  RotateCredentialInput,
  RotateCredentialOutput,
} from '../../src/contracts/index.js';

const SUB = '00000000-0000-0000-0000-000000000001';
const REG = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/myregistry`;
const VAULT = 'https://mykeyvault.vault.azure.net';
const task = (name: string) => `${REG}/tasks/${name}`;

function ref(
  taskName: string,
  loginServer: string,
  field: 'username' | 'password',
  secret: string,
): SecretCredentialRef {
  return {
    task: task(taskName),
    taskName,
    loginServer,
    field,
    secret,
    identity: '[system]',
    principal: { kind: 'system', principalId: `pid-${taskName}` },
  };
}

const hubUser = ref('dockerhubtask', 'docker.io', 'username', `${VAULT}/secrets/UserName`);
const hubPass = ref('dockerhubtask', 'docker.io', 'password', `${VAULT}/secrets/Password`);
const tokenUser = ref('tokentask', 'mybaseregistry.azurecr.io', 'username', `${VAULT}/secrets/BaseTokenUser`);
const tokenPass = ref('tokentask', 'mybaseregistry.azurecr.io', 'password', `${VAULT}/secrets/BaseTokenPassword`);

function healthy(r: SecretCredentialRef, overrides: Partial<SecretCredentialHealth> = {}): SecretCredentialHealth {
  return { ...r, status: 'healthy', daysLeft: 200, rotatable: false, message: `${r.secret} is healthy`, ...overrides };
}

function inventory(credentials: CredentialRef[]): InventoryCredentialsOutput {
  return { credentials, tasks: new Set(credentials.map((c) => c.task)).size, errors: [] };
}

const allInput: CredentialCheckInput = { scope: { kind: 'all' }, trigger: 'timer', warningDays: 30 };

function only(scheduled: Scheduled[], name: string): Scheduled {
  expect(scheduled.map((s) => s.name)).toEqual([name]);
  return scheduled[0] as Scheduled;
}

/** What every activity input of check `check-1` carries for its log lines. */
const LOG = { log: { checkId: 'check-1' } };

function onlyTimer(scheduled: Scheduled[]): Scheduled {
  expect(scheduled.map((s) => s.kind)).toEqual(['timer']);
  return scheduled[0] as Scheduled;
}

/** Runs inventory → one health batch; returns the driver and what it scheduled after the health answer. */
async function throughHealth(input: CredentialCheckInput, refs: CredentialRef[], health: CredentialHealth[]) {
  const d = new ReplayDriver(credentialCheck as never, input, { instanceId: 'check-1' });
  const inv = only((await d.run()).scheduled, 'inventoryCredentials');
  const check = only((await d.complete(inv.id, inventory(refs)).run()).scheduled, 'checkCredentials');
  expect(check.input).toEqual({ credentials: refs, warningDays: input.warningDays, ...LOG });
  const next = await d.complete(check.id, health).run();
  return { d, next };
}

describe('credentialCheck orchestration', () => {
  it('rotates and refreshes nothing when every credential is healthy, records them and announces nothing', async () => {
    const refs = [hubUser, hubPass];
    const { d, next } = await throughHealth(
      allInput,
      refs,
      refs.map((r) => healthy(r)),
    );
    const record = only(next.scheduled, 'recordCredentialHealth');
    expect(record.input).toMatchObject({
      checkId: 'check-1',
      trigger: 'timer',
      scope: { kind: 'all' },
      credentials: [{ status: 'healthy' }, { status: 'healthy' }],
    });
    const done = await d.complete(record.id, { written: 2, removed: 0 }).run();
    expect(done.scheduled).toEqual([]);
    expect(done.state.isDone).toBe(true);
    const out = done.state.output as CredentialCheckResult;
    expect(out).toMatchObject({ checkId: 'check-1', trigger: 'timer', totals: { healthy: 2 } });
    expect(out.rotations).toBeUndefined();
    expect(d.all.map((s) => s.name)).not.toContain('rotateCredential');
    expect(d.all.map((s) => s.name)).not.toContain('refreshCredential');
    expect(d.all.map((s) => s.name)).not.toContain('publishNotifications');
  });

  it('never touches an expiring Docker Hub credential: reports it expiring with days left and the fix', async () => {
    const fix =
      'Create a new Docker Hub personal access token …\naz keyvault secret set --vault-name mykeyvault --name Password';
    const refs = [hubUser, hubPass];
    const health = refs.map((r) =>
      healthy(r, { status: 'expiring', daysLeft: 9, rotatable: false, fix, code: 'SecretExpiring' }),
    );
    const { d, next } = await throughHealth(allInput, refs, health);
    const record = only(next.scheduled, 'recordCredentialHealth');
    expect((record.input as RecordCredentialHealthInput).credentials.map((c) => c.status)).toEqual([
      'expiring',
      'expiring',
    ]);
    const publish = only(
      (await d.complete(record.id, { written: 2, removed: 0 }).run()).scheduled,
      'publishNotifications',
    );
    const notes = (publish.input as PublishNotificationsInput).notifications;
    expect(notes).toHaveLength(2);
    for (const n of notes) {
      expect(n).toMatchObject({ type: 'credential.expiring', data: { daysLeft: 9, fix, rotatable: false } });
    }
    const done = await d.complete(publish.id, null).run();
    expect((done.state.output as CredentialCheckResult).totals).toEqual({ expiring: 2 });
    expect(d.all.map((s) => s.name)).not.toContain('rotateCredential');
    expect(d.all.map((s) => s.name)).not.toContain('refreshCredential');
  });

  it('rotates an expiring ACR token password once, re-checks it and reports it rotated', async () => {
    const refs = [tokenUser, tokenPass];
    const health = [
      healthy(tokenUser, { rotatable: true }),
      healthy(tokenPass, { status: 'expiring', daysLeft: 5, rotatable: true }),
    ];
    const { d, next } = await throughHealth(allInput, refs, health);
    const rotate = only(next.scheduled, 'rotateCredential');
    expect(rotate.input).toEqual({
      secret: `${VAULT}/secrets/basetokenpassword`,
      loginServer: 'mybaseregistry.azurecr.io',
      credentials: [tokenPass],
      warningDays: 30,
      ...LOG,
    } satisfies RotateCredentialInput);
    const rotated: RotateCredentialOutput = {
      secret: `${VAULT}/secrets/basetokenpassword`,
      outcome: 'rotated',
      message: 'Rotated: password2 generated, stored as version v2, old password1 revoked.',
      newVersion: 'v2',
      expiresOn: '2024-03-31T00:00:00Z',
      passwordName: 'password2',
      revoked: 'password1',
      verified: 'value',
      refreshedTasks: [],
      steps: ['generated password2', 'stored as version v2', 'verified', 'revoked password1'],
    };
    const recheck = only((await d.complete(rotate.id, rotated).run()).scheduled, 'checkCredentials');
    expect(recheck.input).toEqual({ credentials: [tokenPass], warningDays: 30, ...LOG });
    const record = only(
      (await d.complete(recheck.id, [healthy(tokenPass, { daysLeft: 90, rotatable: true, version: 'v2' })]).run())
        .scheduled,
      'recordCredentialHealth',
    );
    const recorded = (record.input as RecordCredentialHealthInput).credentials;
    expect(recorded.map((c) => [c.field, c.status])).toEqual([
      ['username', 'healthy'],
      ['password', 'rotated'],
    ]);
    expect(recorded[1]).toMatchObject({ daysLeft: 90, version: 'v2', action: { kind: 'rotate', ok: true } });
    const publish = only(
      (await d.complete(record.id, { written: 2, removed: 0 }).run()).scheduled,
      'publishNotifications',
    );
    expect((publish.input as PublishNotificationsInput).notifications).toEqual([
      expect.objectContaining({
        type: 'credential.rotated',
        subject: `${VAULT}/secrets/basetokenpassword`,
        data: expect.objectContaining({ newVersion: 'v2', revoked: 'password1', tasks: [task('tokentask')] }),
      }),
    ]);
    const done = await d.complete(publish.id, null).run();
    expect(done.state.output).toMatchObject({ totals: { healthy: 1, rotated: 1 }, rotations: [rotated] });
    expect(d.all.filter((s) => s.name === 'rotateCredential')).toHaveLength(1);
  });

  it('a rotation that fails half-way keeps the status, says the old credential still works and announces the failure', async () => {
    const { d, next } = await throughHealth(
      allInput,
      [tokenPass],
      [healthy(tokenPass, { status: 'expiring', daysLeft: 5, rotatable: true })],
    );
    const rotate = only(next.scheduled, 'rotateCredential');
    const failed: RotateCredentialOutput = {
      secret: `${VAULT}/secrets/basetokenpassword`,
      outcome: 'failed',
      message:
        'Generated password2 but could not store it (Forbidden); the secret still holds the old password1, which keeps working.',
      fix: 'az keyvault set-policy --name mykeyvault --object-id <acr-cascade principal id> --secret-permissions list set',
      oldCredentialWorking: true,
      passwordName: 'password2',
      refreshedTasks: [],
      steps: ['generated password2'],
    };
    const record = only((await d.complete(rotate.id, failed).run()).scheduled, 'recordCredentialHealth');
    const [row] = (record.input as RecordCredentialHealthInput).credentials;
    expect(row).toMatchObject({
      status: 'expiring',
      fix: failed.fix,
      action: { kind: 'rotate', ok: false, oldCredentialWorking: true, message: failed.message },
    });
    const publish = only(
      (await d.complete(record.id, { written: 1, removed: 0 }).run()).scheduled,
      'publishNotifications',
    );
    expect((publish.input as PublishNotificationsInput).notifications.map((n) => n.type)).toEqual([
      'credential.failed',
    ]);
    expect(d.all.filter((s) => s.name === 'checkCredentials')).toHaveLength(1);
  });

  it('refreshes a pinned outdated version, re-checks the versionless URI and reports it refreshed', async () => {
    const pinned = { ...hubPass, secret: `${VAULT}/secrets/Password/0ld` };
    const { d, next } = await throughHealth(
      allInput,
      [hubUser, pinned],
      [
        healthy(hubUser),
        healthy(pinned, { status: 'outdatedVersion', code: 'SecretVersionOutdated', latestVersion: 'n3w' }),
      ],
    );
    const refresh = only(next.scheduled, 'refreshCredential');
    expect(refresh.input).toEqual({
      task: task('dockerhubtask'),
      credentials: [{ loginServer: 'docker.io', field: 'password', secret: pinned.secret }],
      ...LOG,
    } satisfies RefreshCredentialInput);
    const refreshed: RefreshCredentialOutput = {
      task: task('dockerhubtask'),
      outcome: 'refreshed',
      changed: [{ loginServer: 'docker.io', field: 'password', from: pinned.secret, to: `${VAULT}/secrets/Password` }],
      message: 'Moved docker.io password to the versionless URI.',
    };
    const recheck = only((await d.complete(refresh.id, refreshed).run()).scheduled, 'checkCredentials');
    expect(recheck.input).toEqual({
      credentials: [{ ...hubPass, secret: `${VAULT}/secrets/Password` }],
      warningDays: 30,
      ...LOG,
    });
    const record = only(
      (await d.complete(recheck.id, [healthy({ ...hubPass, secret: `${VAULT}/secrets/Password` })]).run()).scheduled,
      'recordCredentialHealth',
    );
    const rows = (record.input as RecordCredentialHealthInput).credentials;
    expect(rows[1]).toMatchObject({
      status: 'refreshed',
      secret: `${VAULT}/secrets/Password`,
      action: { kind: 'refresh' },
    });
    const done = await d.complete(record.id, { written: 2, removed: 0 }).run();
    expect(done.state.output).toMatchObject({ totals: { healthy: 1, refreshed: 1 }, refreshes: [refreshed] });
  });

  it('a Key Vault event checks exactly the secret it names: the inventory gets that scope', async () => {
    const input: CredentialCheckInput = {
      scope: { kind: 'secret', vaultUrl: VAULT, name: 'Password' },
      trigger: 'event',
      warningDays: 30,
    };
    const d = new ReplayDriver(credentialCheck as never, input, { instanceId: 'check-1' });
    const inv = only((await d.run()).scheduled, 'inventoryCredentials');
    // The check's id rides along as `log` so the activity's log lines carry it (src/telemetry/dimensions.ts).
    expect(inv.input).toEqual({ scope: { kind: 'secret', vaultUrl: VAULT, name: 'Password' }, ...LOG });
    const check = only((await d.complete(inv.id, inventory([hubPass])).run()).scheduled, 'checkCredentials');
    expect((check.input as { credentials: CredentialRef[] }).credentials).toEqual([hubPass]);
  });

  it(`checks in batches of ${CHECK_BATCH_SIZE} with at most ${MAX_PARALLEL_CHECKS} batches in flight`, async () => {
    const refs = Array.from({ length: CHECK_BATCH_SIZE * MAX_PARALLEL_CHECKS + 3 }, (_, i) =>
      ref(`task${i}`, 'docker.io', 'password', `${VAULT}/secrets/S${i}`),
    );
    const d = new ReplayDriver(credentialCheck as never, allInput);
    const inv = only((await d.run()).scheduled, 'inventoryCredentials');
    const first = await d.complete(inv.id, inventory(refs)).run();
    expect(first.scheduled.map((s) => s.name)).toEqual(Array(MAX_PARALLEL_CHECKS).fill('checkCredentials'));
    for (const s of first.scheduled) {
      expect((s.input as { credentials: unknown[] }).credentials).toHaveLength(CHECK_BATCH_SIZE);
      d.complete(
        s.id,
        (s.input as { credentials: SecretCredentialRef[] }).credentials.map((r) => healthy(r)),
      );
    }
    const second = await d.run();
    const last = only(second.scheduled, 'checkCredentials');
    expect((last.input as { credentials: unknown[] }).credentials).toHaveLength(3);
    expect(d.customStatus).toMatchObject({ phase: 'health', credentials: refs.length, checked: refs.length - 3 });
  });

  it('a failed notification publish does not fail the check', async () => {
    const { d, next } = await throughHealth(
      allInput,
      [hubPass],
      [healthy(hubPass, { status: 'accessDenied', code: 'KeyVaultAccessDenied', fix: 'az keyvault set-policy …' })],
    );
    const record = only(next.scheduled, 'recordCredentialHealth');
    const publish = only(
      (await d.complete(record.id, { written: 1, removed: 0 }).run()).scheduled,
      'publishNotifications',
    );
    expect((publish.input as PublishNotificationsInput).notifications[0]).toMatchObject({
      type: 'credential.failed',
      data: { status: 'accessDenied' },
    });
    // Transient: retried on durable timers with backoff (5 attempts), then given up without failing the check.
    let attempt = publish;
    const delays: number[] = [];
    for (let i = 1; i < 5; i++) {
      const ep = await d.fail(attempt.id, 'topic unreachable').run();
      const timer = onlyTimer(ep.scheduled);
      delays.push((Date.parse(timer.fireAt as string) - d.now.getTime()) / 1000);
      d.advance(120);
      attempt = only((await d.fireTimer(timer.id).run()).scheduled, 'publishNotifications');
    }
    expect(delays).toEqual([5, 10, 20, 40]);
    const done = await d.fail(attempt.id, 'topic unreachable').run();
    expect(done.failure).toBeUndefined();
    expect(done.state.isDone).toBe(true);
    expect((done.state.output as CredentialCheckResult).totals).toEqual({ accessDenied: 1 });
  });

  it('never retries a deterministic failure: a TypeError from the inventory fails the check at once', async () => {
    const d = new ReplayDriver(credentialCheck as never, allInput, { instanceId: 'check-typeerror' });
    const first = await d.run();
    const inventory = only(first.scheduled, 'inventoryCredentials');
    const done = await d.fail(inventory.id, 'TypeError: scope.kind must be one of all, task, secret').run();
    expect(done.scheduled).toEqual([]);
    expect(done.state.error).toMatch(/^TypeError: scope\.kind/);
  });

  it('retries a transient inventory failure and carries on with the answer', async () => {
    const d = new ReplayDriver(credentialCheck as never, allInput, { instanceId: 'check-transient' });
    const inventory = only((await d.run()).scheduled, 'inventoryCredentials');
    const ep = await d.fail(inventory.id, 'RestError: 503 ServerBusy').run();
    const timer = onlyTimer(ep.scheduled);
    const again = only((await d.advance(5).fireTimer(timer.id).run()).scheduled, 'inventoryCredentials');
    expect(again.input).toEqual(inventory.input);
    const next = await d.complete(again.id, { credentials: [], errors: [] }).run();
    expect(next.failure).toBeUndefined();
    expect(next.scheduled.map((s) => s.name)).toEqual(['recordCredentialHealth']);
  });
});
