// cascadeIntake: one per Event Grid event (instance id from the event id, so a redelivery while it runs is a 409 at
// the trigger). It filters own pushes, hands the push to the tag's `cascadeTag` entity and — when the entity says the
// tag is idle — owns the tag's cascade: it runs `rebuildCascade` as a sub-orchestration and tells the entity when it
// ended, whatever the ending (completed, failed, canceled, or terminated: a sub-orchestration's failure and
// termination both complete the parent's task as failed). The entity answers with the next queued push, if any, which
// this owner runs next (continue-as-new). So no push the entity accepted waits on a cascade that ended.
//
// Why an orchestration and not the entity starts the cascade: durable-functions 3.x entities can only signal other
// entities (no `startNewOrchestration`); an orchestration calling the entity gets its atomic decision back.
import { EntityId, type OrchestrationContext, type OrchestrationHandler, type Task } from 'durable-functions';
import {
  ActivityNames,
  EntityNames,
  OrchestrationNames,
  TagOperations,
  type CascadeInput,
  type IntakeInput,
  type TagDecision,
  type TagEndedOperation,
  type TagPushOperation,
} from '../contracts/index.js';
import { normalizeLoginServer, tryParseImageRef } from '../domain/index.js';
import { callActivity, failureMessage } from './calls.js';
import { replaySafeLogger } from '../telemetry/log.js';

export interface IntakeResult {
  /** What happened to the push this intake was started for (or, for an owner, the last cascade it ran). */
  outcome: 'own push' | 'foreign host' | 'absorbed' | 'ran';
  reason?: string;
  cascades?: number;
}

export function* cascadeIntake(context: OrchestrationContext): Generator<Task, IntakeResult, unknown> {
  const input = context.df.getInput() as IntakeInput;
  const owner = context.df.instanceId;
  const tag = new EntityId(EntityNames.cascadeTag, input.cascade.tagKey ?? '');
  // Records carry the tag's cascade id and the event this intake was started for.
  const dims = {
    ...(input.cascade.tagKey ? { cascadeId: input.cascade.tagKey } : {}),
    ...(input.image?.eventId ? { eventId: input.image.eventId } : {}),
  };
  const intakeLog = replaySafeLogger(context, dims);
  const log = (message: string) => intakeLog.info('intake.progress', `[cascadeIntake ${owner}] ${message}`);

  let decision: TagDecision;
  if (input.resume) {
    decision = { start: true, ...input.resume };
  } else {
    // The image lives in the registry the event's topic names: an event whose request.host names another registry
    // would start a cascade for an image nobody watches.
    const host = tryParseImageRef(input.image.ref)?.loginServer ?? input.image.ref;
    const { loginServer } = yield* callActivity(context, ActivityNames.registryLoginServer, {
      registryId: input.image.registryId,
    });
    if (host !== normalizeLoginServer(loginServer)) {
      const reason = `request.host ${host} is not ${loginServer}, the login server of the event's registry`;
      log(`ignored ${input.image.ref}@${input.image.digest}: ${reason}`);
      return { outcome: 'foreign host', reason };
    }
    // A push made by a run acr-cascade scheduled: the parent cascade carries on through its waves.
    const own = yield* callActivity(context, ActivityNames.isOwnPush, { image: input.image }, { dims });
    if (own.own) {
      log(`ignored ${input.image.ref}@${input.image.digest}: own push (${own.reason})`);
      return { outcome: 'own push', ...(own.reason ? { reason: own.reason } : {}) };
    }
    const op: TagPushOperation = { push: input.image, owner };
    decision = (yield context.df.callEntity(tag, TagOperations.push, op)) as TagDecision;
    if (!decision.start) {
      log(`push ${input.image.digest} ${decision.queued ? 'queued' : 'absorbed'}: ${decision.reason}`);
      return { outcome: 'absorbed', reason: decision.reason };
    }
  }

  const child: CascadeInput = { ...input.cascade, image: decision.image, generation: decision.generation };
  let status: string;
  try {
    const result = (yield context.df.callSubOrchestrator(
      OrchestrationNames.rebuildCascade,
      child,
      input.cascade.tagKey,
    )) as { status?: string } | null;
    status = result?.status ?? 'Completed';
  } catch (err) {
    // Failed or terminated: the entity must still hear of it, or a queued push would wait forever.
    status = 'Failed';
    log(`cascade ${input.cascade.tagKey} failed: ${failureMessage(err)}`);
  }
  const ended: TagEndedOperation = { owner, status };
  const next = (yield context.df.callEntity(tag, TagOperations.ended, ended)) as TagDecision;
  log(`cascade of ${decision.image.digest} ended ${status}`);
  if (next.start) {
    log(`running the next cascade of the tag for ${next.image.ref}@${next.image.digest}`);
    const again: IntakeInput = { ...input, resume: { image: next.image, generation: next.generation } };
    context.df.continueAsNew(again);
  }
  return { outcome: 'ran', reason: status };
}

export const cascadeIntakeHandler: OrchestrationHandler = cascadeIntake;
