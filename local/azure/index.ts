// Builds an emulator with every service module registered. Tests and the local stack both start it from here.
import { join } from 'node:path';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { Emulator, type EmulatorOptions } from './core/emulator.js';
import { registerAdmin } from './core/admin.js';
import { DEFAULT_TLS_DIR, ensureTls } from './core/tls.js';
import type { ArmResource } from './core/state.js';
import type { Principal } from './core/identity.js';
import { registerResourceGroups } from './arm/resourceGroups.js';
import { registerAuthorization } from './arm/authorization.js';
import { registerManagedIdentity } from './arm/managedIdentity.js';
import { registerKeyVaultArm } from './keyvault/vaults.js';
import { registerKeyVaultData } from './keyvault/secrets.js';
import { registerEventGrid } from './eventgrid/index.js';
import { registerAcr } from './acr/index.js';
import { registerEntra } from './entra/index.js';

export { Emulator } from './core/emulator.js';
export type { Principal } from './core/identity.js';

export const OWNER_ROLE_ID = '8e3af657-a8ff-443c-a75c-2fe8c4bcb635';
export { DEFAULT_TLS_DIR } from './core/tls.js';

export interface StartOptions extends Omit<EmulatorOptions, 'tls'> {
  tlsDir?: string;
}

/** Creates, wires and starts an emulator; the app and operator identities exist before it returns. */
export async function startEmulator(opts: StartOptions = {}): Promise<Emulator> {
  const emu = new Emulator({ ...opts, tls: ensureTls(opts.tlsDir ?? DEFAULT_TLS_DIR) });
  registerAdmin(emu);
  registerResourceGroups(emu);
  registerAuthorization(emu);
  registerManagedIdentity(emu);
  registerKeyVaultArm(emu);
  registerKeyVaultData(emu);
  registerEventGrid(emu);
  registerAcr(emu);
  registerEntra(emu);
  bootstrapPrincipals(emu);
  await emu.start();
  return emu;
}

/** The app's system identity and an operator with Owner on the subscription (for seeding and tests). */
function bootstrapPrincipals(emu: Emulator): void {
  if (!emu.identities.find((p) => p.kind === 'app'))
    emu.newPrincipal('app', 'acr-cascade function app (system-assigned)', undefined, true);
  let operator = emu.identities.find((p) => p.kind === 'operator');
  if (!operator) operator = emu.newPrincipal('operator', 'operator (Owner on the subscription)', undefined, true);
  const scope = `/subscriptions/${emu.subscriptionId}`;
  const id = `${scope}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-4000-8000-0000000000aa`;
  if (!emu.store.getResource(id)) {
    emu.store.putResource({
      id,
      name: '00000000-0000-4000-8000-0000000000aa',
      type: 'Microsoft.Authorization/roleAssignments',
      properties: {
        roleDefinitionId: `${scope}/providers/Microsoft.Authorization/roleDefinitions/${OWNER_ROLE_ID}`,
        principalId: operator.objectId,
        principalType: 'ServicePrincipal',
        scope,
        createdOn: emu.nowIso(),
        updatedOn: emu.nowIso(),
      },
    });
  }
}

export function appPrincipal(emu: Emulator): Principal {
  return emu.identities.find((p) => p.kind === 'app')!;
}
export function operatorPrincipal(emu: Emulator): Principal {
  return emu.identities.find((p) => p.kind === 'operator')!;
}

export interface StackDescription {
  tenantId: string;
  subscriptionId: string;
  arm: { endpoint: string; adminEndpoint: string };
  tls: { caCertPath: string };
  identity: { endpoint: string; header: string; operatorClientId: string; appPrincipalId: string; appClientId: string };
  registries: Record<string, { id: string; loginServer: string; dataEndpoint?: string }>;
  vaults: Record<string, { id: string; vaultUri: string }>;
  [extra: string]: unknown;
}

/** What `.local/stack.json` says: the one place scripts and tests learn where things are. */
export function describeStack(emu: Emulator, tlsDir = DEFAULT_TLS_DIR): StackDescription {
  const registries: StackDescription['registries'] = {};
  for (const r of emu.store.listResources<ArmResource & { properties: { loginServer: string; dataEndpoint?: string } }>(
    'Microsoft.ContainerRegistry/registries',
  )) {
    registries[r.name] = { id: r.id, loginServer: r.properties.loginServer, dataEndpoint: r.properties.dataEndpoint };
  }
  const vaults: StackDescription['vaults'] = {};
  for (const v of emu.store.listResources<ArmResource & { properties: { vaultUri: string } }>(
    'Microsoft.KeyVault/vaults',
  )) {
    vaults[v.name] = { id: v.id, vaultUri: v.properties.vaultUri };
  }
  return {
    tenantId: emu.tenantId,
    subscriptionId: emu.subscriptionId,
    arm: { endpoint: emu.armEndpoint, adminEndpoint: `${emu.armEndpoint}/_emulator` },
    tls: { caCertPath: join(tlsDir, 'ca.crt') },
    identity: {
      endpoint: emu.identityEndpoint,
      header: emu.identityHeader,
      operatorClientId: operatorPrincipal(emu).clientId,
      appPrincipalId: appPrincipal(emu).objectId,
      appClientId: appPrincipal(emu).clientId,
    },
    registries,
    vaults,
  };
}

export function writeStackFile(path: string, desc: StackDescription): void {
  mkdirSync(join(path, '..'), { recursive: true });
  // Owner-only: it carries the identity header and (from the stack) the function keys. chmod covers an old file.
  writeFileSync(path, JSON.stringify(desc, null, 2) + '\n', { mode: 0o600 });
  chmodSync(path, 0o600);
}
