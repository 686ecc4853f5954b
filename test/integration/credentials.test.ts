// Credential activities against the emulator (seed scenario) with the real SDK clients and Azurite: inventory,
// health verdicts checked against the emulator's own run outcome, refresh of pinned versions, rotation of ACR token
// passwords (including the half-way failure), the CredentialHealth table, and secret hygiene.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appPrincipal, type TestEmulator } from '../support/emulator.js';
import { startAppHarness, type AppHarness } from '../support/appHarness.js';
import {
  basicAuthStatus,
  createTokenTask,
  grantRotation,
  operatorClients,
  runTask,
  setVaultPolicy,
  type Operator,
} from '../support/credentialFixtures.js';
import { SEED, type SeedResult } from '../../local/azure/seed.js';
import type { Deps } from '../../src/activities/deps.js';
import { createCredentialActivities, type CredentialActivities } from '../../src/activities/credentials/index.js';
import { createPlanActivities } from '../../src/activities/plan/index.js';
import { planActions } from '../../src/orchestrations/credentialCheck.js';
import {
  isSecretCredential,
  type CredentialHealth,
  type CredentialRef,
  type SecretCredentialHealth,
  type SecretCredentialRef,
} from '../../src/contracts/index.js';

let counter = 0;
const unique = (prefix: string) => `${prefix}${++counter}x${process.pid % 1000}`;

let harness: AppHarness;
let t: TestEmulator;
let seed: SeedResult;
let deps: Deps;
let creds: CredentialActivities;
let op: Operator;
let appId: string;
let dataEndpoint: string;
let seedPassword: string;
/** Every password value a test saw (seed and tokens): none may appear in logs or outputs. */
const secretValues: string[] = [];
/** Everything the activities returned, and every log line. */
const outputs: unknown[] = [];
const logs: string[] = [];

const dockerhubId = () => seed.taskIds[SEED.tasks.dockerhub]!;
const helloId = () => seed.taskIds[SEED.tasks.hello]!;
const baseRegistryId = () => seed.registries[SEED.baseRegistry]!;
const vault = () => op.vaultBase;

async function checkAny(refs: CredentialRef[], warningDays = 30): Promise<CredentialHealth[]> {
  const out = await creds.checkCredentials({ credentials: refs, warningDays });
  outputs.push(out);
  return out;
}

/** Checks Key Vault-backed credentials (what rotation and refresh take). */
async function check(refs: SecretCredentialRef[], warningDays = 30): Promise<SecretCredentialHealth[]> {
  const out = await checkAny(refs, warningDays);
  return out.filter(isSecretCredential);
}

/** The Key Vault-backed credentials of a task (its identity-only logins left out). */
async function inventoryOf(taskId: string): Promise<SecretCredentialRef[]> {
  return (await inventoryAll(taskId)).filter(isSecretCredential);
}

async function inventoryAll(taskId: string): Promise<CredentialRef[]> {
  const inv = await creds.inventoryCredentials({ scope: { kind: 'tasks', tasks: [taskId] } });
  outputs.push(inv);
  expect(inv.errors).toEqual([]);
  return inv.credentials;
}

async function versionsOf(name: string): Promise<number> {
  let n = 0;
  for await (const _ of op.secrets.listPropertiesOfSecretVersions(name)) n++;
  return n;
}

beforeAll(async () => {
  harness = await startAppHarness({ runDurationMs: 30, log: (m) => logs.push(m) });
  ({ t, seed, deps } = harness);
  const sub = t.emu.subscriptionId;
  creds = createCredentialActivities(deps);
  op = operatorClients(t.emu.armEndpoint, t.operator, sub, t.emu.tenantId, seed);
  appId = appPrincipal(t.emu).objectId;
  dataEndpoint = t.stack().registries[SEED.baseRegistry]!.dataEndpoint!;
  seedPassword = (await op.secrets.getSecret('Password')).value!;
  secretValues.push(seedPassword);
  // Rotation rights as infra grants them, plus `get` so the rotation can read its own new version back.
  await grantRotation(op, appId, baseRegistryId(), ['list', 'set', 'get']);
});

afterAll(async () => {
  await harness?.stop();
});

describe('inventoryCredentials', () => {
  it("lists dockerhubtask's Key Vault user name and password with the task's system identity", async () => {
    const refs = await inventoryOf(dockerhubId());
    expect(refs).toEqual([
      {
        task: dockerhubId(),
        taskName: SEED.tasks.dockerhub,
        loginServer: 'docker.io',
        field: 'username',
        secret: `${vault()}/secrets/UserName`,
        identity: '[system]',
        principal: { kind: 'system', principalId: seed.dockerhubPrincipalId },
      },
      expect.objectContaining({ field: 'password', secret: `${vault()}/secrets/Password` }),
    ]);
  });

  it('a full inventory covers every managed task: Key Vault credentials and identity-only logins', async () => {
    const inv = await creds.inventoryCredentials({ scope: { kind: 'all' } });
    outputs.push(inv);
    expect(inv.errors).toEqual([]);
    expect(inv.tasks).toBeGreaterThanOrEqual(2);
    const rows = (name: string) =>
      inv.credentials.filter((c) => c.taskName === name).map((c) => [c.loginServer, c.field]);
    expect(rows(SEED.tasks.dockerhub)).toEqual([
      ['docker.io', 'username'],
      ['docker.io', 'password'],
      ['mybaseregistry.azurecr.io', 'identity'],
    ]);
    expect(rows(SEED.tasks.hello)).toEqual([['mybaseregistry.azurecr.io', 'identity']]);
  });

  it("lists helloworldtask's identity-only login with its user-assigned identity and the registry behind it", async () => {
    expect(await inventoryAll(helloId())).toEqual([
      {
        task: helloId(),
        taskName: SEED.tasks.hello,
        loginServer: 'mybaseregistry.azurecr.io',
        field: 'identity',
        identity: seed.identity.clientId,
        principal: {
          kind: 'user',
          principalId: seed.identity.principalId,
          clientId: seed.identity.clientId,
          resourceId: seed.identity.id,
        },
        registryId: baseRegistryId(),
      },
    ]);
  });

  it('a scope of one secret inventories exactly the credentials that use it', async () => {
    // The index (built on first use) is what a targeted check starts from.
    await createPlanActivities(deps).refreshIndex({ trigger: 'http' });
    const inv = await creds.inventoryCredentials({
      scope: { kind: 'secret', vaultUrl: vault(), name: 'password' },
    });
    outputs.push(inv);
    expect(inv.credentials.map((c) => [c.taskName, c.field])).toEqual([[SEED.tasks.dockerhub, 'password']]);
  });

  it('a task outside the managed scopes is reported, not read', async () => {
    const other = dockerhubId().replace(t.emu.subscriptionId, '00000000-0000-0000-0000-0000000000ff');
    const inv = await creds.inventoryCredentials({ scope: { kind: 'tasks', tasks: [other] } });
    expect(inv).toEqual({
      credentials: [],
      tasks: 0,
      errors: [expect.objectContaining({ task: other, code: 'NotManaged' })],
    });
  });
});

describe('checkCredentials on the seed scenario', () => {
  it('the seed credentials are healthy with their days left and are not rotatable (Docker Hub)', async () => {
    const health = await check(await inventoryOf(dockerhubId()));
    for (const h of health) {
      expect(h).toMatchObject({ status: 'healthy', rotatable: false });
      expect(h.daysLeft).toBeGreaterThanOrEqual(364);
    }
    expect((await runTask(op, dockerhubId())).status).toBe('Succeeded');
  });

  it('Docker Hub secrets expiring in 10 days are expiring with days left and the Docker Hub fix, and rotation leaves them untouched', async () => {
    const names = ['UserName', 'Password'];
    const original = new Map<string, Date>();
    for (const name of names) {
      const p = (await op.secrets.getSecret(name)).properties;
      original.set(name, p.expiresOn!);
      await op.secrets.updateSecretProperties(name, p.version!, {
        expiresOn: new Date(Date.now() + 10 * 86400_000 + 3600_000),
      });
    }
    try {
      const health = await check(await inventoryOf(dockerhubId()));
      for (const h of health) {
        expect(h).toMatchObject({ status: 'expiring', daysLeft: 10, rotatable: false, code: 'SecretExpiring' });
        expect(h.fix).toContain('Docker Hub');
        expect(h.fix).toContain(
          `az keyvault secret set --vault-name ${SEED.vault} --name ${h.field === 'username' ? 'UserName' : 'Password'}`,
        );
      }
      const before = await versionsOf('Password');
      const r = await creds.rotateCredential({
        secret: `${vault()}/secrets/Password`,
        loginServer: 'docker.io',
        credentials: health.filter((h) => h.field === 'password'),
        warningDays: 30,
      });
      outputs.push(r);
      expect(r).toMatchObject({ outcome: 'skipped', steps: [] });
      expect(r.message).toContain('Docker Hub');
      expect(await versionsOf('Password')).toBe(before);
    } finally {
      for (const name of names) {
        const p = (await op.secrets.getSecret(name)).properties;
        await op.secrets.updateSecretProperties(name, p.version!, { expiresOn: original.get(name)! });
      }
    }
  });

  it("removing the task identity's vault access is accessDenied with the set-policy fix, as the emulated run fails", async () => {
    const pid = seed.dockerhubPrincipalId;
    await setVaultPolicy(op, pid, []);
    try {
      const health = await check(await inventoryOf(dockerhubId()));
      for (const h of health) {
        expect(h).toMatchObject({ status: 'accessDenied', code: 'KeyVaultAccessDenied' });
        expect(h.fix).toBe(`az keyvault set-policy --name ${SEED.vault} --object-id ${pid} --secret-permissions get`);
      }
      const run = await runTask(op, dockerhubId());
      expect(run.status).toBe('Failed');
      expect(run.runErrorMessage).toMatch(/secret/i);
    } finally {
      await setVaultPolicy(op, pid, ['get']);
    }
    expect((await check(await inventoryOf(dockerhubId()))).map((h) => h.status)).toEqual(['healthy', 'healthy']);
  });

  it('a credential whose identity does not resolve is accessDenied with the identity fix', async () => {
    const [ref] = await inventoryOf(dockerhubId());
    const [h] = await check([
      { ...ref!, principal: undefined, identityProblem: 'noIdentity', identity: undefined } as SecretCredentialRef,
    ]);
    expect(h).toMatchObject({ status: 'accessDenied', code: 'UnknownIdentity' });
  });
});

describe('identity-only logins', () => {
  it('a login whose identity holds AcrPull on the registry is healthy, naming the grant', async () => {
    const [h] = await checkAny(await inventoryAll(helloId()));
    expect(h).toMatchObject({ field: 'identity', status: 'healthy', rotatable: false });
    expect(h!.message).toContain('AcrPull');
    expect(h!.fix).toBeUndefined();
  });

  it('without that role assignment it is accessDenied with the role assignment fix, as the emulated run fails', async () => {
    const assignmentId = seed.assignments['helloworldtask-acrpull']!;
    const assignment = await op.authz.roleAssignments.getById(assignmentId);
    await op.authz.roleAssignments.deleteById(assignmentId);
    try {
      const [h] = await checkAny(await inventoryAll(helloId()));
      expect(h).toMatchObject({
        field: 'identity',
        status: 'accessDenied',
        code: 'MissingPullPermission',
        fix: `az role assignment create --assignee ${seed.identity.principalId} --scope ${baseRegistryId()} --role acrpull`,
      });
      expect(h!.message).toContain("registry 'mybaseregistry'");
      expect((await runTask(op, helloId())).status).toBe('Failed');
      // Nothing to rotate or refresh: the fix is a person's (or preflight auto-remediation's).
      expect(planActions([h!], 30)).toEqual({ rotations: [], refreshes: [] });
    } finally {
      await op.authz.roleAssignments.create(baseRegistryId(), assignment.name!, {
        roleDefinitionId: assignment.roleDefinitionId!,
        principalId: assignment.principalId!,
        principalType: 'ServicePrincipal',
      });
    }
    expect((await checkAny(await inventoryAll(helloId())))[0]).toMatchObject({ status: 'healthy' });
  });

  it('a login to a registry acr-cascade cannot see is unknown, with the Reader fix', async () => {
    const [ref] = await inventoryAll(helloId());
    const [h] = await checkAny([
      { ...ref!, loginServer: 'elsewhere.azurecr.io', registryId: undefined } as CredentialRef,
    ]);
    expect(h).toMatchObject({ status: 'unknown', code: 'RegistryNotManaged' });
    expect(h!.fix).toContain('--role Reader');
  });
});

describe('refreshCredential', () => {
  it('moves a pinned outdated version to the versionless URI, keeps the rest of the task, and the next run succeeds', async () => {
    const old = (await op.secrets.getSecret('Password')).properties.version!;
    await op.secrets.setSecret('Password', seedPassword, { expiresOn: new Date(Date.now() + 365 * 86400_000) });
    const details = await op.acr.tasks.getDetails(op.rg, SEED.appRegistry, SEED.tasks.dockerhub);
    const hub = details.credentials!.customRegistries!['docker.io']!;
    await op.acr.tasks.beginUpdateAndWait(op.rg, SEED.appRegistry, SEED.tasks.dockerhub, {
      credentials: {
        customRegistries: {
          'docker.io': { ...hub, password: { type: 'Vaultsecret', value: `${vault()}/secrets/Password/${old}` } },
        },
      },
    });
    const refs = await inventoryOf(dockerhubId());
    const health = await check(refs);
    const pinned = health.find((h) => h.field === 'password')!;
    expect(pinned).toMatchObject({ status: 'outdatedVersion', code: 'SecretVersionOutdated', version: old });
    expect(pinned.fix).toContain(`--password ${vault()}/secrets/Password`);

    const r = await creds.refreshCredential({
      task: dockerhubId(),
      credentials: [{ loginServer: 'docker.io', field: 'password', secret: pinned.secret }],
    });
    outputs.push(r);
    expect(r).toMatchObject({
      outcome: 'refreshed',
      changed: [
        {
          loginServer: 'docker.io',
          field: 'password',
          from: `${vault()}/secrets/Password/${old}`,
          to: `${vault()}/secrets/Password`,
        },
      ],
    });
    const after = await op.acr.tasks.getDetails(op.rg, SEED.appRegistry, SEED.tasks.dockerhub);
    expect(after.credentials!.customRegistries).toEqual({
      ...details.credentials!.customRegistries,
      'docker.io': { ...hub, password: { type: 'Vaultsecret', value: `${vault()}/secrets/Password` } },
    });
    expect(after.identity?.principalId).toBe(seed.dockerhubPrincipalId);
    expect((await check(await inventoryOf(dockerhubId()))).map((h) => h.status)).toEqual(['healthy', 'healthy']);
    expect((await runTask(op, dockerhubId())).status).toBe('Succeeded');
    // Asking again changes nothing: the task no longer pins that version.
    const again = await creds.refreshCredential({
      task: dockerhubId(),
      credentials: [{ loginServer: 'docker.io', field: 'password', secret: pinned.secret }],
    });
    expect(again.outcome).toBe('unchanged');
  });
});

describe('rotateCredential for an ACR token', () => {
  it('rotates an expiring password: new slot and secret version with matching exp, verified; old password refused, task runs', async () => {
    const tok = await createTokenTask(op, seed, unique('tokrot'), { expiresInDays: 5 });
    secretValues.push(tok.password);
    const health = await check(await inventoryOf(tok.taskId));
    const pass = health.find((h) => h.field === 'password')!;
    expect(pass).toMatchObject({ status: 'expiring', daysLeft: 5, rotatable: true });
    expect(health.find((h) => h.field === 'username')).toMatchObject({ status: 'healthy', rotatable: true });
    expect((await runTask(op, tok.taskId)).status).toBe('Succeeded');

    const r = await creds.rotateCredential({
      secret: tok.passwordSecret,
      loginServer: 'mybaseregistry.azurecr.io',
      credentials: [pass],
      warningDays: 30,
    });
    outputs.push(r);
    expect(r).toMatchObject({
      outcome: 'rotated',
      passwordName: 'password2',
      revoked: 'password1',
      verified: 'value',
      refreshedTasks: [],
    });
    const latest = await op.secrets.getSecret(`${tok.name}-password`);
    secretValues.push(latest.value!);
    expect(latest.properties.version).toBe(r.newVersion);
    expect(latest.properties.expiresOn!.toISOString().replace(/\.\d{3}Z$/, 'Z')).toBe(r.expiresOn);
    expect(latest.properties.tags).toMatchObject({ 'cascade.passwordName': 'password2', 'cascade.role': 'password' });
    const token = await op.acr.tokens.get(op.rg, SEED.baseRegistry, tok.tokenName);
    const slot2 = token.credentials!.passwords!.find((p) => p.name === 'password2')!;
    expect(slot2.expiry!.toISOString().replace(/\.\d{3}Z$/, 'Z')).toBe(r.expiresOn);

    expect(await basicAuthStatus(dataEndpoint, tok.tokenName, tok.password)).toBe(401);
    expect(await basicAuthStatus(dataEndpoint, tok.tokenName, latest.value!)).toBe(200);
    expect((await runTask(op, tok.taskId)).status).toBe('Succeeded');
    expect((await check(await inventoryOf(tok.taskId))).map((h) => h.status)).toEqual(['healthy', 'healthy']);

    // A second request (a retried activity, or a concurrent check) finds it renewed and does nothing.
    const again = await creds.rotateCredential({
      secret: tok.passwordSecret,
      loginServer: 'mybaseregistry.azurecr.io',
      credentials: [pass],
      warningDays: 30,
    });
    expect(again).toMatchObject({ outcome: 'skipped', steps: [] });
    expect(await basicAuthStatus(dataEndpoint, tok.tokenName, latest.value!)).toBe(200);
  });

  it('moves tasks pinned to the old version to the versionless URI before revoking the old password', async () => {
    const tok = await createTokenTask(op, seed, unique('tokpin'), { expiresInDays: 3, pinned: true });
    secretValues.push(tok.password);
    const [, pass] = await check(await inventoryOf(tok.taskId));
    expect(pass).toMatchObject({ status: 'expiring', rotatable: true });
    const r = await creds.rotateCredential({
      secret: tok.passwordSecret.replace(/\/[^/]+$/, ''),
      loginServer: 'mybaseregistry.azurecr.io',
      credentials: [pass!],
      warningDays: 30,
    });
    outputs.push(r);
    expect(r).toMatchObject({ outcome: 'rotated', refreshedTasks: [tok.taskId], revoked: 'password1' });
    const details = await op.acr.tasks.getDetails(op.rg, SEED.appRegistry, tok.name);
    expect(details.credentials!.customRegistries!['mybaseregistry.azurecr.io']!.password!.value).toBe(
      `${vault()}/secrets/${tok.name}-password`,
    );
    secretValues.push((await op.secrets.getSecret(`${tok.name}-password`)).value!);
    expect((await runTask(op, tok.taskId)).status).toBe('Succeeded');
  });

  it('a rotation that cannot store the new password stops half-way, says so, and the old password keeps working', async () => {
    const tok = await createTokenTask(op, seed, unique('tokfail'), { expiresInDays: 2 });
    secretValues.push(tok.password);
    const [, pass] = await check(await inventoryOf(tok.taskId));
    const before = await versionsOf(`${tok.name}-password`);
    await setVaultPolicy(op, appId, ['list']);
    try {
      const r = await creds.rotateCredential({
        secret: tok.passwordSecret,
        loginServer: 'mybaseregistry.azurecr.io',
        credentials: [pass!],
        warningDays: 30,
      });
      outputs.push(r);
      expect(r).toMatchObject({
        outcome: 'failed',
        oldCredentialWorking: true,
        steps: [expect.stringMatching(/^generated password2/)],
      });
      expect(r.message).toContain('keeps working');
      expect(r.fix).toContain('--secret-permissions list set');
    } finally {
      await setVaultPolicy(op, appId, ['list', 'set', 'get']);
    }
    expect(await versionsOf(`${tok.name}-password`)).toBe(before);
    expect(await basicAuthStatus(dataEndpoint, tok.tokenName, tok.password)).toBe(200);
    expect((await runTask(op, tok.taskId)).status).toBe('Succeeded');
  });

  it('without secret get, the new version is verified by its properties', async () => {
    const tok = await createTokenTask(op, seed, unique('tokprop'), { expiresInDays: 4 });
    secretValues.push(tok.password);
    const [, pass] = await check(await inventoryOf(tok.taskId));
    await setVaultPolicy(op, appId, ['list', 'set']);
    try {
      const r = await creds.rotateCredential({
        secret: tok.passwordSecret,
        loginServer: 'mybaseregistry.azurecr.io',
        credentials: [pass!],
        warningDays: 30,
      });
      outputs.push(r);
      expect(r).toMatchObject({ outcome: 'rotated', verified: 'properties', revoked: 'password1' });
    } finally {
      await setVaultPolicy(op, appId, ['list', 'set', 'get']);
    }
    secretValues.push((await op.secrets.getSecret(`${tok.name}-password`)).value!);
    expect((await runTask(op, tok.taskId)).status).toBe('Succeeded');
  });

  it('without the slot tag, the free slot is generated and the one in use is revoked', async () => {
    const tok = await createTokenTask(op, seed, unique('toknotag'), { expiresInDays: 1, tagSlot: false });
    secretValues.push(tok.password);
    const [, pass] = await check(await inventoryOf(tok.taskId));
    const r = await creds.rotateCredential({
      secret: tok.passwordSecret,
      loginServer: 'mybaseregistry.azurecr.io',
      credentials: [pass!],
      warningDays: 30,
    });
    outputs.push(r);
    expect(r).toMatchObject({ outcome: 'rotated', passwordName: 'password2', revoked: 'password1' });
    secretValues.push((await op.secrets.getSecret(`${tok.name}-password`)).value!);
    expect(await basicAuthStatus(dataEndpoint, tok.tokenName, tok.password)).toBe(401);
    expect((await runTask(op, tok.taskId)).status).toBe('Succeeded');
  });

  it('two checks rotating one secret at once: one rotates, the other stands back, and the stored password works', async () => {
    const tok = await createTokenTask(op, seed, unique('tokrace'), { expiresInDays: 2 });
    secretValues.push(tok.password);
    const [, pass] = await check(await inventoryOf(tok.taskId));
    // Two factories = two workers: the lease is in the table, not in memory.
    const other = createCredentialActivities(deps);
    const input = {
      secret: tok.passwordSecret,
      loginServer: 'mybaseregistry.azurecr.io',
      credentials: [pass!],
      warningDays: 30,
    };
    const results = await Promise.all([creds.rotateCredential(input), other.rotateCredential(input)]);
    outputs.push(results);
    expect(results.map((r) => r.outcome).sort()).toEqual(['rotated', 'skipped']);
    const latest = await op.secrets.getSecret(`${tok.name}-password`);
    secretValues.push(latest.value!);
    expect(await basicAuthStatus(dataEndpoint, tok.tokenName, latest.value!)).toBe(200);
    expect((await runTask(op, tok.taskId)).status).toBe('Succeeded');
  });

  it('renews an expiring user-name secret with the token name and a new expiry, without touching the token', async () => {
    const tok = await createTokenTask(op, seed, unique('tokuser'), { expiresInDays: 200 });
    secretValues.push(tok.password);
    const userProps = (await op.secrets.getSecret(`${tok.name}-user`)).properties;
    await op.secrets.updateSecretProperties(`${tok.name}-user`, userProps.version!, {
      expiresOn: new Date(Date.now() + 5 * 86400_000),
    });
    const [user] = await check(await inventoryOf(tok.taskId));
    expect(user).toMatchObject({ field: 'username', status: 'expiring', rotatable: true });
    const r = await creds.rotateCredential({
      secret: tok.userSecret,
      loginServer: 'mybaseregistry.azurecr.io',
      credentials: [user!],
      warningDays: 30,
    });
    outputs.push(r);
    expect(r).toMatchObject({ outcome: 'renewed', verified: 'value' });
    expect((await op.secrets.getSecret(`${tok.name}-user`)).value).toBe(tok.name);
    expect(await basicAuthStatus(dataEndpoint, tok.tokenName, tok.password)).toBe(200);
    expect((await runTask(op, tok.taskId)).status).toBe('Succeeded');
  });
});

describe('CredentialHealth table', () => {
  it('lists every credential with its latest health; a full check drops rows of credentials that are gone', async () => {
    const refs = await inventoryOf(dockerhubId());
    const health = await check(refs);
    const ghost: CredentialHealth = { ...health[0]!, task: `${dockerhubId()}zz`, taskName: 'gone' };
    const first = await creds.recordCredentialHealth({
      checkId: 'check-a',
      trigger: 'http',
      scope: { kind: 'tasks', tasks: [dockerhubId()] },
      checkedAt: new Date().toISOString(),
      credentials: [...health, ghost],
    });
    expect(first).toEqual({ written: 3, removed: 0 });
    const listed = await creds.listCredentialHealth();
    expect(listed.credentials.map((c) => [c.taskName, c.field])).toEqual([
      [SEED.tasks.dockerhub, 'username'],
      [SEED.tasks.dockerhub, 'password'],
      ['gone', 'username'],
    ]);
    expect(listed.lastCheck).toMatchObject({ checkId: 'check-a', trigger: 'http', totals: { healthy: 3 } });

    const full = await creds.recordCredentialHealth({
      checkId: 'check-b',
      trigger: 'timer',
      scope: { kind: 'all' },
      checkedAt: new Date().toISOString(),
      credentials: health,
    });
    expect(full).toEqual({ written: 2, removed: 1 });
    const after = await creds.listCredentialHealth({ status: 'healthy' });
    expect(after.credentials.map((c) => c.taskName)).toEqual([SEED.tasks.dockerhub, SEED.tasks.dockerhub]);
    expect((await creds.listCredentialHealth({ status: 'expired' })).credentials).toEqual([]);
  });
});

describe('CredentialHealth table with overlapping checks', () => {
  it('a full check neither overwrites a newer verdict nor removes a row a later check wrote while it ran', async () => {
    const refs = await inventoryOf(dockerhubId());
    const at = (ms: number) => new Date(Date.now() + ms).toISOString();
    // The nightly check starts (inventory) and reads health; a Key Vault event then starts a targeted check of the
    // password, which records first, and writes a row for a task the nightly inventory did not see.
    const fullStart = at(0);
    const nightly = (await check(refs)).map((h) => ({ ...h, checkedAt: at(1), status: 'expiring' as const }));
    const eventPassword = { ...nightly[1]!, status: 'healthy' as const, checkedAt: at(5) };
    const newTask = { ...nightly[0]!, task: `${dockerhubId()}new`, taskName: 'created-meanwhile', checkedAt: at(6) };
    expect(
      await creds.recordCredentialHealth({
        checkId: 'event-1',
        trigger: 'event',
        scope: { kind: 'secret', vaultUrl: vault(), name: 'Password' },
        checkedAt: at(7),
        credentials: [eventPassword, newTask],
      }),
    ).toEqual({ written: 2, removed: 0 });

    const full = await creds.recordCredentialHealth({
      checkId: 'nightly-1',
      trigger: 'timer',
      scope: { kind: 'all' },
      startedAt: fullStart,
      checkedAt: at(10),
      credentials: nightly,
    });
    expect(full).toEqual({ written: 1, removed: 0, superseded: 1 });
    const rows = (await creds.listCredentialHealth()).credentials;
    expect(rows.map((c) => [c.taskName, c.field, c.status])).toEqual([
      [SEED.tasks.dockerhub, 'username', 'expiring'],
      [SEED.tasks.dockerhub, 'password', 'healthy'],
      ['created-meanwhile', 'username', 'expiring'],
    ]);

    // The next full check, started after all of that, sees the task gone and removes its row.
    const next = await creds.recordCredentialHealth({
      checkId: 'nightly-2',
      trigger: 'timer',
      scope: { kind: 'all' },
      startedAt: at(20),
      checkedAt: at(21),
      credentials: nightly.map((h) => ({ ...h, status: 'healthy' as const, checkedAt: at(21) })),
    });
    expect(next).toEqual({ written: 2, removed: 1 });
    expect((await creds.listCredentialHealth()).credentials.map((c) => [c.taskName, c.status])).toEqual([
      [SEED.tasks.dockerhub, 'healthy'],
      [SEED.tasks.dockerhub, 'healthy'],
    ]);
  });

  it('a targeted check does not replace a newer stored verdict', async () => {
    const refs = await inventoryOf(dockerhubId());
    const health = await check(refs);
    const newer = new Date(Date.now() + 60_000).toISOString();
    await creds.recordCredentialHealth({
      checkId: 'newer',
      trigger: 'http',
      scope: { kind: 'tasks', tasks: [dockerhubId()] },
      checkedAt: newer,
      credentials: health.map((h) => ({ ...h, status: 'expired' as const, checkedAt: newer })),
    });
    const older = await creds.recordCredentialHealth({
      checkId: 'older',
      trigger: 'event',
      scope: { kind: 'secret', vaultUrl: vault(), name: 'UserName' },
      checkedAt: new Date().toISOString(),
      credentials: [health[0]!],
    });
    expect(older).toEqual({ written: 0, removed: 0, superseded: 1 });
    const rows = (await creds.listCredentialHealth({ task: dockerhubId() })).credentials;
    expect(rows.map((c) => c.status)).toEqual(['expired', 'expired']);
  });

  it('checks recording the same new credentials at once keep the newest verdict, whatever order they land in', async () => {
    const refs = await inventoryOf(dockerhubId());
    const health = await check(refs);
    const task = `${dockerhubId()}race`;
    const base = Date.now();
    const statuses = ['healthy', 'expiring', 'expired', 'accessDenied', 'missing'] as const;
    const results = await Promise.all(
      statuses.map((status, i) => {
        const at = new Date(base + i * 1000).toISOString();
        return creds.recordCredentialHealth({
          checkId: `race-${i}`,
          trigger: 'event',
          scope: { kind: 'tasks', tasks: [task] },
          checkedAt: at,
          credentials: health.map((h) => ({ ...h, task, taskName: 'race', status, checkedAt: at })),
        });
      }),
    );
    // Every verdict was either stored or knowingly dropped for a newer one; the newest always stands.
    for (const r of results) expect(r.written + (r.superseded ?? 0)).toBe(2);
    expect(results[statuses.length - 1]).toMatchObject({ written: 2 });
    const rows = (await creds.listCredentialHealth({ task })).credentials;
    expect(rows.map((c) => [c.field, c.status])).toEqual([
      ['username', 'missing'],
      ['password', 'missing'],
    ]);
  });
});

describe('secret hygiene', () => {
  it('no password value appears in any activity output, log line or stored row', async () => {
    expect(secretValues.length).toBeGreaterThanOrEqual(6);
    const rows: unknown[] = [];
    for await (const e of deps.clients.table('CredentialHealth').listEntities()) rows.push(e);
    const haystack = JSON.stringify([outputs, logs, rows]);
    expect(outputs.length).toBeGreaterThan(10);
    expect(logs.some((l) => l.startsWith('rotateCredential'))).toBe(true);
    for (const value of secretValues) expect(haystack.includes(value)).toBe(false);
  });
});
