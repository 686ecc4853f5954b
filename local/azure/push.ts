// `npm run push -- <registry> <repository>:<tag>`: pushes a small synthetic image to an emulated registry through
// its OCI distribution API (what `docker push` would do) and prints the manifest digest. Where the emulator listens
// comes from `.local/stack.json` (or $ACR_CASCADE_STACK_FILE); the registry is looked up in the emulator's ARM API at
// push time, so registries created after the stack started (a scenario, `az acr create`) work too.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256, syntheticImage } from './acr/synthetic.js';
import { EmulatorTokenCredential } from './credential.js';

const USAGE =
  'usage: npm run push -- <registry> <repository>:<tag>   (e.g. npm run push -- mybaseregistry baseimages/node:15-alpine)';
const REF_RX =
  /^([a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*):([A-Za-z0-9_][A-Za-z0-9._-]{0,127})$/;

class UsageError extends Error {}
class PushError extends Error {}

interface Stack {
  subscriptionId?: string;
  arm?: { endpoint?: string };
  identity?: { endpoint?: string; header?: string; operatorClientId?: string };
  tls?: { caCertPath?: string };
}

function readStack(path: string): Stack {
  if (!existsSync(path)) throw new PushError(`${path} does not exist: start the emulator first (npm run emulator).`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Stack;
  } catch (err) {
    throw new PushError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
}

function causeOf(err: unknown): string {
  return (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
}

async function send(url: string, init: RequestInit, what: string): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    throw new PushError(`cannot ${what} at ${url}: ${causeOf(err)}. Is the emulator running?`);
  }
}

async function expectStatus(res: Response, status: number, what: string): Promise<void> {
  if (res.status !== status) throw new PushError(`${what} answered ${res.status}: ${await res.text()}`);
}

interface Target {
  base: string;
  loginServer: string;
  repository: string;
  tag: string;
}

/** Validates `<repository>:<tag>` (before any network use, so usage errors are quick). */
export function parseRef(ref: string): { repository: string; tag: string } {
  const m = REF_RX.exec(ref);
  if (!m)
    throw new UsageError(
      `'${ref}' is not <repository>:<tag> (a lower-case repository such as baseimages/node, then ':' and a tag).`,
    );
  const [, repository, tag] = m as unknown as [string, string, string];
  return { repository, tag };
}

/** Asks the emulator's ARM API (as the stack's operator) where the registry's data plane listens. */
export async function resolveTarget(
  stackPath: string,
  stack: Stack,
  registryName: string,
  ref: { repository: string; tag: string },
): Promise<Target> {
  const arm = stack.arm?.endpoint;
  const id = stack.identity;
  if (!arm || !stack.subscriptionId || !id?.endpoint || !id.header)
    throw new PushError(`${stackPath} does not say where the emulator is (arm.endpoint, identity): restart it.`);
  const url = `${arm}/subscriptions/${stack.subscriptionId}/providers/Microsoft.ContainerRegistry/registries?api-version=2023-07-01`;
  let token: string;
  try {
    token = (
      await new EmulatorTokenCredential(id.endpoint, id.header, id.operatorClientId).getToken(
        'https://management.azure.com/.default',
      )
    ).token;
  } catch (err) {
    throw new PushError(`cannot get a token at ${id.endpoint}: ${causeOf(err)}. Is the emulator running?`);
  }
  const res = await send(url, { headers: { authorization: `Bearer ${token}` } }, 'list registries');
  await expectStatus(res, 200, 'listing registries');
  const registries = (
    (await res.json()) as {
      value: { name: string; properties?: { loginServer?: string; dataEndpoint?: string } }[];
    }
  ).value;
  const found = registries.find((r) => r.name.toLowerCase() === registryName.toLowerCase());
  if (!found)
    throw new UsageError(
      `registry '${registryName}' does not exist in the emulated subscription; registries there: ${registries.map((r) => r.name).join(', ') || '(none)'}.`,
    );
  const dataEndpoint = found.properties?.dataEndpoint;
  if (!dataEndpoint) throw new PushError(`registry '${found.name}' has no data endpoint in the emulator.`);
  return {
    base: dataEndpoint.replace(/\/+$/, ''),
    loginServer: found.properties?.loginServer ?? found.name,
    ...ref,
  };
}

/** Pushes config + layer blobs (skipping ones the registry has) and the manifest; returns the manifest digest. */
export async function push(target: Target): Promise<string> {
  const { base, loginServer, repository, tag } = target;
  // The timestamp makes every push a new digest; the rest is deterministic (no randomness).
  const img = syntheticImage(`${loginServer}/${repository}:${tag} pushed at ${new Date().toISOString()}`);
  for (const blob of [img.config, img.layer]) {
    const digest = sha256(blob);
    const head = await send(`${base}/v2/${repository}/blobs/${digest}`, { method: 'HEAD' }, 'check a blob');
    if (head.status === 200) continue;
    const start = await send(`${base}/v2/${repository}/blobs/uploads/`, { method: 'POST' }, 'start a blob upload');
    await expectStatus(start, 202, 'starting a blob upload');
    const location = new URL(start.headers.get('location') ?? '', `${base}/`);
    location.searchParams.set('digest', digest);
    const put = await send(
      location.toString(),
      { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: blob },
      'upload a blob',
    );
    await expectStatus(put, 201, 'uploading a blob');
  }
  const res = await send(
    `${base}/v2/${repository}/manifests/${tag}`,
    { method: 'PUT', headers: { 'content-type': img.mediaType }, body: img.manifest },
    'push the manifest',
  );
  await expectStatus(res, 201, 'pushing the manifest');
  return res.headers.get('docker-content-digest') ?? img.digest;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2).filter((a) => a !== '--');
  if (args.length !== 2) throw new UsageError(`expected 2 arguments, got ${args.length}.`);
  const [registry, refText] = args as [string, string];
  const ref = parseRef(refText);
  const stackPath = process.env.ACR_CASCADE_STACK_FILE ?? join(process.cwd(), '.local', 'stack.json');
  const stack = readStack(stackPath);
  // Node reads NODE_EXTRA_CA_CERTS only at start-up, so trust the emulator's CA by re-running this script with it.
  // A machine may already set NODE_EXTRA_CA_CERTS (e.g. to the system bundle): re-run unless it is the emulator's CA.
  const ca = stack.tls?.caCertPath;
  if (process.env.NODE_EXTRA_CA_CERTS !== ca) {
    if (!ca || !existsSync(ca))
      throw new PushError(`the CA certificate named by ${stackPath} (tls.caCertPath) is missing.`);
    const child = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: { ...process.env, NODE_EXTRA_CA_CERTS: ca },
    });
    return child.status ?? 1;
  }
  const target = await resolveTarget(stackPath, stack, registry, ref);
  const digest = await push(target);
  process.stderr.write(`pushed ${target.loginServer}/${target.repository}:${target.tag}\n`);
  process.stdout.write(`${digest}\n`);
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof UsageError) {
        process.stderr.write(`push: ${err.message}\n${USAGE}\n`);
        process.exit(2);
      }
      process.stderr.write(`push: ${err instanceof PushError ? err.message : ((err as Error).stack ?? String(err))}\n`);
      process.exit(1);
    },
  );
}
