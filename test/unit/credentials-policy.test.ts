// What the credential check decides to change and to announce (pure parts of the orchestration), and how requests and
// Key Vault events become check scopes (pure parts of the triggers).
import { describe, expect, it } from 'vitest';
import {
  applyOutcomes,
  mergeRecheck,
  notificationsFor,
  planActions,
  secretBase,
} from '../../src/orchestrations/credentialCheck.js';
import { eventInstanceId, parseCheckRequest, vaultEventCheckInput } from '../../src/functions/credentials.js';
import { ApiError } from '../../src/http/errors.js';
import { classifyVaultEvent } from '../../src/domain/index.js';
import type { SecretCredentialHealth, SecretCredentialRef, RotateCredentialOutput } from '../../src/contracts/index.js';

const SUB = '00000000-0000-0000-0000-000000000001';
const RG = `/subscriptions/${SUB}/resourceGroups/rg`;
const REG = `${RG}/providers/Microsoft.ContainerRegistry/registries/myregistry`;
const VAULT_ID = `${RG}/providers/Microsoft.KeyVault/vaults/mykeyvault`;
const VAULT = 'https://mykeyvault.vault.azure.net';

let n = 0;
function cred(overrides: Partial<SecretCredentialHealth> = {}): SecretCredentialHealth {
  n += 1;
  const ref: SecretCredentialRef = {
    task: `${REG}/tasks/task${n}`,
    taskName: `task${n}`,
    loginServer: 'mybaseregistry.azurecr.io',
    field: 'password',
    secret: `${VAULT}/secrets/Secret${n}`,
  };
  return { ...ref, status: 'healthy', rotatable: false, message: 'm', ...overrides };
}

describe('planActions', () => {
  it('plans nothing when every credential is healthy', () => {
    expect(planActions([cred(), cred({ rotatable: true })], 30)).toEqual({ rotations: [], refreshes: [] });
  });

  it('rotates an expiring or expired rotatable secret once, listing every task that uses it', () => {
    const secret = `${VAULT}/secrets/Shared`;
    const a = cred({ secret, status: 'expiring', rotatable: true });
    const b = cred({ secret: `${VAULT}/secrets/SHARED/0ld`, status: 'outdatedVersion', rotatable: true });
    const c = cred({ status: 'expired', rotatable: true });
    const plan = planActions([a, b, c], 30);
    expect(plan.rotations.map((r) => [r.secret, r.credentials.map((x) => x.task)])).toEqual([
      [`${VAULT}/secrets/shared`, [a.task, b.task]],
      [secretBase(c.secret), [c.task]],
    ]);
    // The rotation moves the pinned task itself, so it is not refreshed separately.
    expect(plan.refreshes).toEqual([]);
  });

  it('never rotates a credential the domain marks not rotatable (Docker Hub), whatever its status', () => {
    const hub = cred({ loginServer: 'docker.io', status: 'expiring', rotatable: false, daysLeft: 3 });
    const gone = cred({ loginServer: 'docker.io', status: 'expired', rotatable: false });
    expect(planActions([hub, gone], 30)).toEqual({ rotations: [], refreshes: [] });
  });

  it('refreshes outdated pins per task, one call per task with all its pins', () => {
    const t = cred({ status: 'outdatedVersion', field: 'username', secret: `${VAULT}/secrets/U/1` });
    const same = { ...cred({ status: 'outdatedVersion', secret: `${VAULT}/secrets/P/1` }), task: t.task };
    const plan = planActions([t, same], 30);
    expect(plan.refreshes).toEqual([
      {
        task: t.task,
        credentials: [
          { loginServer: t.loginServer, field: 'username', secret: t.secret },
          { loginServer: same.loginServer, field: 'password', secret: same.secret },
        ],
      },
    ]);
  });

  it('does not act on missing, disabled or access-denied credentials (a person must fix those)', () => {
    const list = [
      cred({ status: 'missing', rotatable: true }),
      cred({ status: 'disabled', rotatable: true }),
      cred({ status: 'accessDenied', rotatable: true }),
    ];
    expect(planActions(list, 30)).toEqual({ rotations: [], refreshes: [] });
  });
});

describe('applyOutcomes and mergeRecheck', () => {
  const rotated = (secret: string, refreshedTasks: string[] = []): RotateCredentialOutput => ({
    secret,
    outcome: 'rotated',
    message: 'rotated',
    refreshedTasks,
    steps: [],
  });

  it('re-checks a pinned credential the rotation moved under its versionless URI', () => {
    const pinned = cred({ secret: `${VAULT}/secrets/Tok/0ld`, status: 'outdatedVersion', rotatable: true });
    const { recheck, health } = applyOutcomes([pinned], [rotated(`${VAULT}/secrets/tok`, [pinned.task])], []);
    expect(recheck).toEqual([expect.objectContaining({ task: pinned.task, secret: `${VAULT}/secrets/tok` })]);
    expect(health[0]?.action).toEqual({ kind: 'rotate', ok: true, message: 'rotated' });
  });

  it('marks a healthy re-check rotated, but keeps a re-check that found a new problem', () => {
    const a = cred({ status: 'expiring', rotatable: true, action: { kind: 'rotate', ok: true, message: 'r' } });
    const b = cred({ status: 'expiring', rotatable: true, action: { kind: 'rotate', ok: true, message: 'r' } });
    const merged = mergeRecheck([a, b], [
      { ...a, status: 'healthy', daysLeft: 90, action: undefined },
      { ...b, status: 'accessDenied', action: undefined },
    ] as SecretCredentialHealth[]);
    expect(merged.map((m) => m.status)).toEqual(['rotated', 'accessDenied']);
    expect(merged[0]).toMatchObject({ daysLeft: 90, action: { kind: 'rotate', ok: true } });
  });
});

describe('notificationsFor', () => {
  it('announces expiring, failing and failed-action credentials, and each rotation once', () => {
    const list = [
      cred({ status: 'healthy' }),
      cred({ status: 'expiring', daysLeft: 10, fix: 'renew' }),
      cred({ status: 'accessDenied', fix: 'az keyvault set-policy' }),
      cred({ status: 'expiring', action: { kind: 'rotate', ok: false, message: 'x', oldCredentialWorking: true } }),
      cred({ status: 'rotated', secret: `${VAULT}/secrets/T` }),
    ];
    const notes = notificationsFor('c1', list, [
      { secret: `${VAULT}/secrets/t`, outcome: 'rotated', message: 'm', refreshedTasks: [], steps: [] },
    ]);
    expect(notes.map((x) => x.type)).toEqual([
      'credential.expiring',
      'credential.failed',
      'credential.failed',
      'credential.rotated',
    ]);
    expect(notes[0]?.data).toMatchObject({ daysLeft: 10, fix: 'renew', checkId: 'c1' });
    expect(notes[3]?.data).toMatchObject({ tasks: [list[4]?.task] });
  });
});

describe('credential check requests', () => {
  const settings = { managedScopes: [`/subscriptions/${SUB}`] };

  it('an empty body checks everything', () => {
    expect(parseCheckRequest({}, settings)).toEqual({ kind: 'all' });
  });

  it('tasks inside the managed scopes are checked; one outside is refused with 403 naming the field', () => {
    expect(parseCheckRequest({ tasks: [`${REG}/tasks/a`] }, settings)).toEqual({
      kind: 'tasks',
      tasks: [`${REG}/tasks/a`],
    });
    const other = `/subscriptions/${'0'.repeat(7)}2-0000-0000-0000-000000000000/resourceGroups/x/providers/Microsoft.ContainerRegistry/registries/r/tasks/t`;
    expect(() => parseCheckRequest({ tasks: [`${REG}/tasks/a`, other] }, settings)).toThrow(
      expect.objectContaining({ status: 403, code: 'OutsideManagedScopes', field: 'tasks[1]' }),
    );
  });

  it('rejects malformed fields with 400 naming the field', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ tasks: [] }, 'tasks'],
      [{ tasks: 'x' }, 'tasks'],
      [{ tasks: [42] }, 'tasks[0]'],
      [{ tasks: [`${REG}`] }, 'tasks[0]'],
      [{ tasks: ['../..'] }, 'tasks[0]'],
      [{ secret: 'http://x/secrets/a' }, 'secret'],
      [{ secret: 7 }, 'secret'],
      [{ secret: `${VAULT}/secrets/a`, tasks: [`${REG}/tasks/a`] }, 'secret'],
    ];
    for (const [body, field] of cases) {
      expect(() => parseCheckRequest(body, settings), JSON.stringify(body)).toThrow(
        expect.objectContaining({ constructor: ApiError, status: 400, code: 'InvalidInput', field }),
      );
    }
  });

  it('a secret URI checks the tasks using that secret', () => {
    expect(parseCheckRequest({ secret: `${VAULT}/secrets/Password/abc` }, settings)).toEqual({
      kind: 'secret',
      vaultUrl: VAULT,
      name: 'Password',
    });
  });
});

describe('Key Vault events', () => {
  const event = (type: string, topic = VAULT_ID) => ({
    id: 'ev-1',
    topic,
    subject: 'Password',
    eventType: `Microsoft.KeyVault.${type}`,
    eventTime: '2024-01-01T00:00:00Z',
    data: { Id: `${VAULT}/secrets/Password/abc`, VaultName: 'mykeyvault', ObjectType: 'Secret', NBF: null, EXP: 1 },
    dataVersion: '1',
  });

  it.each(['SecretNearExpiry', 'SecretExpired', 'SecretNewVersionCreated'])(
    '%s from a watched vault becomes a check of exactly the tasks using that secret',
    (type) => {
      const c = classifyVaultEvent(event(type), [VAULT_ID]);
      if (c.kind !== 'accept') throw new Error(`not accepted: ${c.reason}`);
      expect(vaultEventCheckInput(c, 30)).toEqual({
        scope: { kind: 'secret', vaultUrl: VAULT, name: 'Password' },
        trigger: 'event',
        warningDays: 30,
      });
    },
  );

  it('an event from an unwatched vault is ignored', () => {
    expect(
      classifyVaultEvent(event('SecretNearExpiry', `${RG}/providers/Microsoft.KeyVault/vaults/other`), [VAULT_ID]),
    ).toMatchObject({ kind: 'ignore' });
  });

  it('redeliveries of one event map to one instance id', () => {
    expect(eventInstanceId('5f2a/1?x')).toBe(eventInstanceId('5f2a/1?x'));
    expect(eventInstanceId('5f2a/1?x')).toBe('credential-check-event-5f2a-1-x');
  });
});
