import { describe, expect, it } from 'vitest';
import type { Task } from '@azure/arm-containerregistry';
import { needsDetails, taskHashes } from '../../src/activities/plan/refresh.js';

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
