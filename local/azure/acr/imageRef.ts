// Image references as Docker parses them: `[registry/]repository[:tag][@digest]`, docker.io by default and
// `library/` for single-segment Docker Hub names.

export interface ImageRef {
  /** Lower-case registry host (`docker.io` for Docker Hub). */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
export const REPOSITORY_RX = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
export const TAG_RX = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
export const DIGEST_RX = /^sha256:[a-f0-9]{64}$/;

const DOCKER_HUB = ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com'];

export function isDockerHub(registry: string): boolean {
  return DOCKER_HUB.includes(registry.toLowerCase());
}

/** Parses a reference; `undefined` when it is not a valid image reference. `defaultRegistry` applies to bare names. */
export function parseImageRef(ref: string, defaultRegistry = 'docker.io'): ImageRef | undefined {
  let rest = ref.trim();
  if (!rest || /\s/.test(rest)) return undefined;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RX.test(digest)) return undefined;
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RX.test(tag)) return undefined;
  }
  const parts = rest.split('/');
  let registry = defaultRegistry.toLowerCase();
  const first = parts[0] ?? '';
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    registry = first.toLowerCase();
    parts.shift();
  }
  if (isDockerHub(registry)) registry = 'docker.io';
  let repository = parts.join('/');
  if (registry === 'docker.io' && parts.length === 1) repository = `library/${repository}`;
  if (!REPOSITORY_RX.test(repository)) return undefined;
  return { registry, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** Tag or digest to resolve; `latest` when neither is given. */
export function reference(ref: ImageRef): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

export function formatRef(ref: ImageRef): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** True when `value` names a tagged or digested image (how build arguments are recognised as base images). */
export function looksLikeTaggedImage(value: string): boolean {
  const ref = parseImageRef(value);
  return !!ref && (!!ref.tag || !!ref.digest);
}
