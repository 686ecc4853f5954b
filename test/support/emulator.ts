// Starts a private emulator for one test file and hands out credentials that use the real token endpoint protocol.
import type { TokenCredential } from '@azure/identity';
import { EmulatorTokenCredential } from '../../local/azure/credential.js';
import {
  startEmulator,
  describeStack,
  operatorPrincipal,
  appPrincipal,
  type Emulator,
  type StackDescription,
} from '../../local/azure/index.js';
import type { Principal } from '../../local/azure/core/identity.js';

export interface TestEmulator {
  emu: Emulator;
  stack: () => StackDescription;
  operator: TokenCredential;
  app: TokenCredential;
  /** A credential for any principal the token endpoint serves (by client id). */
  credentialFor(p: Principal): TokenCredential;
  /** Calls the admin API. */
  admin(method: string, path: string, body?: unknown): Promise<Response>;
  stop(): Promise<void>;
}

export async function startTestEmulator(): Promise<TestEmulator> {
  const emu = await startEmulator({ port: 0, identityPort: 0 });
  const credentialFor = (p: Principal) =>
    new EmulatorTokenCredential(emu.identityEndpoint, emu.identityHeader, p.clientId);
  return {
    emu,
    stack: () => describeStack(emu),
    operator: credentialFor(operatorPrincipal(emu)),
    app: new EmulatorTokenCredential(emu.identityEndpoint, emu.identityHeader),
    credentialFor,
    admin: (method, path, body) =>
      fetch(`${emu.armEndpoint}/_emulator${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    stop: () => emu.stop(),
  };
}

/** Makes a principal's user-assigned identity usable from the app's token endpoint (as if assigned to the app). */
export function allowTokenEndpoint(p: Principal): void {
  p.tokenEndpoint = true;
}

export { appPrincipal, operatorPrincipal };

export { EmulatorTokenCredential };
