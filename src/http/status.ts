// One status vocabulary for cascades. The durable runtime says "Completed" for a cascade that ended Canceled,
// Superseded or Failed by its own decision; the API says what the cascade says, everywhere (status, filters).
import type { CascadeResult } from '../contracts/index.js';

export const CASCADE_STATUSES = [
  'Pending',
  'Running',
  'Completed',
  'Canceled',
  'Superseded',
  'Failed',
  'Terminated',
  'Suspended',
] as const;

export type CascadeStatus = (typeof CASCADE_STATUSES)[number];

/** A durable runtime status (and the cascade's output, when it has one) → the API's status. */
export function cascadeStatus(runtimeStatus: string, output?: unknown): CascadeStatus {
  switch (runtimeStatus) {
    case 'Pending':
    case 'Terminated':
    case 'Suspended':
    case 'Failed':
    case 'Running':
      return runtimeStatus;
    case 'ContinuedAsNew':
      return 'Running';
    case 'Canceled':
      return 'Canceled';
    case 'Completed': {
      const s = (output as Partial<CascadeResult> | null | undefined)?.status;
      return s === 'Canceled' || s === 'Superseded' || s === 'Failed' ? s : 'Completed';
    }
    default:
      return 'Running';
  }
}

/** The durable runtime statuses whose instances may have the API status `s` (a query then filters on cascadeStatus). */
export function runtimeStatusesFor(s: CascadeStatus): string[] {
  switch (s) {
    case 'Running':
      return ['Running', 'ContinuedAsNew'];
    case 'Completed':
    case 'Superseded':
      return ['Completed'];
    case 'Canceled':
      return ['Completed', 'Canceled'];
    case 'Failed':
      return ['Completed', 'Failed'];
    default:
      return [s];
  }
}

/** An ended cascade's status as the history table recorded it (a CascadeResult status) → the API's status. */
export function recordedStatus(s: string): CascadeStatus {
  return (CASCADE_STATUSES as readonly string[]).includes(s) ? (s as CascadeStatus) : 'Completed';
}

/** The API statuses of cascades still in flight (listed first, from the durable runtime). */
export const ACTIVE_STATUSES: readonly CascadeStatus[] = ['Pending', 'Running', 'Suspended'];
