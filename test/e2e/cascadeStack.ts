// Helpers of the cascade e2e tests: a local stack (emulator + Azurite + the Functions host running the compiled app)
// with every log line, HTTP body and durable history kept, so tests can also prove no secret value leaks.
// Needs `npx tsc -p tsconfig.build.json` (or `npm run build`) first.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerRegistryManagementClient, type Run } from '@azure/arm-containerregistry';
import { SecretClient } from '@azure/keyvault-secrets';
import { startStack, type RunningStack, type StackOptions } from '../../local/stack/stack.js';
import { SEED } from '../../local/azure/seed.js';
import { functionsCaller, type Call } from '../support/functionsHttp.js';
import { cascadeInstanceId } from '../../src/domain/index.js';
import type { CascadeProgress, CascadeResult } from '../../src/contracts/index.js';

export interface CascadeStatusBody {
  id: string;
  source: 'durable' | 'history';
  /** The API's one status vocabulary (src/http/status.ts). */
  status: string;
  runtimeStatus: string;
  progress?: CascadeProgress | null;
  result?: CascadeResult;
}

export interface CascadeStack {
  stack: RunningStack;
  /** Every line the stack (host, Azurite) logged. */
  logs: string[];
  /** Every HTTP response body tests received. */
  bodies: string[];
  /** The seed's Docker Hub password (read with the operator) — must appear nowhere. */
  password: string;
  acr: ContainerRegistryManagementClient;
  baseRegistryId: string;
  call: Call;
  admin(method: string, path: string, body?: unknown): Promise<Response>;
  /** Pushes a new digest of the seed's base image (label makes it unique); returns the digest. */
  pushBase(label: string, repository?: string, tag?: string): string;
  cascadeId(repository?: string, tag?: string): string;
  status(id: string): Promise<CascadeStatusBody | undefined>;
  /** Waits until the cascade reaches a terminal runtime status (and, when given, has this image digest). */
  waitDone(id: string, digest?: string, timeoutMs?: number): Promise<CascadeStatusBody>;
  /** Runs of a task of myregistry, newest first. */
  runsOf(taskName: string): Promise<Run[]>;
  /** Durable status of every instance with input, output and history (what `showHistory` returns). */
  durableDump(): Promise<string>;
  stop(): Promise<void>;
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  everyMs = 200,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const TERMINAL = ['Completed', 'Failed', 'Terminated', 'Canceled', 'Superseded'];

export async function startCascadeStack(
  prefix: string,
  appSettings: Record<string, string> = {},
  runDurationMs = 200,
  stackOptions: Pick<StackOptions, 'grantAppRoles' | 'beforeHost'> = {},
): Promise<CascadeStack> {
  const stateDir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const logs: string[] = [];
  const bodies: string[] = [];
  let stack: RunningStack;
  try {
    stack = await startStack({
      stateDir,
      ports: { arm: 0, identity: 0, host: 0, azurite: 0 },
      runDurationMs,
      stackFile: null,
      log: (l) => logs.push(l),
      ...stackOptions,
      appSettings: { CASCADE_TASK_HUB: 'AcrCascade', CASCADE_SETTLE_SECONDS: '3', ...appSettings },
    });
  } catch (err) {
    rmSync(stateDir, { recursive: true, force: true });
    throw err;
  }
  const seed = stack.seed!;
  const secrets = new SecretClient(seed.vaultUri.replace(/\/+$/, ''), stack.operator, {
    disableChallengeResourceVerification: true,
  });
  const password = (await secrets.getSecret('Password')).value!;
  const acr = new ContainerRegistryManagementClient(stack.operator, stack.emu.subscriptionId, {
    endpoint: stack.emu.armEndpoint,
    credentialScopes: ['https://management.azure.com/.default'],
  });
  const baseRegistryId = seed.registries[SEED.baseRegistry]!;

  const call = functionsCaller(() => stack.description.functions, bodies);

  const status = async (id: string) => {
    const res = await call('GET', `/api/rebuilds/${encodeURIComponent(id)}`);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`GET /api/rebuilds/${id}: ${res.status} ${res.text}`);
    return res.json as unknown as CascadeStatusBody;
  };

  const durable = async (path: string) => {
    const f = stack.description.functions;
    const sep = path.includes('?') ? '&' : '?';
    const res = await fetch(`${f.baseUrl}/runtime/webhooks/durabletask/${path}${sep}code=${f.masterKey}`);
    return res.text();
  };

  return {
    stack,
    logs,
    bodies,
    password,
    acr,
    baseRegistryId,
    call,
    admin: (method, path, body) =>
      fetch(`${stack.emu.armEndpoint}/_emulator${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
    pushBase: (label, repository = SEED.baseImage.repository, tag = SEED.baseImage.tag) =>
      stack.emu.services.registryData!.pushSyntheticImage(SEED.baseRegistry, repository, tag, label).digest,
    cascadeId: (repository = SEED.baseImage.repository, tag = SEED.baseImage.tag) =>
      cascadeInstanceId(baseRegistryId, repository, tag),
    status,
    waitDone: async (id, digest, timeoutMs = 40_000) => {
      let last: CascadeStatusBody | undefined;
      try {
        return await waitFor(
          `cascade ${id} to finish${digest ? ` with ${digest}` : ''}`,
          async () => {
            const s = (last = await status(id));
            if (!s || !TERMINAL.includes(s.status)) return undefined;
            if (digest && s.result?.image?.digest !== digest) return undefined;
            return s;
          },
          timeoutMs,
          250,
        );
      } catch (err) {
        // What the cascade and the trigger were doing: a timeout alone says nothing about why.
        const trail = logs.filter((l) => !/^\[azurite\]/.test(l)).slice(-100);
        const state = JSON.stringify({ status: last?.status, progress: last?.progress });
        throw new Error(`${(err as Error).message}\nlast status: ${state}\n${trail.join('\n')}`, { cause: err });
      }
    },
    runsOf: async (taskName) => {
      const out: Run[] = [];
      for await (const r of acr.runs.list(SEED.resourceGroup, SEED.appRegistry, {
        filter: `TaskName eq '${taskName}'`,
      })) {
        out.push(r);
      }
      return out;
    },
    durableDump: async () => {
      const list = JSON.parse(await durable('instances/?showInput=true')) as { instanceId: string }[];
      const parts: string[] = [];
      for (const i of list) {
        parts.push(
          await durable(
            `instances/${encodeURIComponent(i.instanceId)}?showHistory=true&showHistoryOutput=true&showInput=true`,
          ),
        );
      }
      return parts.join('\n');
    },
    stop: async () => {
      try {
        await stack.stop();
      } finally {
        rmSync(stateDir, { recursive: true, force: true });
      }
    },
  };
}

/** Runs of one task carrying a given correlation token (one exactly-once key and attempt). */
export function withToken(runs: Run[], token: string): Run[] {
  return runs.filter((r) => r.updateTriggerToken === token);
}

/** Runs ACR's own base-image trigger started for this base digest (the seed's tasks have the trigger on). */
export function nativeFor(runs: Run[], digest: string): Run[] {
  return runs.filter((r) => r.imageUpdateTrigger?.images?.some((i) => i.digest === digest));
}

/** Every run of one task for one base update: the cascade's (by correlation token) and ACR's own (by digest). */
export function runsForUpdate(runs: Run[], token: string, digest: string): Run[] {
  return runs.filter((r) => r.updateTriggerToken === token || nativeFor([r], digest).length > 0);
}
