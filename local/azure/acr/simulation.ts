// Run simulation: Queued → Running (after 10% of the duration) → a terminal status, on the emulator clock, with real
// (unref'd) timers as a backstop and lazy settling whenever a run is read or the clock is advanced. The outcome
// follows from state at the moment the run finishes, the way ACR's runner would meet it: logins to every custom
// registry (identity or Key Vault-backed username/password), `secrets:` of the task YAML, each base image (exists?
// may this run's identity pull it?) and each output image (may it push?). See acr/README.md for the rules.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { Emulator } from '../core/emulator.js';
import type { Principal } from '../core/identity.js';
import { key } from '../core/state.js';
import { principalForIdentity } from './identity.js';
import { formatRef, isDockerHub, parseImageRef, reference, type ImageRef } from './imageRef.js';
import {
  ABAC_MODE,
  CONTENT_READ,
  CONTENT_WRITE,
  PULL_ACTION,
  PUSH_ACTION,
  REPOSITORY_ATTRIBUTE,
  RUN_TYPE,
  TERMINAL_STATUSES,
  findRegistryByLoginServer,
  regKey,
  type BaseImageDependency,
  type Dict,
  type ImageDescriptor,
  type RegistryResource,
  type RunResource,
  type SecretArg,
  type SecretObject,
  type StoredIdentity,
  type TaskCredentials,
  type TaskResource,
  type TaskStep,
} from './model.js';
import {
  mergeByName,
  parseValuesFile,
  planDockerStep,
  planEncodedTask,
  runDate,
  type RunTemplateContext,
  type StepPlan,
} from './taskContent.js';
import { scopeAllows, verifyTokenPassword } from './tokens.js';

export const DEFAULT_DURATION_MS = 3000;
/** Task tag declaring base images a task's step does not show (comma or whitespace separated references). */
export const BASE_IMAGES_TAG = 'cascade.baseImages';

/** What the run executes: the task as it was when the run was scheduled (or a quick run's request). */
export interface RunSnapshot {
  taskId?: string;
  taskName?: string;
  identity?: StoredIdentity;
  tags?: Dict<string>;
  step: TaskStep;
  credentials?: TaskCredentials;
  platform: { os: string; architecture?: string; variant?: string };
  timeout: number;
}

interface RunState {
  runId: string;
  runArmId: string;
  registryId: string;
  seq: number;
  snapshot: RunSnapshot;
  overrides: { arguments?: SecretArg[]; values?: SecretArg[] };
  queuedAtMs: number;
  startAtMs: number;
  finishAtMs: number;
  timesOut: boolean;
  forced?: { status: 'Failed' | 'Error'; message: string };
  log: string[];
}

interface FailNext {
  count: number;
  status: 'Failed' | 'Error';
  message?: string;
}

type Login =
  | { kind: 'identity'; principal: Principal }
  | { kind: 'token'; actions: string[] }
  /** No check: the task's own registry in legacy mode, or a registry outside the emulator. */
  | { kind: 'implicit' }
  | { kind: 'none' };

class RunFailure extends Error {
  constructor(
    readonly status: 'Failed' | 'Error',
    message: string,
  ) {
    super(message);
  }
}

const fail = (message: string) => new RunFailure('Failed', message);

function stamp(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/-/g, '/').slice(0, 19);
}

export class RunSimulator {
  private readonly timers = new Map<string, NodeJS.Timeout[]>();

  constructor(private readonly emu: Emulator) {
    emu.onStart(() => {
      for (const k of this.states.keys()) this.arm(k);
    });
    emu.onClockAdvance(() => this.settleAll());
    emu.onStop(() => this.stop());
  }

  private get states() {
    return this.emu.store.bucket<RunState>('acr.runState');
  }
  private get config() {
    return this.emu.store.bucket<number | string>('acr.config');
  }
  private get failNextBucket() {
    return this.emu.store.bucket<FailNext>('acr.failNext');
  }

  get durationMs(): number {
    const v = this.config.get('durationMs');
    return typeof v === 'number' ? v : DEFAULT_DURATION_MS;
  }
  set durationMs(ms: number) {
    this.config.set('durationMs', ms);
    this.config.delete('durationMaxMs');
    this.emu.store.changed();
  }
  /** Longest run; runs last between durationMs and this (fixed per run id), so a cascade sees a realistic mix. */
  get durationMaxMs(): number {
    const v = this.config.get('durationMaxMs');
    return typeof v === 'number' ? Math.max(v, this.durationMs) : this.durationMs;
  }
  set durationMaxMs(ms: number) {
    this.config.set('durationMaxMs', ms);
    this.emu.store.changed();
  }
  /** Duration of one run: uniform in [durationMs, durationMaxMs], from a hash of its id (reproducible). */
  private durationOf(runArmId: string): number {
    const min = this.durationMs;
    const span = this.durationMaxMs - min;
    if (span <= 0) return min;
    const h = createHash('sha256').update(key(runArmId)).digest().readUInt32BE(0);
    return min + (h % (span + 1));
  }

  /** Per-state key for signing log links (a SAS stand-in). */
  private get logKey(): string {
    let k = this.config.get('logKey');
    if (typeof k !== 'string') {
      k = randomBytes(32).toString('hex');
      this.config.set('logKey', k);
      this.emu.store.changed();
    }
    return k;
  }
  logSignature(runArmId: string): string {
    return createHmac('sha256', this.logKey).update(key(runArmId)).digest('base64url');
  }

  failNext(taskId: string, count: number, status: 'Failed' | 'Error', message?: string): void {
    if (count <= 0) this.failNextBucket.delete(key(taskId));
    else this.failNextBucket.set(key(taskId), { count, status, ...(message ? { message } : {}) });
    this.emu.store.changed();
  }
  private takeForcedFailure(taskId: string | undefined): RunState['forced'] {
    if (!taskId) return undefined;
    const f = this.failNextBucket.get(key(taskId));
    if (!f) return undefined;
    if (f.count <= 1) this.failNextBucket.delete(key(taskId));
    else this.failNextBucket.set(key(taskId), { ...f, count: f.count - 1 });
    return {
      status: f.status,
      message:
        f.message ??
        (f.status === 'Error'
          ? 'Internal error: the run could not be completed (injected by the emulator).'
          : 'failed to run step ID: acb_step_0: exit status 1 (injected by the emulator)'),
    };
  }

  private nextRunId(registry: RegistryResource): { runId: string; seq: number } {
    const counters = this.emu.store.bucket<number>('acr.runCounters');
    const seq = (counters.get(regKey(registry.name)) ?? 0) + 1;
    counters.set(regKey(registry.name), seq);
    // Real run ids are short opaque strings with a per-registry prefix (`ca1`, `cf10`, `dd2`...).
    const h = createHash('sha256').update(registry.name.toLowerCase()).digest();
    const prefix = String.fromCharCode(97 + (h[0]! % 26)) + String.fromCharCode(97 + (h[1]! % 26));
    return { runId: `${prefix}${seq.toString(36)}`, seq };
  }

  /** Creates a Queued run and arms its timers. */
  schedule(
    registry: RegistryResource,
    snapshot: RunSnapshot,
    runType: string,
    overrides: RunState['overrides'],
    extra: Partial<RunResource['properties']> = {},
  ): RunResource {
    const { runId, seq } = this.nextRunId(registry);
    const now = this.emu.nowMs();
    const duration = this.durationOf(`${registry.id}/runs/${runId}`);
    const timesOut = duration > snapshot.timeout * 1000;
    const total = timesOut ? snapshot.timeout * 1000 : duration;
    const run: RunResource = {
      id: `${registry.id}/runs/${runId}`,
      name: runId,
      type: RUN_TYPE,
      properties: {
        runId,
        status: 'Queued',
        lastUpdatedTime: new Date(now).toISOString(),
        runType,
        createTime: new Date(now).toISOString(),
        ...(snapshot.taskName ? { task: snapshot.taskName } : {}),
        platform: { ...snapshot.platform },
        agentConfiguration: { cpu: 2 },
        provisioningState: 'Succeeded',
        isArchiveEnabled: false,
        ...extra,
      },
    };
    const state: RunState = {
      runId,
      runArmId: run.id,
      registryId: registry.id,
      seq,
      snapshot,
      overrides,
      queuedAtMs: now,
      startAtMs: now + Math.round(total * 0.1),
      finishAtMs: now + total,
      timesOut,
      forced: this.takeForcedFailure(snapshot.taskId),
      log: [`${stamp(now)} Queued a run with ID: ${runId}`, `${stamp(now)} Waiting for an agent...`],
    };
    this.emu.store.putResource(run);
    this.states.set(key(run.id), state);
    this.emu.store.changed();
    this.arm(key(run.id));
    return run;
  }

  seqOf(runArmId: string): number {
    return this.states.get(key(runArmId))?.seq ?? 0;
  }

  logOf(runArmId: string): string[] | undefined {
    return this.states.get(key(runArmId))?.log;
  }

  private arm(k: string): void {
    this.clear(k);
    const s = this.states.get(k);
    const run = this.emu.store.getResource<RunResource>(s?.runArmId ?? k);
    if (!s || !run || TERMINAL_STATUSES.includes(run.properties.status)) return;
    const now = this.emu.nowMs();
    const handles = [s.startAtMs, s.finishAtMs].map((due) => {
      const t = setTimeout(() => this.settle(k), Math.max(0, due - now));
      t.unref();
      return t;
    });
    this.timers.set(k, handles);
  }

  private clear(k: string): void {
    for (const t of this.timers.get(k) ?? []) clearTimeout(t);
    this.timers.delete(k);
  }

  stop(): void {
    for (const k of [...this.timers.keys()]) this.clear(k);
  }

  settleAll(): void {
    for (const k of [...this.states.keys()]) this.settle(k);
  }

  /** Moves a run along if its next transition is due. Idempotent. */
  settle(runKey: string): void {
    const k = key(runKey);
    const s = this.states.get(k);
    if (!s) return;
    const run = this.emu.store.getResource<RunResource>(s.runArmId);
    if (!run) {
      this.states.delete(k);
      this.clear(k);
      return;
    }
    const p = run.properties;
    if (TERMINAL_STATUSES.includes(p.status)) return;
    const now = this.emu.nowMs();
    if (p.status === 'Queued' && now >= s.startAtMs) {
      p.status = 'Running';
      p.startTime = new Date(s.startAtMs).toISOString();
      p.lastUpdatedTime = new Date(now).toISOString();
      s.log.push(`${stamp(s.startAtMs)} Using acb_vol_${s.runId} as the home volume`);
    }
    if (now >= s.finishAtMs) {
      this.finish(s, run, now);
      this.clear(k);
    }
    this.emu.store.putResource(run);
    this.states.set(k, s);
  }

  cancel(runArmId: string): RunResource | undefined {
    const k = key(runArmId);
    this.settle(k);
    const run = this.emu.store.getResource<RunResource>(runArmId);
    if (!run || TERMINAL_STATUSES.includes(run.properties.status)) return run;
    const now = this.emu.nowMs();
    run.properties.status = 'Canceled';
    run.properties.finishTime = new Date(now).toISOString();
    run.properties.lastUpdatedTime = run.properties.finishTime;
    const s = this.states.get(k);
    if (s) {
      s.log.push(`${stamp(now)} Run ID: ${s.runId} was canceled`);
      this.states.set(k, s);
    }
    this.clear(k);
    this.emu.store.putResource(run);
    return run;
  }

  /** Forgets runs of a deleted registry (their ARM resources go with the registry). */
  dropRegistry(registry: RegistryResource): void {
    const prefix = key(registry.id) + '/';
    for (const k of [...this.states.keys()]) {
      if (!k.startsWith(prefix)) continue;
      this.clear(k);
      this.states.delete(k);
    }
    this.emu.store.bucket<number>('acr.runCounters').delete(regKey(registry.name));
    this.emu.store.changed();
  }

  dropTask(task: TaskResource): void {
    this.failNextBucket.delete(key(task.id));
    this.emu.store.changed();
  }

  // Outcome ------------------------------------------------------------------------------------------------------
  private finish(s: RunState, run: RunResource, now: number): void {
    const p = run.properties;
    const log = (line: string) => s.log.push(`${stamp(now)} ${line}`);
    const seconds = Math.max(0, Math.round((s.finishAtMs - s.queuedAtMs) / 1000));
    p.startTime ??= new Date(s.startAtMs).toISOString();
    p.finishTime = new Date(now).toISOString();
    p.lastUpdatedTime = p.finishTime;
    try {
      if (s.timesOut) throw new RunFailure('Failed', `the run exceeded its timeout of ${s.snapshot.timeout} seconds`);
      const result = this.execute(s, log);
      p.status = 'Succeeded';
      p.outputImages = result.outputs;
      if (result.customRegistries.length) p.customRegistries = result.customRegistries;
      p.sourceRegistryAuth = 'Default';
      if (result.dependencies.length) log(`The following dependencies were found:\n${yamlDeps(result)}`);
      log(`Run ID: ${s.runId} was successful after ${seconds}s`);
    } catch (err) {
      if (err instanceof RunFailure) {
        p.status = s.timesOut ? 'Timeout' : err.status;
        p.runErrorMessage = err.message;
        log(`Run ID: ${s.runId} failed after ${seconds}s. Error: ${err.message}`);
      } else {
        this.emu.log(`[acr] run ${s.runId} crashed: ${(err as Error).stack ?? String(err)}`);
        p.status = 'Error';
        p.runErrorMessage = 'Internal error: the emulator could not complete the run.';
        log(`Run ID: ${s.runId} failed after ${seconds}s. Error: ${p.runErrorMessage}`);
      }
    }
  }

  private execute(
    s: RunState,
    log: (line: string) => void,
  ): { outputs: ImageDescriptor[]; dependencies: BaseImageDependency[]; customRegistries: string[] } {
    const emu = this.emu;
    if (s.forced) throw new RunFailure(s.forced.status, s.forced.message);
    const own = emu.store.getResource<RegistryResource>(s.registryId);
    if (!own) throw new RunFailure('Error', 'the registry of this run no longer exists');
    const snap = s.snapshot;
    const ownServer = own.properties.loginServer;
    const ctx: RunTemplateContext = {
      runId: s.runId,
      registry: ownServer,
      registryName: own.name,
      date: runDate(s.queuedAtMs),
      os: snap.platform.os.toLowerCase(),
      architecture: snap.platform.architecture ?? 'amd64',
      values: {},
    };
    const plan = this.plan(snap, s.overrides, ctx);

    // Logins: the task's own registry, then every custom registry (ACR logs in to all of them at run start).
    const logins = new Map<string, Login>();
    log(`Logging in to registry: ${ownServer}`);
    log(`Successfully logged into ${ownServer}`);
    const customRegistries: string[] = [];
    for (const [server, cred] of Object.entries(snap.credentials?.customRegistries ?? {})) {
      if (!cred) continue;
      log(`Logging in to registry: ${server}`);
      logins.set(server.toLowerCase(), this.login(snap, server, cred));
      log(`Successfully logged into ${server}`);
      customRegistries.push(server);
    }
    for (const secret of plan.secrets) {
      const who = principalForIdentity(emu, snap.identity, secret.clientId ?? '[system]');
      if ('error' in who) throw fail(`failed to resolve secret '${secret.id}' from '${secret.keyvault}': ${who.error}`);
      this.readSecret(secret.keyvault, who.principal, (why) => `failed to resolve secret '${secret.id}': ${why}`);
    }

    // Pulls.
    const dependencies: BaseImageDependency[] = [];
    // The last base the step itself names is the final stage's (the runtime base); the others are build-stage bases.
    // A step that names none (its Dockerfile is in a git context) builds on the last declared one.
    const bases = this.bases(snap, plan);
    const runtimeBase = plan.bases.at(-1) ?? this.declaredBases(snap).at(-1) ?? bases.at(-1);
    for (const raw of bases) {
      const ref = parseImageRef(raw);
      if (!ref) throw fail(`failed to pull image '${raw}': invalid reference format`);
      log(`Pulling base image: ${formatRef(ref)}`);
      const digest = this.pull(own, snap, ref, logins);
      dependencies.push({
        type: raw === runtimeBase ? 'RunTime' : 'BuildTime',
        registry: isDockerHub(ref.registry) ? 'registry.hub.docker.com' : ref.registry,
        repository: ref.repository,
        ...(ref.tag || !ref.digest ? { tag: ref.tag ?? 'latest' } : {}),
        digest,
      });
    }

    // Pushes: check every target first, then push (so a refused push leaves no partial output).
    const targets = plan.outputs.map((name) => {
      const ref = parseImageRef(name, plan.outputsRelativeTo === 'taskRegistry' ? ownServer : 'docker.io');
      if (!ref || ref.digest) throw fail(`failed to push image '${name}': invalid reference format`);
      const target = this.pushTarget(own, snap, ref, logins);
      return { ref, target };
    });
    const label = dependencies.map((d) => d.digest).join(',');
    const outputs: ImageDescriptor[] = targets.map(({ ref, target }) => {
      const tag = ref.tag ?? 'latest';
      log(`Pushing image: ${formatRef({ ...ref, tag })}, attempt 1`);
      const digest = target
        ? emu.services.registryData!.pushSyntheticImage(
            target.name,
            ref.repository,
            tag,
            // Tags of one repository pushed by one run are the same image, so they share a digest.
            `${s.runId}|${ref.registry}/${ref.repository}|${label}`,
          ).digest
        : `sha256:${createHash('sha256')
            .update(`external|${s.runId}|${formatRef(ref)}`)
            .digest('hex')}`;
      return { registry: ref.registry, repository: ref.repository, tag, digest };
    });

    // ACR records the bases a run actually used on the task.
    if (snap.taskId && dependencies.length) {
      const task = emu.store.getResource<TaskResource>(snap.taskId);
      if (task?.properties.step) {
        task.properties.step.baseImageDependencies = dependencies;
        emu.store.putResource(task);
      }
    }
    return { outputs, dependencies, customRegistries };
  }

  private plan(snap: RunSnapshot, overrides: RunState['overrides'], ctx: RunTemplateContext): StepPlan {
    const step = snap.step;
    if (step.type === 'Docker') return planDockerStep(step, mergeByName(step.arguments, overrides.arguments), ctx);
    if (step.type === 'EncodedTask') {
      const fileValues = step.encodedValuesContent
        ? parseValuesFile(Buffer.from(step.encodedValuesContent, 'base64').toString('utf8'))
        : {};
      const values: Record<string, string> = { ...fileValues };
      for (const v of mergeByName(step.values, overrides.values)) values[v.name] = v.value;
      const yaml = Buffer.from(step.encodedTaskContent ?? '', 'base64').toString('utf8');
      return planEncodedTask(yaml, { ...ctx, values });
    }
    // FileTask: the file lives in the task's context, which the emulator cannot read.
    return { bases: [], outputs: [], outputsRelativeTo: 'dockerHub', secrets: [], buildArgs: {} };
  }

  /** The bases the `cascade.baseImages` tag declares. */
  private declaredBases(snap: RunSnapshot): string[] {
    const tagKey = Object.keys(snap.tags ?? {}).find((k) => k.toLowerCase() === BASE_IMAGES_TAG.toLowerCase());
    return tagKey ? snap.tags![tagKey]!.split(/[\s,]+/).filter(Boolean) : [];
  }

  /** Parsed bases ∪ the `cascade.baseImages` tag ∪ (Docker/FileTask) the dependencies recorded by earlier runs. */
  private bases(snap: RunSnapshot, plan: StepPlan): string[] {
    const out = [...plan.bases, ...this.declaredBases(snap)];
    if (snap.step.type !== 'EncodedTask')
      for (const d of snap.step.baseImageDependencies ?? [])
        out.push(`${d.registry}/${d.repository}${d.tag ? `:${d.tag}` : d.digest ? `@${d.digest}` : ''}`);
    const seen = new Set<string>();
    return out.filter((r) => {
      const p = parseImageRef(r);
      const k = p ? formatRef({ ...p, tag: p.tag ?? (p.digest ? undefined : 'latest') }) : r;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  }

  private readSecret(uri: string, principal: Principal, message: (why: string) => string): string {
    const kv = this.emu.services.keyVault;
    if (!kv) throw fail(message('Key Vault is not available in this emulator'));
    const r = kv.resolveSecret(uri, principal.objectId);
    if (!r.ok) throw fail(message(`${r.code}: ${r.message}`));
    return r.value;
  }

  private secretValue(
    obj: SecretObject | undefined,
    principal: Principal | undefined,
    server: string,
  ): string | undefined {
    if (!obj?.value) return undefined;
    if (obj.type !== 'Vaultsecret') return obj.value;
    if (!principal)
      throw fail(
        `failed to login to registry '${server}': an identity is required to read the Key Vault secret '${obj.value}'`,
      );
    return this.readSecret(
      obj.value,
      principal,
      (why) => `failed to login to registry '${server}': failed to get secret '${obj.value}': ${why}`,
    );
  }

  private login(
    snap: RunSnapshot,
    server: string,
    cred: NonNullable<NonNullable<TaskCredentials['customRegistries']>[string]>,
  ): Login {
    let principal: Principal | undefined;
    if (cred.identity) {
      const who = principalForIdentity(this.emu, snap.identity, cred.identity);
      if ('error' in who) throw fail(`failed to login to registry '${server}': ${who.error}`);
      principal = who.principal;
    }
    const user = this.secretValue(cred.userName, principal, server);
    const pass = this.secretValue(cred.password, principal, server);
    const registry = findRegistryByLoginServer(this.emu, server);
    if (!registry) {
      if (server.toLowerCase().endsWith('.azurecr.io'))
        throw fail(`failed to login to registry '${server}': dial tcp: lookup ${server.toLowerCase()}: no such host`);
      return { kind: 'implicit' };
    }
    if (user !== undefined && pass !== undefined) {
      const check = verifyTokenPassword(this.emu, registry, user, pass);
      if (!check.ok) throw fail(`failed to login to registry '${server}': unauthorized: ${check.why}`);
      return { kind: 'token', actions: check.actions };
    }
    if (!principal) return { kind: 'none' };
    // Legacy mode: the identity's token exchange needs registry-level pull rights; ABAC mode checks per repository.
    if (registry.properties.roleAssignmentMode !== ABAC_MODE) {
      const ok = this.emu.check(principal.objectId, registry.id, { action: PULL_ACTION }).allowed;
      if (!ok)
        throw fail(
          `failed to login to registry '${server}': unauthorized: the identity '${principal.clientId}' does not have permission to access the registry, visit https://aka.ms/acr/authorization for more information.`,
        );
    }
    return { kind: 'identity', principal };
  }

  /** Identity the run uses for its own registry: none needed in legacy mode; `sourceRegistry.identity` in ABAC mode. */
  private ownLogin(own: RegistryResource, snap: RunSnapshot): Login {
    if (snap.credentials?.sourceRegistry?.loginMode === 'None') return { kind: 'none' };
    if (own.properties.roleAssignmentMode !== ABAC_MODE) return { kind: 'implicit' };
    const id = snap.credentials?.sourceRegistry?.identity;
    if (!id)
      throw fail(
        `failed to login to registry '${own.properties.loginServer}': unauthorized: registries in 'AbacRepositoryPermissions' mode give ACR Tasks no default access to their own registry; set a source registry identity with a 'Container Registry Repository' role`,
      );
    const who = principalForIdentity(this.emu, snap.identity, id);
    if ('error' in who) throw fail(`failed to login to registry '${own.properties.loginServer}': ${who.error}`);
    return { kind: 'identity', principal: who.principal };
  }

  private loginFor(
    own: RegistryResource,
    snap: RunSnapshot,
    registry: RegistryResource,
    logins: Map<string, Login>,
  ): Login {
    const custom = logins.get(registry.properties.loginServer.toLowerCase());
    if (registry.id.toLowerCase() === own.id.toLowerCase()) {
      // A custom credential for the task's own registry stands in for the missing source identity in ABAC mode.
      if (custom && registry.properties.roleAssignmentMode === ABAC_MODE && !snap.credentials?.sourceRegistry?.identity)
        return custom;
      return this.ownLogin(own, snap);
    }
    return custom ?? { kind: 'none' };
  }

  private allowed(registry: RegistryResource, login: Login, repository: string, write: boolean): boolean {
    if (login.kind === 'implicit') return true;
    if (login.kind === 'token') return scopeAllows(login.actions, repository, write ? 'content/write' : 'content/read');
    if (login.kind === 'none') return !write && registry.properties.anonymousPullEnabled;
    if (registry.properties.roleAssignmentMode === ABAC_MODE) {
      return this.emu.check(
        login.principal.objectId,
        registry.id,
        { dataAction: write ? CONTENT_WRITE : CONTENT_READ },
        { [REPOSITORY_ATTRIBUTE]: repository },
      ).allowed;
    }
    return this.emu.check(login.principal.objectId, registry.id, { action: write ? PUSH_ACTION : PULL_ACTION }).allowed;
  }

  private pull(own: RegistryResource, snap: RunSnapshot, ref: ImageRef, logins: Map<string, Login>): string {
    const registry = findRegistryByLoginServer(this.emu, ref.registry);
    const shown = formatRef(ref);
    if (!registry) {
      if (ref.registry.endsWith('.azurecr.io'))
        throw fail(`failed to pull image '${shown}': dial tcp: lookup ${ref.registry}: no such host`);
      // Public registries (Docker Hub, mcr.microsoft.com, ...) are assumed to serve every image.
      return ref.digest ?? `sha256:${createHash('sha256').update(`external|${shown}`).digest('hex')}`;
    }
    const login = this.loginFor(own, snap, registry, logins);
    if (login.kind === 'none' && !registry.properties.anonymousPullEnabled)
      throw fail(
        `failed to pull image '${shown}': unauthorized: authentication required, visit https://aka.ms/acr/authorization for more information.`,
      );
    if (!this.allowed(registry, login, ref.repository, false))
      throw fail(
        `pull access denied for ${ref.registry}/${ref.repository}, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`,
      );
    const found = this.emu.services.registryData!.resolveImage(ref.registry, ref.repository, reference(ref));
    if (!found)
      throw fail(
        `manifest for ${ref.registry}/${ref.repository}:${reference(ref)} not found: manifest unknown: manifest tagged by "${reference(ref)}" is not found`,
      );
    return found.digest;
  }

  private pushTarget(
    own: RegistryResource,
    snap: RunSnapshot,
    ref: ImageRef,
    logins: Map<string, Login>,
  ): RegistryResource | undefined {
    const registry = findRegistryByLoginServer(this.emu, ref.registry);
    if (!registry) {
      if (ref.registry.endsWith('.azurecr.io'))
        throw fail(`failed to push image '${formatRef(ref)}': dial tcp: lookup ${ref.registry}: no such host`);
      return undefined; // external registries: the push is simulated, nothing is stored
    }
    const login = this.loginFor(own, snap, registry, logins);
    if (!this.allowed(registry, login, ref.repository, true))
      throw fail(`failed to push image '${formatRef(ref)}': denied: requested access to the resource is denied`);
    return registry;
  }
}

function yamlDeps(r: { outputs: ImageDescriptor[]; dependencies: BaseImageDependency[] }): string {
  const lines: string[] = [];
  for (const o of r.outputs) {
    lines.push(
      '- image:',
      `    registry: ${o.registry}`,
      `    repository: ${o.repository}`,
      `    tag: ${o.tag}`,
      `    digest: ${o.digest}`,
    );
    for (const d of r.dependencies)
      lines.push(
        '  runtime-dependency:',
        `    registry: ${d.registry}`,
        `    repository: ${d.repository}`,
        ...(d.tag ? [`    tag: ${d.tag}`] : []),
        `    digest: ${d.digest}`,
      );
  }
  return lines.join('\n');
}
