// Names and input/output types of every activity and orchestration. SDK-free: orchestrators import this module
// (types and name constants only) and never the activities themselves. Everything here is small, JSON-serialisable
// and free of secret values, because it is written to orchestration history.
import type { PlannedTask, Reason, ReasonCode } from '../domain/index.js';

export const ActivityNames = {
  buildPlan: 'buildPlan',
  preflightTasks: 'preflightTasks',
  remediatePull: 'remediatePull',
  scheduleRun: 'scheduleRun',
  getRun: 'getRun',
  cancelRun: 'cancelRun',
  isOwnPush: 'isOwnPush',
  registryLoginServer: 'registryLoginServer',
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
  cascadeIntake: 'cascadeIntake',
  rebuildCascade: 'rebuildCascade',
  rebuildTask: 'rebuildTask',
  credentialCheck: 'credentialCheck',
  refreshIndex: 'refreshIndexOrchestration',
} as const;

/** Durable entities: one `cascadeTag` per (registry, repository, tag), keyed by the tag's cascade instance id. */
export const EntityNames = { cascadeTag: 'cascadeTag' } as const;

/** Operations of the `cascadeTag` entity (see src/domain/intake.ts for their rules). */
export const TagOperations = { push: 'push', take: 'take', ended: 'ended' } as const;

export interface TagPushOperation {
  push: PushedImage;
  /** Instance id of the intake orchestration that would own (start and report the end of) the cascade. */
  owner: string;
}

export interface TagEndedOperation {
  owner: string;
  /** How the cascade ended: Completed, Canceled, or Failed (a failure or a termination). */
  status?: string;
}

/** What `push` and `ended` answer: start a cascade of `image` now, or not (with the reason). */
export type TagDecision =
  { start: true; image: PushedImage; generation: number } | { start: false; reason: string; queued?: boolean };

/** Input of the per-event intake orchestration. `resume`: the owner continuing with the next queued push. */
export interface IntakeInput {
  image: PushedImage;
  cascade: CascadeInput;
  resume?: { image: PushedImage; generation: number };
}

/** External event that asks a running cascade to stop scheduling and cancel the runs it started. */
export const CANCEL_EVENT = 'cancel';

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

/**
 * One task of a PlanView: the domain planner's PlannedTask (name, registry, triggers) with what was decided around it
 * (preflight, ACR's own trigger, up to date). Also the tasks the planner settled outside its waves (wave 0).
 */
export interface PlanEntry extends Pick<PlannedTask, 'taskName' | 'registryId'> {
  task: string; // task ARM id
  /** 1-based like the domain's; 0 for a task outside the waves (skipped or blocked by the planner). */
  wave: number;
  decision: PlanDecision;
  reasons: Reason[];
  /** login server → the principal the run uses there (for the report). */
  identity: Record<string, { kind: 'system' | 'user'; principalId: string; clientId?: string }>;
  baseImages: PlannedBase[];
  /** Task ids in this plan whose outputs this task builds on (the next wave waits for them). */
  dependsOn: string[];
  /** Why the plan has the task (the domain planner's triggers): the push, a request, or a producer's output. */
  triggers?: PlannedTask['triggers'];
  /** Output image references (templates kept). */
  outputImages: string[];
  /** The task's run timeout (seconds), when the plan knows it; the cascade watches a run this long plus a margin. */
  timeoutSeconds?: number;
  /** The index saw ACR's own base-image trigger enabled on the task (rebuildTask then looks for its run). */
  nativeTrigger?: boolean;
  /**
   * The task already recorded the pushed digest (with the trigger on, usually ACR's own run for this push, finished
   * before the cascade planned): rebuildTask adopts that run, or reports the task up to date if no native run built it.
   */
  upToDate?: boolean;
}

/**
 * The domain's Plan as the cascade, the HTTP routes and the report see it: task ids per wave and one entry per task.
 * Made from the domain Plan in exactly one place, the buildPlan activity (activities/plan/buildPlan.ts).
 */
export interface PlanView {
  image?: { ref: string; digest?: string };
  /** Task ids per wave, wave 1 first. */
  waves: string[][];
  tasks: Record<string, PlanEntry>;
  /** Each cycle as the task ids that form it (not scheduled). */
  cycles: string[][];
  /** ISO time the index the plan was computed from was last refreshed. */
  indexRefreshedAt?: string;
  /** Plan-level information, e.g. `BaseNotFound` when no managed task depends on the image. */
  notes?: Reason[];
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
  identity: PlanEntry['identity'];
}

export type PreflightOutput = Record<string, PreflightVerdict>;

// ---- dependency index ----------------------------------------------------------------------------------------------

export interface RefreshIndexInput {
  trigger: 'timer' | 'http' | 'plan';
  /** At most this many `tasks.getDetails` reads in one activity call (the orchestration calls again while pending). */
  maxDetailReads?: number;
  /** Tasks to re-read in full (`tasks.getDetails`) whatever the masked list says (POST /api/index/refresh). */
  tasks?: string[];
  /** Registries whose every task is re-read in full. */
  registries?: string[];
}

export interface RefreshIndexOutput {
  refreshedAt: string;
  /** Index version after the refresh (changes only when something changed). */
  version: number;
  scopes: string[];
  registries: number;
  tasks: number;
  added: number;
  changed: number;
  removed: number;
  /** Tasks whose credentials still need a `getDetails` read (budget exhausted); 0 = complete. */
  pending: number;
  /** ARM reads this refresh made: lists (pages) and getDetails calls. */
  armReads: number;
  detailReads: number;
  durationMs: number;
  /** Scopes or registries that could not be read (kept from the previous index), with the reason. */
  errors: { scope: string; code: string; message: string }[];
}

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
  /** Start time of the cascade execution (ISO); with cascadeId it names the execution a cancel applies to. */
  cascadeStartedAt?: string;
  /**
   * On-demand rebuilds: exactly once per (task, requestId, attempt) instead of per (task, base digest, attempt), so
   * a request always runs even when an event cascade already built that digest.
   */
  requestId?: string;
  /** Output image refs of the task (templates kept): recorded so the pushes this run makes are known as our own. */
  outputImages?: string[];
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

/**
 * A poll of the shared watch grid: every getRun of one slot (same registry, `at`, `finishedSince`) is answered from one
 * `runs.list` of the registry (runs in flight or finished since `finishedSince`), not one `runs.get` per run.
 */
export interface RunWatchSlot {
  /** The grid instant of the poll (ISO). */
  at: string;
  /** Look-back of the listing (ISO): runs finished before it are read with runs.get. */
  finishedSince: string;
}

/** getRun: a run, and the cascade execution it belongs to (a canceled cascade's runs are canceled when read). */
export interface GetRunInput extends RunRef {
  cascadeId?: string;
  cascadeStartedAt?: string;
  /** A poll of the watch grid: batched with the other polls of the slot. Absent = one runs.get. */
  watch?: RunWatchSlot;
}

export interface CancelRunInput {
  cascadeId: string;
  cascadeStartedAt: string;
  /** Runs to cancel now. */
  runs?: RunRef[];
  /** Tasks in flight: their runs are found through the exactly-once claims (attempts 1..attempts). */
  tasks?: { task: string; base?: { ref: string; digest: string }; requestId?: string; attempts: number }[];
}

export interface CancelRunOutput {
  /** Run ids a cancel was sent for. */
  canceled: string[];
  /** Run ids that had already finished. */
  finished: string[];
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

/** The login server of a registry, by ARM id (the registry an event's topic names). */
export interface RegistryLoginServerInput {
  registryId: string;
}

export interface RegistryLoginServerOutput {
  /** Lower-case, e.g. `mybaseregistry.azurecr.io`. */
  loginServer: string;
}

export interface IsOwnPushOutput {
  own: boolean;
  /** Why (for the log line). */
  reason: string;
  /** The run of ours that pushed (or is pushing) the image. */
  runId?: string;
}

// ---- cascade results -----------------------------------------------------------------------------------------------

/** Reasons the cascade itself adds to the domain's (upstream failures, rejected schedules, failed runs...). */
export type CascadeReasonCode =
  | 'UpstreamFailed'
  | 'ScheduleRejected'
  | 'RunFailed'
  | 'RunCanceled'
  | 'WatchTimedOut'
  | 'CascadeCanceled'
  | 'RemediationFailed'
  | 'TaskOrchestrationFailed'
  | 'PlanFailed'
  | 'PreflightFailed'
  | NativeTriggerReasonCode;

export type CascadeReason = Omit<Reason, 'code'> & { code: ReasonCode | CascadeReasonCode };

/** How a task ended in this cascade. */
export type TaskOutcome = 'succeeded' | 'failed' | 'blocked' | 'skipped' | 'canceled';

export interface TaskResult {
  task: string;
  taskName: string;
  wave: number;
  decision: PlanDecision;
  outcome: TaskOutcome;
  reasons: CascadeReason[];
  /** `adopted`: the run ACR's own base-image trigger started, used instead of scheduling one. */
  run?: RunInfo & { attempts: number; registryId: string; deduplicated?: boolean; adopted?: boolean };
  /** Role assignments auto-remediation created for this task. */
  remediated?: RemediateOutput['created'];
}

export interface CascadeTotals {
  planned: number;
  /** Runs in flight now (custom status only; 0 in results). */
  running?: number;
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
  /** Event cascades: the key of the tag's `cascadeTag` entity, asked for the newest push after the settle window. */
  tagKey?: string;
  /** 0 for the first cascade of a tag (or a request); n for the n-th cascade the tag's entity started after it. */
  generation?: number;
  /** HTTP rebuild by image: the reference as requested (the digest is optional there). */
  requestedImage?: { ref: string; digest?: string };
  /** Who asked (HTTP): the signed-in principal or "function key holder", recorded in the instance input. */
  requestedBy?: string;
}

export interface CascadeResult {
  cascadeId: string;
  trigger: 'event' | 'http';
  image?: PushedImage;
  status: 'Completed' | 'Canceled' | 'Superseded' | 'Failed';
  waves: number;
  tasks: TaskResult[];
  totals: CascadeTotals;
  startedAt: string;
  finishedAt: string;
  /** Plan-level notes (e.g. BaseNotFound). */
  notes?: CascadeReason[];
  /** 'Failed' only: what failed (never a secret). */
  error?: string;
  generation?: number;
}

export interface CascadeProgress {
  phase: 'settling' | 'planning' | 'running' | 'reporting' | 'done';
  wave: number;
  waves: number;
  image?: { ref: string; digest: string };
  totals: CascadeTotals;
  cascadeId?: string;
  startedAt?: string;
  /** A cancel was received; in-flight runs are being canceled. */
  canceling?: boolean;
}

export interface RebuildTaskInput {
  cascadeId: string;
  planned: PlanEntry;
  verdict: PreflightVerdict;
  base?: { ref: string; digest: string };
  transientRetries: number;
  autoRemediate: boolean;
  pollInitialSeconds: number;
  pollMaxSeconds: number;
  /** Task timeout plus a margin bounds the watch. */
  timeoutSeconds: number;
  /** Start time of the parent cascade execution (cancel markers are per execution). */
  cascadeStartedAt?: string;
  /** On-demand rebuilds: see ScheduleRunInput.requestId. */
  requestId?: string;
  /** Seconds to wait after auto-remediation created a role assignment (RBAC propagation). */
  remediationWaitSeconds?: number;
}

// ---- reports -------------------------------------------------------------------------------------------------------

export interface PublishNotificationsInput {
  notifications: Notification[];
}

export interface PublishNotificationsOutput {
  /** Events sent; 0 when no topic is configured. */
  published: number;
  topicConfigured: boolean;
}

export interface RecordCascadeOutput {
  table: string;
  partitionKey: string;
  rowKey: string;
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
  | 'refreshed'
  /** `nbf` is still in the future: a run cannot read the secret yet. */
  | 'notYetValid'
  /** acr-cascade could not verify it (its own identity cannot list the secret, or the vault is not visible). */
  | 'unknown';

/** The identity a task run uses to read a credential's secrets (resolved from the task's identities). */
export interface CredentialPrincipal {
  kind: 'system' | 'user';
  principalId: string;
  clientId?: string;
  /** ARM id of a user-assigned identity. */
  resourceId?: string;
}

interface CredentialRefBase {
  task: string;
  taskName: string;
  loginServer: string;
  /** `[system]` or a client id. */
  identity?: string;
  /** Who reads the secret (or logs in) at run time; absent when `identity` does not resolve (see identityProblem). */
  principal?: CredentialPrincipal;
  identityProblem?: 'noIdentity' | 'noSystemIdentity' | 'unknownClientId';
}

/** A user name or password the run reads from Key Vault. */
export interface SecretCredentialRef extends CredentialRefBase {
  field: 'username' | 'password';
  /** Secret URI as written in the task (versioned or versionless). */
  secret: string;
}

/** A login with the task's managed identity alone (`--use-identity` without secrets): its health is the pull right. */
export interface IdentityLoginRef extends CredentialRefBase {
  field: 'identity';
  /** ARM id of the registry behind the login server, when acr-cascade can see it. */
  registryId?: string;
}

/** One registry login of a task: a Key Vault-backed user name or password, or an identity-only login. */
export type CredentialRef = SecretCredentialRef | IdentityLoginRef;

export function isSecretCredential<T extends CredentialRef>(c: T): c is T & SecretCredentialRef {
  return c.field !== 'identity';
}

/** What the check did about a credential beyond reporting it. */
export interface CredentialAction {
  kind: 'refresh' | 'rotate';
  ok: boolean;
  message: string;
  /** After a failed rotation or refresh: is the credential the task uses still the old, working one? */
  oldCredentialWorking?: boolean;
}

export type CredentialHealth = CredentialRef & CredentialVerdict;
export type SecretCredentialHealth = SecretCredentialRef & CredentialVerdict;

export interface CredentialVerdict {
  status: CredentialStatus;
  daysLeft?: number;
  fix?: string;
  rotatable: boolean;
  message: string;
  /** Stable reason code (domain ReasonCode, or `SecretUnreadable`). */
  code?: string;
  /** Version whose properties were checked (the pinned one, else the latest). */
  version?: string;
  /** Newest enabled version of the secret. */
  latestVersion?: string;
  /** ISO expiry of the checked version. */
  expiresOn?: string;
  /** ISO time of the check. */
  checkedAt?: string;
  action?: CredentialAction;
}

export interface CredentialCheckInput {
  /** Everything, the tasks using one secret (Key Vault event), or given tasks. */
  scope: { kind: 'all' } | { kind: 'secret'; vaultUrl: string; name: string } | { kind: 'tasks'; tasks: string[] };
  trigger: 'timer' | 'event' | 'http';
  warningDays: number;
  /**
   * This check's own id (results, events, logs). The full check runs under one singleton instance id, so the trigger
   * gives each run a fresh checkId; absent (older inputs, event checks) → the instance id.
   */
  checkId?: string;
  /** Who asked (HTTP: the signed-in principal or "function key"); absent for timer and event checks. */
  requestedBy?: string;
}

export interface CredentialCheckResult {
  checkId: string;
  trigger: CredentialCheckInput['trigger'];
  credentials: CredentialHealth[];
  startedAt: string;
  finishedAt: string;
  scope?: CredentialCheckInput['scope'];
  /** Credentials per final status. */
  totals?: Partial<Record<CredentialStatus, number>>;
  rotations?: RotateCredentialOutput[];
  refreshes?: RefreshCredentialOutput[];
  /** Tasks whose credentials could not be read. */
  errors?: { task: string; code: string; message: string }[];
}

export interface InventoryCredentialsInput {
  scope: CredentialCheckInput['scope'];
}

export interface InventoryCredentialsOutput {
  credentials: CredentialRef[];
  /** Managed tasks considered (after the scope filter). */
  tasks: number;
  errors: { task: string; code: string; message: string }[];
}

export interface CheckCredentialsInput {
  credentials: CredentialRef[];
  warningDays: number;
}

export interface RefreshCredentialInput {
  task: string;
  /** The pinned references found outdated; each is re-checked against the task before it is changed. */
  credentials: { loginServer: string; field: 'username' | 'password'; secret: string }[];
}

export interface RefreshCredentialOutput {
  task: string;
  outcome: 'refreshed' | 'unchanged' | 'failed';
  /** What was rewritten: the pinned URI and the versionless URI that replaced it. */
  changed: { loginServer: string; field: 'username' | 'password'; from: string; to: string }[];
  message: string;
  code?: string;
}

export interface RotateCredentialInput {
  /** Versionless secret URI. */
  secret: string;
  loginServer: string;
  /** Every credential using this secret; pinned ones move to the versionless URI before the old password is revoked. */
  credentials: SecretCredentialRef[];
  warningDays: number;
}

export interface RotateCredentialOutput {
  secret: string;
  /** rotated: new password + secret version; renewed: username secret re-issued; skipped: nothing needed/possible. */
  outcome: 'rotated' | 'renewed' | 'skipped' | 'failed';
  message: string;
  fix?: string;
  newVersion?: string;
  /** ISO expiry of the new password and secret version. */
  expiresOn?: string;
  /** Token password slot the new value came from. */
  passwordName?: 'password1' | 'password2';
  /** Slot that was revoked (regenerated and discarded). */
  revoked?: 'password1' | 'password2';
  /** How the new version was verified: its value read back, or (without `get`) its properties. */
  verified?: 'value' | 'properties';
  /** After a failure: does the credential the tasks use still work? */
  oldCredentialWorking?: boolean;
  /** Tasks moved from a pinned version to the versionless URI during the rotation. */
  refreshedTasks: string[];
  /** Protocol steps completed, in order (for the report). */
  steps: string[];
}

export interface RecordCredentialHealthInput {
  checkId: string;
  trigger: CredentialCheckInput['trigger'];
  scope: CredentialCheckInput['scope'];
  checkedAt: string;
  /** When the check began (its inventory): a full check removes only rows older than this. Default `checkedAt`. */
  startedAt?: string;
  credentials: CredentialHealth[];
  /** Tasks whose credentials could not be read this time: a full check keeps their rows. */
  keepTasks?: string[];
}

export interface RecordCredentialHealthOutput {
  written: number;
  /** Rows of credentials that no longer exist (full checks only). */
  removed: number;
  /** Verdicts not stored because an overlapping check had already stored a newer one. */
  superseded?: number;
}

// ---- ACR's native base-image triggers (CASCADE_NATIVE_TRIGGERS) ----------------------------------------------------

export const NativeTriggerActivityNames = {
  findNativeRun: 'findNativeRun',
  disableNativeTrigger: 'disableNativeTrigger',
} as const;

export type NativeTriggerReasonCode =
  'NativeRunAdopted' | 'NativeRunNotFound' | 'NativeTriggerDisabled' | 'NativeRunCanceled' | 'NativeRunLate';

export type NativeTriggerPolicyName = 'adopt' | 'disable' | 'ignore';

/** Looks for the run ACR's base-image trigger started for this task (and says whether the trigger is on). */
export interface FindNativeRunInput {
  /** Task ARM id. */
  task: string;
  /** The base digest whose push triggers it (first wave: the pushed digest). */
  digest?: string;
  /** Otherwise (later waves, whose base an earlier wave pushes): a triggered run created at or after this time. */
  since?: string;
  /** The base refs whose update this task is rebuilt for (the trigger fires only for a recorded one). */
  bases: string[];
  /** An adopted run's outputs are recorded as ours, so its push does not start another cascade. */
  cascadeId: string;
  outputImages: string[];
}

export interface FindNativeRunOutput {
  policy: NativeTriggerPolicyName;
  /** The task's base-image trigger is Enabled. */
  triggerEnabled: boolean;
  /** Enabled, and one of `bases` is a base it follows (the runtime base for `Runtime`, any for `All`). */
  willFire: boolean;
  adoptWindowSeconds: number;
  run?: { runId: string; registryId: string; status: RunStatus };
}

export interface DisableNativeTriggerInput {
  task: string;
}

export interface DisableNativeTriggerOutput {
  /** False when the trigger was already off (or the task has none). */
  changed: boolean;
  triggerName?: string;
}

// ---- one typed table of every activity: name → input and output ---------------------------------------------------

/** What each activity takes and returns; orchestrators call activities through this table (orchestrations/calls.ts). */
export interface ActivityContracts {
  buildPlan: { input: BuildPlanInput; output: PlanView };
  preflightTasks: { input: PreflightInput; output: PreflightOutput };
  remediatePull: { input: RemediateInput; output: RemediateOutput };
  scheduleRun: { input: ScheduleRunInput; output: ScheduleRunOutput };
  getRun: { input: GetRunInput; output: RunInfo };
  cancelRun: { input: CancelRunInput; output: CancelRunOutput };
  isOwnPush: { input: IsOwnPushInput; output: IsOwnPushOutput };
  recordCascade: { input: CascadeResult; output: RecordCascadeOutput };
  publishNotifications: { input: PublishNotificationsInput; output: PublishNotificationsOutput };
  refreshIndex: { input: RefreshIndexInput; output: RefreshIndexOutput };
  inventoryCredentials: { input: InventoryCredentialsInput; output: InventoryCredentialsOutput };
  checkCredentials: { input: CheckCredentialsInput; output: CredentialHealth[] };
  refreshCredential: { input: RefreshCredentialInput; output: RefreshCredentialOutput };
  rotateCredential: { input: RotateCredentialInput; output: RotateCredentialOutput };
  recordCredentialHealth: { input: RecordCredentialHealthInput; output: RecordCredentialHealthOutput };
  registryLoginServer: { input: RegistryLoginServerInput; output: RegistryLoginServerOutput };
  findNativeRun: { input: FindNativeRunInput; output: FindNativeRunOutput };
  disableNativeTrigger: { input: DisableNativeTriggerInput; output: DisableNativeTriggerOutput };
}

export type ActivityName = keyof ActivityContracts;
