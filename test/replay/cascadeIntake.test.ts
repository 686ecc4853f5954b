// cascadeIntake through the real durable-functions executor: the entity's answers in, the actions out. It shows the
// tag's entity always hears that a cascade ended — completed, failed or terminated — so a queued push still runs.
import { describe, expect, it } from 'vitest';
import { cascadeIntake } from '../../src/orchestrations/cascadeIntake.js';
import type { CascadeInput, IntakeInput, TagDecision } from '../../src/contracts/index.js';
import { ReplayDriver, cascadeInput, digest, push, type Scheduled } from '../support/histories.js';

const TAG = 'cascade-mybaseregistry-0123456789abcdef';
const OWNER = `${TAG}:event-e1`;

function driver(input: IntakeInput): ReplayDriver {
  return new ReplayDriver(cascadeIntake as never, input, { instanceId: OWNER, name: 'cascadeIntake' });
}

function intakeInput(): IntakeInput {
  const { image, ...cascade } = cascadeInput();
  return { image: image!, cascade };
}

function only(list: Scheduled[], name: string): Scheduled {
  const hits = list.filter((s) => s.name === name);
  expect(hits.map((s) => s.name)).toEqual([name]);
  return hits[0] as Scheduled;
}

/** The event's registry (by topic) has the login server the event's request.host named. */
async function hostAgrees(d: ReplayDriver, loginServer = 'mybaseregistry.azurecr.io') {
  const lookup = only((await d.run()).scheduled, 'registryLoginServer');
  expect(lookup.input).toEqual({ registryId: intakeInput().image.registryId });
  d.complete(lookup.id, { loginServer });
}

/** Runs the intake to its cascade: the host agrees, not an own push, the entity says start. */
async function toCascade(d: ReplayDriver): Promise<Scheduled> {
  await hostAgrees(d);
  const own = await d.run();
  d.complete(only(own.scheduled, 'isOwnPush').id, { own: false });
  const asked = await d.run();
  const op = only(asked.scheduled, 'push');
  expect(op).toMatchObject({ kind: 'entityCall', instanceId: `@cascadetag@${TAG}`, input: { owner: OWNER } });
  const start: TagDecision = { start: true, image: push(digest('a'), 'e1', '2024-01-01T00:00:00Z'), generation: 0 };
  d.complete(op.id, start);
  const ep = await d.run();
  return only(ep.scheduled, 'rebuildCascade');
}

const next: TagDecision = { start: true, image: push(digest('b'), 'e2', '2024-01-01T00:01:00Z'), generation: 1 };

describe('cascadeIntake', () => {
  it('runs the cascade under the tag instance id when the entity says the tag is idle', async () => {
    const d = driver(intakeInput());
    const child = await toCascade(d);
    expect(child.instanceId).toBe(TAG);
    expect(child.input as CascadeInput).toMatchObject({ tagKey: TAG, generation: 0, image: { digest: digest('a') } });
  });

  it('ends at once when the entity absorbs the push (a redelivery, or queued behind a running cascade)', async () => {
    const d = driver(intakeInput());
    await hostAgrees(d);
    d.complete(only((await d.run()).scheduled, 'isOwnPush').id, { own: false });
    d.complete(only((await d.run()).scheduled, 'push').id, { start: false, queued: true, reason: 'queued' });
    const ep = await d.run();
    expect(ep.state.isDone).toBe(true);
    expect(ep.state.output).toEqual({ outcome: 'absorbed', reason: 'queued' });
    expect(d.all.some((s) => s.kind === 'subOrchestration')).toBe(false);
  });

  it("ignores an event whose request.host is not the login server of its topic's registry, with the reason", async () => {
    const logs: string[] = [];
    const d = new ReplayDriver(cascadeIntake as never, intakeInput(), {
      instanceId: OWNER,
      name: 'cascadeIntake',
      logs,
    });
    await hostAgrees(d, 'otherregistry.azurecr.io');
    const ep = await d.run();
    expect(ep.state.output).toEqual({
      outcome: 'foreign host',
      reason:
        "request.host mybaseregistry.azurecr.io is not otherregistry.azurecr.io, the login server of the event's registry",
    });
    expect(d.all.map((s) => s.name)).toEqual(['registryLoginServer']);
    expect(logs.some((l) => l.includes('ignored') && l.includes('is not otherregistry.azurecr.io'))).toBe(true);
  });

  it('compares login servers case-insensitively', async () => {
    const d = driver(intakeInput());
    await hostAgrees(d, 'MyBaseRegistry.azurecr.io');
    expect(only((await d.run()).scheduled, 'isOwnPush')).toBeDefined();
  });

  it('never hands an own push to the entity', async () => {
    const d = driver(intakeInput());
    await hostAgrees(d);
    d.complete(only((await d.run()).scheduled, 'isOwnPush').id, { own: true, reason: 'run ca7 pushed it' });
    const ep = await d.run();
    expect(ep.state.output).toMatchObject({ outcome: 'own push' });
    expect(d.all.some((s) => s.kind === 'entityCall')).toBe(false);
  });

  it('tells the entity when the cascade FAILED after it read a newer push, and rebuilds the queued digest once', async () => {
    const d = driver(intakeInput());
    const child = await toCascade(d);
    d.fail(child.id, "Sub-orchestration 'rebuildCascade' failed: recordCascade: table unavailable");
    const ended = only((await d.run()).scheduled, 'ended');
    expect(ended.input).toEqual({ owner: OWNER, status: 'Failed' });
    d.complete(ended.id, next);
    const ep = await d.run();
    // The same owner goes on with the queued push (continue-as-new), skipping the own-push check and the push call.
    expect(ep.continuedAsNew?.input).toMatchObject({ resume: { image: { digest: digest('b') }, generation: 1 } });
    const again = new ReplayDriver(cascadeIntake as never, ep.continuedAsNew?.input, {
      instanceId: OWNER,
      name: 'cascadeIntake',
    });
    const second = await again.run();
    const rerun = only(second.scheduled, 'rebuildCascade');
    expect(second.scheduled).toHaveLength(1);
    expect(rerun.input as CascadeInput).toMatchObject({ generation: 1, image: { digest: digest('b') } });
    again.complete(rerun.id, { status: 'Completed' });
    const end = only((await again.run()).scheduled, 'ended');
    again.complete(end.id, { start: false, reason: 'no push queued' });
    const last = await again.run();
    expect(last.state.isDone).toBe(true);
    expect(last.continuedAsNew).toBeUndefined();
    expect(again.all.filter((s) => s.kind === 'subOrchestration')).toHaveLength(1);
  });

  it('tells the entity when the cascade was terminated, and when it completed or was canceled', async () => {
    for (const end of ['terminated', 'Completed', 'Canceled']) {
      const d = driver(intakeInput());
      const child = await toCascade(d);
      if (end === 'terminated')
        d.fail(child.id, `Sub-orchestration 'rebuildCascade' (instance '${TAG}') was terminated`);
      else d.complete(child.id, { status: end });
      const ended = only((await d.run()).scheduled, 'ended');
      d.complete(ended.id, { start: false, reason: 'no push queued' });
      const ep = await d.run();
      expect(ep.state.output).toEqual({ outcome: 'ran', reason: end === 'terminated' ? 'Failed' : end });
    }
  });
});
