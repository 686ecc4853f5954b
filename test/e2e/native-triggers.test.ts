// ACR's own base-image triggers on the local stack, per CASCADE_NATIVE_TRIGGERS policy: each push of the base builds
// each dependent exactly once (counted in the emulator's run list), and the report says which runs were adopted.
// The seed, and a three-level chain with a diamond (base → mid1, mid2 → top, which builds on both; leaf on mid1) where
// mid2 and leaf have no native trigger and are scheduled as before. Tasks get the trigger `az acr task create` sets, and one run each so ACR
// records their bases (it tracks bases only once a task has run).
// Needs `npx tsc -p tsconfig.build.json` (or `npm run build`) first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import type { Task } from '@azure/arm-containerregistry';
import { SEED } from '../../local/azure/seed.js';
import { guidFrom } from '../../local/azure/guid.js';
import type { CascadeResult, TaskResult } from '../../src/contracts/index.js';
import { startCascadeStack, waitFor, type CascadeStack } from './cascadeStack.js';

const ACR_PUSH = '8311e382-0749-4cb8-b61a-304f252e45ec';
const TERMINAL = ['Succeeded', 'Failed', 'Canceled', 'Error', 'Timeout'];
const CLI_TRIGGER: Task['trigger'] = {
  baseImageTrigger: { name: 'defaultBaseimageTriggerName', status: 'Enabled', baseImageTriggerType: 'Runtime' },
};
const baseServer = `${SEED.baseRegistry}.azurecr.io`;
const SEED_TASKS = [SEED.tasks.hello, SEED.tasks.dockerhub];

/**
 * Short runs: ACR's runs end and push before the cascade has even planned (settle 1 s), the hard case for adoption
 * (the plan sees the new digest already recorded) and for own-push detection (mid1's push arrives before its run was
 * adopted). NATIVE_RUN_MS=4000 runs the same tests with runs that outlast the settle window.
 */
const RUN_MS = Number(process.env.NATIVE_RUN_MS ?? 300);

function yaml(image: string, from: string): string {
  return Buffer.from(
    [
      'version: v1.1.0',
      'steps:',
      `  - build: -t ${image} https://github.com/example/app.git -f Dockerfile --build-arg BASE=${from}`,
      `  - push: ["${image}"]`,
      '',
    ].join('\n'),
  ).toString('base64');
}

async function runOnce(s: CascadeStack, name: string): Promise<void> {
  const task = await s.acr.tasks.get(SEED.resourceGroup, SEED.appRegistry, name);
  const run = await s.acr.registries.beginScheduleRunAndWait(SEED.resourceGroup, SEED.appRegistry, {
    type: 'TaskRunRequest',
    taskId: task.id!,
  });
  await waitFor(`the first run of ${name}`, async () => {
    const r = await s.acr.runs.get(SEED.resourceGroup, SEED.appRegistry, run.runId!);
    return TERMINAL.includes(r.status ?? '') ? true : undefined;
  });
}

async function refreshIndex(s: CascadeStack): Promise<void> {
  const refresh = await s.call('POST', '/api/index/refresh');
  expect(refresh.status).toBe(202);
  await waitFor('the index refresh', async () => {
    const status = await s.call('GET', '/api/index/refresh');
    return status.json.status === 'Completed' ? true : undefined;
  });
}

/** Runs per task created by this push: the difference of run counts, once every run of the push is finished. */
async function runsPerTask(s: CascadeStack, names: string[], before: Record<string, number>) {
  const out: Record<string, number> = {};
  for (const name of names) {
    await waitFor(`${name}'s runs to finish`, async () =>
      (await s.runsOf(name)).every((r) => TERMINAL.includes(r.status ?? '')) ? true : undefined,
    );
    out[name] = (await s.runsOf(name)).length - before[name]!;
  }
  return out;
}

/**
 * Waits until nothing set-up started is still going: every push delivered, no cascade active, every run of `names`
 * ended — twice, 3 s apart (an intake starts its cascade a moment after the delivery). The set-up's own runs push
 * mid1/mid2 into the watched registry, and the cascades those pushes start must not land in a test's run counts.
 */
async function quiesce(s: CascadeStack, names: string[]): Promise<void> {
  let busy = '';
  const idle = async () => {
    await s.admin('GET', '/eventgrid/idle');
    const res = await s.call('GET', '/api/rebuilds');
    const cascades = (res.json.cascades ?? []) as { id: string; status: string }[];
    const active = cascades.filter((c) => ['Pending', 'Running', 'Suspended'].includes(c.status));
    busy = active.map((c) => `cascade ${c.id} ${c.status}`).join(', ');
    if (active.length > 0) return false;
    for (const name of names) {
      const open = (await s.runsOf(name)).filter((r) => !TERMINAL.includes(r.status ?? ''));
      busy = open.map((r) => `run ${r.runId} of ${name} ${r.status}`).join(', ');
      if (open.length > 0) return false;
    }
    return true;
  };
  await waitFor(
    'the set-up cascades and runs to end',
    async () => {
      if (!(await idle())) return undefined;
      await new Promise((r) => setTimeout(r, 3000));
      return (await idle()) ? true : undefined;
    },
    150_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; still going: ${busy || 'nothing (an answer failed?)'}`);
  });
}

async function counts(s: CascadeStack, names: string[]): Promise<Record<string, number>> {
  return Object.fromEntries(await Promise.all(names.map(async (n) => [n, (await s.runsOf(n)).length] as const)));
}

const byName = (result: CascadeResult | undefined): Record<string, TaskResult> =>
  Object.fromEntries((result?.tasks ?? []).map((t) => [t.taskName, t]));

describe('CASCADE_NATIVE_TRIGGERS=adopt (default)', () => {
  let s: CascadeStack;
  let counter = 0;
  const mid1 = `${baseServer}/baseimages/mid1:1`;
  const mid2 = `${baseServer}/baseimages/mid2:1`;
  const CHAIN = ['mid1task', 'mid2task', 'toptask', 'leaftask'];

  async function createTask(name: string, from: string[], output: string, withTrigger: boolean) {
    const seed = s.stack.seed!;
    await s.acr.tasks.beginCreateAndWait(SEED.resourceGroup, SEED.appRegistry, name, {
      location: SEED.location,
      tags: { 'cascade.baseImages': from.join(','), 'cascade.outputImages': output },
      identity: { type: 'UserAssigned', userAssignedIdentities: { [seed.identity.id]: {} } },
      platform: { os: 'Linux' },
      step: { type: 'EncodedTask', encodedTaskContent: yaml(output, from[0]!), contextPath: '/dev/null' },
      credentials: { customRegistries: { [baseServer]: { identity: seed.identity.clientId } } },
      timeout: 600,
      ...(withTrigger ? { trigger: CLI_TRIGGER } : {}),
    });
  }

  beforeAll(async () => {
    // ACR starts its runs when the push lands, before Event Grid delivers it: 30 s of adopt window is plenty here, and
    // keeps the cascades the set-up's pushes start (waited out by quiesce) short.
    s = await startCascadeStack(
      'native-adopt',
      { CASCADE_SETTLE_SECONDS: '1', CASCADE_NATIVE_ADOPT_WINDOW_SECONDS: '30' },
      RUN_MS,
    );
    const seed = s.stack.seed!;
    const authz = new AuthorizationManagementClient(s.stack.operator, s.stack.emu.subscriptionId, {
      endpoint: s.stack.emu.armEndpoint,
      credentialScopes: ['https://management.azure.com/.default'],
    });
    // mid1/mid2 push into the watched base registry.
    await authz.roleAssignments.create(seed.registries[SEED.baseRegistry]!, guidFrom('native-mid-acrpush'), {
      roleDefinitionId: `/subscriptions/${s.stack.emu.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${ACR_PUSH}`,
      principalId: seed.identity.principalId,
      principalType: 'ServicePrincipal',
    });
    await createTask('mid1task', [seed.baseImageRef], mid1, true);
    await createTask('mid2task', [seed.baseImageRef], mid2, false);
    // top builds on both; its step names mid1, its runtime base (mid2 is a build-stage base).
    await createTask('toptask', [mid1, mid2], `${SEED.appRegistry}.azurecr.io/top:1`, true);
    await createTask('leaftask', [mid1], `${SEED.appRegistry}.azurecr.io/leaf:1`, false);
    // The seed created its tasks as `az acr task create` does: the trigger is already on.
    for (const name of SEED_TASKS) {
      const task = await s.acr.tasks.get(SEED.resourceGroup, SEED.appRegistry, name);
      expect(task.trigger?.baseImageTrigger).toMatchObject(CLI_TRIGGER!.baseImageTrigger!);
    }
    for (const name of [...SEED_TASKS, ...CHAIN]) await runOnce(s, name);
    await refreshIndex(s);
    await quiesce(s, [...SEED_TASKS, ...CHAIN]);
  }, 400_000);

  afterAll(async () => {
    await s?.stop();
  });

  it('shows in the plan which tasks have the trigger and what the policy does about it', async () => {
    const res = await s.call('GET', '/api/plan', { query: { image: s.stack.seed!.baseImageRef } });
    expect(res.status).toBe(200);
    const tasks = res.json.tasks as { taskName: string; reasons: { code: string; message: string; fix?: string }[] }[];
    const hello = tasks.find((t) => t.taskName === SEED.tasks.hello)!;
    expect(hello.reasons).toContainEqual(
      expect.objectContaining({
        code: 'NativeTriggerEnabled',
        severity: 'info',
        fix: `az acr task update --name ${SEED.tasks.hello} --registry ${SEED.appRegistry} --base-image-trigger-enabled false`,
      }),
    );
    expect(hello.reasons.find((r) => r.code === 'NativeTriggerEnabled')!.message).toContain('adopts');
    const mid2 = tasks.find((t) => t.taskName === 'mid2task')!;
    expect(mid2.reasons.map((r) => r.code)).not.toContain('NativeTriggerEnabled');
  });

  it('builds every dependent once per push: native runs adopted, a task without the trigger scheduled', async () => {
    const names = [...SEED_TASKS, ...CHAIN];
    const before = await counts(s, names);
    const digest = s.pushBase(`native-adopt-${++counter}`);
    const done = await s.waitDone(s.cascadeId(), digest, 120_000);
    expect(done.result).toMatchObject({ status: 'Completed', waves: 2 });
    const tasks = byName(done.result);
    expect(tasks[SEED.tasks.hello]).toMatchObject({ wave: 1, outcome: 'succeeded', run: { adopted: true } });
    expect(tasks[SEED.tasks.hello]!.reasons.map((r) => r.code)).toContain('NativeRunAdopted');
    expect(tasks.mid1task).toMatchObject({ wave: 1, outcome: 'succeeded', run: { adopted: true } });
    expect(tasks.mid2task).toMatchObject({ wave: 1, outcome: 'succeeded' });
    expect(tasks.mid2task!.run?.adopted).toBeUndefined();
    expect(tasks.toptask).toMatchObject({ wave: 2, outcome: 'succeeded', run: { adopted: true } });
    expect(tasks.leaftask).toMatchObject({ wave: 2, outcome: 'succeeded' });
    expect(tasks.leaftask!.run?.adopted).toBeUndefined();
    const created = await runsPerTask(s, names, before);
    expect(created).toEqual(Object.fromEntries(names.map((n) => [n, 1])));
    // ACR's mid1 run pushed mid1 (perhaps before the cascade adopted it): that push is the cascade's own, so no second
    // cascade builds leaf (or top) on it.
    const mid1Out = tasks.mid1task!.run!.outputImages.find((o) => o.startsWith(`${mid1}@`));
    expect(mid1Out).toBeDefined();
    await s.admin('GET', '/eventgrid/idle');
    await waitFor('the own-push log line for the mid1 push', async () =>
      s.logs.find((l) => l.includes(mid1Out!) && l.includes("own push (pushed by ACR's run")),
    );
    const mid1Cascade = await s.status(s.cascadeId('baseimages/mid1', '1'));
    expect(mid1Cascade?.progress?.image?.digest ?? mid1Cascade?.result?.image?.digest).not.toBe(mid1Out!.split('@')[1]);
  }, 180_000);
});

describe('CASCADE_NATIVE_TRIGGERS=disable', () => {
  let s: CascadeStack;

  beforeAll(async () => {
    s = await startCascadeStack(
      'native-disable',
      { CASCADE_SETTLE_SECONDS: '1', CASCADE_NATIVE_TRIGGERS: 'disable' },
      RUN_MS,
    );
    for (const name of SEED_TASKS) await runOnce(s, name);
    await refreshIndex(s);
  }, 240_000);

  afterAll(async () => {
    await s?.stop();
  });

  it('switches the trigger off on the tasks it rebuilds, adopting the run it had already started, then schedules alone', async () => {
    const before = await counts(s, SEED_TASKS);
    const first = s.pushBase('native-disable-1');
    const done = await s.waitDone(s.cascadeId(), first, 120_000);
    const hello = byName(done.result)[SEED.tasks.hello]!;
    expect(hello).toMatchObject({ outcome: 'succeeded', run: { adopted: true } });
    expect(hello.reasons.map((r) => r.code)).toEqual(
      expect.arrayContaining(['NativeTriggerDisabled', 'NativeRunAdopted']),
    );
    const task = await s.acr.tasks.get(SEED.resourceGroup, SEED.appRegistry, SEED.tasks.hello);
    expect(task.trigger?.baseImageTrigger?.status).toBe('Disabled');
    expect((await runsPerTask(s, [SEED.tasks.hello], before))[SEED.tasks.hello]).toBe(1);

    // Next push: ACR starts nothing; acr-cascade schedules the one run.
    const again = await counts(s, [SEED.tasks.hello]);
    const second = s.pushBase('native-disable-2');
    const next = await s.waitDone(s.cascadeId(), second, 120_000);
    const hello2 = byName(next.result)[SEED.tasks.hello]!;
    expect(hello2).toMatchObject({ outcome: 'succeeded' });
    expect(hello2.run?.adopted).toBeUndefined();
    expect(hello2.reasons.map((r) => r.code)).not.toContain('NativeTriggerDisabled');
    expect((await runsPerTask(s, [SEED.tasks.hello], again))[SEED.tasks.hello]).toBe(1);
  }, 240_000);
});
