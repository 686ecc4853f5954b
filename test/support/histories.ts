// Replay harness for orchestrators: hand-made histories through the REAL durable-functions executor.
//
// `ReplayDriver` plays the part of the Durable extension the way the local host does (local-host-notes §2): it runs
// the orchestrator over the history, numbers the NEW actions it returns (every action except WaitForExternalEvent and
// ContinueAsNew takes the next task id), appends their scheduling events, and lets the test append completions,
// timer firings and raised events — one episode at a time — then runs the orchestrator again. Tests assert on the
// actions scheduled, in order, and on custom status and output. Additive: other helpers may extend it.
import * as df from 'durable-functions';
import {
  ActionType,
  EventType,
  REPLAY_SCHEMA_V4,
  flattenActions,
  type HistoryEvent,
  type OrchestratorState,
  type WireAction,
} from '../../local/host/durable/protocol.js';
import type {
  CascadeInput,
  PlanView,
  PlanEntry,
  PreflightOutput,
  PushedImage,
  TaskResult,
} from '../../src/contracts/index.js';

export { ActionType, EventType, type HistoryEvent, type OrchestratorState, type WireAction };

/** A scheduled unit the orchestrator asked for, with the task id the driver gave it. */
export interface Scheduled {
  id: number;
  kind: 'activity' | 'subOrchestration' | 'timer' | 'entityCall' | 'entitySignal';
  /** Entity calls and signals: the operation name (`instanceId` holds the entity's `@name@key`). */
  name: string;
  input: unknown;
  /** Sub-orchestrations: the instance id asked for. */
  instanceId?: string;
  /** Timers: when it fires. */
  fireAt?: string;
  retry?: { maxNumberOfAttempts: number; firstRetryIntervalInMilliseconds: number; attempt: number };
  canceled?: boolean;
}

export interface EpisodeResult {
  state: OrchestratorState;
  /** Actions first returned in this episode (numbered). */
  scheduled: Scheduled[];
  /** External event names the orchestrator waits for (new this episode). */
  waits: string[];
  continuedAsNew?: { input: unknown };
  /** The orchestrator threw: its message (before `$OutOfProcData$`). */
  failure?: string;
}

type OrchestratorFn = (context: df.OrchestrationContext) => Generator<unknown, unknown, unknown>;
type OrchestrationListener = (binding: unknown, context: unknown) => Promise<unknown>;

/** The library's own test utilities (not re-exported from its index and shipped without types). */
interface TestingUtils {
  createOrchestrator(fn: OrchestratorFn): OrchestrationListener;
  DurableOrchestrationInput: new (
    instanceId: string,
    history: unknown[],
    input: unknown,
    longRunningTimerIntervalDuration: string,
    maximumShortTimerDuration: string,
    defaultHttpAsyncRequestSleepTimeMillseconds: number,
    schemaVersion: number,
  ) => unknown;
}

let testing: Promise<TestingUtils> | undefined;
function testingUtils(): Promise<TestingUtils> {
  // A computed specifier keeps the compiler from looking for the (absent) declaration file.
  const specifier: string = 'durable-functions/lib/src/util/testingUtils';
  testing ??= (import(specifier) as Promise<TestingUtils & { default?: TestingUtils }>).then((m) =>
    typeof m.createOrchestrator === 'function' ? m : (m.default as TestingUtils),
  );
  return testing;
}

function decodeInput(input: unknown): unknown {
  if (typeof input !== 'string') return input;
  try {
    return JSON.parse(input) as unknown;
  } catch {
    return input;
  }
}

export interface ReplayDriverOptions {
  instanceId?: string;
  name?: string;
  /** Orchestration start time (default 2024-01-01T00:00:00Z). */
  start?: Date;
  /** Collects the orchestrator's `context.log` lines. */
  logs?: string[];
}

export class ReplayDriver {
  readonly history: HistoryEvent[] = [];
  readonly instanceId: string;
  /** Every action numbered so far, by task id. */
  readonly byId = new Map<number, Scheduled>();
  /** All scheduled units in order. */
  readonly all: Scheduled[] = [];
  now: Date;
  private nextSeq = 0;
  private recorded = 0;
  private handler: OrchestrationListener | undefined;
  private readonly fn: OrchestratorFn;
  private readonly logs: string[] | undefined;
  last?: EpisodeResult;

  constructor(
    fn: OrchestratorFn,
    private readonly input: unknown,
    options: ReplayDriverOptions = {},
  ) {
    this.instanceId = options.instanceId ?? 'test-instance';
    this.now = options.start ?? new Date('2024-01-01T00:00:00Z');
    this.logs = options.logs;
    this.fn = fn;
    this.history.push(
      { EventType: EventType.OrchestratorStarted, EventId: -1, Timestamp: this.now.toISOString() },
      {
        EventType: EventType.ExecutionStarted,
        EventId: -1,
        Timestamp: this.now.toISOString(),
        Name: options.name ?? 'orchestrator',
        Input: JSON.stringify(input),
      },
    );
  }

  /** Moves the clock (the next episode's OrchestratorStarted carries it). */
  advance(seconds: number): this {
    this.now = new Date(this.now.getTime() + seconds * 1000);
    return this;
  }

  private newEpisode(): void {
    this.history.push({ EventType: EventType.OrchestratorStarted, EventId: -1, Timestamp: this.now.toISOString() });
  }

  /** Runs the orchestrator over the history; numbers and records what it newly scheduled. */
  async run(): Promise<EpisodeResult> {
    const utils = await testingUtils();
    this.handler ??= utils.createOrchestrator(this.fn);
    const binding = new utils.DurableOrchestrationInput(
      this.instanceId,
      structuredClone(this.history),
      this.input,
      '3.00:00:00',
      '6.00:00:00',
      30000,
      REPLAY_SCHEMA_V4,
    );
    const context = new df.DummyOrchestrationContext('orchestrator', undefined, (_level, ...args) =>
      this.logs?.push(args.map(String).join(' ')),
    );
    let state: OrchestratorState;
    let failure: string | undefined;
    try {
      state = (await this.handler(binding, context)) as OrchestratorState;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const [msg, data] = message.split('\n\n$OutOfProcData$:');
      failure = msg;
      state = data ? (JSON.parse(data) as OrchestratorState) : { isDone: true, actions: [] };
    }
    const flat = flattenActions(state.actions ?? []);
    const fresh = flat.slice(this.recorded);
    this.recorded = flat.length;
    const scheduled: Scheduled[] = [];
    const waits: string[] = [];
    let continuedAsNew: EpisodeResult['continuedAsNew'];
    for (const a of fresh) this.record(a, scheduled, waits, (x) => (continuedAsNew = { input: x }));
    // Timers canceled in this episode (isCanceled set on a replayed action).
    for (const a of flat) {
      if (a.actionType === ActionType.CreateTimer && a.isCanceled) {
        const s = this.all.find((x) => x.kind === 'timer' && x.fireAt === a.fireAt && !x.canceled);
        if (s) s.canceled = true;
      }
    }
    this.last = {
      state,
      scheduled,
      waits,
      ...(continuedAsNew ? { continuedAsNew } : {}),
      ...(failure !== undefined ? { failure } : {}),
    };
    return this.last;
  }

  private record(a: WireAction, out: Scheduled[], waits: string[], onContinue: (input: unknown) => void): void {
    const ts = this.now.toISOString();
    switch (a.actionType) {
      case ActionType.CallActivity:
      case ActionType.CallActivityWithRetry: {
        const s: Scheduled = {
          id: this.nextSeq++,
          kind: 'activity',
          name: a.functionName ?? '',
          input: decodeInput(a.input),
        };
        if (a.actionType === ActionType.CallActivityWithRetry && a.retryOptions) {
          s.retry = {
            maxNumberOfAttempts: a.retryOptions.maxNumberOfAttempts,
            firstRetryIntervalInMilliseconds: a.retryOptions.firstRetryIntervalInMilliseconds,
            attempt: 1,
          };
        }
        this.history.push({
          EventType: EventType.TaskScheduled,
          EventId: s.id,
          Name: s.name,
          Input: JSON.stringify(s.input),
          Timestamp: ts,
        });
        this.add(s, out);
        return;
      }
      case ActionType.CallSubOrchestrator:
      case ActionType.CallSubOrchestratorWithRetry: {
        const s: Scheduled = {
          id: this.nextSeq++,
          kind: 'subOrchestration',
          name: a.functionName ?? '',
          input: a.input,
          ...(a.instanceId ? { instanceId: a.instanceId } : {}),
        };
        this.history.push({
          EventType: EventType.SubOrchestrationInstanceCreated,
          EventId: s.id,
          Name: s.name,
          InstanceId: a.instanceId ?? `${this.instanceId}:${s.id}`,
          Input: JSON.stringify(a.input),
          Timestamp: ts,
        });
        this.add(s, out);
        return;
      }
      case ActionType.CreateTimer: {
        const fireAt = new Date(a.fireAt ?? ts).toISOString();
        const s: Scheduled = { id: this.nextSeq++, kind: 'timer', name: 'timer', input: undefined, fireAt };
        if (a.isCanceled) s.canceled = true;
        this.history.push({ EventType: EventType.TimerCreated, EventId: s.id, FireAt: fireAt, Timestamp: ts });
        this.add(s, out);
        return;
      }
      case ActionType.CallEntity:
      case ActionType.SignalEntity: {
        // Like the host: EventSent records the request; a call's answer is an EventRaised named after its request id.
        const signal = a.actionType === ActionType.SignalEntity;
        const s: Scheduled = {
          id: this.nextSeq++,
          kind: signal ? 'entitySignal' : 'entityCall',
          name: a.operation ?? '',
          input: decodeInput(a.input),
          instanceId: a.instanceId ?? '',
        };
        this.history.push({
          EventType: EventType.EventSent,
          EventId: s.id,
          InstanceId: s.instanceId,
          Name: 'op',
          Input: JSON.stringify({ op: s.name, signal, id: `request-${s.id}`, parent: this.instanceId }),
          Timestamp: ts,
        });
        this.add(s, out);
        if (signal) this.answered.add(s.id);
        return;
      }
      case ActionType.WaitForExternalEvent:
        waits.push(a.externalEventName ?? '');
        return;
      case ActionType.ContinueAsNew:
        onContinue(decodeInput(a.input));
        return;
      default:
        throw new Error(`ReplayDriver: action type ${a.actionType} is not supported`);
    }
  }

  private add(s: Scheduled, out: Scheduled[]): void {
    this.byId.set(s.id, s);
    this.all.push(s);
    out.push(s);
  }

  private get(id: number): Scheduled {
    const s = this.byId.get(id);
    if (!s) throw new Error(`ReplayDriver: no task ${id}`);
    return s;
  }

  /** The last scheduled unit (optionally of a name) that has not been answered yet. */
  pending(name?: string): Scheduled[] {
    return this.all.filter((s) => !this.answered.has(s.id) && (name === undefined || s.name === name));
  }

  private readonly answered = new Set<number>();

  /** Completes an activity, sub-orchestration or entity call in a new episode. */
  complete(id: number, result: unknown): this {
    const s = this.get(id);
    this.answered.add(id);
    this.newEpisode();
    if (s.kind === 'entityCall') {
      this.history.push({
        EventType: EventType.EventRaised,
        EventId: -1,
        Name: `request-${id}`,
        Input: JSON.stringify({ result: JSON.stringify(result ?? null) }),
        Timestamp: this.now.toISOString(),
      });
      return this;
    }
    this.history.push({
      EventType: s.kind === 'subOrchestration' ? EventType.SubOrchestrationInstanceCompleted : EventType.TaskCompleted,
      EventId: -1,
      TaskScheduledId: id,
      Result: JSON.stringify(result ?? null),
      Timestamp: this.now.toISOString(),
    });
    return this;
  }

  /**
   * Fails an activity or sub-orchestration. For a call with retry options this is one failed attempt: like the
   * host, the driver records the retry timer at once; `fireTimer` on it schedules the next attempt.
   */
  fail(id: number, message: string): this {
    const s = this.get(id);
    this.newEpisode();
    this.history.push({
      EventType: s.kind === 'subOrchestration' ? EventType.SubOrchestrationInstanceFailed : EventType.TaskFailed,
      EventId: -1,
      TaskScheduledId: id,
      Reason: message,
      Details: 'test failure',
      Timestamp: this.now.toISOString(),
    });
    if (s.retry) {
      const timerId = this.nextSeq++;
      const fireAt = new Date(this.now.getTime() + s.retry.firstRetryIntervalInMilliseconds).toISOString();
      this.history.push({
        EventType: EventType.TimerCreated,
        EventId: timerId,
        FireAt: fireAt,
        Timestamp: this.now.toISOString(),
      });
      const timer: Scheduled = {
        id: timerId,
        kind: 'timer',
        name: `retry:${s.name}`,
        input: undefined,
        fireAt,
        retry: { ...s.retry },
      };
      this.byId.set(timerId, timer);
      this.retryOf.set(timerId, s);
    }
    this.answered.add(id);
    return this;
  }

  private readonly retryOf = new Map<number, Scheduled>();

  /** Fires a timer in a new episode (a retry timer also schedules the next attempt, as the host does). */
  fireTimer(id: number): this {
    const s = this.get(id);
    if (s.kind !== 'timer') throw new Error(`ReplayDriver: task ${id} is not a timer`);
    this.answered.add(id);
    this.newEpisode();
    this.history.push({
      EventType: EventType.TimerFired,
      EventId: -1,
      TimerId: id,
      FireAt: s.fireAt ?? this.now.toISOString(),
      Timestamp: this.now.toISOString(),
    });
    const retried = this.retryOf.get(id);
    if (retried?.retry && retried.retry.attempt < retried.retry.maxNumberOfAttempts) {
      const next: Scheduled = {
        ...retried,
        id: this.nextSeq++,
        retry: { ...retried.retry, attempt: retried.retry.attempt + 1 },
      };
      this.history.push({
        EventType: EventType.TaskScheduled,
        EventId: next.id,
        Name: next.name,
        Input: JSON.stringify(next.input),
        Timestamp: this.now.toISOString(),
      });
      this.byId.set(next.id, next);
      this.all.push(next);
    }
    return this;
  }

  /** Raises an external event in a new episode (several in one call share the episode). */
  raise(name: string, data: unknown, ...more: { name: string; data: unknown }[]): this {
    this.newEpisode();
    for (const e of [{ name, data }, ...more]) {
      this.history.push({
        EventType: EventType.EventRaised,
        EventId: -1,
        Name: e.name,
        Input: JSON.stringify(e.data),
        Timestamp: this.now.toISOString(),
      });
    }
    return this;
  }

  /** The orchestrator's custom status after the last run. */
  get customStatus(): unknown {
    return this.last?.state.customStatus;
  }
}

// ---- cascade fixtures: ids, digests, plans and inputs shaped like the activities return them ---------------------

export const SUB = '00000000-0000-0000-0000-000000000001';
export const BASE_REGISTRY = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/mybaseregistry`;
export const APP_REGISTRY = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/myregistry`;
export const BASE_REF = 'mybaseregistry.azurecr.io/baseimages/node:15-alpine';

export function digest(c: string): string {
  return `sha256:${c.repeat(64).slice(0, 64)}`;
}

export function taskId(name: string): string {
  return `${APP_REGISTRY}/tasks/${name}`;
}

export function push(d: string, eventId: string, eventTime: string): PushedImage {
  return { ref: BASE_REF, digest: d, registryId: BASE_REGISTRY, eventId, eventTime };
}

export function cascadeInput(overrides: Partial<CascadeInput> = {}): CascadeInput {
  return {
    trigger: 'event',
    image: push(digest('a'), 'e1', '2024-01-01T00:00:00Z'),
    tagKey: 'cascade-mybaseregistry-0123456789abcdef',
    settleSeconds: 30,
    maxParallelRuns: 20,
    transientRetries: 1,
    autoRemediate: false,
    pollInitialSeconds: 10,
    pollMaxSeconds: 60,
    ...overrides,
  };
}

/** A plan whose wave k+1 tasks build from the outputs of every wave k task. */
export function planOf(waves: string[][], extra: { skip?: string[]; blocked?: string[] } = {}): PlanView {
  const tasks: Record<string, PlanEntry> = {};
  const ids = waves.map((w) => w.map(taskId));
  ids.forEach((wave, i) => {
    for (const id of wave) {
      const name = id.split('/').pop() as string;
      tasks[id] = {
        task: id,
        taskName: name,
        registryId: APP_REGISTRY,
        wave: i + 1,
        decision: 'rebuild',
        reasons: [],
        identity: {},
        baseImages:
          i === 0
            ? [{ ref: BASE_REF, why: 'declared' }]
            : (ids[i - 1] ?? []).map((p) => ({
                ref: `myregistry.azurecr.io/${p.split('/').pop()}:latest`,
                why: 'output' as const,
              })),
        dependsOn: i === 0 ? [] : [...(ids[i - 1] ?? [])],
        outputImages: [`myregistry.azurecr.io/${name}:latest`],
        // As buildPlan carries them from the domain planner.
        triggers:
          i === 0
            ? [{ why: 'declared', image: BASE_REF }]
            : (ids[i - 1] ?? []).map((p) => ({
                why: 'output' as const,
                image: `myregistry.azurecr.io/${p.split('/').pop()}:latest`,
                producerTaskId: p,
              })),
      };
    }
  });
  for (const name of extra.skip ?? []) {
    const id = taskId(name);
    tasks[id] = {
      task: id,
      taskName: name,
      registryId: APP_REGISTRY,
      wave: 0,
      decision: 'skip',
      reasons: [{ code: 'UpToDate', severity: 'info', message: `Task '${name}' was last built from ${BASE_REF}.` }],
      identity: {},
      baseImages: [{ ref: BASE_REF, why: 'recorded', digest: digest('a') }],
      dependsOn: [],
      outputImages: [],
    };
  }
  return { image: { ref: BASE_REF, digest: digest('a') }, waves: ids, tasks, cycles: [] };
}

export function ready(...names: string[]): PreflightOutput {
  const out: PreflightOutput = {};
  for (const n of names) out[taskId(n)] = { task: taskId(n), decision: 'ready', reasons: [], identity: {} };
  return out;
}

export function blockedVerdict(name: string, withRemediation = false): PreflightOutput {
  const id = taskId(name);
  return {
    [id]: {
      task: id,
      decision: 'blocked',
      identity: {},
      reasons: [
        {
          code: 'MissingPullPermission',
          severity: 'blocking',
          message: `Identity of task '${name}' cannot pull 'baseimages/node'.`,
          fix: `az role assignment create --assignee 1111 --scope ${BASE_REGISTRY} --role acrpull`,
          ...(withRemediation
            ? {
                remediation: {
                  kind: 'roleAssignment' as const,
                  scope: BASE_REGISTRY,
                  principalId: '1111',
                  roleDefinitionGuid: '7f951dda-4ed3-4680-a7ca-43fe172d538d',
                  roleName: 'AcrPull',
                },
              }
            : {}),
        },
      ],
    },
  };
}

export function succeeded(name: string, wave: number, runId: string): TaskResult {
  return {
    task: taskId(name),
    taskName: name,
    wave,
    decision: 'rebuild',
    outcome: 'succeeded',
    reasons: [],
    run: { runId, status: 'Succeeded', outputImages: [], attempts: 1, registryId: APP_REGISTRY },
  };
}

export function failed(name: string, wave: number, runId: string): TaskResult {
  return {
    task: taskId(name),
    taskName: name,
    wave,
    decision: 'rebuild',
    outcome: 'failed',
    reasons: [{ code: 'RunFailed', severity: 'blocking', message: `Run ${runId} failed.` }],
    run: { runId, status: 'Failed', outputImages: [], attempts: 2, registryId: APP_REGISTRY },
  };
}
