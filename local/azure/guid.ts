import { createHash } from 'node:crypto';

/** Deterministic GUID from a label, so re-running the seed names the same role assignments. */
export function guidFrom(label: string): string {
  const h = createHash('sha1').update(label).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
