// Exactly-once delivery between durable instances, on real journals: an entity drops an operation it already has
// (queued or processed, also after a reload), and a response whose delivery was not confirmed before a crash is
// delivered again after the reload. The app has no entity function here, so each call is answered with an error.
import { describe, expect, it } from 'vitest';
import { FunctionCatalog } from '../../local/host/catalog.js';
import { EntityRuntime } from '../../local/host/durable/entities.js';
import type { EntityRequest, EntityResponse } from '../../local/host/durable/messages.js';
import { CoreRegistry } from '../../local/host/functions-core.js';
import { Invoker } from '../../local/host/invoker.js';
import { Semaphore } from '../../local/host/semaphore.js';
import { pollUntil, tempDir } from './helpers.js';

function runtime(dir: string, respond: (r: EntityResponse) => Promise<void>, log: string[] = []): EntityRuntime {
  const registry = new CoreRegistry();
  return new EntityRuntime({
    dir,
    catalog: new FunctionCatalog(registry, {}),
    invoker: new Invoker({ registry, log: (l) => log.push(l), appHookData: {} }),
    log: (l) => log.push(l),
    slots: new Semaphore(2),
    maxBatchSize: 10,
    extraInputs: () => [],
    respond,
  });
}

const call = (id: string): EntityRequest => ({
  kind: 'request',
  id,
  target: '@missing@k',
  op: 'get',
  signal: false,
  parent: { instanceId: 'orch-1', executionId: 'exec-1' },
});

describe('entity message delivery', () => {
  it('processes a redelivered request once, also after a reload', async () => {
    const dir = await tempDir('entity-runtime');
    const answered: EntityResponse[] = [];
    const first = runtime(dir, async (r) => {
      answered.push(r);
    });
    await first.load();
    first.resume();
    await Promise.all([first.deliver(call('req-1')), first.deliver(call('req-1'))]);
    await pollUntil(
      async () => answered.length,
      (n) => n === 1,
    );
    await first.deliver(call('req-1')); // processed already
    await first.stop(1000);

    const second = runtime(dir, async (r) => {
      answered.push(r);
    });
    expect(await second.load()).toBe(1);
    second.resume();
    await second.deliver(call('req-1'));
    await second.deliver(call('req-2'));
    await pollUntil(
      async () => answered.length,
      (n) => n === 2,
    );
    await second.stop(1000);
    expect(answered.map((r) => [r.id, r.to, r.exec, r.error])).toEqual([
      ['req-1', 'orch-1', 'exec-1', true],
      ['req-2', 'orch-1', 'exec-1', true],
    ]);
    expect(JSON.parse(answered[0]!.result!)).toBe(
      "The function 'missing' doesn't exist, is disabled, or is not an entity function.",
    );
  });

  it('delivers a response again after a reload when its delivery was never confirmed', async () => {
    const dir = await tempDir('entity-runtime');
    const log: string[] = [];
    const first = runtime(dir, () => Promise.reject(new Error('the orchestration journal is unavailable')), log);
    await first.load();
    first.resume();
    await first.deliver(call('req-9'));
    await pollUntil(
      async () => log.join('\n'),
      (text) => text.includes('the orchestration journal is unavailable'),
    );
    await first.stop(1000);

    const answered: EntityResponse[] = [];
    const second = runtime(dir, async (r) => {
      answered.push(r);
    });
    await second.load();
    second.resume();
    await pollUntil(
      async () => answered.length,
      (n) => n === 1,
    );
    await second.stop(1000);
    expect(answered[0]).toMatchObject({ id: 'req-9', to: 'orch-1', error: true });
  });
});
