// Emulator state: named buckets of JSON records, in memory; optionally persisted to a folder so a restart keeps the
// topology. ARM resources live in the `arm` bucket keyed by lower-cased id (ARM ids compare case-insensitively).
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export interface ArmResource {
  id: string;
  name: string;
  type: string;
  [key: string]: unknown;
}

export const key = (id: string) => id.toLowerCase().replace(/\/+$/, '');

export class Store {
  private readonly buckets = new Map<string, Map<string, unknown>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly persistDir?: string) {
    if (persistDir && existsSync(join(persistDir, 'state.json'))) {
      const saved = JSON.parse(readFileSync(join(persistDir, 'state.json'), 'utf8')) as Record<
        string,
        [string, unknown][]
      >;
      for (const [name, entries] of Object.entries(saved)) this.buckets.set(name, new Map(entries));
    }
  }

  bucket<T>(name: string): Map<string, T> {
    let b = this.buckets.get(name);
    if (!b) {
      b = new Map();
      this.buckets.set(name, b);
    }
    return b as Map<string, T>;
  }

  /** Marks state dirty; persisted shortly after (coalesced) when a folder is configured. */
  changed(): void {
    if (!this.persistDir || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, 50);
    this.timer.unref();
  }

  flush(): void {
    if (!this.persistDir) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    mkdirSync(this.persistDir, { recursive: true });
    const out: Record<string, [string, unknown][]> = {};
    for (const [name, b] of this.buckets) out[name] = [...b.entries()];
    const tmp = join(this.persistDir, 'state.json.tmp');
    writeFileSync(tmp, JSON.stringify(out));
    renameSync(tmp, join(this.persistDir, 'state.json'));
  }

  // ARM resources ------------------------------------------------------------------------------------------------
  get arm(): Map<string, ArmResource> {
    return this.bucket<ArmResource>('arm');
  }

  getResource<T extends ArmResource = ArmResource>(id: string): T | undefined {
    return this.arm.get(key(id)) as T | undefined;
  }

  putResource<T extends ArmResource>(res: T): T {
    this.arm.set(key(res.id), res);
    this.changed();
    return res;
  }

  deleteResource(id: string): boolean {
    const k = key(id);
    let found = false;
    // Deleting a resource deletes everything beneath it (children and extension resources), as ARM does.
    for (const other of [...this.arm.keys()]) {
      if (other === k || other.startsWith(k + '/')) {
        this.arm.delete(other);
        found = true;
      }
    }
    this.changed();
    return found;
  }

  /** Resources of a type whose id starts with the given scope (case-insensitive). */
  listResources<T extends ArmResource = ArmResource>(type: string, underScope = ''): T[] {
    const t = type.toLowerCase();
    const s = key(underScope);
    const out: T[] = [];
    for (const [k, r] of this.arm) {
      if (r.type.toLowerCase() === t && (s === '' || k === s || k.startsWith(s + '/'))) out.push(r as T);
    }
    return out;
  }
}
