// The local stack shaped by options: a scenario file adds a base registry and a task building on it, `watch` makes
// that registry's pushes start cascades, `npm run push` finds a registry created after the stack started (it asks
// the emulator), and scenario mistakes are refused with the JSON path named. Needs `npm run build` first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import { resolveWatch, startStack, type RunningStack } from '../../local/stack/stack.js';
import { parseScenario, type Scenario } from '../../local/azure/scenario.js';
import { SEED } from '../../local/azure/seed.js';
import { functionsCaller } from '../support/functionsHttp.js';
import { waitFor } from './cascadeStack.js';
import { cascadeInstanceId } from '../../src/domain/index.js';
import type { CascadeResult } from '../../src/contracts/index.js';

const exec = promisify(execFile);
const SCENARIO: Scenario = parseScenario({
  registries: [{ name: 'teambase', images: ['base/python:3.12'] }],
  identities: [{ name: 'teamTasksId' }],
  tasks: [
    {
      name: 'pyapp',
      registry: 'myregistry',
      identity: { userAssigned: ['teamTasksId'] },
      yaml: 'version: v1.1.0\nsteps:\n  - build: -t $Registry/pyapp:$ID -f Dockerfile --build-arg BASE=teambase.azurecr.io/base/python:3.12 .\n  - push: ["$Registry/pyapp:$ID"]\n',
      tags: { 'cascade.baseImages': 'teambase.azurecr.io/base/python:3.12' },
      credentials: { 'teambase.azurecr.io': { identity: 'teamTasksId' } },
      baseImageTrigger: false,
    },
  ],
  roleAssignments: [
    { name: 'pyapp-pull', principal: { identity: 'teamTasksId' }, role: 'AcrPull', scope: { registry: 'teambase' } },
  ],
  watch: ['teambase'],
});

let stack: RunningStack;
let dir: string;
const bodies: string[] = [];
const call = functionsCaller(() => stack.description.functions, bodies);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'acr-cascade-shape-'));
  stack = await startStack({
    stateDir: join(dir, 'state'),
    stackFile: join(dir, 'stack.json'),
    ports: { arm: 0, identity: 0, host: 0, azurite: 0 },
    runDurationMs: 200,
    scenarios: [SCENARIO],
    appSettings: { CASCADE_SETTLE_SECONDS: '1' },
  });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function push(registry: string, ref: string): Promise<{ stdout: string; stderr: string }> {
  return exec(join(process.cwd(), 'node_modules', '.bin', 'tsx'), ['local/azure/push.ts', registry, ref], {
    env: { ...process.env, ACR_CASCADE_STACK_FILE: join(dir, 'stack.json') },
  });
}

describe('a local stack shaped by a scenario file and --watch', () => {
  it('watches the seed base registry and the scenario’s', () => {
    const names = stack.watchedRegistries.map((id) => id.split('/').pop());
    expect(names.sort()).toEqual(['mybaseregistry', 'teambase']);
    expect(stack.appSettings.CASCADE_WATCHED_REGISTRIES!.split(',')).toEqual(stack.watchedRegistries);
  });

  it('rebuilds the scenario’s task when its base is pushed to the scenario’s registry', async () => {
    const { stdout } = await push('teambase', 'base/python:3.12');
    const digest = /sha256:[0-9a-f]{64}/.exec(stdout)?.[0];
    expect(digest).toBeDefined();
    const registryId = stack.watchedRegistries.find((id) => id.endsWith('/teambase'))!;
    const id = cascadeInstanceId(registryId, 'base/python', '3.12');
    const result = await waitFor(
      `cascade ${id}`,
      async () => {
        const res = await call('GET', `/api/rebuilds/${encodeURIComponent(id)}`);
        const r = res.status === 200 ? (res.json.result as CascadeResult | undefined) : undefined;
        return r?.image?.digest === digest ? r : undefined;
      },
      120_000,
      500,
    );
    expect(result).toMatchObject({ status: 'Completed', totals: { planned: 1, succeeded: 1 } });
    expect(result.tasks).toEqual([expect.objectContaining({ taskName: 'pyapp', outcome: 'succeeded' })]);
  }, 150_000);

  it('pushes with npm run push to a registry created after the stack started', async () => {
    const acr = new ContainerRegistryManagementClient(stack.operator, stack.emu.subscriptionId, {
      endpoint: stack.emu.armEndpoint,
      credentialScopes: ['https://management.azure.com/.default'],
    });
    await acr.registries.beginCreateAndWait(SEED.resourceGroup, 'latecomer', {
      location: SEED.location,
      sku: { name: 'Premium' },
    });
    const { stdout, stderr } = await push('latecomer', 'tools/jq:1');
    expect(stderr).toContain('pushed latecomer.azurecr.io/tools/jq:1');
    const digest = stdout.trim();
    expect(stack.emu.services.registryData!.resolveImage('latecomer.azurecr.io', 'tools/jq', '1')).toEqual({ digest });
    await expect(push('nosuchregistry', 'a:b')).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(
        /registry 'nosuchregistry' does not exist in the emulated subscription; registries there: .*latecomer/,
      ),
    });
  });
});

describe('scenario files', () => {
  it('name the JSON path of what is wrong', () => {
    expect(() => parseScenario({ registries: [{ name: 'x' }] }, 's.json')).toThrow(
      's.json.registries[0].name: a registry name is 5-50 letters or digits',
    );
    expect(() => parseScenario({ tasks: [{ name: 't', registry: 'myregistry' }] }, 's.json')).toThrow(
      's.json.tasks[0].yaml: expected the task YAML as a string',
    );
    expect(() =>
      parseScenario(
        { roleAssignments: [{ name: 'a', principal: { identity: 'i' }, role: 'Owner-ish', scope: 'subscription' }] },
        's.json',
      ),
    ).toThrow(/s\.json\.roleAssignments\[0\]\.role: expected a role GUID or one of AcrPull/);
    expect(() => parseScenario({ registry: [] }, 's.json')).toThrow('s.json.registry: unknown key');
  });

  it('--watch-all watches every registry there is; no --watch watches the seed base registry', () => {
    const rg = '/subscriptions/s/resourceGroups/myResourceGroup';
    const regs = ['mybaseregistry', 'myregistry', 'teambase'].map((name) => ({
      name,
      id: `${rg}/providers/Microsoft.ContainerRegistry/registries/${name}`,
    }));
    expect(resolveWatch('all', regs, rg)).toEqual(regs.map((r) => r.id));
    expect(resolveWatch(undefined, regs, rg)).toEqual([regs[0]!.id]);
    expect(resolveWatch(['TeamBase'], regs, rg)).toEqual([regs[2]!.id]);
  });

  it('--watch of a registry that does not exist is refused at start, naming the ones there are', async () => {
    await expect(
      startStack({
        stateDir: join(dir, 'refused'),
        stackFile: null,
        ports: { arm: 0, identity: 0, host: 0, azurite: 0 },
        watch: ['nosuchbase'],
      }),
    ).rejects.toThrow(/--watch nosuchbase: no such registry in the emulated subscription; there are: .*mybaseregistry/);
  }, 120_000);
});
