import { describe, expect, it } from 'vitest';
import { buildGraph, downstreamOf, encodedTaskOutputs, type TaskInfo } from '../../../src/domain/index.js';

const ctx = { loginServer: 'myregistry.azurecr.io', registryName: 'myregistry' };

describe('encodedTaskOutputs', () => {
  it('resolves {{.Run.Registry}} and $Registry in push entries and keeps run-specific tags as templates', () => {
    const yaml = [
      'version: v1.1.0',
      'steps:',
      '  - build: -t {{.Run.Registry}}/app:{{.Run.ID}} -f Dockerfile .',
      '  - push: ["{{.Run.Registry}}/app:{{.Run.ID}}", "$Registry/app:latest"]',
      '',
    ].join('\n');
    expect(encodedTaskOutputs(yaml, ctx)).toEqual({
      outputs: ['myregistry.azurecr.io/app:{{.Run.ID}}', 'myregistry.azurecr.io/app:latest'],
      problems: [],
    });
  });

  it('reads multi-line push lists, $RegistryName, user aliases and task values', () => {
    const yaml = [
      'version: v1.1.0',
      'alias:',
      '  values:',
      '    repo: team/api',
      'steps:',
      '  - build: -t $Registry/$repo:1 .',
      '  - push:',
      '    - $RegistryName.azurecr.io/$repo:1 # pushed by name',
      "    - '{{.Run.Registry}}/{{.Values.flavour}}:2'",
      '',
    ].join('\n');
    expect(encodedTaskOutputs(yaml, { ...ctx, values: { flavour: 'slim' } }).outputs).toEqual([
      'myregistry.azurecr.io/team/api:1',
      'myregistry.azurecr.io/slim:2',
    ]);
  });

  it('does not count an image that is built but never pushed', () => {
    const yaml =
      'version: v1.1.0\nsteps:\n  - build: -t $Registry/scratchpad:$ID .\n  - cmd: $Registry/scratchpad:$ID\n';
    expect(encodedTaskOutputs(yaml, ctx)).toEqual({ outputs: [], problems: [] });
  });

  it('treats a short name in a push step as a Docker Hub image', () => {
    const yaml = 'steps:\n  - push: ["someuser/tool:1"]\n';
    expect(encodedTaskOutputs(yaml, ctx).outputs).toEqual(['docker.io/someuser/tool:1']);
  });

  it('names an unreadable push entry as a problem instead of failing', () => {
    const yaml = 'steps:\n  - push: ["$Registry/Upper:1", "$Registry/ok:1"]\n';
    const r = encodedTaskOutputs(yaml, ctx);
    expect(r.outputs).toEqual(['myregistry.azurecr.io/ok:1']);
    expect(r.problems).toEqual([expect.stringMatching(/^encodedTaskContent push '\$Registry\/Upper:1': .*lower-case/)]);
  });

  it('leaves an unknown value placeholder in place, so the entry is reported rather than guessed', () => {
    const yaml = 'steps:\n  - push: ["{{.Run.Registry}}/{{.Values.missing}}:1"]\n';
    const r = encodedTaskOutputs(yaml, ctx);
    expect(r.outputs).toEqual([]);
    expect(r.problems).toHaveLength(1);
  });
});

describe('YAML outputs in the dependency graph', () => {
  const task = (name: string, outputImages: string[], base?: string): TaskInfo => ({
    id: `/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/myregistry/tasks/${name}`,
    name,
    registryId: '/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/myregistry',
    loginServer: 'myregistry.azurecr.io',
    status: 'Enabled',
    timeoutSeconds: 600,
    identity: { userAssigned: [] },
    baseImages: base ? [{ ref: base, source: 'recorded' }] : [],
    outputImages,
    credentials: [],
    tags: {},
  });

  it('links a YAML task with a templated push to a task building from that repository', () => {
    const yaml = 'steps:\n  - push: ["{{.Run.Registry}}/base:{{.Run.ID}}"]\n';
    const producer = task('producer', encodedTaskOutputs(yaml, ctx).outputs);
    const consumer = task('consumer', [], 'myregistry.azurecr.io/base:stable');
    const g = buildGraph([producer, consumer]);
    const keys = Object.keys(g.tasks);
    expect(downstreamOf(g, keys[0] as string).map((e) => g.tasks[e.to]?.name)).toEqual(['consumer']);
  });
});
