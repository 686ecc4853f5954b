// A three-level cascade on the local stack (base → mid image pushed back into the watched base registry → two apps),
// and a host crash in the middle of one. Extra tasks are created the way an operator would, through ARM.
// Needs `npx tsc -p tsconfig.build.json` (or `npm run build`) first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { SEED } from '../../local/azure/seed.js';
import { guidFrom } from '../../local/azure/guid.js';
import { keyOf, tokenOf } from '../../src/activities/runs/index.js';
import type { CascadeResult } from '../../src/contracts/index.js';
import { runsForUpdate, startCascadeStack, waitFor, type CascadeStack } from './cascadeStack.js';

const ACR_PUSH = '8311e382-0749-4cb8-b61a-304f252e45ec';
const MID = { repository: 'baseimages/mid', tag: '1' };

let s: CascadeStack;
let counter = 0;
const taskIds: Record<string, string> = {};
const baseServer = `${SEED.baseRegistry}.azurecr.io`;
const midRef = `${baseServer}/${MID.repository}:${MID.tag}`;

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

/** A task of myregistry using the seed's user-assigned identity to log in to the base registry. */
async function createTask(name: string, from: string, output: string, outputTag: string) {
  const seed = s.stack.seed!;
  const task = await s.acr.tasks.beginCreateAndWait(SEED.resourceGroup, SEED.appRegistry, name, {
    location: SEED.location,
    tags: { 'cascade.baseImages': from, 'cascade.outputImages': output },
    identity: { type: 'UserAssigned', userAssignedIdentities: { [seed.identity.id]: {} } },
    platform: { os: 'Linux' },
    step: { type: 'EncodedTask', encodedTaskContent: yaml(outputTag, from), contextPath: '/dev/null' },
    credentials: { customRegistries: { [baseServer]: { identity: seed.identity.clientId } } },
    timeout: 600,
  });
  taskIds[name] = task.id!;
}

const token = (name: string, digest: string) =>
  tokenOf(keyOf({ task: taskIds[name]!, cascadeId: '', base: { ref: s.stack.seed!.baseImageRef, digest } }), 1);

/** Every run of the task for this base digest: the cascade's, and ACR's own (the seed tasks have the trigger on). */
async function runsFor(name: string, digest: string) {
  return runsForUpdate(await s.runsOf(name), token(name, digest), digest);
}

beforeAll(async () => {
  s = await startCascadeStack('cascade-levels', { CASCADE_SETTLE_SECONDS: '1' }, 1500);
  const seed = s.stack.seed!;
  taskIds[SEED.tasks.hello] = seed.taskIds[SEED.tasks.hello]!;
  taskIds[SEED.tasks.dockerhub] = seed.taskIds[SEED.tasks.dockerhub]!;
  // The mid task pushes into the watched base registry: its identity needs AcrPush there.
  const authz = new AuthorizationManagementClient(s.stack.operator, s.stack.emu.subscriptionId, {
    endpoint: s.stack.emu.armEndpoint,
    credentialScopes: ['https://management.azure.com/.default'],
  });
  await authz.roleAssignments.create(seed.registries[SEED.baseRegistry]!, guidFrom('levels-mid-acrpush'), {
    roleDefinitionId: `/subscriptions/${s.stack.emu.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${ACR_PUSH}`,
    principalId: seed.identity.principalId,
    principalType: 'ServicePrincipal',
  });
  await createTask('midtask', seed.baseImageRef, midRef, midRef);
  await createTask('app1task', midRef, `${SEED.appRegistry}.azurecr.io/app1`, '$Registry/app1:$ID');
  await createTask('app2task', midRef, `${SEED.appRegistry}.azurecr.io/app2`, '$Registry/app2:$ID');
  // The index learns about new tasks on its timer or on demand.
  const refresh = await s.call('POST', '/api/index/refresh');
  expect(refresh.status).toBe(202);
  expect(refresh.json.statusUri).toMatch(/\/api\/index\/refresh$/);
  await waitFor('the index refresh', async () => {
    const res = await s.call('GET', '/api/index/refresh');
    return res.json.status === 'Completed' ? true : undefined;
  });
}, 120_000);

afterAll(async () => {
  await s?.stop();
});

function check(result: CascadeResult | undefined, digest: string) {
  expect(result).toMatchObject({ status: 'Completed', waves: 2 });
  const byName = Object.fromEntries(result!.tasks.map((t) => [t.taskName, t]));
  expect(byName.midtask).toMatchObject({ wave: 1, outcome: 'succeeded' });
  expect(byName.app1task).toMatchObject({ wave: 2, outcome: 'succeeded' });
  expect(byName.app2task).toMatchObject({ wave: 2, outcome: 'succeeded' });
  // helloworldtask has ACR's trigger (as the seed creates it): its native run is adopted; the chain has none.
  expect(byName[SEED.tasks.hello]).toMatchObject({ wave: 1, outcome: 'succeeded', run: { adopted: true } });
  for (const name of ['midtask', 'app1task', 'app2task']) expect(byName[name]!.run?.adopted, name).toBeUndefined();
  expect(result!.image?.digest).toBe(digest);
  return byName;
}

describe('a three-level cascade', () => {
  it('runs base → mid → two apps in order, once each, and does not start a cascade for its own mid push', async () => {
    const digest = s.pushBase(`levels-${++counter}`);
    const done = await s.waitDone(s.cascadeId(), digest, 50_000);
    const byName = check(done.result, digest);
    // Wave 2 was scheduled only after the mid image was rebuilt.
    const mid = (await runsFor('midtask', digest))[0]!;
    for (const app of ['app1task', 'app2task']) {
      const runs = await runsFor(app, digest);
      expect(runs).toHaveLength(1);
      expect(runs[0]!.createTime!.getTime()).toBeGreaterThanOrEqual(mid.finishTime!.getTime());
    }
    expect(await runsFor('midtask', digest)).toHaveLength(1);
    expect(
      byName.midtask?.run?.outputImages.some((o) => o.startsWith(`${baseServer}/${MID.repository}:${MID.tag}@`)),
    ).toBe(true);
    // The mid push came back as an ImagePushed event and was recognised as our own.
    await s.admin('GET', '/eventgrid/idle');
    await waitFor('the own-push log line', async () =>
      s.logs.find((l) => l.includes(`${midRef}@`) && l.includes('own push')),
    );
    expect(await s.status(s.cascadeId(MID.repository, MID.tag))).toBeUndefined();
  });

  it('completes after the host is killed mid-cascade and restarted, with no duplicate run', async () => {
    const digest = s.pushBase(`levels-${++counter}`);
    // Kill while wave-1 runs are in flight.
    await waitFor(
      'wave-1 runs',
      async () => ((await runsFor('midtask', digest)).length > 0 ? true : undefined),
      30_000,
      100,
    );
    await s.stack.killHost();
    await new Promise((r) => setTimeout(r, 500));
    await s.stack.startHost();
    // Generous: after a restart the host recovers every instance, and a busy shared machine slows all of it.
    const done = await s.waitDone(s.cascadeId(), digest, 100_000);
    check(done.result, digest);
    for (const name of [SEED.tasks.hello, 'midtask', 'app1task', 'app2task']) {
      expect(await runsFor(name, digest), name).toHaveLength(1);
    }
    expect((await runsFor(SEED.tasks.dockerhub, digest)).length).toBeLessThanOrEqual(1);
  }, 150_000);
});
