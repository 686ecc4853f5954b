// Run activities: schedule a task run exactly once per (task, base digest | request, attempt), read and cancel runs,
// and recognise the pushes our own runs make. Built over injected deps (clients from src/azure only).
//
// Exactly once, step by step (scheduleRun):
//  1. claim the row `claim|<runKey>`/`attempt-<n>` in CascadeDedupe (createEntity; 409 = someone claimed it first);
//  2. a claim holding a runId → that run is returned (`deduplicated: true`);
//  3. a claim without runId (a crash between ARM accepting the run and us recording it, or a concurrent caller) →
//     look for a run of that task created since the claim carrying our correlation token (`updateTriggerToken` of
//     the run request, deterministic per key and attempt) and adopt it; a young claim (< claimTimeoutSeconds) that
//     has no run yet is waited for (`throttled`), an older one is taken over (ETag) and scheduled;
//  4. schedule (`TaskRunRequest`, full task id, base ref/digest as override values AND arguments — values for
//     EncodedTask/FileTask steps, arguments for Docker steps; the other kind is ignored by ACR) and record the runId.
//  Before 4, wait for a write token (src/azure/writePacer; too long a wait → release the claim, `throttled`).
//  429 after the SDK's own Retry-After retries → release the claim, `throttled`; 4xx → release, `rejected`; anything
//  else (the request may or may not have reached ARM) keeps the claim and throws, so the retry goes through step 3.
import type { Run, RunRequestUnion, TaskRunRequest } from '@azure/arm-containerregistry';
import { fnv1a64, parseImageRef, repositoryKey, runKey, tryParseImageRef } from '../../domain/index.js';
import { registryAddress, runFilterText, taskAddress, toRunSummary } from '../../azure/adapters.js';
import { LRO_POLL } from '../../azure/clients.js';
import {
  TERMINAL_RUN_STATUSES,
  type CancelRunInput,
  type CancelRunOutput,
  type GetRunInput,
  type IsOwnPushInput,
  type IsOwnPushOutput,
  type RunInfo,
  type RunRef,
  type ScheduleRunInput,
  type ScheduleRunOutput,
} from '../../contracts/index.js';
import type { Deps } from '../deps.js';
import { formatLine, recordOf } from '../../telemetry/log.js';
import { DEDUPE_TABLE, DedupeStore, type ClaimEntity, type OutputRow } from './dedupeStore.js';
import { RunWatcher } from './watcher.js';

export { DEDUPE_TABLE, DedupeStore } from './dedupeStore.js';

/** ARM's clock and ours differ a little: look for adopted runs from slightly before the claim. */
const CLOCK_SKEW_SECONDS = 120;
/** How far back a push is matched against the runs we scheduled. */
const OWN_PUSH_WINDOW_HOURS = 24;
/** Retry-After when ARM gave none. */
const DEFAULT_RETRY_AFTER_SECONDS = 30;

export const BASE_IMAGE_VALUE = 'CASCADE_BASE_IMAGE';
export const BASE_DIGEST_VALUE = 'CASCADE_BASE_DIGEST';

export interface RunActivities {
  scheduleRun(input: ScheduleRunInput): Promise<ScheduleRunOutput>;
  getRun(input: GetRunInput): Promise<RunInfo>;
  cancelRun(input: CancelRunInput): Promise<CancelRunOutput>;
  isOwnPush(input: IsOwnPushInput): Promise<IsOwnPushOutput>;
  /** The claim row of (task, base digest | request, attempt), for tests and diagnostics. */
  claimOf(
    input: Pick<ScheduleRunInput, 'task' | 'base' | 'requestId' | 'cascadeId' | 'attempt'>,
  ): Promise<ClaimEntity | undefined>;
}

function isTerminal(status: string): boolean {
  return (TERMINAL_RUN_STATUSES as readonly string[]).includes(status);
}

/** The exactly-once key (domain runKey) of a schedule request. */
export function keyOf(input: Pick<ScheduleRunInput, 'task' | 'base' | 'requestId' | 'cascadeId'>): string {
  const subject = input.requestId ? `request-${input.requestId}` : (input.base?.digest ?? `nobase-${input.cascadeId}`);
  return runKey(input.task, subject);
}

/** Correlation token put on the run (`updateTriggerToken`), deterministic per key and attempt. */
export function tokenOf(key: string, attempt: number): string {
  return Buffer.from(`acr-cascade:${fnv1a64(`${key}|${attempt}`)}`, 'utf8').toString('base64');
}

function restStatus(err: unknown): number | undefined {
  const s = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

function retryAfterOf(err: unknown): number {
  const headers = (err as { response?: { headers?: { get(name: string): string | undefined } } }).response?.headers;
  const raw = headers?.get('retry-after');
  if (raw !== undefined) {
    const n = Number(raw);
    if (Number.isFinite(n) && n >= 0) return Math.max(1, Math.ceil(n));
    const t = Date.parse(raw);
    if (!Number.isNaN(t)) return Math.max(1, Math.ceil((t - Date.now()) / 1000));
  }
  return DEFAULT_RETRY_AFTER_SECONDS;
}

function firstLine(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return (m.split(/\r?\n/)[0] ?? '').slice(0, 500);
}

function runInfoOf(run: Run, registryId: string): RunInfo {
  const s = toRunSummary(run, registryId);
  const info: RunInfo = { runId: s.runId, status: s.status, outputImages: s.outputImages };
  if (s.startTime) info.startTime = s.startTime;
  if (s.finishTime) info.finishTime = s.finishTime;
  if (s.runErrorMessage) info.runErrorMessage = s.runErrorMessage;
  return info;
}

/** `loginServer/repository` of an output ref (template tags allowed); undefined when it cannot be parsed. */
function outputRepository(ref: string): string | undefined {
  const p = tryParseImageRef(ref, { allowTemplateTag: true });
  return p ? `${p.loginServer}/${p.repository}` : undefined;
}

export interface RunActivitiesOptions {
  /** A push by ACR's own run in a cascade's chain (activities/nativeTriggers): also the cascade's own push. */
  nativeChainPush?: (image: IsOwnPushInput['image']) => Promise<IsOwnPushOutput>;
}

export function createRunActivities(deps: Deps, options: RunActivitiesOptions = {}): RunActivities {
  const store = new DedupeStore(deps.clients.table(DEDUPE_TABLE));
  const iso = () => deps.now().toISOString();

  const watcher = new RunWatcher(
    async (registryId, filter) => {
      const a = registryAddress(registryId);
      const out: Run[] = [];
      for await (const r of deps.clients.acr(a.subscriptionId).runs.list(a.resourceGroup, a.name, { filter })) {
        out.push(r);
      }
      return out;
    },
    () => deps.now().getTime(),
  );

  async function getRunRaw(ref: RunRef): Promise<Run> {
    const a = registryAddress(ref.registryId);
    return deps.clients.acr(a.subscriptionId).runs.get(a.resourceGroup, a.name, ref.runId);
  }

  async function cancelOne(ref: RunRef): Promise<'canceled' | 'finished'> {
    const run = await getRunRaw(ref);
    if (isTerminal(runInfoOf(run, ref.registryId).status)) return 'finished';
    const a = registryAddress(ref.registryId);
    await deps.clients.acr(a.subscriptionId).runs.beginCancelAndWait(a.resourceGroup, a.name, ref.runId, LRO_POLL);
    return 'canceled';
  }

  /** A run of `taskName` created since `since` that carries `token`. */
  async function findRun(registryId: string, taskName: string, since: string, token: string): Promise<Run | undefined> {
    const a = registryAddress(registryId);
    const from = new Date(Date.parse(since) - CLOCK_SKEW_SECONDS * 1000).toISOString();
    const filter = runFilterText({ taskName, createdAfter: from });
    const pages = deps.clients
      .acr(a.subscriptionId)
      .runs.list(a.resourceGroup, a.name, filter ? { filter } : {})
      .byPage();
    for await (const page of pages) {
      const hit = page.find((r) => r.updateTriggerToken === token);
      if (hit) return hit;
    }
    return undefined;
  }

  function runRequest(input: ScheduleRunInput, token: string): TaskRunRequest {
    const overrides = input.base
      ? [
          { name: BASE_IMAGE_VALUE, value: input.base.ref, isSecret: false },
          { name: BASE_DIGEST_VALUE, value: input.base.digest, isSecret: false },
        ]
      : [];
    return {
      type: 'TaskRunRequest',
      taskId: input.task,
      overrideTaskStepProperties: {
        ...(overrides.length > 0 ? { values: overrides, arguments: overrides } : {}),
        updateTriggerToken: token,
      },
    };
  }

  async function recordOutputs(input: ScheduleRunInput, registryId: string, runId: string, at: string) {
    const rows: OutputRow[] = [];
    for (const ref of input.outputImages ?? []) {
      const repository = outputRepository(ref);
      if (repository && !rows.some((r) => r.repository === repository)) {
        rows.push({ repository, registryId, runId, task: input.task, cascadeId: input.cascadeId, scheduledAt: at });
      }
    }
    await store.addOutputs(rows);
  }

  return {
    async scheduleRun(input) {
      if (!Number.isInteger(input.attempt) || input.attempt < 1) {
        throw new RangeError(`attempt: '${String(input.attempt)}' is not an integer >= 1`);
      }
      const addr = taskAddress(input.task);
      if (input.cascadeStartedAt && (await store.isCanceled(input.cascadeId, input.cascadeStartedAt))) {
        return { kind: 'rejected', code: 'CascadeCanceled', message: `cascade ${input.cascadeId} was canceled` };
      }
      const key = keyOf(input);
      const partitionKey = `claim|${key}`;
      const rowKey = `attempt-${input.attempt}`;
      const token = tokenOf(key, input.attempt);
      const claimedAt = iso();
      const entity: ClaimEntity = {
        partitionKey,
        rowKey,
        cascadeId: input.cascadeId,
        task: input.task,
        registryId: addr.registryId,
        claimedAt,
        token,
        attempt: input.attempt,
        ...(input.base ? { baseRef: input.base.ref, baseDigest: input.base.digest } : {}),
      };

      const claim = await store.claim(entity);
      let etag: string;
      if (claim.claimed) {
        etag = claim.etag;
      } else {
        const row = claim.existing;
        if (row.runId) {
          const info = runInfoOf(await getRunRaw({ registryId: row.registryId, runId: row.runId }), row.registryId);
          deps.log(
            formatLine(
              `scheduleRun ${addr.taskName} attempt ${input.attempt}: already scheduled as ${row.runId}`,
              recordOf('run.deduplicated', { runId: row.runId }, { attempt: input.attempt }),
            ),
          );
          return {
            kind: 'scheduled',
            runId: row.runId,
            registryId: row.registryId,
            status: info.status,
            deduplicated: true,
          };
        }
        // Claimed but no run recorded: did ARM accept it before the claimant stopped?
        const found = await findRun(addr.registryId, addr.taskName, row.claimedAt, row.token || token);
        if (found?.runId) {
          await store.recordRun(partitionKey, rowKey, found.runId, iso());
          await recordOutputs(input, addr.registryId, found.runId, iso());
          deps.log(
            formatLine(
              `scheduleRun ${addr.taskName} attempt ${input.attempt}: adopted run ${found.runId}`,
              recordOf('run.recovered', { runId: found.runId }, { attempt: input.attempt }),
            ),
          );
          return {
            kind: 'scheduled',
            runId: found.runId,
            registryId: addr.registryId,
            status: runInfoOf(found, addr.registryId).status,
            deduplicated: true,
          };
        }
        const age = (deps.now().getTime() - Date.parse(row.claimedAt)) / 1000;
        const staleAfter = deps.settings.claimTimeoutSeconds;
        if (!(age >= staleAfter)) {
          // Someone may be scheduling it right now: look again later rather than risk a second run.
          return {
            kind: 'throttled',
            retryAfterSeconds: Math.min(60, Math.max(5, Math.ceil(staleAfter - age))),
          };
        }
        const took = await store.takeOver(row, claimedAt, input.cascadeId);
        if (took === undefined) return { kind: 'throttled', retryAfterSeconds: 5 };
        deps.log(
          `scheduleRun ${addr.taskName} attempt ${input.attempt}: took over a stale claim from ${row.claimedAt}`,
        );
        etag = took;
      }

      // Wait for ARM's write bucket here rather than burn requests on 429s; a long wait goes to a durable timer.
      const permit = await deps.clients.writePacer.acquire(addr.subscriptionId);
      if (permit.kind === 'throttled') {
        await store.release(partitionKey, rowKey, etag);
        deps.log(
          formatLine(
            `scheduleRun ${addr.taskName}: write bucket empty; retry after ${permit.retryAfterSeconds}s`,
            recordOf('arm.throttled', {}, { source: 'pacer', retryAfterSeconds: permit.retryAfterSeconds }),
          ),
        );
        return { kind: 'throttled', retryAfterSeconds: permit.retryAfterSeconds };
      }
      let run: Run;
      try {
        const request: RunRequestUnion = runRequest(input, token);
        run = await deps.clients
          .acr(addr.subscriptionId)
          .registries.beginScheduleRunAndWait(addr.resourceGroup, addr.name, request, LRO_POLL);
      } catch (err) {
        const code = restStatus(err);
        if (code === 429) {
          await store.release(partitionKey, rowKey, etag);
          const retryAfterSeconds = retryAfterOf(err);
          deps.log(
            formatLine(
              `scheduleRun ${addr.taskName}: throttled by ARM; retry after ${retryAfterSeconds}s`,
              // the 429 itself is logged as arm.throttled by the write pacer's pipeline policy
              recordOf('run.deferred', {}, { source: 'arm', retryAfterSeconds }),
            ),
          );
          return { kind: 'throttled', retryAfterSeconds };
        }
        if (code !== undefined && code >= 400 && code < 500 && code !== 408) {
          await store.release(partitionKey, rowKey, etag);
          const errCode = (err as { code?: string }).code ?? String(code);
          deps.log(`scheduleRun ${addr.taskName}: rejected ${code} ${errCode}`);
          return { kind: 'rejected', code: errCode, message: firstLine(err) };
        }
        throw err;
      }
      const runId = run.runId ?? run.name;
      if (!runId) throw new Error(`scheduleRun ${input.task}: ARM answered without a run id`);
      const at = iso();
      await store.recordRun(partitionKey, rowKey, runId, at);
      await recordOutputs(input, addr.registryId, runId, at);
      // The pacer's in-process wait for the write bucket counts as a throttling wait too (the KQL sums both).
      deps.log(
        formatLine(
          `scheduleRun ${addr.taskName} attempt ${input.attempt}: run ${runId}`,
          recordOf('run.scheduled', { runId }, { attempt: input.attempt, pacerWaitMs: permit.waitedMs }),
        ),
      );
      return {
        kind: 'scheduled',
        runId,
        registryId: addr.registryId,
        status: runInfoOf(run, addr.registryId).status,
        deduplicated: false,
      };
    },

    async getRun(input) {
      const listed = input.watch ? await watcher.find(input, input.watch) : undefined;
      const info = runInfoOf(listed ?? (await getRunRaw(input)), input.registryId);
      if (
        !isTerminal(info.status) &&
        input.cascadeId &&
        input.cascadeStartedAt &&
        (await store.isCanceled(input.cascadeId, input.cascadeStartedAt))
      ) {
        await cancelOne(input);
        return runInfoOf(await getRunRaw(input), input.registryId);
      }
      return info;
    },

    async cancelRun(input) {
      if (input.cascadeStartedAt) await store.markCanceled(input.cascadeId, input.cascadeStartedAt, iso());
      const refs = new Map<string, RunRef>();
      for (const r of input.runs ?? []) refs.set(`${r.registryId}|${r.runId}`.toLowerCase(), r);
      for (const t of input.tasks ?? []) {
        const key = keyOf({
          task: t.task,
          cascadeId: input.cascadeId,
          ...(t.base ? { base: t.base } : {}),
          ...(t.requestId ? { requestId: t.requestId } : {}),
        });
        for (let attempt = 1; attempt <= Math.max(1, t.attempts); attempt++) {
          const row = await store.getClaim(`claim|${key}`, `attempt-${attempt}`);
          if (row?.runId)
            refs.set(`${row.registryId}|${row.runId}`.toLowerCase(), { registryId: row.registryId, runId: row.runId });
        }
      }
      const out: CancelRunOutput = { canceled: [], finished: [] };
      for (const ref of refs.values()) {
        const r = await cancelOne(ref);
        (r === 'canceled' ? out.canceled : out.finished).push(ref.runId);
      }
      deps.log(
        `cancelRun ${input.cascadeId}: canceled ${out.canceled.length}, already finished ${out.finished.length}`,
      );
      return out;
    },

    async isOwnPush(input) {
      const image = parseImageRef(input.image.ref);
      const repository = repositoryKey(image);
      const since = new Date(deps.now().getTime() - OWN_PUSH_WINDOW_HOURS * 3600_000).toISOString();
      const candidates = await store.listOutputs(repository, since);
      // Not (yet) a run the cascade scheduled or adopted: it may be ACR's own run in a cascade's chain.
      const orNative = async (no: IsOwnPushOutput) => (await options.nativeChainPush?.(input.image)) ?? no;
      if (candidates.length === 0) return orNative({ own: false, reason: `no run of ours pushes to ${repository}` });
      const manifest = `${image.repository}@${input.image.digest}`;
      for (const c of candidates.slice(0, 5)) {
        let info: RunInfo;
        try {
          info = runInfoOf(await getRunRaw(c), c.registryId);
        } catch (err) {
          if (restStatus(err) === 404) continue;
          throw err;
        }
        if (info.outputImages.some((o) => o.endsWith(`@${input.image.digest}`) || o.includes(manifest))) {
          return { own: true, reason: `pushed by our run ${c.runId} of ${c.task}`, runId: c.runId };
        }
        if (!isTerminal(info.status)) {
          // Still running: ACR records outputs when the run ends, after the push event was sent.
          return { own: true, reason: `our run ${c.runId} of ${c.task} is building ${repository}`, runId: c.runId };
        }
      }
      return orNative({ own: false, reason: `no recent run of ours produced ${repository}@${input.image.digest}` });
    },

    async claimOf(input) {
      const key = keyOf(input);
      return store.getClaim(`claim|${key}`, `attempt-${input.attempt}`);
    },
  };
}
