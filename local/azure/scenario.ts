// Declarative scenarios for the emulator: a small JSON file of resource groups, registries (with images), identities,
// vaults (with secrets), ACR tasks, Key Vault access policies and role assignments, created through the emulator's ARM
// and Key Vault APIs with the official SDK clients — what an operator would do with `az`. The seed is one such file
// (local/scenarios/seed.json); `npm start -- --scenario <file>` applies more. Format: docs/local-stack.md.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TokenCredential } from '@azure/identity';
import { ContainerRegistryManagementClient, type Task } from '@azure/arm-containerregistry';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { SecretClient } from '@azure/keyvault-secrets';

// ---- the file format --------------------------------------------------------------------------------------------------

/** A secret a task reads from Key Vault: `<vault name>/<secret name>`. */
export interface VaultSecretRef {
  vaultSecret: string;
}

export type PrincipalRef = { identity: string } | { task: string } | 'app' | 'operator';
export type ScopeRef = { registry: string } | { resourceGroup: string } | { vault: string } | 'subscription';

export interface Scenario {
  /** Default resource group and location of everything below. */
  resourceGroup?: string;
  location?: string;
  resourceGroups?: { name: string; location?: string }[];
  registries?: { name: string; resourceGroup?: string; sku?: string; images?: string[] }[];
  identities?: { name: string; resourceGroup?: string }[];
  vaults?: {
    name: string;
    resourceGroup?: string;
    secrets?: { name: string; value?: string; random?: { prefix?: string }; expiresInDays?: number }[];
  }[];
  tasks?: {
    name: string;
    /** Registry name (in this file or already in the emulator). */
    registry: string;
    resourceGroup?: string;
    /** `system`, and/or user-assigned identity names. */
    identity?: { system?: boolean; userAssigned?: string[] };
    /** The task's YAML (`az acr task create --file`), written as is. */
    yaml: string;
    tags?: Record<string, string>;
    /** Login server → how the run logs in: `identity` is an identity name or `[system]`. */
    credentials?: Record<string, { identity?: string; userName?: VaultSecretRef; password?: VaultSecretRef }>;
    /** ACR's own base-image trigger, on as `az acr task create` sets it unless told otherwise (default true). */
    baseImageTrigger?: boolean;
    /** Run once after creation so ACR records the base image dependencies (default true). */
    runOnce?: boolean;
    timeout?: number;
  }[];
  accessPolicies?: { vault: string; principal: PrincipalRef; secrets: string[] }[];
  /** `name` labels the assignment (its GUID is derived from it, so re-applying a scenario changes nothing). */
  roleAssignments?: { name: string; principal: PrincipalRef; role: string; scope: ScopeRef }[];
  /** Base registries `npm start` watches when this scenario is given and no --watch is. */
  watch?: string[];
}

/** The trigger `az acr task create` sends unless given `--base-image-trigger-enabled false`. */
export const DEFAULT_TASK_TRIGGER = {
  baseImageTrigger: {
    name: 'defaultBaseimageTriggerName',
    status: 'Enabled',
    baseImageTriggerType: 'Runtime',
    updateTriggerPayloadType: 'Default',
  },
} as const;

export const ROLE_IDS: Record<string, string> = {
  AcrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d',
  AcrPush: '8311e382-0749-4cb8-b61a-304f252e45ec',
  Reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
  'Container Registry Tasks Contributor': 'fb382eab-e894-4461-af04-94435c366c3f',
  'EventGrid Data Sender': 'd5a91429-5739-47e2-a06b-3470a27159e7',
  'Key Vault Secrets User': '4633458b-17de-408a-b874-0445c86b69e6',
};

export class ScenarioError extends Error {
  override name = 'ScenarioError';
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

function fail(path: string, message: string): never {
  throw new ScenarioError(`${path}: ${message}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkName(v: unknown, path: string): void {
  if (typeof v !== 'string' || !NAME.test(v)) fail(path, `expected a resource name, got ${JSON.stringify(v)}`);
}

function checkList(v: unknown, path: string): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(path, 'expected a list');
  return v;
}

function checkPrincipal(v: unknown, path: string): void {
  if (v === 'app' || v === 'operator') return;
  if (isObject(v) && typeof v.identity === 'string') return;
  if (isObject(v) && typeof v.task === 'string' && /^[^/]+\/[^/]+$/.test(v.task)) return;
  fail(path, `expected "app", "operator", {"identity": name} or {"task": "registry/task"}`);
}

function checkScope(v: unknown, path: string): void {
  if (v === 'subscription') return;
  if (isObject(v) && ['registry', 'resourceGroup', 'vault'].some((k) => typeof v[k] === 'string')) return;
  fail(path, `expected "subscription", {"registry": name}, {"resourceGroup": name} or {"vault": name}`);
}

/** Checks the shape (names, references' form) and returns the scenario; errors name the JSON path. */
export function parseScenario(raw: unknown, source = 'scenario'): Scenario {
  if (!isObject(raw)) fail(source, 'expected a JSON object');
  const known = new Set([
    '$comment',
    'resourceGroup',
    'location',
    'resourceGroups',
    'registries',
    'identities',
    'vaults',
    'tasks',
    'accessPolicies',
    'roleAssignments',
    'watch',
  ]);
  for (const k of Object.keys(raw))
    if (!known.has(k)) fail(`${source}.${k}`, `unknown key (known: ${[...known].join(', ')})`);
  if (raw.resourceGroup !== undefined) checkName(raw.resourceGroup, `${source}.resourceGroup`);
  checkList(raw.resourceGroups, `${source}.resourceGroups`).forEach((g, i) =>
    checkName(isObject(g) ? g.name : g, `${source}.resourceGroups[${i}].name`),
  );
  checkList(raw.registries, `${source}.registries`).forEach((r, i) => {
    const p = `${source}.registries[${i}]`;
    if (!isObject(r)) fail(p, 'expected an object');
    checkName(r.name, `${p}.name`);
    if (!/^[a-z0-9]{5,50}$/i.test(String(r.name))) fail(`${p}.name`, 'a registry name is 5-50 letters or digits');
    checkList(r.images, `${p}.images`).forEach((img, j) => {
      if (typeof img !== 'string' || !/^[a-z0-9]+(?:[._/-][a-z0-9]+)*:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(img))
        fail(`${p}.images[${j}]`, `expected <repository>:<tag>, got ${JSON.stringify(img)}`);
    });
  });
  checkList(raw.identities, `${source}.identities`).forEach((x, i) =>
    checkName(isObject(x) ? x.name : x, `${source}.identities[${i}].name`),
  );
  checkList(raw.vaults, `${source}.vaults`).forEach((v, i) => {
    const p = `${source}.vaults[${i}]`;
    if (!isObject(v)) fail(p, 'expected an object');
    checkName(v.name, `${p}.name`);
    checkList(v.secrets, `${p}.secrets`).forEach((s, j) => {
      if (!isObject(s)) fail(`${p}.secrets[${j}]`, 'expected an object');
      checkName(s.name, `${p}.secrets[${j}].name`);
      if ((s.value === undefined) === (s.random === undefined))
        fail(`${p}.secrets[${j}]`, 'give either "value" or "random"');
    });
  });
  checkList(raw.tasks, `${source}.tasks`).forEach((t, i) => {
    const p = `${source}.tasks[${i}]`;
    if (!isObject(t)) fail(p, 'expected an object');
    checkName(t.name, `${p}.name`);
    checkName(t.registry, `${p}.registry`);
    if (typeof t.yaml !== 'string' || !t.yaml.trim()) fail(`${p}.yaml`, 'expected the task YAML as a string');
    for (const [server, c] of Object.entries(isObject(t.credentials) ? t.credentials : {})) {
      if (!isObject(c)) fail(`${p}.credentials.${server}`, 'expected an object');
      for (const f of ['userName', 'password'] as const) {
        const ref = c[f];
        if (
          ref !== undefined &&
          !(isObject(ref) && typeof ref.vaultSecret === 'string' && ref.vaultSecret.includes('/'))
        )
          fail(`${p}.credentials.${server}.${f}`, 'expected {"vaultSecret": "<vault>/<secret>"}');
      }
    }
  });
  checkList(raw.accessPolicies, `${source}.accessPolicies`).forEach((a, i) => {
    const p = `${source}.accessPolicies[${i}]`;
    if (!isObject(a)) fail(p, 'expected an object');
    checkName(a.vault, `${p}.vault`);
    checkPrincipal(a.principal, `${p}.principal`);
  });
  checkList(raw.roleAssignments, `${source}.roleAssignments`).forEach((a, i) => {
    const p = `${source}.roleAssignments[${i}]`;
    if (!isObject(a)) fail(p, 'expected an object');
    if (typeof a.name !== 'string' || !a.name) fail(`${p}.name`, 'expected a label');
    checkPrincipal(a.principal, `${p}.principal`);
    checkScope(a.scope, `${p}.scope`);
    if (typeof a.role !== 'string' || !(a.role in ROLE_IDS || /^[0-9a-f-]{36}$/i.test(a.role)))
      fail(`${p}.role`, `expected a role GUID or one of ${Object.keys(ROLE_IDS).join(', ')}`);
  });
  checkList(raw.watch, `${source}.watch`).forEach((w, i) => checkName(w, `${source}.watch[${i}]`));
  return raw as Scenario;
}

export function loadScenarioFile(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ScenarioError(`cannot read scenario ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ScenarioError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseScenario(raw, path);
}

// ---- applying it ------------------------------------------------------------------------------------------------------

export interface ScenarioTarget {
  subscriptionId: string;
  tenantId: string;
  armEndpoint: string;
  operator: TokenCredential;
  /** The app's principal (`"app"` in principals). */
  appPrincipalId: string;
  pushImage(registry: string, repository: string, tag: string): Promise<string>;
  /** Deterministic role-assignment names (GUIDs) for a re-runnable scenario. */
  guid(label: string): string;
}

export interface AppliedScenario {
  registries: Record<string, { id: string; loginServer: string }>;
  /** `registry/repository:tag` pushed → digest. */
  images: Record<string, string>;
  identities: Record<string, { id: string; principalId: string; clientId: string }>;
  vaults: Record<string, { id: string; vaultUri: string }>;
  /** Task name → its id and system identity (if any). */
  tasks: Record<string, { id: string; registry: string; resourceGroup: string; principalId?: string }>;
  /** Role assignment label → id. */
  assignments: Record<string, string>;
  /** Task ids to run once (in file order). */
  runOnce: string[];
}

const armOptions = (endpoint: string) => ({ endpoint, credentialScopes: ['https://management.azure.com/.default'] });

function clients(t: ScenarioTarget) {
  return {
    acr: new ContainerRegistryManagementClient(t.operator, t.subscriptionId, armOptions(t.armEndpoint)),
    authz: new AuthorizationManagementClient(t.operator, t.subscriptionId, armOptions(t.armEndpoint)),
    msi: new ManagedServiceIdentityClient(t.operator, t.subscriptionId, armOptions(t.armEndpoint)),
    // The new-generation Key Vault client reads `credentials.scopes`, not credentialScopes.
    kvm: new KeyVaultManagementClient(t.operator, t.subscriptionId, {
      endpoint: t.armEndpoint,
      credentials: { scopes: ['https://management.azure.com/.default'] },
    }),
  };
}

/** Creates everything the scenario declares, in dependency order. Re-applying it updates in place. */
export async function applyScenario(
  t: ScenarioTarget,
  s: Scenario,
  log: (line: string) => void = () => {},
): Promise<AppliedScenario> {
  const { acr, authz, msi, kvm } = clients(t);
  const sub = t.subscriptionId;
  const location = s.location ?? 'eastus';
  const defaultRg = s.resourceGroup ?? 'myResourceGroup';
  const rgIdOf = (rg: string) => `/subscriptions/${sub}/resourceGroups/${rg}`;
  const token = (await t.operator.getToken('https://management.azure.com/.default'))!.token;
  const out: AppliedScenario = {
    registries: {},
    images: {},
    identities: {},
    vaults: {},
    tasks: {},
    assignments: {},
    runOnce: [],
  };

  // az group create (no Resources SDK installed: plain ARM call)
  const groups = new Map<string, string>([[defaultRg, location]]);
  for (const g of s.resourceGroups ?? []) groups.set(g.name, g.location ?? location);
  for (const r of [...(s.registries ?? []), ...(s.identities ?? []), ...(s.vaults ?? []), ...(s.tasks ?? [])]) {
    if (r.resourceGroup && !groups.has(r.resourceGroup)) groups.set(r.resourceGroup, location);
  }
  for (const [rg, loc] of groups) {
    const res = await fetch(`${t.armEndpoint}${rgIdOf(rg)}?api-version=2021-04-01`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ location: loc }),
    });
    if (!res.ok) throw new ScenarioError(`creating resource group ${rg} failed: ${res.status} ${await res.text()}`);
    log(`resource group ${rg}`);
  }

  // az acr create; az acr build (a synthetic image per listed tag)
  for (const r of s.registries ?? []) {
    const created = await acr.registries.beginCreateAndWait(r.resourceGroup ?? defaultRg, r.name, {
      location,
      sku: { name: (r.sku ?? 'Premium') as 'Premium' },
    });
    out.registries[r.name] = { id: created.id!, loginServer: created.loginServer! };
    log(`registry ${r.name} (${created.loginServer})`);
    for (const image of r.images ?? []) {
      const [repository, tag] = image.split(':') as [string, string];
      const digest = await t.pushImage(r.name, repository, tag);
      out.images[`${r.name}/${image}`] = digest;
      log(`pushed ${created.loginServer}/${image}@${digest}`);
    }
  }

  // az identity create
  for (const i of s.identities ?? []) {
    const ident = await msi.userAssignedIdentities.createOrUpdate(i.resourceGroup ?? defaultRg, i.name, { location });
    out.identities[i.name] = { id: ident.id!, principalId: ident.principalId!, clientId: ident.clientId! };
    log(`identity ${i.name} (clientId ${ident.clientId})`);
  }
  const identity = async (name: string, path: string) => {
    if (out.identities[name]) return out.identities[name];
    try {
      const found = await msi.userAssignedIdentities.get(defaultRg, name);
      return (out.identities[name] = { id: found.id!, principalId: found.principalId!, clientId: found.clientId! });
    } catch {
      fail(path, `no identity '${name}' in this scenario or in resource group ${defaultRg}`);
    }
  };

  // az keyvault create; az keyvault secret set (the operator gets secret permissions to set them)
  const operatorOid = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).oid as string;
  for (const v of s.vaults ?? []) {
    const rg = v.resourceGroup ?? defaultRg;
    const vault = await kvm.vaults.createOrUpdate(rg, v.name, {
      location,
      properties: {
        tenantId: t.tenantId,
        sku: { family: 'A', name: 'standard' },
        accessPolicies: [],
        enableRbacAuthorization: false,
      },
    });
    const vaultUri = vault.properties!.vaultUri!;
    out.vaults[v.name] = { id: vault.id!, vaultUri };
    log(`key vault ${v.name} (${vaultUri})`);
    if (!v.secrets?.length) continue;
    await kvm.vaults.updateAccessPolicy(rg, v.name, 'add', {
      properties: {
        accessPolicies: [{ tenantId: t.tenantId, objectId: operatorOid, permissions: { secrets: ['all'] } }],
      },
    });
    const secrets = new SecretClient(vaultUri.replace(/\/+$/, ''), t.operator, {
      disableChallengeResourceVerification: true,
    });
    for (const sec of v.secrets) {
      // A random value is never printed: tests read it to prove it never leaks.
      const value = sec.value ?? `${sec.random?.prefix ?? ''}${randomBytes(18).toString('base64url')}`;
      await secrets.setSecret(sec.name, value, {
        contentType: 'text/plain',
        ...(sec.expiresInDays !== undefined ? { expiresOn: new Date(Date.now() + sec.expiresInDays * 86400_000) } : {}),
      });
    }
  }
  const vaultOf = async (name: string, path: string) => {
    if (out.vaults[name]) return out.vaults[name];
    try {
      const found = await kvm.vaults.get(defaultRg, name);
      return (out.vaults[name] = { id: found.id!, vaultUri: found.properties!.vaultUri! });
    } catch {
      fail(path, `no vault '${name}' in this scenario or in resource group ${defaultRg}`);
    }
  };

  const principalOf = async (p: PrincipalRef, path: string): Promise<string> => {
    if (p === 'app') return t.appPrincipalId;
    if (p === 'operator') return operatorOid;
    if ('identity' in p) return (await identity(p.identity, path)).principalId;
    const [registry, task] = p.task.split('/') as [string, string];
    const known = out.tasks[task];
    if (known?.registry === registry && known.principalId) return known.principalId;
    try {
      const found = await acr.tasks.get(defaultRg, registry, task);
      if (found.identity?.principalId) return found.identity.principalId;
    } catch {
      // reported below
    }
    fail(path, `task ${p.task} does not exist or has no system-assigned identity`);
  };

  // az acr task create
  for (const [i, tk] of (s.tasks ?? []).entries()) {
    const path = `tasks[${i}]`;
    const rg = tk.resourceGroup ?? defaultRg;
    const userAssigned: Record<string, object> = {};
    for (const name of tk.identity?.userAssigned ?? [])
      userAssigned[(await identity(name, `${path}.identity`)).id] = {};
    const system = tk.identity?.system === true;
    const hasUser = Object.keys(userAssigned).length > 0;
    const customRegistries: NonNullable<NonNullable<Task['credentials']>['customRegistries']> = {};
    for (const [server, c] of Object.entries(tk.credentials ?? {})) {
      const secret = async (ref: VaultSecretRef | undefined, field: string) => {
        if (!ref) return undefined;
        const [vault, name] = ref.vaultSecret.split('/') as [string, string];
        const v = await vaultOf(vault, `${path}.credentials.${server}.${field}`);
        return { type: 'Vaultsecret' as const, value: `${v.vaultUri.replace(/\/+$/, '')}/secrets/${name}` };
      };
      const userName = await secret(c.userName, 'userName');
      const password = await secret(c.password, 'password');
      const id =
        c.identity === undefined || c.identity === '[system]'
          ? c.identity
          : (await identity(c.identity, `${path}.credentials.${server}.identity`)).clientId;
      customRegistries[server] = {
        ...(userName ? { userName } : {}),
        ...(password ? { password } : {}),
        ...(id ? { identity: id } : {}),
      };
    }
    const created = await acr.tasks.beginCreateAndWait(rg, tk.registry, tk.name, {
      location,
      ...(tk.tags ? { tags: tk.tags } : {}),
      ...(system || hasUser
        ? {
            identity: {
              type: system && hasUser ? 'SystemAssigned, UserAssigned' : system ? 'SystemAssigned' : 'UserAssigned',
              ...(hasUser ? { userAssignedIdentities: userAssigned } : {}),
            },
          }
        : {}),
      platform: { os: 'Linux' },
      step: {
        type: 'EncodedTask',
        encodedTaskContent: Buffer.from(tk.yaml).toString('base64'),
        contextPath: '/dev/null',
      },
      ...(Object.keys(customRegistries).length ? { credentials: { customRegistries } } : {}),
      ...(tk.baseImageTrigger !== false ? { trigger: DEFAULT_TASK_TRIGGER } : {}),
      timeout: tk.timeout ?? 600,
    });
    out.tasks[tk.name] = {
      id: created.id!,
      registry: tk.registry,
      resourceGroup: rg,
      ...(created.identity?.principalId ? { principalId: created.identity.principalId } : {}),
    };
    if (tk.runOnce !== false) out.runOnce.push(created.id!);
    log(`task ${tk.registry}/${tk.name}`);
  }

  // az keyvault set-policy
  for (const [i, a] of (s.accessPolicies ?? []).entries()) {
    const path = `accessPolicies[${i}]`;
    const v = await vaultOf(a.vault, `${path}.vault`);
    const rg = v.id.split('/')[4]!;
    await kvm.vaults.updateAccessPolicy(rg, a.vault, 'add', {
      properties: {
        accessPolicies: [
          {
            tenantId: t.tenantId,
            objectId: await principalOf(a.principal, `${path}.principal`),
            permissions: { secrets: a.secrets as ('get' | 'list')[] },
          },
        ],
      },
    });
  }

  // az role assignment create
  for (const [i, a] of (s.roleAssignments ?? []).entries()) {
    const path = `roleAssignments[${i}]`;
    const scope =
      a.scope === 'subscription'
        ? `/subscriptions/${sub}`
        : 'registry' in a.scope
          ? (out.registries[a.scope.registry]?.id ??
            `${rgIdOf(defaultRg)}/providers/Microsoft.ContainerRegistry/registries/${a.scope.registry}`)
          : 'vault' in a.scope
            ? (await vaultOf(a.scope.vault, `${path}.scope`)).id
            : rgIdOf(a.scope.resourceGroup);
    const roleGuid = ROLE_IDS[a.role] ?? a.role;
    const ra = await authz.roleAssignments.create(scope, t.guid(a.name), {
      roleDefinitionId: `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid}`,
      principalId: await principalOf(a.principal, `${path}.principal`),
      principalType: 'ServicePrincipal',
    });
    out.assignments[a.name] = ra.id!;
  }
  return out;
}

const TERMINAL = ['Succeeded', 'Failed', 'Canceled', 'Error', 'Timeout'];

/** `az acr task run` of each task, waiting for it to end, so ACR records each task's base image dependencies. */
export async function runTasksOnce(
  t: ScenarioTarget,
  taskIds: string[],
  log: (line: string) => void = () => {},
): Promise<void> {
  const { acr } = clients(t);
  for (const id of taskIds) {
    const [, , , , rg, , , , registry, , name] = id.split('/') as string[];
    const run = await acr.registries.beginScheduleRunAndWait(rg!, registry!, { type: 'TaskRunRequest', taskId: id });
    let status = run.status;
    for (let i = 0; i < 600 && !TERMINAL.includes(status ?? ''); i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await acr.runs.get(rg!, registry!, run.runId!)).status;
    }
    log(`first run of ${name}: ${run.runId} ${status}`);
  }
}
