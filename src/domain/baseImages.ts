// Where a task's base images come from: ACR's recorded `step.baseImageDependencies` (authority 1) and the
// `cascade.baseImages` task tag (authority 2) for tasks that never ran or whose base is only known at build time.

import { formatImageRef, ImageRefError, imageKey, parseImageRef } from './imageRef.js';
import type { BaseImageType, TaskBaseImage } from './types.js';

/** Task tag listing declared base images, comma-separated full or short refs (`mybaseregistry.azurecr.io/x:1, node:20`). */
export const DECLARED_BASE_IMAGES_TAG = 'cascade.baseImages';

/** Wire shape of one `step.baseImageDependencies[]` entry. */
export interface WireBaseImageDependency {
  type?: string;
  registry?: string;
  repository?: string;
  tag?: string;
  digest?: string;
}

export interface BaseImagesResult {
  baseImages: TaskBaseImage[];
  /** Entries that could not be read, with the reason (reported, never fatal). */
  problems: string[];
}

/** Reads the declared tag (tag names are case-insensitive in ARM). */
export function declaredBaseImagesTag(tags: Record<string, string> | undefined): string | undefined {
  if (!tags) return undefined;
  const want = DECLARED_BASE_IMAGES_TAG.toLowerCase();
  for (const [k, v] of Object.entries(tags)) if (k.toLowerCase() === want) return v;
  return undefined;
}

export function parseDeclaredBaseImages(value: string | undefined): BaseImagesResult {
  const out: BaseImagesResult = { baseImages: [], problems: [] };
  for (const item of (value ?? '').split(/[,\s]+/)) {
    if (item === '') continue;
    try {
      const ref = parseImageRef(item);
      out.baseImages.push({
        ref: formatImageRef(ref),
        source: 'declared',
        ...(ref.digest ? { digest: ref.digest } : {}),
      });
    } catch (err) {
      if (!(err instanceof ImageRefError)) throw err;
      out.problems.push(`${DECLARED_BASE_IMAGES_TAG}: ${err.message}`);
    }
  }
  return out;
}

export function recordedBaseImage(dep: WireBaseImageDependency): TaskBaseImage {
  if (!dep.registry || !dep.repository) {
    throw new ImageRefError(JSON.stringify(dep), 'reference', 'baseImageDependency without registry or repository');
  }
  // A dependency without a tag is pinned by digest (it matches pushes by digest only).
  const suffix = dep.tag ? `:${dep.tag}` : dep.digest ? `@${dep.digest}` : '';
  const ref = parseImageRef(`${dep.registry}/${dep.repository}${suffix}`);
  const out: TaskBaseImage = { ref: formatImageRef(ref), source: 'recorded' };
  if (dep.digest) out.digest = dep.digest;
  if (dep.type === 'BuildTime' || dep.type === 'RunTime') out.type = dep.type as BaseImageType;
  return out;
}

/**
 * Merges a task's base images with the ones its `cascade.baseImages` tag declares: recorded first (one per image key
 * and type), then declared ones whose image key is not recorded. Unreadable refs become problems.
 */
export function withDeclaredBaseImages(
  baseImages: readonly TaskBaseImage[],
  tags: Record<string, string> | undefined,
): BaseImagesResult {
  const out: BaseImagesResult = { baseImages: [], problems: [] };
  const declared = parseDeclaredBaseImages(declaredBaseImagesTag(tags));
  const ordered = [
    ...baseImages.filter((b) => b.source === 'recorded'),
    ...baseImages.filter((b) => b.source !== 'recorded'),
    ...declared.baseImages,
  ];
  const seen = new Set<string>();
  const keys = new Set<string>();
  for (const b of ordered) {
    let key: string;
    try {
      key = imageKey(parseImageRef(b.ref));
    } catch (err) {
      if (!(err instanceof ImageRefError)) throw err;
      out.problems.push(err.message);
      continue;
    }
    const withType = `${key}|${b.type ?? ''}`;
    if (seen.has(withType) || (b.source === 'declared' && keys.has(key))) continue;
    seen.add(withType);
    keys.add(key);
    out.baseImages.push(b);
  }
  out.problems.push(...declared.problems);
  return out;
}

/** All base images of a task from ARM: `step.baseImageDependencies` plus the declared tag. Adapters build `TaskInfo.baseImages` with this. */
export function taskBaseImages(
  recorded: readonly WireBaseImageDependency[] | null | undefined,
  tags: Record<string, string> | undefined,
): BaseImagesResult {
  const converted: TaskBaseImage[] = [];
  const problems: string[] = [];
  for (const dep of recorded ?? []) {
    try {
      converted.push(recordedBaseImage(dep));
    } catch (err) {
      if (!(err instanceof ImageRefError)) throw err;
      problems.push(`baseImageDependencies: ${err.message}`);
    }
  }
  const merged = withDeclaredBaseImages(converted, tags);
  return { baseImages: merged.baseImages, problems: [...problems, ...merged.problems] };
}
