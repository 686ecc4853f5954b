import { describe, expect, it } from 'vitest';
import type { Task } from '@azure/arm-containerregistry';
import { needsDetails, taskHashes } from '../../src/activities/plan/refresh.js';
import { emptyIndexExpired } from '../../src/activities/plan/index.js';

const docker: Task = {
  id: '/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/r/tasks/t',
  name: 't',
  location: 'eastus',
  step: { type: 'Docker', dockerFilePath: 'Dockerfile', contextPath: 'https://github.com/x/y.git' },
};

describe('needsDetails: would listDetails add anything the index uses?', () => {
  it('reads a task whose masked view shows custom registry credentials', () => {
    expect(needsDetails({ ...docker, credentials: { customRegistries: { 'docker.io': null as never } } })).toBe(true);
  });

  it('skips a task without custom registry credentials, even with secret arguments hidden from the masked view', () => {
    expect(needsDetails(docker)).toBe(false);
    expect(needsDetails({ ...docker, credentials: { customRegistries: {} } })).toBe(false);
  });

  it('reads an EncodedTask whose masked view leaves its content out, and skips one that shows it', () => {
    expect(needsDetails({ ...docker, step: { type: 'EncodedTask', encodedTaskContent: '' } })).toBe(true);
    expect(needsDetails({ ...docker, step: { type: 'EncodedTask', encodedTaskContent: 'dmVyc2lvbjogdjEuMS4w' } })).toBe(
      false,
    );
  });

  it('hashes a masked task the same whatever its key order', () => {
    const a = taskHashes({ name: 't', location: 'eastus', id: docker.id, step: docker.step });
    const b = taskHashes({ step: docker.step, location: 'eastus', id: docker.id, name: 't' });
    expect(a).toEqual(b);
  });
});

describe('emptyIndexExpired (an index built before the app could read anything is not trusted for long)', () => {
  const at = (refreshedAt: string, registries: number) => ({
    registries: { size: registries },
    meta: { refreshedAt },
  });
  const now = new Date('2026-01-01T00:10:00Z');

  it('rebuilds an empty index once it is a minute old, not sooner', () => {
    expect(emptyIndexExpired(at('2026-01-01T00:09:00Z', 0), now)).toBe(true);
    expect(emptyIndexExpired(at('2026-01-01T00:09:00.001Z', 0), now)).toBe(false);
  });

  it('trusts an index that found registries, however old', () => {
    expect(emptyIndexExpired(at('2025-12-31T00:00:00Z', 1), now)).toBe(false);
  });

  it('rebuilds an empty index whose refresh time cannot be read', () => {
    expect(emptyIndexExpired(at('not a date', 0), now)).toBe(true);
  });
});
