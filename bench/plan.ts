// Dependency index and plan benchmark: an emulated estate of 10,000 ACR tasks over 200 registries, created through the
// emulator's ARM API with the official SDK clients (throttling switched off for the setup), then:
//   - index build (every task listed and read with getDetails), with ARM reads counted by /_emulator/stats;
//   - refresh of the unchanged estate, with the default ARM token buckets on;
//   - plan latency (median / p99) over 200 plans of random base images, without and with preflight;
//   - heap used by the index.
// Estate: one base registry with 50 base images (anonymous pull, as corporate base images often are); 200 app
// registries with 50 Docker-step tasks each and one user-assigned identity each (AcrPull on the base registry); 90% of
// tasks build FROM a base image, 10% FROM the output of another task of the same registry (a second level); bases
// are declared with the `cascade.baseImages` tag. A realistic credential mix: ~10% of tasks log in to Docker Hub with
// a Key Vault-backed user name and password (read with their identity); the rest carry no custom registry
// credentials, so the index reads only the ~10% in full (`listDetails` is a POST: it spends ARM write tokens).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { SecretClient } from '@azure/keyvault-secrets';
import { startEmulator, appPrincipal, operatorPrincipal, type Emulator } from '../local/azure/index.js';
import { EmulatorTokenCredential } from '../local/azure/credential.js';
import { guidFrom } from '../local/azure/guid.js';
import { startAzurite } from '../local/stack/azurite.js';
import { loadSettings } from '../src/config/settings.js';
import { createAzureClients } from '../src/azure/clients.js';
import type { Deps } from '../src/activities/deps.js';
import { createPlanActivities } from '../src/activities/plan/index.js';
import { mapLimit } from '../src/activities/shared/async.js';

const REGISTRIES = Number(process.env.BENCH_PLAN_REGISTRIES ?? 200);
const TASKS_PER_REGISTRY = Number(process.env.BENCH_PLAN_TASKS_PER_REGISTRY ?? 50);
const BASE_IMAGES = 50;
/** Share of tasks with Key Vault-backed Docker Hub credentials. */
const KEY_VAULT_SHARE = Number(process.env.BENCH_PLAN_KEY_VAULT_SHARE ?? 0.1);
const PLANS = Number(process.env.BENCH_PLAN_PLANS ?? 200);
const PREFLIGHT_PLANS = Number(process.env.BENCH_PLAN_PREFLIGHT_PLANS ?? 50);
const RG = 'benchrg';
const LOCATION = 'eastus';
const ROLE = {
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d',
  reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
  tasksContributor: 'fb382eab-e894-4461-af04-94435c366c3f',
};

/** Deterministic PRNG (mulberry32) so every run builds the same estate and plans the same images. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

const ms = (n: number) => Math.round(n * 100) / 100;
const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

function gcFunction(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

interface Counted {
  /** GETs (ARM read bucket). */
  reads: number;
  /** POST/PUT/PATCH (ARM write bucket) — tasks.getDetails is a POST. */
  writes: number;
  byOperation: Record<string, number>;
}

/** ARM requests since the last reset, from the emulator's counters (token-endpoint calls left out). */
async function stats(emu: Emulator): Promise<Counted> {
  const res = await fetch(`${emu.armEndpoint}/_emulator/stats`);
  const { requests } = (await res.json()) as { requests: Record<string, number> };
  const tokens = requests['identity.token'] ?? 0;
  const byOperation = Object.fromEntries(
    Object.entries(requests).filter(([k]) => !k.startsWith('*') && k !== 'identity.token'),
  );
  return { reads: (requests['*read'] ?? 0) - tokens, writes: requests['*write'] ?? 0, byOperation };
}

async function admin(emu: Emulator, method: string, path: string, body?: unknown): Promise<void> {
  const res = await fetch(`${emu.armEndpoint}/_emulator${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`admin ${method} ${path}: ${res.status} ${await res.text()}`);
}

export async function run(): Promise<Record<string, unknown>> {
  const gc = gcFunction();
  const emu = await startEmulator({ port: 0, identityPort: 0 });
  const az = await startAzurite();
  try {
    const sub = emu.subscriptionId;
    const rgId = `/subscriptions/${sub}/resourceGroups/${RG}`;
    const operator = new EmulatorTokenCredential(
      emu.identityEndpoint,
      emu.identityHeader,
      operatorPrincipal(emu).clientId,
    );
    const app = new EmulatorTokenCredential(emu.identityEndpoint, emu.identityHeader);
    const armOpts = { endpoint: emu.armEndpoint, credentialScopes: ['https://management.azure.com/.default'] };
    const acr = new ContainerRegistryManagementClient(operator, sub, armOpts);
    const authz = new AuthorizationManagementClient(operator, sub, armOpts);
    const msi = new ManagedServiceIdentityClient(operator, sub, armOpts);
    const random = prng(20240101);

    // ---- setup through ARM (throttling off) --------------------------------------------------------------------
    const setupStarted = Date.now();
    await admin(emu, 'PUT', '/throttle', { enabled: false });
    const token = (await operator.getToken('https://management.azure.com/.default')).token;
    const rgRes = await fetch(`${emu.armEndpoint}${rgId}?api-version=2021-04-01`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ location: LOCATION }),
    });
    if (!rgRes.ok) throw new Error(`resource group: ${rgRes.status}`);
    const roleDef = (g: string) => `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${g}`;
    const assign = (scope: string, label: string, role: string, principalId: string) =>
      authz.roleAssignments.create(scope, guidFrom(`bench|${label}`), {
        roleDefinitionId: roleDef(role),
        principalId,
        principalType: 'ServicePrincipal',
      });
    await assign(`/subscriptions/${sub}`, 'app-reader', ROLE.reader, appPrincipal(emu).objectId);
    await assign(`/subscriptions/${sub}`, 'app-tasks', ROLE.tasksContributor, appPrincipal(emu).objectId);

    const base = await acr.registries.beginCreateAndWait(RG, 'benchbase', {
      location: LOCATION,
      sku: { name: 'Premium' },
      anonymousPullEnabled: true,
    });
    const baseLs = base.loginServer!;
    const baseRefs: string[] = [];
    for (let k = 0; k < BASE_IMAGES; k++) {
      emu.services.registryData!.pushSyntheticImage('benchbase', `base/img${k}`, '1');
      baseRefs.push(`${baseLs}/base/img${k}:1`);
    }
    const registryNames = Array.from({ length: REGISTRIES }, (_, r) => `benchapp${String(r).padStart(3, '0')}`);
    const identities = await mapLimit(registryNames, 16, async (name) => {
      await acr.registries.beginCreateAndWait(RG, name, { location: LOCATION, sku: { name: 'Standard' } });
      const ident = await msi.userAssignedIdentities.createOrUpdate(RG, `${name}-id`, { location: LOCATION });
      await assign(base.id!, `${name}-acrpull`, ROLE.acrPull, ident.principalId!);
      return { id: ident.id!, clientId: ident.clientId! };
    });
    // One vault with the Docker Hub user name and password; the app may list secret properties, every task identity
    // may get them.
    const kvm = new KeyVaultManagementClient(operator, sub, {
      endpoint: emu.armEndpoint,
      credentials: { scopes: ['https://management.azure.com/.default'] },
    });
    const identityPrincipals = await mapLimit(identities, 16, async (i) =>
      msi.userAssignedIdentities.get(RG, i.id.split('/').pop() as string),
    );
    const vault = await kvm.vaults.createOrUpdate(RG, 'benchkv', {
      location: LOCATION,
      properties: {
        tenantId: emu.tenantId,
        sku: { family: 'A', name: 'standard' },
        enableRbacAuthorization: false,
        accessPolicies: [
          {
            tenantId: emu.tenantId,
            objectId: operatorPrincipal(emu).objectId,
            permissions: { secrets: ['set', 'list'] },
          },
          { tenantId: emu.tenantId, objectId: appPrincipal(emu).objectId, permissions: { secrets: ['list'] } },
          ...identityPrincipals.map((i) => ({
            tenantId: emu.tenantId,
            objectId: i.principalId as string,
            permissions: { secrets: ['get'] },
          })),
        ],
      },
    });
    const vaultUri = (vault.properties.vaultUri as string).replace(/\/+$/, '');
    const secrets = new SecretClient(vaultUri, operator, { disableChallengeResourceVerification: true });
    const yearFromNow = new Date(Date.now() + 365 * 86400_000);
    await secrets.setSecret('HubUser', 'benchuser', { expiresOn: yearFromNow });
    await secrets.setSecret('HubPassword', 'bench-password', { expiresOn: yearFromNow });

    // Task specs first (deterministic), then the PUTs in parallel.
    const specs: {
      registry: string;
      name: string;
      base: string;
      identity: { id: string; clientId: string };
      keyVault: boolean;
    }[] = [];
    let withKeyVault = 0;
    let secondLevel = 0;
    registryNames.forEach((registry, r) => {
      const ls = `${registry}.azurecr.io`;
      for (let i = 0; i < TASKS_PER_REGISTRY; i++) {
        const level2 = i >= 5 && random() < 0.1;
        const baseRef = level2
          ? `${ls}/app${String(Math.floor(random() * 5)).padStart(2, '0')}:latest`
          : (baseRefs[Math.floor(random() * BASE_IMAGES)] as string);
        if (level2) secondLevel++;
        const keyVault = random() < KEY_VAULT_SHARE;
        if (keyVault) withKeyVault++;
        specs.push({
          registry,
          name: `task${String(i).padStart(2, '0')}`,
          base: baseRef,
          identity: identities[r]!,
          keyVault,
        });
      }
    });
    await mapLimit(specs, 32, async (s) => {
      const i = s.name.slice(4);
      await acr.tasks.beginCreateAndWait(RG, s.registry, s.name, {
        location: LOCATION,
        tags: { 'cascade.baseImages': s.base },
        identity: { type: 'UserAssigned', userAssignedIdentities: { [s.identity.id]: {} } },
        platform: { os: 'Linux' },
        step: {
          type: 'Docker',
          dockerFilePath: 'Dockerfile',
          contextPath: 'https://github.com/example/app.git',
          imageNames: [`app${i}:latest`],
        },
        ...(s.keyVault
          ? {
              credentials: {
                customRegistries: {
                  'docker.io': {
                    userName: { type: 'Vaultsecret', value: `${vaultUri}/secrets/HubUser` },
                    password: { type: 'Vaultsecret', value: `${vaultUri}/secrets/HubPassword` },
                    identity: s.identity.clientId,
                  },
                },
              },
            }
          : {}),
        timeout: 600,
      });
    });
    const setupMs = Date.now() - setupStarted;

    // ---- the app -------------------------------------------------------------------------------------------------
    const settings = {
      ...loadSettings({}),
      armEndpoint: emu.armEndpoint,
      keyVaultVerifyChallengeResource: false,
      storageConnection: az.connectionString,
      managedScopes: [`/subscriptions/${sub}`],
      watchedRegistries: [base.id!],
      watchedVaults: [vault.id!],
    };
    const deps: Deps = { settings, clients: createAzureClients(settings, app), now: () => new Date(), log: () => {} };

    // ---- index build ---------------------------------------------------------------------------------------------
    await admin(emu, 'DELETE', '/stats');
    const buildStarted = Date.now();
    const builder = createPlanActivities(deps);
    const built = await builder.refreshIndex({ trigger: 'http', maxDetailReads: 100_000 });
    const buildMs = Date.now() - buildStarted;
    const buildRequests = await stats(emu);

    // ---- unchanged refresh, default token buckets on --------------------------------------------------------------
    await admin(emu, 'PUT', '/throttle', { enabled: true });
    await admin(emu, 'DELETE', '/stats');
    const refreshStarted = Date.now();
    const refreshed = await builder.refreshIndex({ trigger: 'timer' });
    const refreshMs = Date.now() - refreshStarted;
    const refreshRequests = await stats(emu);
    await admin(emu, 'PUT', '/throttle', { enabled: false });

    // ---- memory: a fresh process-like copy of the index --------------------------------------------------------
    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const planner = createPlanActivities(deps);
    const loadStarted = Date.now();
    const snapshot = await planner.index();
    const loadMs = Date.now() - loadStarted;
    const graphStarted = Date.now();
    snapshot.graph();
    const graphMs = Date.now() - graphStarted;
    gc?.();
    const heapIndex = process.memoryUsage().heapUsed - heapBefore;

    // ---- plans -----------------------------------------------------------------------------------------------------
    const pick = prng(7);
    const latencies: number[] = [];
    let planned = 0;
    let maxWaves = 0;
    for (let i = 0; i < PLANS; i++) {
      const ref = baseRefs[Math.floor(pick() * BASE_IMAGES)] as string;
      const started = process.hrtime.bigint();
      const plan = await planner.buildPlan({ image: { ref }, preflight: false });
      latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
      planned += plan.waves.flat().length;
      maxWaves = Math.max(maxWaves, plan.waves.length);
    }
    latencies.sort((a, b) => a - b);

    await admin(emu, 'DELETE', '/stats');
    const preflightLatencies: number[] = [];
    let blocked = 0;
    let preflighted = 0;
    for (let i = 0; i < PREFLIGHT_PLANS; i++) {
      const ref = baseRefs[Math.floor(pick() * BASE_IMAGES)] as string;
      const started = process.hrtime.bigint();
      const plan = await planner.buildPlan({ image: { ref }, preflight: true });
      preflightLatencies.push(Number(process.hrtime.bigint() - started) / 1e6);
      const tasks = Object.values(plan.tasks);
      preflighted += tasks.length;
      blocked += tasks.filter((t) => t.decision === 'blocked').length;
    }
    preflightLatencies.sort((a, b) => a - b);
    const preflightRequests = await stats(emu);
    const heapTotal = process.memoryUsage().heapUsed;

    return {
      estate: {
        registries: REGISTRIES + 1,
        tasks: REGISTRIES * TASKS_PER_REGISTRY,
        baseImages: BASE_IMAGES,
        secondLevelTasks: secondLevel,
        tasksWithKeyVaultCredentials: withKeyVault,
        createdThrough: 'ARM (official SDK clients), throttling off',
        setupSeconds: ms(setupMs / 1000),
      },
      indexBuild: {
        seconds: ms(buildMs / 1000),
        tasks: built.tasks,
        registries: built.registries,
        armReads: buildRequests.reads,
        armWrites: buildRequests.writes,
        // listDetails only for tasks whose masked view shows credentials (Done-when: ≤ tasks with credentials).
        listDetailsWrites: buildRequests.byOperation['tasks.getDetails'] ?? 0,
        tasksWithCredentials: withKeyVault,
        byOperation: buildRequests.byOperation,
        throttling: 'off',
        // Default buckets per principal: reads 250 burst + 25/s; writes (getDetails is a POST) 200 burst + 10/s.
        projectedSecondsAtDefaultBuckets: ms(
          Math.max(Math.max(0, buildRequests.reads - 250) / 25, Math.max(0, buildRequests.writes - 200) / 10),
        ),
      },
      unchangedRefresh: {
        seconds: ms(refreshMs / 1000),
        armReads: refreshRequests.reads,
        armWrites: refreshRequests.writes,
        listDetailsWrites: refreshRequests.byOperation['tasks.getDetails'] ?? 0,
        byOperation: refreshRequests.byOperation,
        written: refreshed.added + refreshed.changed + refreshed.removed,
        versionUnchanged: refreshed.version === built.version,
        throttling: 'on (default buckets: 250 burst, 25/s reads)',
      },
      indexLoad: { seconds: ms(loadMs / 1000), graphBuildMs: graphMs },
      plan: {
        plans: PLANS,
        preflight: false,
        medianMs: ms(percentile(latencies, 50)),
        p99Ms: ms(percentile(latencies, 99)),
        maxMs: ms(latencies[latencies.length - 1] ?? 0),
        meanTasksPerPlan: Math.round(planned / PLANS),
        maxWaves,
      },
      planWithPreflight: {
        plans: PREFLIGHT_PLANS,
        medianMs: ms(percentile(preflightLatencies, 50)),
        p99Ms: ms(percentile(preflightLatencies, 99)),
        meanTasksPerPlan: Math.round(preflighted / PREFLIGHT_PLANS),
        blockedTasks: blocked,
        armReadsPerPlan: ms(preflightRequests.reads / PREFLIGHT_PLANS),
        byOperation: preflightRequests.byOperation,
      },
      memory: {
        indexHeapMiB: mib(heapIndex),
        gcExposed: gc !== undefined,
        processHeapUsedMiB: mib(heapTotal),
        note: 'the emulator runs in the same process, so processHeapUsedMiB includes its state',
      },
    };
  } finally {
    await az.stop();
    await emu.stop();
  }
}
