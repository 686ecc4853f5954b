// Plan-specific helpers: canonical JSON for content hashes, deterministic GUIDs for role-assignment names.
import { createHash } from 'node:crypto';

/** JSON with sorted keys and Dates as ISO strings, so equal content hashes equally whatever the key order. */
export function canonicalJson(value: unknown): string {
  const walk = (v: unknown): unknown => {
    if (v instanceof Date) return v.toISOString();
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) {
        const x = (v as Record<string, unknown>)[k];
        if (x !== undefined) out[k] = walk(x);
      }
      return out;
    }
    return v;
  };
  return JSON.stringify(walk(value));
}

/** A deterministic GUID (name-based, SHA-1, version 5 layout) — role-assignment names that retries reuse. */
export function guidFromText(text: string): string {
  const h = createHash('sha1').update(text).digest('hex');
  const variant = ((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16).padStart(2, '0');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(18, 20)}-${h.slice(20, 32)}`;
}
