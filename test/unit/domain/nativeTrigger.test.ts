// ACR's native base-image trigger, pure parts: the plan reason per policy, whether a trigger follows a base, which
// runs count as the trigger's run for an update, and what rebuildTask asks for per wave.
import { describe, expect, it } from 'vitest';
import type { Run } from '@azure/arm-containerregistry';
import { reasons } from '../../../src/domain/index.js';
import { follows, isNativeRunFor } from '../../../src/activities/nativeTriggers/index.js';
import { findNativeRunInput } from '../../../src/orchestrations/nativeTrigger.js';
import type { RebuildTaskInput } from '../../../src/contracts/index.js';

const task = {
  id: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/myregistry/tasks/web',
  name: 'web',
  registryId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/myregistry',
};
const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

describe('NativeTriggerEnabled', () => {
  it('says what each policy does and gives the command that switches the trigger off', () => {
    const adopt = reasons.nativeTriggerEnabled(task, 'Runtime', 'adopt');
    expect(adopt).toMatchObject({ code: 'NativeTriggerEnabled', severity: 'info' });
    expect(adopt.message).toContain('acr-cascade adopts that run');
    expect(adopt.fix).toBe('az acr task update --name web --registry myregistry --base-image-trigger-enabled false');
    expect(reasons.nativeTriggerEnabled(task, 'All', 'disable').message).toContain('switch the trigger off');
    const ignore = reasons.nativeTriggerEnabled(task, 'Runtime', 'ignore');
    expect(ignore.severity).toBe('warning');
    expect(ignore.message).toContain('builds twice per push');
  });
});

describe('follows', () => {
  const recorded = [
    { type: 'BuildTime', registry: 'base.azurecr.io', repository: 'sdk', tag: '8', digest: D1 },
    { type: 'RunTime', registry: 'base.azurecr.io', repository: 'runtime', tag: '8', digest: D1 },
    { type: 'RunTime', registry: 'registry.hub.docker.com', repository: 'library/node', tag: '20' },
  ];
  it('Runtime follows only the runtime base; All follows any recorded base', () => {
    expect(follows(recorded, 'Runtime', ['base.azurecr.io/runtime:8'])).toBe(true);
    expect(follows(recorded, 'Runtime', ['base.azurecr.io/sdk:8'])).toBe(false);
    expect(follows(recorded, 'All', ['base.azurecr.io/sdk:8'])).toBe(true);
    expect(follows(recorded, 'All', ['base.azurecr.io/sdk:9'])).toBe(false);
  });
  it('compares normalised references (Docker Hub aliases)', () => {
    expect(follows(recorded, 'Runtime', ['node:20'])).toBe(true);
  });
});

describe('isNativeRunFor', () => {
  const native = (digest: string, created: string): Run =>
    ({ imageUpdateTrigger: { images: [{ digest }] }, createTime: new Date(created) }) as Run;
  it('matches the pushed digest, or (later waves) a triggered run created since the time', () => {
    expect(isNativeRunFor(native(D1, '2024-01-01T00:00:00Z'), { digest: D1 })).toBe(true);
    expect(isNativeRunFor(native(D2, '2024-01-01T00:00:00Z'), { digest: D1 })).toBe(false);
    expect(isNativeRunFor(native(D2, '2024-01-01T00:10:00Z'), { since: '2024-01-01T00:09:00Z' })).toBe(true);
    expect(isNativeRunFor(native(D2, '2024-01-01T00:01:00Z'), { since: '2024-01-01T00:09:00Z' })).toBe(false);
  });
  it('never matches a run nobody triggered by a base update', () => {
    expect(isNativeRunFor({ createTime: new Date() } as Run, { since: '2000-01-01T00:00:00Z' })).toBe(false);
  });
});

describe('findNativeRunInput', () => {
  const planned = {
    task: task.id,
    taskName: 'web',
    registryId: task.registryId,
    wave: 1,
    decision: 'rebuild' as const,
    reasons: [],
    identity: {},
    baseImages: [{ ref: 'base.azurecr.io/runtime:8', why: 'recorded' as const }],
    dependsOn: [],
    outputImages: ['myregistry.azurecr.io/web:latest'],
    nativeTrigger: true,
  };
  const input = (extra: Partial<RebuildTaskInput>): RebuildTaskInput => ({
    cascadeId: 'c',
    planned,
    verdict: { task: task.id, decision: 'ready', reasons: [], identity: {} },
    transientRetries: 0,
    autoRemediate: false,
    pollInitialSeconds: 10,
    pollMaxSeconds: 60,
    timeoutSeconds: 600,
    ...extra,
  });
  const now = new Date('2024-01-01T00:00:00Z');
  it('asks for the pushed digest in wave 1 and nothing without a push', () => {
    expect(findNativeRunInput(input({ base: { ref: 'base.azurecr.io/runtime:8', digest: D1 } }), now)).toMatchObject({
      digest: D1,
      bases: ['base.azurecr.io/runtime:8'],
    });
    expect(findNativeRunInput(input({}), now)).toBeUndefined();
    const noTrigger = { ...planned, nativeTrigger: false };
    expect(findNativeRunInput(input({ planned: noTrigger, base: { ref: 'x.azurecr.io/a:1', digest: D1 } }), now)).toBe(
      undefined,
    );
  });
  it('asks for a run since the cascade started in later waves', () => {
    const later = input({ planned: { ...planned, wave: 2 }, cascadeStartedAt: '2024-01-01T00:00:05.000Z' });
    expect(findNativeRunInput(later, now)).toMatchObject({ since: '2024-01-01T00:00:05.000Z' });
  });
});
