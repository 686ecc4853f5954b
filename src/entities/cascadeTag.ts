// The `cascadeTag` durable entity: one per (registry, repository, tag), keyed by the tag's cascade instance id.
// It is the aggregator every push of the tag goes through (Durable Functions' aggregator pattern): it keeps the
// newest pending push, the event ids it has seen and the cascade running for the tag. Operations are queued by the
// runtime and run one at a time, so every decision below is atomic. The rules live in src/domain/intake.ts.
import * as df from 'durable-functions';
import type { EntityContext } from 'durable-functions';
import { acceptPush, cascadeEnded, emptyTagState, takeNewest, type TagPush, type TagState } from '../domain/index.js';
import { EntityNames, TagOperations, type TagEndedOperation, type TagPushOperation } from '../contracts/index.js';

/** The operation's input, checked: a malformed one is a bug in our own caller and fails that call. */
function inputOf<T>(context: EntityContext<TagState>, fields: (keyof T)[]): T {
  const input = context.df.getInput<T>();
  if (typeof input !== 'object' || input === null || fields.some((f) => input[f] === undefined)) {
    throw new TypeError(`${EntityNames.cascadeTag} '${context.df.operationName}': input needs ${fields.join(', ')}`);
  }
  return input;
}

export function cascadeTagEntity(context: EntityContext<TagState>): void {
  const state = context.df.getState(emptyTagState) ?? emptyTagState();
  switch (context.df.operationName) {
    case TagOperations.push: {
      const op = inputOf<TagPushOperation>(context, ['push', 'owner']);
      const out = acceptPush(state, op.push as TagPush, op.owner);
      context.df.setState(out.state);
      context.df.return(out.decision);
      return;
    }
    case TagOperations.take: {
      const out = takeNewest(state);
      context.df.setState(out.state);
      context.df.return(out.image ?? null);
      return;
    }
    case TagOperations.ended: {
      const op = inputOf<TagEndedOperation>(context, ['owner']);
      const out = cascadeEnded(state, op.owner, op.status);
      context.df.setState(out.state);
      context.df.return(out.decision);
      return;
    }
    default:
      throw new RangeError(`${EntityNames.cascadeTag}: unknown operation '${context.df.operationName}'`);
  }
}

df.app.entity(EntityNames.cascadeTag, cascadeTagEntity);
