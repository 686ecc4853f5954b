// A small, valid, deterministic OCI image (one gzip'd tar layer holding a label file): the same label always gives the
// same digest, a different label a different one. Used by run simulation and by `npm run push`.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

export const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface SyntheticImage {
  config: Buffer;
  layer: Buffer;
  manifest: Buffer;
  mediaType: string;
  digest: string;
}

function tarOf(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512, 0);
  const put = (s: string, offset: number, len: number) => header.write(s.slice(0, len), offset, 'ascii');
  put(name, 0, 100);
  put('0000644\0', 100, 8);
  put('0000000\0', 108, 8);
  put('0000000\0', 116, 8);
  put(content.length.toString(8).padStart(11, '0') + '\0', 124, 12);
  put('00000000000\0', 136, 12);
  header.fill(' ', 148, 156);
  put('0', 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const b of header) sum += b;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  const pad = Buffer.alloc((512 - (content.length % 512)) % 512, 0);
  return Buffer.concat([header, content, pad, Buffer.alloc(1024, 0)]);
}

export function syntheticImage(label: string): SyntheticImage {
  const tar = tarOf('acr-emulator/label.txt', Buffer.from(`${label}\n`, 'utf8'));
  const layer = gzipSync(tar, { level: 9 });
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Labels: { 'io.acr-cascade.emulator.label': label } },
      rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
      history: [{ created_by: 'acr-cascade emulator synthetic image' }],
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: sha256(config), size: config.length },
      layers: [{ mediaType: OCI_LAYER, digest: sha256(layer), size: layer.length }],
    }),
  );
  return { config, layer, manifest, mediaType: OCI_MANIFEST, digest: sha256(manifest) };
}
