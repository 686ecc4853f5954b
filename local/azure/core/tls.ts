// A private CA and a loopback server certificate, generated once and kept under the state folder.
// Clients trust the CA through NODE_EXTRA_CA_CERTS (read by Node only at process start).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Default location of the shared CA (tests and the stack set NODE_EXTRA_CA_CERTS to `<this>/ca.crt`). */
export const DEFAULT_TLS_DIR = join(process.cwd(), '.local', 'tls');

export interface TlsMaterial {
  caCertPath: string;
  key: Buffer;
  cert: Buffer;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/** Creates (if missing) `<dir>/ca.crt`, `<dir>/server.key`, `<dir>/server.crt` for 127.0.0.1 and localhost. */
export function ensureTls(dir: string): TlsMaterial {
  mkdirSync(dir, { recursive: true });
  const caCertPath = join(dir, 'ca.crt');
  const keyPath = join(dir, 'server.key');
  const certPath = join(dir, 'server.crt');
  if (!existsSync(caCertPath) || !existsSync(keyPath) || !existsSync(certPath)) {
    openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        'ca.key',
        '-out',
        'ca.crt',
        '-days',
        '3650',
        '-subj',
        '/CN=acr-cascade local emulator CA',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      dir,
    );
    openssl(
      ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'],
      dir,
    );
    writeFileSync(
      join(dir, 'server.ext'),
      'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n',
    );
    openssl(
      [
        'x509',
        '-req',
        '-in',
        'server.csr',
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        'server.crt',
        '-days',
        '3650',
        '-extfile',
        'server.ext',
      ],
      dir,
    );
  }
  return { caCertPath, key: readFileSync(keyPath), cert: readFileSync(certPath) };
}

/**
 * For the CLI entry points: Node reads NODE_EXTRA_CA_CERTS only at start-up, so unless this process already trusts the
 * emulator's CA, run the same command again in a child that does, and exit with its status.
 */
export function reexecTrustingCa(): void {
  const ca = join(DEFAULT_TLS_DIR, 'ca.crt');
  if (process.env.NODE_EXTRA_CA_CERTS === ca) return;
  ensureTls(DEFAULT_TLS_DIR);
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, NODE_EXTRA_CA_CERTS: ca, NO_PROXY: '127.0.0.1,localhost' },
  });
  process.exit(r.status ?? 1);
}
