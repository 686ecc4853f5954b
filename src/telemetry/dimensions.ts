// The correlation ids an activity works for, read from its input: activity contracts name them `cascadeId`, `checkId`,
// `runId`, `eventId`, `taskId` (or `task`, a task's ARM id; `image.eventId` of a pushed image); an input may also
// carry `log` (LogDimensions) that the calling orchestrator attaches (orchestrations/calls.ts) when the contract itself
// names none. Only string values count, so a malformed input yields fewer ids, never a failure.
import { pickDimensions, type LogDimensions } from './log.js';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The ids an activity input names (its own fields first, then the `log` the caller attached). */
export function dimensionsOfInput(input: unknown): LogDimensions {
  if (!isRecord(input)) return {};
  const task = typeof input.task === 'string' && input.task !== '' ? { taskId: input.task } : {};
  // A pushed image (PushedImage) names the event that announced it.
  const event = isRecord(input.image) ? pickDimensions({ eventId: input.image.eventId }) : {};
  return { ...(isRecord(input.log) ? pickDimensions(input.log) : {}), ...event, ...task, ...pickDimensions(input) };
}
