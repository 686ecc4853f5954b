import { describe, expect, it } from 'vitest';
import {
  buildGraph,
  ImageRefError,
  isStillTriggered,
  plan,
  planForTasks,
  registryId,
  subgraph,
  taskBaseImages,
  taskId,
  type Plan,
  type TaskInfo,
} from '../../../src/domain/index.js';
import { helloworldtask, dockerhubtask, NEW_DIGEST, NODE_DIGEST } from './seed.js';

const REG = registryId('s1', 'rg', 'apps');
const LS = 'apps.azurecr.io';
const BASE = 'mybaseregistry.azurecr.io/baseimages/node:15-alpine';
const D1 = `sha256:${'d1'.repeat(32)}`;

let counter = 0;
/** A task in `apps` building FROM `bases` (recorded, with an old digest unless given) and pushing `outputs`. */
function task(name: string, bases: string[], outputs: string[], over: Partial<TaskInfo> = {}): TaskInfo {
  counter++;
  return {
    id: taskId(REG, name),
    name,
    registryId: REG,
    loginServer: LS,
    status: 'Enabled',
    timeoutSeconds: 3600,
    identity: { userAssigned: [] },
    baseImages: bases.map((ref) => ({
      ref,
      digest: `sha256:${String(counter % 10).repeat(64)}`,
      source: 'recorded' as const,
    })),
    outputImages: outputs,
    credentials: [],
    tags: {},
    ...over,
  };
}

function names(p: Plan): string[][] {
  return p.waves.map((w) => w.map((t) => t.taskName));
}

describe('plan: waves', () => {
  it('orders a three-level cascade base → runtime → app → tests', () => {
    const g = buildGraph([
      task('runtime', [BASE], ['runtime:1']),
      task('app', [`${LS}/runtime:1`], ['app:{{.Run.ID}}', 'app:latest']),
      task('apptests', [`${LS}/app:latest`], []),
    ]);
    const p = plan(g, { ref: BASE, digest: NEW_DIGEST });
    expect(names(p)).toEqual([['runtime'], ['app'], ['apptests']]);
    expect(p.waves[0]?.[0]).toMatchObject({
      wave: 1,
      triggers: [{ why: 'recorded', image: `${BASE}@${NEW_DIGEST}` }],
      baseImages: [BASE],
    });
    expect(p.waves[1]?.[0]?.triggers).toEqual([
      { why: 'output', image: `${LS}/runtime:1`, producerTaskId: taskId(REG, 'runtime') },
    ]);
    expect(p.skipped).toEqual([]);
    expect(p.pushed).toEqual({ ref: `${BASE}@${NEW_DIGEST}`, digest: NEW_DIGEST });
  });

  it('plans a task reachable twice (diamond) once, in its latest wave', () => {
    const g = buildGraph([
      task('left', [BASE], ['left:1']),
      task('right', [BASE], ['right:1']),
      task('join', [`${LS}/left:1`, `${LS}/right:1`], ['join:1']),
      // Depends on the base directly and on join (wave 2): must wait for wave 3.
      task('late', [BASE, `${LS}/join:1`], []),
    ]);
    const p = plan(g, { ref: BASE, digest: NEW_DIGEST });
    expect(names(p)).toEqual([['left', 'right'], ['join'], ['late']]);
    const join = p.waves[1]?.[0];
    expect(join?.triggers.map((t) => t.producerTaskId)).toEqual([taskId(REG, 'left'), taskId(REG, 'right')]);
    const late = p.waves[2]?.[0];
    expect(late?.triggers.map((t) => t.why)).toEqual(['recorded', 'output']);
  });

  it('matches a templated output to every tagged base of its repository', () => {
    const consumer = task('consumer', ['myregistry.azurecr.io/hello-world:latest'], []);
    const g = buildGraph([helloworldtask(), consumer]);
    const p = plan(g, { ref: BASE.replace('15-alpine', '15-alpine'), digest: NEW_DIGEST });
    expect(names(p)).toEqual([['helloworldtask'], ['consumer']]);
    expect(p.waves[1]?.[0]?.triggers[0]?.image).toBe('myregistry.azurecr.io/hello-world:{{.Run.ID}}');
  });

  it('finds Docker Hub dependents through the implicit library/ and index.docker.io', () => {
    const declared = task('declared', [], [], {
      tags: { 'Cascade.BaseImages': 'node:15, mybaseregistry.azurecr.io/x:1' },
    });
    const g = buildGraph([declared, dockerhubtask()]);
    const p = plan(g, { ref: 'index.docker.io/library/node:15', digest: NEW_DIGEST });
    expect(names(p)).toEqual([['declared']]);
    expect(p.waves[0]?.[0]?.triggers).toEqual([{ why: 'declared', image: `docker.io/library/node:15@${NEW_DIGEST}` }]);
    expect(names(plan(g, { ref: 'hello-world', digest: NEW_DIGEST }))).toEqual([['dockerhubtask']]);
  });

  it('reports BaseNotFound when nothing depends on the image', () => {
    const p = plan(buildGraph([helloworldtask()]), { ref: 'mybaseregistry.azurecr.io/other:1', digest: NEW_DIGEST });
    expect(p.waves).toEqual([]);
    expect(p.notes).toEqual([
      {
        code: 'BaseNotFound',
        severity: 'info',
        message: 'No managed task depends on mybaseregistry.azurecr.io/other:1.',
      },
    ]);
  });

  it('rejects a malformed pushed ref or digest', () => {
    const g = buildGraph([]);
    expect(() => plan(g, { ref: 'Bad:1', digest: NEW_DIGEST })).toThrow(ImageRefError);
    expect(() => plan(g, { ref: 'node:1', digest: 'sha256:1' })).toThrow(expect.objectContaining({ part: 'digest' }));
  });
});

describe('plan: up to date', () => {
  it('skips a dependent whose recorded base digest already matches the push, and does not follow it', () => {
    const g = buildGraph([helloworldtask(), task('consumer', ['myregistry.azurecr.io/hello-world:latest'], [])]);
    const p = plan(g, { ref: BASE, digest: NODE_DIGEST });
    expect(p.waves).toEqual([]);
    expect(p.skipped).toEqual([
      {
        taskId: helloworldtask().id,
        taskName: 'helloworldtask',
        reason: {
          code: 'UpToDate',
          severity: 'info',
          message: `Task 'helloworldtask' (registry myregistry) was last built from ${BASE}@${NODE_DIGEST}; skipped.`,
        },
      },
    ]);
  });

  it('still rebuilds an up-to-date dependent that another planned task feeds', () => {
    const fresh = task('fresh', [BASE], ['mid:1']);
    const current = task('current', [BASE, `${LS}/mid:1`], []);
    current.baseImages[0]!.digest = D1;
    const p = plan(buildGraph([fresh, current]), { ref: BASE, digest: D1 });
    expect(names(p)).toEqual([['fresh'], ['current']]);
    expect(p.skipped).toEqual([]);
  });

  it('treats a digest-pinned base as up to date when the same digest is pushed, and ignores other digests', () => {
    const pinned = task('pinned', [`mybaseregistry.azurecr.io/baseimages/node@${D1}`], []);
    pinned.baseImages[0]!.digest = undefined;
    const g = buildGraph([pinned]);
    expect(plan(g, { ref: BASE, digest: D1 }).skipped.map((s) => s.reason.code)).toEqual(['UpToDate']);
    expect(plan(g, { ref: BASE, digest: NEW_DIGEST }).notes.map((n) => n.code)).toEqual(['BaseNotFound']);
  });
});

describe('plan: cycles', () => {
  it('reports a loop by name, schedules none of it nor what only it feeds, and plans the rest', () => {
    const a = task('alpha', [BASE], ['alpha:1']);
    const b = task('beta', [`${LS}/alpha:1`], ['beta:1']);
    // alpha also declares beta's output as a base: alpha → beta → alpha.
    a.tags = { 'cascade.baseImages': `${LS}/beta:1` };
    const c = task('gamma', [`${LS}/beta:1`], []);
    const free = task('free', [BASE], []);
    const p = plan(buildGraph([a, b, c, free]), { ref: BASE, digest: NEW_DIGEST });
    expect(names(p)).toEqual([['free']]);
    expect(p.cycles).toHaveLength(1);
    expect(p.cycles[0]?.taskIds).toEqual([taskId(REG, 'alpha'), taskId(REG, 'beta')]);
    expect(p.cycles[0]?.reason).toEqual({
      code: 'Cycle',
      severity: 'blocking',
      message:
        "Tasks 'alpha' → 'beta' → 'alpha' form a dependency loop ('alpha' pushes apps.azurecr.io/alpha:1, which 'beta' builds from; " +
        "'beta' pushes apps.azurecr.io/beta:1, which 'alpha' builds from); none of them is scheduled.",
      fix: `az tag update --resource-id ${taskId(REG, 'alpha')} --operation Merge --tags "cascade.baseImages=<refs without apps.azurecr.io/beta:1>"`,
    });
    expect(p.skipped.map((s) => [s.taskName, s.reason.code])).toEqual([
      ['alpha', 'Cycle'],
      ['beta', 'Cycle'],
      ['gamma', 'Cycle'],
    ]);
    expect(p.skipped[2]?.reason.message).toBe(
      "Task 'gamma' (registry apps) is not scheduled: it builds from an image pushed inside the dependency loop 'alpha' → 'beta'.",
    );
  });

  it('reports a task that builds from its own templated output as a loop of one', () => {
    const self = task('selfish', [`${LS}/tools:1`], ['tools:{{.Run.ID}}']);
    const p = plan(buildGraph([self, task('starter', [BASE], ['tools:1'])]), { ref: BASE, digest: NEW_DIGEST });
    expect(names(p)).toEqual([['starter']]);
    expect(p.cycles[0]?.taskIds).toEqual([taskId(REG, 'selfish')]);
    expect(p.cycles[0]?.reason.fix).toBe(
      "Break the loop: change the FROM or the pushed image name of one of 'selfish'.",
    );
  });
});

describe('planForTasks', () => {
  const g = buildGraph([
    task('runtime', [BASE], ['runtime:1']),
    task('app', [`${LS}/runtime:1`], ['app:1']),
    task('other', [BASE], []),
  ]);

  it('plans requested tasks and their dependents in order', () => {
    const p = planForTasks(g, [taskId(REG, 'app').toUpperCase(), taskId(REG, 'runtime')]);
    expect(names(p)).toEqual([['runtime'], ['app']]);
    expect(p.waves[0]?.[0]?.triggers).toEqual([{ why: 'requested' }]);
    expect(p.waves[1]?.[0]?.triggers).toEqual([
      { why: 'requested' },
      { why: 'output', image: `${LS}/runtime:1`, producerTaskId: taskId(REG, 'runtime') },
    ]);
  });

  it('stays within the requested tasks when downstream is off', () => {
    expect(names(planForTasks(g, [taskId(REG, 'runtime')], { downstream: false }))).toEqual([['runtime']]);
    expect(names(planForTasks(g, [taskId(REG, 'runtime')]))).toEqual([['runtime'], ['app']]);
  });

  it('skips unknown or malformed task ids with TaskNotFound', () => {
    const p = planForTasks(g, [taskId(REG, 'ghost'), 'not-an-id']);
    expect(p.waves).toEqual([]);
    expect(p.skipped.map((s) => [s.taskName, s.reason.code])).toEqual([
      ['ghost', 'TaskNotFound'],
      ['not-an-id', 'TaskNotFound'],
    ]);
  });
});

describe('isStillTriggered', () => {
  it('keeps a task whose trigger is direct or has a surviving producer, drops one fed only by failures', () => {
    const g = buildGraph([
      task('a', [BASE], ['a:1']),
      task('b', [BASE], ['b:1']),
      task('c', [`${LS}/a:1`, `${LS}/b:1`], []),
    ]);
    const c = plan(g, { ref: BASE, digest: NEW_DIGEST }).waves[1]?.[0];
    expect(c?.taskName).toBe('c');
    expect(isStillTriggered(c!, [taskId(REG, 'a')])).toBe(true);
    expect(isStillTriggered(c!, [taskId(REG, 'a'), taskId(REG, 'B').toLowerCase()])).toBe(false);
  });
});

describe('graph', () => {
  it('prefers recorded over declared bases and records unreadable refs as problems', () => {
    const t = task('t', [BASE], ['Bad:1'], { tags: { 'cascade.baseImages': `${BASE}, Nope:1` } });
    const g = buildGraph([t]);
    const node = Object.values(g.tasks)[0];
    expect(node?.bases.map((b) => [b.ref, b.why])).toEqual([[BASE, 'recorded']]);
    expect(g.problems.map((p) => p.message)).toEqual([
      "cascade.baseImages: invalid image reference 'Nope:1': repository 'Nope' must be lower-case",
      "invalid image reference 'Bad:1': repository 'Bad' must be lower-case",
    ]);
  });

  it('survives a JSON round trip (it travels through durable history)', () => {
    const g = buildGraph([task('runtime', [BASE], ['runtime:1']), task('app', [`${LS}/runtime:1`], [])]);
    const copy = JSON.parse(JSON.stringify(g));
    expect(plan(copy, { ref: BASE, digest: NEW_DIGEST })).toEqual(plan(g, { ref: BASE, digest: NEW_DIGEST }));
  });

  it('turns recorded dependencies and the declared tag into task base images', () => {
    const r = taskBaseImages(
      [
        {
          type: 'RunTime',
          registry: 'registry.hub.docker.com',
          repository: 'library/hello-world',
          tag: 'latest',
          digest: D1,
        },
        { type: 'BuildTime', registry: 'x.azurecr.io', repository: 'pinned', digest: D1 },
        { type: 'RunTime' },
      ],
      { 'cascade.baseImages': 'hello-world, x.azurecr.io/extra:2' },
    );
    expect(r.baseImages).toEqual([
      { ref: 'docker.io/library/hello-world:latest', digest: D1, source: 'recorded', type: 'RunTime' },
      { ref: `x.azurecr.io/pinned@${D1}`, digest: D1, source: 'recorded', type: 'BuildTime' },
      { ref: 'x.azurecr.io/extra:2', source: 'declared' },
    ]);
    expect(r.problems).toHaveLength(1);
  });

  it('describes everything downstream of an image for /api/graph', () => {
    const g = buildGraph([
      task('runtime', [BASE], ['runtime:1']),
      task('app', [`${LS}/runtime:1`], []),
      task('declared', [], [], { tags: { 'cascade.baseImages': BASE } }),
    ]);
    const s = subgraph(g, BASE);
    expect(s.root).toBe(BASE);
    expect(s.truncated).toBe(false);
    expect(s.nodes.map((n) => [n.kind, n.label])).toEqual([
      ['image', BASE],
      ['task', 'declared'],
      ['task', 'runtime'],
      ['image', `${LS}/runtime:1`],
      ['task', 'app'],
    ]);
    expect(s.edges).toEqual([
      { from: BASE, to: taskId(REG, 'declared'), why: 'declared' },
      { from: BASE, to: taskId(REG, 'runtime'), why: 'recorded' },
      { from: taskId(REG, 'runtime'), to: `${LS}/runtime:1`, why: 'output' },
      { from: `${LS}/runtime:1`, to: taskId(REG, 'app'), why: 'recorded' },
    ]);
    expect(subgraph(g, BASE, { maxNodes: 2 }).truncated).toBe(true);
  });
});

describe('scale', () => {
  it('plans 10,000 tasks across 200 registries in a three-level cascade', () => {
    const tasks: TaskInfo[] = [];
    for (let r = 0; r < 200; r++) {
      const reg = registryId('s1', 'rg', `reg${r}`);
      const ls = `reg${r}.azurecr.io`;
      for (let i = 0; i < 50; i++) {
        const level = i < 10 ? 0 : i < 30 ? 1 : 2;
        const base = level === 0 ? BASE : `${ls}/l${level - 1}-${i % 10}:1`;
        tasks.push({
          ...task(`t${i}`, [base], [`l${level}-${i % 10}:1`]),
          id: taskId(reg, `t${i}`),
          registryId: reg,
          loginServer: ls,
        });
      }
    }
    const p = plan(buildGraph(tasks), { ref: BASE, digest: NEW_DIGEST });
    expect(p.waves.map((w) => w.length)).toEqual([2000, 4000, 4000]);
    expect(p.skipped).toEqual([]);
  });
});
