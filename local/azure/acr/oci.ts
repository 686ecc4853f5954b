// The registry data plane: OCI distribution API (blobs with monolithic/chunked uploads and cross-mount, manifests of
// the Docker v2 / OCI media types, tags, referrers, catalog) on each registry's own HTTPS listener, plus the
// `services.registryData` hooks the run simulation uses. Every manifest PUT emits ImagePushed; deletes ImageDeleted.
import { randomUUID } from 'node:crypto';
import type { Emulator, EmuRequest } from '../core/emulator.js';
import type { Reply } from '../core/errors.js';
import { oci } from './errors.js';
import { DIGEST_RX, REPOSITORY_RX, TAG_RX } from './imageRef.js';
import { findRegistryByLoginServer, findRegistryByName, regKey, type RegistryResource } from './model.js';
import { sha256, syntheticImage } from './synthetic.js';
import { scopeAllows, verifyTokenPassword } from './tokens.js';

export const MANIFEST_TYPES = {
  dockerV2: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
};
const SUPPORTED = Object.values(MANIFEST_TYPES);
const INDEX_TYPES = [MANIFEST_TYPES.dockerList, MANIFEST_TYPES.ociIndex];

interface StoredManifest {
  mediaType: string;
  /** Exact bytes as pushed (base64), so the digest stays verifiable. */
  body: string;
  size: number;
  artifactType?: string;
  subject?: string;
  pushedAt: string;
}

interface Upload {
  registry: string;
  repository: string;
  chunks: Buffer[];
  size: number;
}

interface Descriptor {
  mediaType?: string;
  digest?: string;
  size?: number;
  artifactType?: string;
}

interface ManifestJson {
  schemaVersion?: number;
  mediaType?: string;
  artifactType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** Data-plane records, keyed by lower-case registry name (`reg|digest`, `reg|repo|digest`, `reg|repo|tag`). */
export class OciStore {
  private readonly uploads = new Map<string, Upload>();
  constructor(private readonly emu: Emulator) {}

  private get blobs() {
    return this.emu.store.bucket<string>('acr.blobs');
  }
  private get manifests() {
    return this.emu.store.bucket<StoredManifest>('acr.manifests');
  }
  private get tags() {
    return this.emu.store.bucket<string>('acr.tags');
  }

  hasBlob(reg: string, digest: string): boolean {
    return this.blobs.has(`${reg}|${digest}`);
  }
  getBlob(reg: string, digest: string): Buffer | undefined {
    const b = this.blobs.get(`${reg}|${digest}`);
    return b === undefined ? undefined : Buffer.from(b, 'base64');
  }
  putBlob(reg: string, data: Buffer): string {
    const digest = sha256(data);
    this.blobs.set(`${reg}|${digest}`, data.toString('base64'));
    this.emu.store.changed();
    return digest;
  }
  deleteBlob(reg: string, digest: string): boolean {
    const found = this.blobs.delete(`${reg}|${digest}`);
    this.emu.store.changed();
    return found;
  }

  startUpload(reg: string, repository: string): string {
    const id = randomUUID();
    this.uploads.set(id, { registry: reg, repository, chunks: [], size: 0 });
    return id;
  }
  upload(reg: string, repository: string, id: string): Upload | undefined {
    const u = this.uploads.get(id);
    return u && u.registry === reg && u.repository === repository ? u : undefined;
  }
  endUpload(id: string): void {
    this.uploads.delete(id);
  }

  /** Digest of a tag or digest reference in a repository. */
  resolve(reg: string, repository: string, ref: string): string | undefined {
    if (DIGEST_RX.test(ref)) return this.manifests.has(`${reg}|${repository}|${ref}`) ? ref : undefined;
    return this.tags.get(`${reg}|${repository}|${ref}`);
  }
  getManifest(reg: string, repository: string, digest: string): StoredManifest | undefined {
    return this.manifests.get(`${reg}|${repository}|${digest}`);
  }
  putManifest(reg: string, repository: string, digest: string, m: StoredManifest, tag?: string): void {
    this.manifests.set(`${reg}|${repository}|${digest}`, m);
    if (tag) this.tags.set(`${reg}|${repository}|${tag}`, digest);
    this.emu.store.changed();
  }
  /** Deletes a manifest and every tag pointing at it. */
  deleteManifest(reg: string, repository: string, digest: string): void {
    this.manifests.delete(`${reg}|${repository}|${digest}`);
    for (const [k, d] of [...this.tags]) if (d === digest && k.startsWith(`${reg}|${repository}|`)) this.tags.delete(k);
    this.emu.store.changed();
  }
  tagsOf(reg: string, repository: string): string[] {
    const prefix = `${reg}|${repository}|`;
    return [...this.tags.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
  }
  manifestsOf(reg: string, repository: string): [string, StoredManifest][] {
    const prefix = `${reg}|${repository}|`;
    return [...this.manifests.entries()]
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, m]) => [k.slice(prefix.length), m]);
  }
  repositories(reg: string): string[] {
    const out = new Set<string>();
    for (const k of this.manifests.keys()) {
      const [r, repo] = k.split('|');
      if (r === reg && repo) out.add(repo);
    }
    return [...out].sort();
  }
  dropRegistry(reg: string): void {
    for (const b of [this.blobs, this.manifests, this.tags] as Map<string, unknown>[])
      for (const k of [...b.keys()]) if (k.startsWith(`${reg}|`)) b.delete(k);
    for (const [id, u] of this.uploads) if (u.registry === reg) this.uploads.delete(id);
    this.emu.store.changed();
  }
}

type Perm = 'content/read' | 'content/write' | 'content/delete' | 'metadata/read';

/**
 * Data-plane auth. No credentials: accepted (the listener binds loopback only — a documented difference from Azure).
 * Basic credentials must be a token of this registry whose scope map grants `perm` on the repository.
 */
function authorizeData(
  emu: Emulator,
  registry: RegistryResource,
  req: EmuRequest,
  repository: string | undefined,
  perm: Perm,
) {
  const auth = req.headers.authorization;
  if (!auth) return;
  const login = registry.properties.loginServer;
  const m = /^basic\s+(.+)$/i.exec(auth);
  if (!m)
    throw oci.unauthorized(login, 'only token credentials (basic auth) or anonymous loopback access are supported');
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw oci.unauthorized(login, 'malformed basic credentials');
  const check = verifyTokenPassword(emu, registry, decoded.slice(0, colon), decoded.slice(colon + 1));
  if (!check.ok) throw oci.unauthorized(login, check.why);
  if (repository === undefined) return;
  if (!scopeAllows(check.actions, repository, perm)) throw oci.denied();
}

function manifestHeaders(digest: string, m: StoredManifest): Record<string, string> {
  return { 'content-type': m.mediaType, 'docker-content-digest': digest };
}

const API_HEADERS = { 'docker-distribution-api-version': 'registry/2.0' };

export interface PushOptions {
  useragent: string;
  method?: string;
}

export function registerOci(emu: Emulator, store: OciStore): void {
  const registryOf = (req: EmuRequest): RegistryResource => {
    const registry = req.target ? findRegistryByName(emu, req.target) : undefined;
    if (!registry) throw oci.nameUnknown(req.target ?? '');
    return registry;
  };

  const emitPush = (
    registry: RegistryResource,
    repository: string,
    digest: string,
    m: StoredManifest,
    tag: string | undefined,
    opts: PushOptions,
  ) => {
    emu.emit({
      source: registry.id,
      eventType: 'Microsoft.ContainerRegistry.ImagePushed',
      subject: tag ? `${repository}:${tag}` : repository,
      data: {
        id: randomUUID(),
        timestamp: emu.nowIso(),
        action: 'push',
        location: registry.location,
        target: {
          mediaType: m.mediaType,
          size: m.size,
          digest,
          length: m.size,
          repository,
          ...(tag ? { tag } : {}),
          ...(m.artifactType ? { artifactType: m.artifactType } : {}),
        },
        request: {
          id: randomUUID(),
          host: registry.properties.loginServer,
          method: opts.method ?? 'PUT',
          useragent: opts.useragent,
        },
      },
    });
  };

  /** Validates and stores a manifest; emits ImagePushed. Shared by the HTTP route and synthetic pushes. */
  const putManifest = (
    registry: RegistryResource,
    repository: string,
    ref: string,
    body: Buffer,
    contentType: string | undefined,
    opts: PushOptions,
  ): { digest: string; subject?: string } => {
    const reg = regKey(registry.name);
    let json: ManifestJson;
    try {
      json = JSON.parse(body.toString('utf8')) as ManifestJson;
    } catch {
      throw oci.manifestInvalid('the manifest is not JSON');
    }
    const mediaType = (contentType?.split(';')[0]?.trim() || json.mediaType) ?? '';
    if (!SUPPORTED.includes(mediaType)) throw oci.manifestInvalid(`unsupported manifest media type '${mediaType}'`);
    if (json.mediaType && json.mediaType !== mediaType)
      throw oci.manifestInvalid(`mediaType '${json.mediaType}' does not match Content-Type '${mediaType}'`);
    if (json.schemaVersion !== 2) throw oci.manifestInvalid('schemaVersion must be 2');
    const digest = sha256(body);
    const isDigest = ref.startsWith('sha256:');
    if (isDigest && ref !== digest) throw oci.digestInvalid(`expected ${ref}, computed ${digest}`);
    if (!isDigest && !TAG_RX.test(ref)) throw oci.tagInvalid(ref);
    if (INDEX_TYPES.includes(mediaType)) {
      if (!Array.isArray(json.manifests)) throw oci.manifestInvalid('an index needs a manifests array');
      for (const d of json.manifests) {
        if (!d.digest || !store.getManifest(reg, repository, d.digest))
          throw oci.manifestBlobUnknown(d.digest ?? '(none)');
      }
    } else {
      if (!json.config?.digest) throw oci.manifestInvalid('an image manifest needs a config descriptor');
      for (const d of [json.config, ...(json.layers ?? [])]) {
        if (!d.digest || !store.hasBlob(reg, d.digest)) throw oci.manifestBlobUnknown(d.digest ?? '(none)');
      }
    }
    const artifactType =
      json.artifactType ??
      (json.config?.mediaType && !/\.image\.config\.|container\.image\.v1\+json$/.test(json.config.mediaType)
        ? json.config.mediaType
        : undefined);
    const m: StoredManifest = {
      mediaType,
      body: body.toString('base64'),
      size: body.length,
      pushedAt: emu.nowIso(),
      ...(artifactType ? { artifactType } : {}),
      ...(json.subject?.digest ? { subject: json.subject.digest } : {}),
    };
    const tag = isDigest ? undefined : ref;
    store.putManifest(reg, repository, digest, m, tag);
    emitPush(registry, repository, digest, m, tag, opts);
    return { digest, ...(m.subject ? { subject: m.subject } : {}) };
  };

  const deleteManifest = (registry: RegistryResource, repository: string, digest: string, useragent: string) => {
    const reg = regKey(registry.name);
    const m = store.getManifest(reg, repository, digest)!;
    store.deleteManifest(reg, repository, digest);
    emu.emit({
      source: registry.id,
      eventType: 'Microsoft.ContainerRegistry.ImageDeleted',
      subject: repository,
      data: {
        id: randomUUID(),
        timestamp: emu.nowIso(),
        action: 'delete',
        location: registry.location,
        target: { mediaType: m.mediaType, digest, repository },
        request: { id: randomUUID(), host: registry.properties.loginServer, method: 'DELETE', useragent },
      },
    });
  };

  emu.services.registryData = {
    resolveImage(loginServer, repository, reference) {
      const registry = findRegistryByLoginServer(emu, loginServer);
      if (!registry) return undefined;
      const digest = store.resolve(regKey(registry.name), repository, reference);
      return digest ? { digest } : undefined;
    },
    pushSyntheticImage(registryName, repository, tag, label) {
      const registry = findRegistryByName(emu, registryName);
      if (!registry) throw new Error(`registry '${registryName}' does not exist`);
      const img = syntheticImage(label ?? `${registry.properties.loginServer}/${repository}:${tag}`);
      const reg = regKey(registry.name);
      store.putBlob(reg, img.config);
      store.putBlob(reg, img.layer);
      return putManifest(registry, repository, tag, img.manifest, img.mediaType, { useragent: 'acr-emulator/tasks' });
    },
  };

  // One route per method over `/v2/...`; the path grammar below is easier to follow than a route per shape
  // (repository names contain slashes).
  const handle = (req: EmuRequest): Reply => {
    const registry = registryOf(req);
    const reg = regKey(registry.name);
    const path = req.path;
    const ua = String(req.headers['user-agent'] ?? 'unknown');
    emu.throttle.count(
      `registryData.${req.method.toLowerCase()}`,
      req.method === 'GET' || req.method === 'HEAD' ? 'read' : 'write',
    );

    if (path === '/v2' || path === '/v2/') {
      authorizeData(emu, registry, req, undefined, 'content/read');
      return { status: 200, body: {}, headers: API_HEADERS };
    }
    if (path === '/v2/_catalog') {
      authorizeData(emu, registry, req, undefined, 'metadata/read');
      return { status: 200, body: { repositories: store.repositories(reg) }, headers: API_HEADERS };
    }
    const m =
      /^\/v2\/(.+?)\/(blobs\/uploads\/?([^/]*)|blobs\/([^/]+)|manifests\/([^/]+)|tags\/list|referrers\/([^/]+))\/?$/.exec(
        path,
      );
    if (!m) throw oci.nameUnknown(path);
    const repository = m[1]!;
    if (!REPOSITORY_RX.test(repository)) throw oci.nameInvalid(repository);
    const what = m[2]!;
    // The core routes HEAD to GET routes and drops the body; the headers (Content-Length, digest) stay.
    const method = req.method === 'HEAD' ? 'GET' : req.method;

    // Uploads ---------------------------------------------------------------------------------------------------
    if (what.startsWith('blobs/uploads')) {
      const uploadId = m[3] ?? '';
      authorizeData(emu, registry, req, repository, 'content/write');
      const uploadHeaders = (id: string, size: number) => ({
        ...API_HEADERS,
        location: `/v2/${repository}/blobs/uploads/${id}`,
        range: `0-${Math.max(0, size - 1)}`,
        'docker-upload-uuid': id,
      });
      const finish = (data: Buffer, digest: string | undefined): Reply => {
        if (!digest || !DIGEST_RX.test(digest)) throw oci.digestInvalid(`'${digest ?? ''}' is not a sha256 digest`);
        const actual = sha256(data);
        if (actual !== digest) throw oci.digestInvalid(`expected ${digest}, computed ${actual}`);
        store.putBlob(reg, data);
        return {
          status: 201,
          headers: { ...API_HEADERS, location: `/v2/${repository}/blobs/${digest}`, 'docker-content-digest': digest },
        };
      };
      if (!uploadId) {
        if (method !== 'POST') throw oci.unsupported(`${method} ${path}`);
        const mount = req.q('mount');
        if (mount && store.hasBlob(reg, mount)) {
          // Blobs are shared registry-wide, so a cross-repository mount succeeds whenever the blob exists.
          return {
            status: 201,
            headers: { ...API_HEADERS, location: `/v2/${repository}/blobs/${mount}`, 'docker-content-digest': mount },
          };
        }
        const digest = req.q('digest');
        if (digest !== undefined) return finish(req.rawBody, digest);
        const id = store.startUpload(reg, repository);
        return { status: 202, headers: uploadHeaders(id, 0) };
      }
      const upload = store.upload(reg, repository, uploadId);
      if (!upload) throw oci.uploadUnknown();
      if (method === 'GET' || method === 'HEAD') return { status: 204, headers: uploadHeaders(uploadId, upload.size) };
      if (method === 'DELETE') {
        store.endUpload(uploadId);
        return { status: 204, headers: API_HEADERS };
      }
      if (method === 'PATCH' || method === 'PUT') {
        const range = req.headers['content-range'];
        if (method === 'PATCH' && typeof range === 'string') {
          const r = /^(?:bytes[ =])?(\d+)-(\d+)$/.exec(range.trim());
          if (!r || Number(r[1]) !== upload.size) {
            return {
              status: 416,
              body: { errors: [{ code: 'BLOB_UPLOAD_INVALID', message: 'chunk out of order', detail: null }] },
              headers: uploadHeaders(uploadId, upload.size),
            };
          }
        }
        if (req.rawBody.length) {
          upload.chunks.push(req.rawBody);
          upload.size += req.rawBody.length;
        }
        if (method === 'PATCH') return { status: 202, headers: uploadHeaders(uploadId, upload.size) };
        const reply = finish(Buffer.concat(upload.chunks), req.q('digest'));
        store.endUpload(uploadId);
        return reply;
      }
      throw oci.unsupported(`${method} ${path}`);
    }

    // Blobs -----------------------------------------------------------------------------------------------------
    if (m[4] !== undefined) {
      const digest = m[4];
      if (method === 'DELETE') {
        authorizeData(emu, registry, req, repository, 'content/delete');
        if (!store.deleteBlob(reg, digest)) throw oci.blobUnknown(digest);
        return { status: 202, headers: API_HEADERS };
      }
      if (method !== 'GET') throw oci.unsupported(`${method} ${path}`);
      authorizeData(emu, registry, req, repository, 'content/read');
      const blob = store.getBlob(reg, digest);
      if (!blob) throw oci.blobUnknown(digest);
      return {
        status: 200,
        body: blob,
        headers: { ...API_HEADERS, 'content-type': 'application/octet-stream', 'docker-content-digest': digest },
      };
    }

    // Manifests -------------------------------------------------------------------------------------------------
    if (m[5] !== undefined) {
      const ref = m[5];
      if (method === 'PUT') {
        authorizeData(emu, registry, req, repository, 'content/write');
        const ct = req.headers['content-type'];
        const res = putManifest(registry, repository, ref, req.rawBody, typeof ct === 'string' ? ct : undefined, {
          useragent: ua,
        });
        return {
          status: 201,
          headers: {
            ...API_HEADERS,
            location: `/v2/${repository}/manifests/${res.digest}`,
            'docker-content-digest': res.digest,
            ...(res.subject ? { 'oci-subject': res.subject } : {}),
          },
        };
      }
      if (method === 'DELETE') {
        authorizeData(emu, registry, req, repository, 'content/delete');
        const digest = store.resolve(reg, repository, ref);
        if (!digest) throw oci.manifestUnknown(ref);
        // Like `az acr repository delete --image repo:tag`, deleting by tag deletes the manifest and all its tags.
        deleteManifest(registry, repository, digest, ua);
        return { status: 202, headers: API_HEADERS };
      }
      if (method !== 'GET') throw oci.unsupported(`${method} ${path}`);
      authorizeData(emu, registry, req, repository, 'content/read');
      const digest = store.resolve(reg, repository, ref);
      const found = digest ? store.getManifest(reg, repository, digest) : undefined;
      if (!digest || !found) throw oci.manifestUnknown(ref);
      return {
        status: 200,
        body: Buffer.from(found.body, 'base64'),
        headers: { ...API_HEADERS, ...manifestHeaders(digest, found) },
      };
    }

    if (method !== 'GET') throw oci.unsupported(`${method} ${path}`);

    // Referrers -------------------------------------------------------------------------------------------------
    if (m[6] !== undefined) {
      authorizeData(emu, registry, req, repository, 'content/read');
      const subject = m[6];
      const filter = req.q('artifactType');
      const manifests = store
        .manifestsOf(reg, repository)
        .filter(([, sm]) => sm.subject === subject && (!filter || sm.artifactType === filter))
        .map(([digest, sm]) => {
          const json = JSON.parse(Buffer.from(sm.body, 'base64').toString('utf8')) as ManifestJson;
          return {
            mediaType: sm.mediaType,
            digest,
            size: sm.size,
            ...(sm.artifactType ? { artifactType: sm.artifactType } : {}),
            ...(json.annotations ? { annotations: json.annotations } : {}),
          };
        });
      return {
        status: 200,
        body: { schemaVersion: 2, mediaType: MANIFEST_TYPES.ociIndex, manifests },
        headers: {
          ...API_HEADERS,
          'content-type': MANIFEST_TYPES.ociIndex,
          ...(filter ? { 'oci-filters-applied': 'artifactType' } : {}),
        },
      };
    }

    // Tags ------------------------------------------------------------------------------------------------------
    authorizeData(emu, registry, req, repository, 'metadata/read');
    const all = store.tagsOf(reg, repository).sort();
    if (!all.length && !store.manifestsOf(reg, repository).length) throw oci.nameUnknown(repository);
    const last = req.q('last');
    const n = req.q('n') === undefined ? undefined : Number(req.q('n'));
    let tags = last ? all.filter((t) => t > last) : all;
    const headers: Record<string, string> = { ...API_HEADERS };
    if (n !== undefined && Number.isInteger(n) && n >= 0 && tags.length > n) {
      tags = tags.slice(0, n);
      headers.link = `</v2/${repository}/tags/list?n=${n}&last=${encodeURIComponent(tags[tags.length - 1] ?? '')}>; rel="next"`;
    }
    return { status: 200, body: { name: repository, tags }, headers };
  };

  for (const method of ['GET', 'PUT', 'POST', 'PATCH', 'DELETE']) {
    // `{*rest}` may be empty, so this also matches `/v2` and `/v2/`.
    emu.registryRoute({ op: `registryData.${method.toLowerCase()}`, method, path: '/v2/{*rest}', handler: handle });
  }
}
