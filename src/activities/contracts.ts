// Names and input/output types of every activity and orchestration. SDK-free: orchestrators import this module
// (types and name constants only) and never the activities themselves. Everything here is small, JSON-serialisable
// and free of secret values, because it is written to orchestration history.
import type { Reason } from '../domain/index.js';

export const ActivityNames = {
  buildPlan: 'buildPlan',
  preflightTasks: 'preflightTasks',
  remediatePull: 'remediatePull',
  scheduleRun: 'scheduleRun',
  getRun: 'getRun',
  cancelRun: 'cancelRun',
  isOwnPush: 'isOwnPush',
  recordCascade: 'recordCascade',
  publishNotifications: 'publishNotifications',
  refreshIndex: 'refreshIndex',
  inventoryCredentials: 'inventoryCredentials',
  checkCredentials: 'checkCredentials',
  refreshCredential: 'refreshCredential',
  rotateCredential: 'rotateCredential',
  recordCredentialHealth: 'recordCredentialHealth',
} as const;

export const OrchestrationNames = {
  rebuildCascade: 'rebuildCascade',
  rebuildTask: 'rebuildTask',
  credentialCheck: 'credentialCheck',
  refreshIndex: 'refreshIndexOrchestration',
} as const;

/** External event raised on a running cascade by later pushes of the same repository:tag. */
export const PUSH_EVENT = 'push';

// ---- images and plans ----------------------------------------------------------------------------------------------

/** A pushed (or requested) base image. `ref` is a full tag reference; `digest` is `sha256:…`. */
export interface PushedImage {
  ref: string;
  digest: string;
  registryId: string;
  eventId?: string;
  /** ISO time the registry reported. */
  eventTime?: string;
}

export type PlanDecision = 'rebuild' | 'skip' | 'blocked';

export interface PlannedBase {
  ref: string;
  digest?: string;
  why: 'recorded' | 'declared' | 'output';
}

export interface PlannedTask {
  task: string; // task ARM id
  taskName: string;
  registryId: string;
  wave: number;
  decision: PlanDecision;
  reasons: Reason[];
  /** login server → the principal the run uses there (for the report). */
  identity: Record<string, { kind: 'system' | 'user'; principalId: string; clientId?: string }>;
  baseImages: PlannedBase[];
  /** Task ids in this plan whose outputs this task builds on (the next wave waits for them). */
  dependsOn: string[];
  /** Output image references (templates kept). */
  outputImages: string[];
}

export interface Plan {
  image?: { ref: string; digest?: string };
  /** Task ids per wave, wave 1 first. */
  waves: string[][];
  tasks: Record<string, PlannedTask>;
  /** Each cycle as the task ids that form it (not scheduled). */
  cycles: string[][];
  /** ISO time the index the plan was computed from was last refreshed. */
  indexRefreshedAt?: string;
}

export interface BuildPlanInput {
  /** Plan the dependents of this image (`digest` marks up-to-date tasks). */
  image?: { ref: string; digest?: string };
  /** Or plan exactly these tasks (on-demand rebuild). */
  tasks?: string[];
  /** Run preflight for the tasks (the HTTP plan does; the cascade preflights per wave instead). */
  preflight: boolean;
}

export interface PreflightInput {
  taskIds: string[];
  /** The base being rolled out (for reasons and fixes). */
  image?: { ref: string; digest?: string };
}

export interface PreflightVerdict {
  task: string;
  decision: 'ready' | 'blocked';
  reasons: Reason[];
  identity: PlannedTask['identity'];
}

export type PreflightOutput = Record<string, PreflightVerdict>;

export interface RemediateInput {
  task: string;
  reasons: Reason[];
}
export interface RemediateOutput {
  created: { scope: string; principalId: string; roleName: string; assignmentId: string }[];
  failed: { scope: string; principalId: string; message: string }[];
}

// ---- runs ----------------------------------------------------------------------------------------------------------

export interface ScheduleRunInput {
  cascadeId: string;
  task: string;
  /** Base the run picks up; passed to the run as override values so its log says why it ran. */
  base?: { ref: string; digest: string };
  /** 1 for the first run of (task, digest); 2 for the one allowed transient retry. */
  attempt: number;
}

export type ScheduleRunOutput =
  | { kind: 'scheduled'; runId: string; registryId: string; status: RunStatus; deduplicated: boolean }
  | { kind: 'throttled'; retryAfterSeconds: number }
  | { kind: 'rejected'; code: string; message: string };

export type RunStatus = 'Queued' | 'Started' | 'Running' | 'Succeeded' | 'Failed' | 'Canceled' | 'Error' | 'Timeout';
export const TERMINAL_RUN_STATUSES: readonly RunStatus[] = ['Succeeded', 'Failed', 'Canceled', 'Error', 'Timeout'];

export interface RunRef {
  registryId: string;
  runId: string;
}

export interface RunInfo {
  runId: string;
  status: RunStatus;
  startTime?: string;
  finishTime?: string;
  outputImages: string[];
  runErrorMessage?: string;
}

export interface IsOwnPushInput {
  image: PushedImage;
}

// ---- cascade results -----------------------------------------------------------------------------------------------

export interface TaskResult {
  task: string;
  taskName: string;
  wave: number;
  decision: PlanDecision;
  reasons: Reason[];
  run?: RunInfo & { attempts: number };
}

export interface CascadeTotals {
  planned: number;
  scheduled: number;
  succeeded: number;
  failed: number;
  blocked: number;
  skipped: number;
  canceled: number;
}

export interface CascadeInput {
  /** What started it: a push (event) or a request (HTTP). */
  trigger: 'event' | 'http';
  image?: PushedImage;
  tasks?: string[];
  /** Settle window in seconds (0 for HTTP requests). */
  settleSeconds: number;
  maxParallelRuns: number;
  transientRetries: number;
  autoRemediate: boolean;
  pollInitialSeconds: number;
  pollMaxSeconds: number;
  /** Event ids already folded into this cascade (redeliveries are ignored). */
  seenEventIds?: string[];
}

export interface CascadeResult {
  cascadeId: string;
  trigger: 'event' | 'http';
  image?: PushedImage;
  status: 'Completed' | 'Canceled' | 'Superseded';
  waves: number;
  tasks: TaskResult[];
  totals: CascadeTotals;
  startedAt: string;
  finishedAt: string;
}

export interface CascadeProgress {
  phase: 'settling' | 'planning' | 'running' | 'reporting' | 'done';
  wave: number;
  waves: number;
  image?: { ref: string; digest: string };
  totals: CascadeTotals;
}

export interface RebuildTaskInput {
  cascadeId: string;
  planned: PlannedTask;
  verdict: PreflightVerdict;
  base?: { ref: string; digest: string };
  transientRetries: number;
  autoRemediate: boolean;
  pollInitialSeconds: number;
  pollMaxSeconds: number;
  /** Task timeout plus a margin bounds the watch. */
  timeoutSeconds: number;
}

// ---- notifications -------------------------------------------------------------------------------------------------

export type NotificationType =
  | 'cascade.completed'
  | 'cascade.taskBlocked'
  | 'cascade.runFailed'
  | 'credential.expiring'
  | 'credential.rotated'
  | 'credential.failed';

export interface Notification {
  type: NotificationType;
  subject: string;
  data: Record<string, unknown>;
}

// ---- credentials ---------------------------------------------------------------------------------------------------

export type CredentialStatus =
  | 'healthy'
  | 'expiring'
  | 'expired'
  | 'disabled'
  | 'missing'
  | 'accessDenied'
  | 'outdatedVersion'
  | 'rotated'
  | 'refreshed';

export interface CredentialRef {
  task: string;
  taskName: string;
  loginServer: string;
  /** `username` or `password`. */
  field: 'username' | 'password';
  /** Secret URI as written in the task (versioned or versionless). */
  secret: string;
  /** `[system]` or a client id. */
  identity?: string;
}

export interface CredentialHealth extends CredentialRef {
  status: CredentialStatus;
  daysLeft?: number;
  fix?: string;
  rotatable: boolean;
  message: string;
}

export interface CredentialCheckInput {
  /** Everything, the tasks using one secret (Key Vault event), or given tasks. */
  scope: { kind: 'all' } | { kind: 'secret'; vaultUrl: string; name: string } | { kind: 'tasks'; tasks: string[] };
  trigger: 'timer' | 'event' | 'http';
  warningDays: number;
}

export interface CredentialCheckResult {
  checkId: string;
  trigger: CredentialCheckInput['trigger'];
  credentials: CredentialHealth[];
  startedAt: string;
  finishedAt: string;
}
