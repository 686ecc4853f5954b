// Classifies incoming Event Grid (or CloudEvents 1.0) events, already JSON-parsed but otherwise untrusted.
// accept: act on it. ignore: well-formed but not for us (unwatched topic — never trusted —, deletes, charts,
// signatures and other artifacts). reject: malformed, with the offending field named.

import { isDigest, ImageRefError, normalizeLoginServer, parseImageRef } from './imageRef.js';
import { parseSecretUri, SecretUriError } from './credentials.js';
import { normalizeId, parseResourceId, ResourceIdError } from './resourceId.js';

export type EventClassification<T> =
  ({ kind: 'accept' } & T) | { kind: 'ignore'; reason: string } | { kind: 'reject'; reason: string };

export interface PushedImageEvent {
  image: {
    /** `loginServer/repository:tag@digest` (no tag for a push by digest). */
    ref: string;
    digest: string;
    /** The watched registry id, as configured. */
    registryId: string;
    loginServer: string;
    repository: string;
    tag?: string;
  };
  eventId: string;
  /** Event time as sent (ISO), for settle ordering. */
  eventTime?: string;
  mediaType: string;
}

/** A watched registry: its id, and optionally its login server (else taken from `data.request.host`). */
export type WatchedRegistry = string | { id: string; loginServer?: string };

export const IMAGE_MEDIA_TYPES: readonly string[] = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
];

/** Media types of supply-chain artifacts that are pushed next to images but are not bases of anything. */
const ARTIFACT_PREFIXES = [
  'application/vnd.dev.cosign',
  'application/vnd.cncf.notary',
  'application/vnd.in-toto',
  'application/spdx',
  'text/spdx',
  'application/vnd.cyclonedx',
  'application/vnd.dev.sigstore',
  'application/vnd.acr.helm',
  'application/vnd.cncf.helm',
];

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface Envelope {
  id: string;
  topic: string;
  type: string;
  time?: string;
  data: unknown;
  schema: 'EventGrid' | 'CloudEvents';
}

function envelope(ev: unknown): Envelope | { reject: string } {
  if (!isObj(ev)) return { reject: 'event is not a JSON object' };
  const cloud = 'specversion' in ev;
  const [topicField, typeField, timeField] = cloud ? ['source', 'type', 'time'] : ['topic', 'eventType', 'eventTime'];
  if (typeof ev.id !== 'string' || ev.id.trim() === '') return { reject: "field 'id' is missing or not a string" };
  const topic = ev[topicField];
  if (typeof topic !== 'string' || topic === '') return { reject: `field '${topicField}' is missing or not a string` };
  const type = ev[typeField];
  if (typeof type !== 'string' || type === '') return { reject: `field '${typeField}' is missing or not a string` };
  const time = ev[timeField];
  if (time !== undefined && time !== null && typeof time !== 'string')
    return { reject: `field '${timeField}' is not a string` };
  const out: Envelope = { id: ev.id, topic, type, data: ev.data, schema: cloud ? 'CloudEvents' : 'EventGrid' };
  if (typeof time === 'string') out.time = time;
  return out;
}

function watchedMatch<T extends string | { id: string }>(topic: string, watched: readonly T[]): T | undefined {
  let key: string;
  try {
    key = normalizeId(topic);
  } catch (err) {
    if (err instanceof ResourceIdError) return undefined;
    throw err;
  }
  return watched.find((w) => {
    try {
      return normalizeId(typeof w === 'string' ? w : w.id) === key;
    } catch (err) {
      if (err instanceof ResourceIdError) return false;
      throw err;
    }
  });
}

function isArtifactMediaType(mt: string | undefined): boolean {
  if (!mt) return false;
  const m = mt.toLowerCase();
  return ARTIFACT_PREFIXES.some((p) => m.startsWith(p));
}

/** Cosign stores signatures, attestations and SBOMs under tags `sha256-<hex>.sig|.att|.sbom`. */
const COSIGN_TAG = /^sha256-[0-9a-f]{64}\.(sig|att|sbom)$/;

export function classifyRegistryEvent(
  ev: unknown,
  watchedRegistries: readonly WatchedRegistry[],
): EventClassification<PushedImageEvent> {
  const env = envelope(ev);
  if ('reject' in env) return { kind: 'reject', reason: env.reject };
  const topicField = env.schema === 'CloudEvents' ? 'source' : 'topic';
  const watched = watchedMatch(env.topic, watchedRegistries);
  if (watched === undefined)
    return { kind: 'ignore', reason: `${topicField} '${env.topic}' is not a watched registry` };

  const type = env.type;
  if (type === 'Microsoft.ContainerRegistry.ImageDeleted')
    return { kind: 'ignore', reason: 'image deleted (logged only)' };
  if (type.startsWith('Microsoft.ContainerRegistry.Chart'))
    return { kind: 'ignore', reason: `${type}: Helm charts are not bases` };
  if (type !== 'Microsoft.ContainerRegistry.ImagePushed')
    return { kind: 'ignore', reason: `event type '${type}' is not handled` };

  if (!isObj(env.data)) return { kind: 'reject', reason: "field 'data' is missing or not an object" };
  const target = env.data.target;
  if (!isObj(target)) return { kind: 'reject', reason: "field 'data.target' is missing or not an object" };
  if (!isDigest(target.digest))
    return { kind: 'reject', reason: "field 'data.target.digest' is missing or not sha256:<64 hex>" };
  if (typeof target.repository !== 'string' || target.repository === '') {
    return { kind: 'reject', reason: "field 'data.target.repository' is missing or not a string" };
  }
  if (target.tag !== undefined && target.tag !== null && typeof target.tag !== 'string') {
    return { kind: 'reject', reason: "field 'data.target.tag' is not a string" };
  }
  if (typeof target.mediaType !== 'string' || target.mediaType === '') {
    return { kind: 'reject', reason: "field 'data.target.mediaType' is missing or not a string" };
  }
  const mediaType = target.mediaType;
  const tag = typeof target.tag === 'string' && target.tag !== '' ? target.tag : undefined;

  const artifactType = typeof target.artifactType === 'string' ? target.artifactType : undefined;
  const config = isObj(target.config) ? target.config : undefined;
  const configMediaType =
    typeof config?.mediaType === 'string'
      ? config.mediaType
      : typeof target.configMediaType === 'string'
        ? target.configMediaType
        : undefined;
  if (artifactType) return { kind: 'ignore', reason: `artifact of type '${artifactType}', not an image` };
  if (isArtifactMediaType(configMediaType) || isArtifactMediaType(mediaType)) {
    return {
      kind: 'ignore',
      reason: `signature, attestation or SBOM ('${configMediaType ?? mediaType}'), not an image`,
    };
  }
  if (tag && COSIGN_TAG.test(tag))
    return { kind: 'ignore', reason: `tag '${tag}' is a cosign signature/attestation/SBOM` };
  if (!IMAGE_MEDIA_TYPES.includes(mediaType)) {
    return { kind: 'ignore', reason: `media type '${mediaType}' is not an image manifest or index` };
  }

  let loginServer = typeof watched === 'string' ? undefined : watched.loginServer;
  if (!loginServer) {
    const request = env.data.request;
    const host = isObj(request) ? request.host : undefined;
    if (typeof host !== 'string' || host === '') {
      return { kind: 'reject', reason: "field 'data.request.host' is missing (needed for the login server)" };
    }
    loginServer = host;
  }
  loginServer = normalizeLoginServer(loginServer);

  let parsed;
  try {
    parsed = parseImageRef(`${loginServer}/${target.repository}${tag ? `:${tag}` : ''}@${target.digest}`);
  } catch (err) {
    if (!(err instanceof ImageRefError)) throw err;
    return { kind: 'reject', reason: `field 'data.target': ${err.message}` };
  }
  const image: PushedImageEvent['image'] = {
    ref: `${parsed.loginServer}/${parsed.repository}${tag ? `:${tag}` : ''}@${target.digest}`,
    digest: target.digest,
    registryId: typeof watched === 'string' ? watched : watched.id,
    loginServer: parsed.loginServer,
    repository: parsed.repository,
  };
  if (tag) image.tag = tag;
  const out: { kind: 'accept' } & PushedImageEvent = { kind: 'accept', image, eventId: env.id, mediaType };
  if (env.time) out.eventTime = env.time;
  return out;
}

export type VaultEventType = 'SecretNewVersionCreated' | 'SecretNearExpiry' | 'SecretExpired';
const VAULT_EVENT_TYPES = new Set<string>(['SecretNewVersionCreated', 'SecretNearExpiry', 'SecretExpired']);

export interface VaultSecretEvent {
  secret: {
    type: VaultEventType;
    /** The watched vault id, as configured. */
    vaultId: string;
    vaultName: string;
    vaultUrl: string;
    name: string;
    version?: string;
    /** `data.Id` as sent (versioned secret URI). */
    uri: string;
    /** Unix seconds, when set. */
    notBefore?: number;
    expiresOn?: number;
  };
  eventId: string;
  eventTime?: string;
}

/** Reads a data field by PascalCase name, falling back to camelCase and to keys with stray spaces (doc typos). */
function field(data: Obj, name: string): unknown {
  if (name in data) return data[name];
  const camel = name.charAt(0).toLowerCase() + name.slice(1);
  if (camel in data) return data[camel];
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(data)) if (k.trim().toLowerCase() === lower) return v;
  return undefined;
}

/** NBF/EXP: number, numeric string, or null. `undefined` = absent; NaN = malformed. */
function epoch(v: unknown): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : NaN;
  if (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v)) return Math.trunc(Number(v));
  return NaN;
}

export function classifyVaultEvent(
  ev: unknown,
  watchedVaultIds: readonly string[],
): EventClassification<VaultSecretEvent> {
  const env = envelope(ev);
  if ('reject' in env) return { kind: 'reject', reason: env.reject };
  const topicField = env.schema === 'CloudEvents' ? 'source' : 'topic';
  const watched = watchedMatch(env.topic, watchedVaultIds);
  if (watched === undefined) return { kind: 'ignore', reason: `${topicField} '${env.topic}' is not a watched vault` };
  const short = env.type.replace(/^Microsoft\.KeyVault\./, '');
  if (!env.type.startsWith('Microsoft.KeyVault.') || !VAULT_EVENT_TYPES.has(short)) {
    return { kind: 'ignore', reason: `event type '${env.type}' is not handled` };
  }
  if (!isObj(env.data)) return { kind: 'reject', reason: "field 'data' is missing or not an object" };
  const id = field(env.data, 'Id');
  if (typeof id !== 'string' || id === '')
    return { kind: 'reject', reason: "field 'data.Id' is missing or not a string" };
  let ref;
  try {
    ref = parseSecretUri(id.trim());
  } catch (err) {
    if (!(err instanceof SecretUriError)) throw err;
    return { kind: 'reject', reason: `field 'data.Id': ${err.message}` };
  }
  const objectType = field(env.data, 'ObjectType');
  if (objectType !== undefined && objectType !== null && String(objectType).trim().toLowerCase() !== 'secret') {
    return { kind: 'ignore', reason: `object type '${String(objectType)}' is not a secret` };
  }
  const nbf = epoch(field(env.data, 'NBF'));
  const exp = epoch(field(env.data, 'EXP'));
  if (Number.isNaN(nbf)) return { kind: 'reject', reason: "field 'data.NBF' is not a number, numeric string or null" };
  if (Number.isNaN(exp)) return { kind: 'reject', reason: "field 'data.EXP' is not a number, numeric string or null" };
  const vaultNameField = field(env.data, 'VaultName');
  const version = field(env.data, 'Version');
  const secret: VaultSecretEvent['secret'] = {
    type: short as VaultEventType,
    vaultId: watched,
    vaultName:
      typeof vaultNameField === 'string' && vaultNameField.trim()
        ? vaultNameField.trim()
        : parseResourceId(watched).name,
    vaultUrl: ref.vaultUrl,
    name: ref.name,
    uri: ref.uri,
  };
  const v = ref.version ?? (typeof version === 'string' && version.trim() ? version.trim().toLowerCase() : undefined);
  if (v) secret.version = v;
  if (nbf !== undefined) secret.notBefore = nbf;
  if (exp !== undefined) secret.expiresOn = exp;
  const out: { kind: 'accept' } & VaultSecretEvent = { kind: 'accept', secret, eventId: env.id };
  if (env.time) out.eventTime = env.time;
  return out;
}
