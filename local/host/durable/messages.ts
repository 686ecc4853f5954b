// Messages between durable instances (orchestration → entity requests, entity → entity signals, entity →
// orchestration responses). A sender journals its messages as an outbox together with the state change that produced
// them, delivers them after that write, and journals `sent` once the receiver has journaled them; after a crash the
// outbox is delivered again and the receiver drops what it already has (by message id), so each message is processed
// exactly once.

export interface ParentOfRequest {
  instanceId: string;
  executionId: string;
}

/** An operation for an entity: a signal (one-way) or a call (the entity answers the parent orchestration). */
export interface EntityRequest {
  kind: 'request';
  /** Request id (a GUID); an orchestration's call is completed by an EventRaised named after it. */
  id: string;
  /** The entity's scheduler id, `@name@key` (name lower-case). */
  target: string;
  op: string;
  signal: boolean;
  /** Operation input as JSON text; absent = none. */
  input?: string;
  parent?: ParentOfRequest;
}

/** An entity's answer to an orchestration's call. */
export interface EntityResponse {
  kind: 'response';
  /** The request id it answers. */
  id: string;
  to: string;
  exec: string;
  /** The operation's result as JSON text; absent = undefined. */
  result?: string;
  error?: boolean;
}

export type OutMessage = EntityRequest | EntityResponse;

/** `@name@key` as durable-functions' EntityId.getSchedulerIdFromEntityId builds it. */
export function schedulerId(name: string, key: string): string {
  return `@${name.toLowerCase()}@${key}`;
}

/** Splits a scheduler id; undefined if it is not one. */
export function parseSchedulerId(id: string): { name: string; key: string } | undefined {
  if (!id.startsWith('@')) return undefined;
  const at = id.indexOf('@', 1);
  if (at <= 1) return undefined;
  return { name: id.slice(1, at), key: id.slice(at + 1) };
}

/** The EventRaised payload durable-functions' ResponseMessage reads (`result` is JSON text). */
export function responsePayload(r: EntityResponse): string {
  return JSON.stringify({
    ...(r.result !== undefined ? { result: r.result } : {}),
    ...(r.error ? { exceptionType: 'Error' } : {}),
  });
}
