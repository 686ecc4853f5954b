// Image references `loginServer/repository[:tag][@digest]`, normalised the way Docker and ACR resolve them, so that
// `node:15`, `docker.io/node:15` and `index.docker.io/library/node:15` are one graph node.

export const DOCKER_HUB = 'docker.io';

/** Hosts that are Docker Hub under another name (ACR records `registry.hub.docker.com` in baseImageDependencies). */
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

export interface ImageRef {
  /** Lower-cased host[:port]; Docker Hub aliases become `docker.io`. */
  loginServer: string;
  /** Lower-case path; Docker Hub single-component names get `library/`. */
  repository: string;
  /** Present unless the reference is digest-only. May be a template (`{{.Run.ID}}`) when parsed with allowTemplateTag. */
  tag?: string;
  /** `sha256:<64 lower-case hex>`. */
  digest?: string;
}

export type ImageRefPart = 'reference' | 'loginServer' | 'repository' | 'tag' | 'digest';

/** A reference that cannot be an image; `part` and the message name what is wrong. */
export class ImageRefError extends Error {
  constructor(
    readonly input: string,
    readonly part: ImageRefPart,
    detail: string,
  ) {
    super(`invalid image reference '${input}': ${detail}`);
    this.name = 'ImageRefError';
  }
}

export interface ParseImageRefOptions {
  /**
   * Login server for names without one. Default `docker.io` (how `FROM node:15` resolves). ACR task outputs
   * (`step.imageNames`) resolve against the task's own registry instead.
   */
  defaultLoginServer?: string;
  /** Accept ACR task template tags (`{{.Run.ID}}`, `$ID`) verbatim, and `{{.Run.Registry}}`/`$Registry` as host. */
  allowTemplateTag?: boolean;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const HOST = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::[0-9]{1,5})?$/;
const REGISTRY_TEMPLATES = new Set(['{{.run.registry}}', '$registry']);

/** True for ACR task template tags such as `{{.Run.ID}}` or `$ID` (kept verbatim, matched by repository). */
export function isTemplateTag(tag: string | undefined): boolean {
  return tag !== undefined && (tag.includes('{{') || tag.includes('$'));
}

/** Lower-cases a login server and folds Docker Hub aliases into `docker.io`. */
export function normalizeLoginServer(loginServer: string): string {
  const ls = loginServer.trim().toLowerCase().replace(/\/+$/, '');
  return DOCKER_HUB_ALIASES.has(ls) ? DOCKER_HUB : ls;
}

/** Is this a digest ACR and OCI accept (`sha256:` + 64 lower-case hex)? */
export function isDigest(value: unknown): value is string {
  return typeof value === 'string' && DIGEST.test(value);
}

function looksLikeHost(first: string): boolean {
  return first.includes('.') || first.includes(':') || first.toLowerCase() === 'localhost';
}

export function parseImageRef(input: string, options: ParseImageRefOptions = {}): ImageRef {
  if (typeof input !== 'string') throw new ImageRefError(String(input), 'reference', 'not a string');
  const text = input.trim();
  if (text === '') throw new ImageRefError(input, 'reference', 'empty');
  if (/\s/.test(text)) throw new ImageRefError(input, 'reference', 'contains whitespace');

  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) {
      throw new ImageRefError(input, 'digest', `digest '${digest}' is not sha256:<64 lower-case hex>`);
    }
  }

  let loginServer: string;
  let path: string;
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  if (options.allowTemplateTag && REGISTRY_TEMPLATES.has(first.toLowerCase())) {
    if (!options.defaultLoginServer) {
      throw new ImageRefError(input, 'loginServer', `'${first}' needs the task's login server`);
    }
    loginServer = normalizeLoginServer(options.defaultLoginServer);
    path = rest.slice(slash + 1);
  } else if (slash >= 0 && looksLikeHost(first)) {
    loginServer = normalizeLoginServer(first);
    if (!HOST.test(loginServer)) throw new ImageRefError(input, 'loginServer', `login server '${first}' is not a host`);
    path = rest.slice(slash + 1);
  } else {
    loginServer = normalizeLoginServer(options.defaultLoginServer ?? DOCKER_HUB);
    path = rest;
  }

  let tag: string | undefined;
  const colon = path.lastIndexOf(':');
  if (colon >= 0) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
    const template = options.allowTemplateTag && isTemplateTag(tag);
    if (!template && !TAG.test(tag)) throw new ImageRefError(input, 'tag', `tag '${tag}' is not a valid tag`);
  }

  if (path === '') throw new ImageRefError(input, 'repository', 'repository is empty');
  if (path !== path.toLowerCase()) {
    throw new ImageRefError(input, 'repository', `repository '${path}' must be lower-case`);
  }
  const components = path.split('/');
  for (const c of components) {
    if (!COMPONENT.test(c)) throw new ImageRefError(input, 'repository', `repository '${path}' is malformed`);
  }
  if (loginServer === DOCKER_HUB && components.length === 1) path = `library/${path}`;
  if (path.length > 255) throw new ImageRefError(input, 'repository', 'repository is longer than 255 characters');

  if (tag === undefined && digest === undefined) tag = 'latest';
  const ref: ImageRef = { loginServer, repository: path };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** Returns the reference or undefined instead of throwing (for lenient readers of ARM data). */
export function tryParseImageRef(input: string, options?: ParseImageRefOptions): ImageRef | undefined {
  try {
    return parseImageRef(input, options);
  } catch (err) {
    if (err instanceof ImageRefError) return undefined;
    throw err;
  }
}

/** Full canonical form: `docker.io/library/node:15`, `r.azurecr.io/app:v1@sha256:…`. */
export function formatImageRef(ref: ImageRef): string {
  return `${ref.loginServer}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ''}${
    ref.digest !== undefined ? `@${ref.digest}` : ''
  }`;
}

function asRef(ref: ImageRef | string): ImageRef {
  return typeof ref === 'string' ? parseImageRef(ref, { allowTemplateTag: true }) : ref;
}

/** Same login server and repository (tags and digests ignored). */
export function sameRepository(a: ImageRef | string, b: ImageRef | string): boolean {
  return repositoryKey(a) === repositoryKey(b);
}

/** `loginServer/repository` — the node key for repository-level matching. */
export function repositoryKey(ref: ImageRef | string): string {
  const r = asRef(ref);
  return `${r.loginServer}/${r.repository}`;
}

/**
 * Graph node key `loginServer/repository:tag` (no digest). A digest-only reference has no tag, so its key is
 * `loginServer/repository@digest`.
 */
export function imageKey(ref: ImageRef | string): string {
  const r = asRef(ref);
  if (r.tag !== undefined) return `${r.loginServer}/${r.repository}:${r.tag}`;
  return `${r.loginServer}/${r.repository}@${r.digest ?? ''}`;
}

/**
 * An ACR task output name (`step.imageNames` entry such as `hello-world:{{.Run.ID}}`) as a full reference: names
 * without a registry are pushed to the task's own registry; template tags are kept.
 */
export function resolveTaskImageName(imageName: string, ownLoginServer: string): string {
  return formatImageRef(parseImageRef(imageName, { defaultLoginServer: ownLoginServer, allowTemplateTag: true }));
}
