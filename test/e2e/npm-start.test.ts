// The stack exactly as `npm start` configures it (emulator default run times, the stack's settle window, the default
// CASCADE_NATIVE_TRIGGERS=adopt): the seed creates its tasks as the seed documents' `az acr task create` commands do,
// so ACR's own base-image trigger is on. One push of the seed base with the push script must give exactly one run of
// each seed task in the emulator's run list — ACR's own — and the cascade report marks them adopted.
// Needs `npm run build` (or `npx tsc -p tsconfig.build.json`) first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ContainerRegistryManagementClient, type Run } from '@azure/arm-containerregistry';
import { startStack, type RunningStack } from '../../local/stack/stack.js';
import { SEED } from '../../local/azure/seed.js';
import { cascadeInstanceId } from '../../src/domain/index.js';
import type { CascadeResult } from '../../src/contracts/index.js';
import { functionsCaller } from '../support/functionsHttp.js';
import { nativeFor, waitFor } from './cascadeStack.js';

const exec = promisify(execFile);
const SEED_TASKS = [SEED.tasks.hello, SEED.tasks.dockerhub];
const TERMINAL_RUN = ['Succeeded', 'Failed', 'Canceled', 'Error', 'Timeout'];
let stack: RunningStack;
let dir: string;
let acr: ContainerRegistryManagementClient;
const bodies: string[] = [];
const call = functionsCaller(() => stack.description.functions, bodies);

async function runsOf(taskName: string): Promise<Run[]> {
  const out: Run[] = [];
  const filter = `TaskName eq '${taskName}'`;
  for await (const r of acr.runs.list(SEED.resourceGroup, SEED.appRegistry, { filter })) out.push(r);
  return out;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'acr-cascade-npm-start-'));
  // What local/stack/main.ts passes, but on free ports and a private state directory.
  stack = await startStack({
    stateDir: join(dir, 'state'),
    stackFile: join(dir, 'stack.json'),
    ports: { arm: 0, identity: 0, host: 0, azurite: 0 },
    seed: true,
    persist: false,
  });
  acr = new ContainerRegistryManagementClient(stack.operator, stack.emu.subscriptionId, {
    endpoint: stack.emu.armEndpoint,
    credentialScopes: ['https://management.azure.com/.default'],
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('npm start, then one push of the seed base', () => {
  it('seeds its tasks with the base-image trigger `az acr task create` sets', async () => {
    for (const name of SEED_TASKS) {
      const task = await acr.tasks.get(SEED.resourceGroup, SEED.appRegistry, name);
      expect(task.trigger?.baseImageTrigger, name).toMatchObject({
        name: 'defaultBaseimageTriggerName',
        status: 'Enabled',
        baseImageTriggerType: 'Runtime',
      });
      // The seed ran each task once, so ACR knows its runtime base (and the trigger can fire).
      expect(task.step?.baseImageDependencies, name).toContainEqual(
        expect.objectContaining({ type: 'RunTime', registry: `${SEED.baseRegistry}.azurecr.io` }),
      );
    }
  });

  it('builds each seed task exactly once — ACR’s own run — and the cascade report marks the runs adopted', async () => {
    const before = Object.fromEntries(await Promise.all(SEED_TASKS.map(async (n) => [n, await runsOf(n)] as const)));
    const { stdout } = await exec(
      join(process.cwd(), 'node_modules', '.bin', 'tsx'),
      ['local/azure/push.ts', SEED.baseRegistry, `${SEED.baseImage.repository}:${SEED.baseImage.tag}`],
      { env: { ...process.env, ACR_CASCADE_STACK_FILE: join(dir, 'stack.json') } },
    );
    const digest = /sha256:[0-9a-f]{64}/.exec(stdout)?.[0];
    expect(digest).toBeDefined();

    const id = cascadeInstanceId(
      stack.seed!.registries[SEED.baseRegistry]!,
      SEED.baseImage.repository,
      SEED.baseImage.tag,
    );
    const result = await waitFor(
      `cascade ${id} for ${digest}`,
      async () => {
        const res = await call('GET', `/api/rebuilds/${encodeURIComponent(id)}`);
        const r = res.status === 200 ? (res.json.result as CascadeResult | undefined) : undefined;
        return r?.image?.digest === digest ? r : undefined;
      },
      90_000,
      500,
    );
    expect(result).toMatchObject({ status: 'Completed', waves: 1, image: { digest } });

    for (const name of SEED_TASKS) {
      // Once every run of the task has ended, the run list grew by exactly one: ACR's run for this digest.
      const runs = await waitFor(`${name}'s runs to end`, async () => {
        const all = await runsOf(name);
        return all.every((r) => TERMINAL_RUN.includes(r.status ?? '')) ? all : undefined;
      });
      const created = runs.filter((r) => !before[name]!.some((b) => b.runId === r.runId));
      expect(created, name).toHaveLength(1);
      expect(nativeFor(created, digest!), name).toHaveLength(1);
      expect(created[0]!.updateTriggerToken, name).toBeUndefined();

      const reported = result.tasks.find((t) => t.taskName === name);
      expect(reported, name).toMatchObject({
        wave: 1,
        outcome: 'succeeded',
        run: { runId: created[0]!.runId, status: 'Succeeded', adopted: true },
      });
      expect(reported!.reasons.map((r) => r.code)).toContain('NativeRunAdopted');
    }
  }, 150_000);
});
