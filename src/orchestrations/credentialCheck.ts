// credentialCheck: inventory → health (batched, a few batches in parallel) → refresh outdated pins / rotate expiring
// rotatable secrets → re-check what was changed → record (Table CredentialHealth) → notifications.
// Pure and deterministic: time from currentUtcDateTime, the check id is the instance id, no I/O; everything that
// enters history is URIs and verdicts — secret values stay inside the rotateCredential activity.
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
// The SDK-free contracts module is the one activities import orchestrators may use (names and types only); the lint
// pattern '../activities/*' is meant for the activity implementations.
import {
  ActivityNames,
  type CredentialCheckInput,
  type CredentialCheckResult,
  type CredentialHealth,
  type CredentialRef,
  type CredentialStatus,
  isSecretCredential,
  type SecretCredentialRef,
  type Notification,
  type RecordCredentialHealthInput,
  type RefreshCredentialInput,
  type RefreshCredentialOutput,
  type RotateCredentialInput,
  type RotateCredentialOutput,
} from '../contracts/index.js';
import { MAX_FAN_OUT, ONE_ATTEMPT, TRANSIENT_RETRY, callActivities, callActivity, tryCallActivity } from './calls.js';
import { replaySafeLogger, type LogDimensions } from '../telemetry/log.js';

/** Credentials per checkCredentials call, and calls in flight at once. */
export const CHECK_BATCH_SIZE = 25;
export const MAX_PARALLEL_CHECKS = 4;

/** Statuses a run would fail with (reported as `credential.failed`). */
export const FAILING_STATUSES: readonly CredentialStatus[] = [
  'expired',
  'disabled',
  'missing',
  'accessDenied',
  'notYetValid',
];

export interface CredentialCheckProgress {
  phase: 'inventory' | 'health' | 'refresh' | 'rotate' | 'recheck' | 'record' | 'notify' | 'done';
  credentials: number;
  checked: number;
}

/** `https://v/secrets/Name[/version]` → `https://v/secrets/name` (vault names and secret names are case-insensitive). */
export function secretBase(uri: string): string {
  const m = /^(https:\/\/[^/]+)\/secrets\/([^/]+)/i.exec(uri.trim());
  return m ? `${(m[1] as string).toLowerCase().replace(/:443$/, '')}/secrets/${(m[2] as string).toLowerCase()}` : uri;
}

function pinnedVersion(uri: string): string | undefined {
  const m = /^https:\/\/[^/]+\/secrets\/[^/]+\/([^/]+)\/?$/i.exec(uri.trim());
  return m ? (m[1] as string).toLowerCase() : undefined;
}

function key(c: Pick<CredentialRef, 'task' | 'loginServer' | 'field'>): string {
  return `${c.task.toLowerCase()}|${c.loginServer.toLowerCase()}|${c.field}`;
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export interface PlannedActions {
  /** One per secret (versionless), each listing every credential that uses it. Run one at a time. */
  rotations: RotateCredentialInput[];
  /** One per task, listing its outdated pins. */
  refreshes: RefreshCredentialInput[];
}

/**
 * What to change: expiring/expired rotatable secrets are rotated (never a Docker Hub credential — the domain marks
 * those not rotatable); outdated pins are refreshed, unless their secret is being rotated (the rotation moves pins).
 */
export function planActions(health: readonly CredentialHealth[], warningDays: number): PlannedActions {
  // Identity-only logins have no secret: nothing to rotate or refresh (their fix is a role assignment).
  const secrets = health.filter(isSecretCredential);
  const bySecret = new Map<string, (CredentialHealth & SecretCredentialRef)[]>();
  for (const h of secrets) {
    const b = secretBase(h.secret);
    bySecret.set(b, [...(bySecret.get(b) ?? []), h]);
  }
  const rotations: RotateCredentialInput[] = [];
  const rotating = new Set<string>();
  for (const [base, users] of bySecret) {
    const trigger = users.find((u) => u.rotatable && (u.status === 'expiring' || u.status === 'expired'));
    if (!trigger) continue;
    rotating.add(base);
    rotations.push({
      secret: base,
      loginServer: trigger.loginServer,
      credentials: users.map(strip),
      warningDays,
    });
  }
  const byTask = new Map<string, RefreshCredentialInput>();
  for (const h of secrets) {
    if (h.status !== 'outdatedVersion' || rotating.has(secretBase(h.secret))) continue;
    const r = byTask.get(h.task) ?? { task: h.task, credentials: [] };
    r.credentials.push({ loginServer: h.loginServer, field: h.field, secret: h.secret });
    byTask.set(h.task, r);
  }
  return { rotations, refreshes: [...byTask.values()] };
}

/** The CredentialRef part of a health row (what activities take as input). */
export function strip<T extends CredentialRef>(
  h: T,
): T extends SecretCredentialRef ? SecretCredentialRef : CredentialRef;
export function strip(h: CredentialRef): CredentialRef {
  const base = { task: h.task, taskName: h.taskName, loginServer: h.loginServer };
  const c: CredentialRef = isSecretCredential(h)
    ? { ...base, field: h.field, secret: h.secret }
    : { ...base, field: 'identity', ...(h.registryId !== undefined ? { registryId: h.registryId } : {}) };
  if (h.identity !== undefined) c.identity = h.identity;
  if (h.principal !== undefined) c.principal = h.principal;
  if (h.identityProblem !== undefined) c.identityProblem = h.identityProblem;
  return c;
}

/**
 * Folds the actions' outcomes into the health list. Returns the credentials to re-check (with the URI the task uses
 * now) — their fresh verdict replaces the old one, marked refreshed/rotated when it is healthy.
 */
export function applyOutcomes(
  health: CredentialHealth[],
  rotations: readonly RotateCredentialOutput[],
  refreshes: readonly RefreshCredentialOutput[],
): { health: CredentialHealth[]; recheck: CredentialRef[] } {
  const out = health.map((h) => ({ ...h }));
  const recheck = new Map<string, CredentialRef>();
  const rotationOf = new Map(rotations.map((r) => [secretBase(r.secret), r]));
  for (const h of out) {
    if (!isSecretCredential(h)) continue;
    const r = rotationOf.get(secretBase(h.secret));
    if (!r) continue;
    if (r.outcome === 'rotated' || r.outcome === 'renewed') {
      const moved = r.refreshedTasks.includes(h.task) && pinnedVersion(h.secret) !== undefined;
      const ref = strip(h);
      if (moved) ref.secret = r.secret;
      recheck.set(key(h), ref);
      h.action = { kind: 'rotate', ok: true, message: r.message };
    } else if (r.outcome === 'failed') {
      h.action = {
        kind: 'rotate',
        ok: false,
        message: r.message,
        ...(r.oldCredentialWorking !== undefined ? { oldCredentialWorking: r.oldCredentialWorking } : {}),
      };
      if (r.fix) h.fix = r.fix;
    } else if (h.rotatable && (h.status === 'expiring' || h.status === 'expired')) {
      // Skipped: someone renewed it meanwhile (or it stopped being rotatable) — look again.
      recheck.set(key(h), strip(h));
      h.action = { kind: 'rotate', ok: true, message: r.message };
    }
  }
  const refreshOf = new Map<string, RefreshCredentialOutput>();
  for (const r of refreshes) refreshOf.set(r.task.toLowerCase(), r);
  for (const h of out) {
    if (!isSecretCredential(h) || h.status !== 'outdatedVersion') continue;
    const r = refreshOf.get(h.task.toLowerCase());
    if (!r) continue;
    const change = r.changed.find((c) => c.loginServer === h.loginServer.toLowerCase() && c.field === h.field);
    if (r.outcome === 'refreshed' && change) {
      recheck.set(key(h), { ...strip(h), secret: change.to });
      h.action = { kind: 'refresh', ok: true, message: r.message };
    } else if (r.outcome === 'failed') {
      h.action = { kind: 'refresh', ok: false, message: r.message, oldCredentialWorking: true };
    } else {
      h.action = { kind: 'refresh', ok: true, message: r.message };
    }
  }
  return { health: out, recheck: [...recheck.values()] };
}

/** Replaces re-checked rows; a healthy re-check of a changed credential reads `rotated` / `refreshed`. */
export function mergeRecheck(health: CredentialHealth[], fresh: readonly CredentialHealth[]): CredentialHealth[] {
  const byKey = new Map(fresh.map((f) => [key(f), f]));
  return health.map((h) => {
    const f = byKey.get(key(h));
    if (!f) return h;
    const merged: CredentialHealth = { ...f };
    if (h.action) merged.action = h.action;
    if (f.status === 'healthy' && h.action?.ok && h.action.kind === 'rotate') {
      merged.status = 'rotated';
      merged.message = `${h.action.message} ${f.message}`;
    } else if (f.status === 'healthy' && h.action?.ok && h.action.kind === 'refresh') {
      merged.status = 'refreshed';
      merged.message = `${h.action.message} ${f.message}`;
    }
    return merged;
  });
}

function credentialSubject(h: CredentialHealth): string {
  return `${h.task}/credentials/${h.loginServer}/${h.field}`;
}

function credentialData(h: CredentialHealth): Record<string, unknown> {
  return {
    task: h.task,
    taskName: h.taskName,
    loginServer: h.loginServer,
    field: h.field,
    ...(isSecretCredential(h) ? { secret: h.secret } : {}),
    status: h.status,
    rotatable: h.rotatable,
    message: h.message,
    ...(h.daysLeft !== undefined ? { daysLeft: h.daysLeft } : {}),
    ...(h.expiresOn !== undefined ? { expiresOn: h.expiresOn } : {}),
    ...(h.fix !== undefined ? { fix: h.fix } : {}),
    ...(h.code !== undefined ? { code: h.code } : {}),
    ...(h.action !== undefined ? { action: h.action } : {}),
  };
}

/** credential.expiring / credential.rotated / credential.failed for the final verdicts. */
export function notificationsFor(
  checkId: string,
  health: readonly CredentialHealth[],
  rotations: readonly RotateCredentialOutput[],
): Notification[] {
  const out: Notification[] = [];
  for (const h of health) {
    // A failed rotation/refresh is a failure even while the credential itself still works (the data says so).
    if (FAILING_STATUSES.includes(h.status) || h.action?.ok === false) {
      out.push({ type: 'credential.failed', subject: credentialSubject(h), data: { checkId, ...credentialData(h) } });
    } else if (h.status === 'expiring') {
      out.push({ type: 'credential.expiring', subject: credentialSubject(h), data: { checkId, ...credentialData(h) } });
    }
  }
  for (const r of rotations) {
    if (r.outcome !== 'rotated' && r.outcome !== 'renewed') continue;
    const users = health.filter(isSecretCredential).filter((h) => secretBase(h.secret) === secretBase(r.secret));
    const tasks = [...new Set(users.map((h) => h.task))];
    out.push({
      type: 'credential.rotated',
      subject: r.secret,
      data: {
        checkId,
        secret: r.secret,
        outcome: r.outcome,
        message: r.message,
        tasks,
        ...(r.newVersion ? { newVersion: r.newVersion } : {}),
        ...(r.expiresOn ? { expiresOn: r.expiresOn } : {}),
        ...(r.passwordName ? { passwordName: r.passwordName } : {}),
        ...(r.revoked ? { revoked: r.revoked } : {}),
        ...(r.fix ? { fix: r.fix } : {}),
      },
    });
  }
  return out;
}

function totals(list: readonly CredentialHealth[]): Partial<Record<CredentialStatus, number>> {
  const t: Partial<Record<CredentialStatus, number>> = {};
  for (const c of list) t[c.status] = (t[c.status] ?? 0) + 1;
  return t;
}

function* checkAll(
  context: OrchestrationContext,
  refs: readonly CredentialRef[],
  warningDays: number,
  progress: CredentialCheckProgress,
  dims: LogDimensions,
): Generator<Task, CredentialHealth[], unknown> {
  const out: CredentialHealth[] = [];
  const batches = chunk(refs, CHECK_BATCH_SIZE);
  // Checks are reads: a window that fails transiently is checked again whole.
  for (let i = 0; i < batches.length; i += MAX_PARALLEL_CHECKS) {
    const group = batches.slice(i, i + MAX_PARALLEL_CHECKS).map((credentials) => ({ credentials, warningDays }));
    const results = yield* callActivities(
      context,
      ActivityNames.checkCredentials,
      group,
      MAX_PARALLEL_CHECKS,
      TRANSIENT_RETRY,
      dims,
    );
    for (const r of results) out.push(...r);
    progress.checked = out.length;
    context.df.setCustomStatus(progress);
  }
  return out;
}

export const credentialCheck: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput() as CredentialCheckInput;
  const checkId = input.checkId ?? context.df.instanceId;
  // Every line of the check and of its activities carries its checkId.
  const dims: LogDimensions = { checkId };
  const startedAt = context.df.currentUtcDateTime.toISOString();
  const progress: CredentialCheckProgress = { phase: 'inventory', credentials: 0, checked: 0 };
  context.df.setCustomStatus(progress);

  const inventory = yield* callActivity(context, ActivityNames.inventoryCredentials, { scope: input.scope }, { dims });
  progress.phase = 'health';
  progress.credentials = inventory.credentials.length;
  let health: CredentialHealth[] = yield* checkAll(context, inventory.credentials, input.warningDays, progress, dims);

  const planned = planActions(health, input.warningDays);
  const rotations: RotateCredentialOutput[] = [];
  if (planned.rotations.length) {
    progress.phase = 'rotate';
    context.df.setCustomStatus(progress);
    // One at a time: two secrets can name the same token, and each rotation regenerates one of its slots. Never
    // retried: a rotation whose answer was lost may have regenerated a slot already (the recheck shows the outcome).
    for (const r of planned.rotations) {
      rotations.push(yield* callActivity(context, ActivityNames.rotateCredential, r, { policy: ONE_ATTEMPT, dims }));
    }
  }
  let refreshes: RefreshCredentialOutput[] = [];
  if (planned.refreshes.length) {
    progress.phase = 'refresh';
    context.df.setCustomStatus(progress);
    // Each refresh re-checks the task before it changes it, so a window may be retried whole.
    refreshes = yield* callActivities(
      context,
      ActivityNames.refreshCredential,
      planned.refreshes,
      MAX_FAN_OUT,
      TRANSIENT_RETRY,
      dims,
    );
  }
  if (rotations.length || refreshes.length) {
    const applied = applyOutcomes(health, rotations, refreshes);
    health = applied.health;
    if (applied.recheck.length) {
      progress.phase = 'recheck';
      const fresh: CredentialHealth[] = yield* checkAll(context, applied.recheck, input.warningDays, progress, dims);
      health = mergeRecheck(health, fresh);
    }
  }

  progress.phase = 'record';
  context.df.setCustomStatus(progress);
  const checkedAt = context.df.currentUtcDateTime.toISOString();
  const record: RecordCredentialHealthInput = {
    checkId,
    trigger: input.trigger,
    scope: input.scope,
    checkedAt,
    startedAt,
    credentials: health,
    ...(inventory.errors.length ? { keepTasks: inventory.errors.map((e) => e.task) } : {}),
  };
  yield* callActivity(context, ActivityNames.recordCredentialHealth, record);

  const notifications = notificationsFor(checkId, health, rotations);
  if (notifications.length) {
    progress.phase = 'notify';
    context.df.setCustomStatus(progress);
    // Best effort: the verdicts are recorded and returned either way.
    yield* tryCallActivity(context, ActivityNames.publishNotifications, { notifications }, { dims });
  }

  progress.phase = 'done';
  context.df.setCustomStatus(progress);
  const result: CredentialCheckResult = {
    checkId,
    trigger: input.trigger,
    scope: input.scope,
    credentials: health,
    startedAt,
    finishedAt: context.df.currentUtcDateTime.toISOString(),
    totals: totals(health),
    ...(rotations.length ? { rotations } : {}),
    ...(refreshes.length ? { refreshes } : {}),
    ...(inventory.errors.length ? { errors: inventory.errors } : {}),
  };
  replaySafeLogger(context, dims).info(
    'credentialCheck.completed',
    `credentialCheck ${checkId} (${input.trigger}, ${input.scope.kind}): ${health.length} credential(s) ${JSON.stringify(result.totals)}`,
    { trigger: input.trigger, scope: input.scope.kind, credentials: health.length },
  );
  return result;
};
