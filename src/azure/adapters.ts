// ARM and Key Vault → domain types. Every read the app makes of registries, tasks, role assignments, identities,
// vaults, secret properties and runs goes through here, so paging, error mapping and read counting live in one place.
// Clients come from clients.ts (injected); nothing here constructs one. Secret VALUES are never read here:
// Key Vault is only asked for secret properties (`listPropertiesOfSecretVersions`, needs the `list` permission).
import type { DockerBuildStep, EncodedTaskStep, Task, Registry, Run } from '@azure/arm-containerregistry';
import type { RoleAssignment, RoleDefinition } from '@azure/arm-authorization';
import type { Vault } from '@azure/arm-keyvault';
import type { SecretProperties as KvSecretProperties } from '@azure/keyvault-secrets';
import type { AzureClients } from './clients.js';
import {
  formatImageRef,
  ImageRefError,
  encodedTaskOutputs,
  normalizeLoginServer,
  normalizeVaultUrl,
  parseCustomRegistries,
  parseImageRef,
  parseResourceId,
  parseSecretUri,
  registryIdOf,
  taskBaseImages,
  type AccessPolicyInfo,
  type RegistryInfo,
  type RoleAssignmentInfo,
  type RoleDefinitionInfo,
  type SecretProperties,
  type SecretRef,
  type TaskCredential,
  type TaskInfo,
  type UserAssignedIdentityRef,
  type VaultInfo,
  type WireCustomRegistryCredential,
} from '../domain/index.js';
import type { RunInfo, RunStatus } from '../contracts/index.js';

/**
 * Task tag naming the images a task pushes (comma-separated refs; short names resolve to its registry). On an
 * EncodedTask it replaces what the YAML's push steps name; on a Docker task it adds to `imageNames`.
 */
export const OUTPUT_IMAGES_TAG = 'cascade.outputImages';

// ---- errors --------------------------------------------------------------------------------------------------------

/** An ARM / Key Vault request failed. `statusCode` and `code` are the service's; the message never holds secrets. */
export class AzureError extends Error {
  constructor(
    readonly statusCode: number | undefined,
    readonly code: string,
    message: string,
    /** What was being done, e.g. `tasks.list /subscriptions/…/registries/r`. */
    readonly operation: string,
  ) {
    super(`${operation}: ${message}`);
    this.name = 'AzureError';
  }
}

/** 404: the resource (or its parent) does not exist. */
export class AzureNotFoundError extends AzureError {
  override name = 'AzureNotFoundError';
}

/** 403: the app's identity lacks the permission (ARM `AuthorizationFailed`, Key Vault `Forbidden`). */
export class AzureForbiddenError extends AzureError {
  override name = 'AzureForbiddenError';
}

interface RestErrorLike {
  statusCode?: number;
  code?: string;
  message?: string;
}

function looksLikeRestError(err: unknown): err is RestErrorLike & Error {
  return err instanceof Error && (err.name === 'RestError' || typeof (err as RestErrorLike).statusCode === 'number');
}

/** RestError (statusCode/code) → AzureNotFoundError / AzureForbiddenError / AzureError; anything else is rethrown. */
export function toAzureError(err: unknown, operation: string): AzureError {
  if (err instanceof AzureError) return err;
  if (!looksLikeRestError(err)) throw err;
  const status = err.statusCode;
  const code = err.code ?? (status !== undefined ? String(status) : 'RequestFailed');
  // Service messages are about resources and principals, never secret values; keep the first line only.
  const message = (err.message ?? '').split(/\r?\n/)[0] ?? '';
  if (status === 404) return new AzureNotFoundError(status, code, message, operation);
  if (status === 403) return new AzureForbiddenError(status, code, message, operation);
  return new AzureError(status, code, message, operation);
}

async function call<T>(operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw toAzureError(err, operation);
  }
}

// ---- ids -----------------------------------------------------------------------------------------------------------

export interface RegistryAddress {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

/** `/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/r[/…]` → its parts. */
export function registryAddress(id: string): RegistryAddress {
  const p = parseResourceId(registryIdOf(id));
  return { subscriptionId: p.subscriptionId as string, resourceGroup: p.resourceGroup as string, name: p.name };
}

/** A task id → its registry and name. Throws ResourceIdError / TypeError for anything else. */
export function taskAddress(taskId: string): RegistryAddress & { registryId: string; taskName: string } {
  const p = parseResourceId(taskId);
  if (p.types.length !== 2 || p.types[1]?.toLowerCase() !== 'tasks') {
    throw new TypeError(`'${taskId}' is not an ACR task id (…/registries/{registry}/tasks/{task})`);
  }
  const registryId = registryIdOf(taskId);
  return { ...registryAddress(registryId), registryId, taskName: p.name };
}

export type ScopeKind = 'subscription' | 'resourceGroup' | 'registry';

/** A managed scope (settings.managedScopes entry) → its kind and parts. */
export function parseScope(scope: string): { kind: ScopeKind; subscriptionId: string; resourceGroup?: string } {
  const p = parseResourceId(scope);
  if (p.kind === 'subscription') return { kind: 'subscription', subscriptionId: p.subscriptionId as string };
  if (p.kind === 'resourceGroup') {
    return { kind: 'resourceGroup', subscriptionId: p.subscriptionId as string, resourceGroup: p.resourceGroup };
  }
  if (p.resourceType.toLowerCase() === 'microsoft.containerregistry/registries') {
    return { kind: 'registry', subscriptionId: p.subscriptionId as string, resourceGroup: p.resourceGroup };
  }
  throw new TypeError(`'${scope}' is not a subscription, resource group or registry id`);
}

// ---- pure mappings -------------------------------------------------------------------------------------------------

export function toRegistryInfo(r: Registry): RegistryInfo {
  if (!r.id || !r.name) throw new TypeError('registry without id or name');
  return {
    id: r.id,
    name: r.name,
    loginServer: normalizeLoginServer(r.loginServer ?? `${r.name.toLowerCase()}.azurecr.io`),
    roleAssignmentMode:
      r.roleAssignmentMode === 'AbacRepositoryPermissions' ? 'AbacRepositoryPermissions' : 'LegacyRegistryPermissions',
    anonymousPullEnabled: r.anonymousPullEnabled === true,
  };
}

function tagValue(tags: Record<string, string> | undefined, name: string): string | undefined {
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(tags ?? {})) if (k.toLowerCase() === want) return v;
  return undefined;
}

/** Base64 `encodedTaskContent` → YAML text, or undefined when it is not base64. */
function decodedTaskContent(encoded: string | undefined): string | undefined {
  const compact = (encoded ?? '').replace(/\s+/g, '');
  if (!compact || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) return undefined;
  return Buffer.from(compact, 'base64').toString('utf8');
}

/**
 * Output refs: Docker `step.imageNames` plus the `cascade.outputImages` tag, or for an EncodedTask the images its YAML
 * pushes (`{{.Run.Registry}}`-style placeholders resolved) unless the tag overrides them; resolved against the
 * task's registry.
 */
function outputImagesOf(task: Task, registry: RegistryInfo, problems: string[]): string[] {
  const names: string[] = [];
  const tagged = (tagValue(task.tags, OUTPUT_IMAGES_TAG) ?? '').split(/[,\s]+/).filter(Boolean);
  if (task.step?.type === 'Docker') {
    const step = task.step as DockerBuildStep;
    if (step.isPushEnabled !== false) names.push(...(step.imageNames ?? []));
  } else if (task.step?.type === 'EncodedTask' && tagged.length === 0) {
    const step = task.step as EncodedTaskStep;
    const yaml = decodedTaskContent(step.encodedTaskContent);
    if (yaml === undefined) problems.push('encodedTaskContent: not base64; outputs unknown');
    else {
      const values: Record<string, string> = {};
      for (const v of step.values ?? []) if (!v.isSecret) values[v.name] = v.value;
      const derived = encodedTaskOutputs(yaml, {
        loginServer: registry.loginServer,
        registryName: registry.name,
        values,
      });
      names.push(...derived.outputs);
      problems.push(...derived.problems);
    }
  }
  names.push(...tagged);
  const out: string[] = [];
  for (const n of names) {
    try {
      const ref = formatImageRef(
        parseImageRef(n, { defaultLoginServer: registry.loginServer, allowTemplateTag: true }),
      );
      if (!out.includes(ref)) out.push(ref);
    } catch (err) {
      if (!(err instanceof ImageRefError)) throw err;
      problems.push(`output image: ${err.message}`);
    }
  }
  return out;
}

function identityOf(task: Task): TaskInfo['identity'] {
  const userAssigned: UserAssignedIdentityRef[] = [];
  for (const [resourceId, ua] of Object.entries(task.identity?.userAssignedIdentities ?? {})) {
    if (ua?.principalId && ua.clientId) {
      userAssigned.push({ resourceId, principalId: ua.principalId, clientId: ua.clientId });
    }
  }
  const type = (task.identity?.type ?? '').toLowerCase();
  return {
    ...(type.includes('systemassigned') && task.identity?.principalId
      ? { systemPrincipalId: task.identity.principalId }
      : {}),
    userAssigned,
  };
}

export interface ToTaskInfoOptions {
  /**
   * Credentials from `tasks.getDetails` (`credentials.customRegistries`), or already parsed ones kept from an earlier
   * read. Without them the task's credentials are empty (a masked GET carries none).
   */
  details?: Task;
  credentials?: TaskCredential[];
  /** Unreadable refs are collected here (never fatal). */
  problems?: string[];
}

/** An ACR task (masked GET or getDetails) and its registry → TaskInfo. Never carries secret values. */
export function toTaskInfo(task: Task, registry: RegistryInfo, options: ToTaskInfoOptions = {}): TaskInfo {
  if (!task.id || !task.name) throw new TypeError('task without id or name');
  const problems = options.problems ?? [];
  const tags = { ...(task.tags ?? {}) };
  const bases = taskBaseImages(task.step?.baseImageDependencies, tags);
  problems.push(...bases.problems);
  let credentials: TaskCredential[] = options.credentials ?? [];
  if (options.details) {
    const custom = options.details.credentials?.customRegistries as
      Record<string, WireCustomRegistryCredential | null> | undefined;
    credentials = parseCustomRegistries(custom);
  }
  return {
    id: task.id,
    name: task.name,
    registryId: registry.id,
    loginServer: registry.loginServer,
    status: task.status === 'Disabled' ? 'Disabled' : 'Enabled',
    timeoutSeconds: task.timeout ?? 3600,
    identity: identityOf(task),
    baseImages: bases.baseImages,
    outputImages: outputImagesOf(task, registry, problems),
    credentials,
    tags,
    ...nativeTriggerOf(task),
  };
}

function nativeTriggerOf(task: Task): Pick<TaskInfo, 'nativeTrigger'> {
  const b = task.trigger?.baseImageTrigger;
  if (!b) return {};
  return {
    nativeTrigger: {
      status: b.status === 'Disabled' ? 'Disabled' : 'Enabled',
      type: b.baseImageTriggerType === 'All' ? 'All' : 'Runtime',
    },
  };
}

export function toRoleAssignmentInfo(a: RoleAssignment): RoleAssignmentInfo {
  const out: RoleAssignmentInfo = {
    id: a.id ?? '',
    scope: a.scope ?? '',
    roleDefinitionId: a.roleDefinitionId ?? '',
    principalId: a.principalId ?? '',
  };
  if (a.condition) out.condition = a.condition;
  return out;
}

export function toRoleDefinitionInfo(d: RoleDefinition): RoleDefinitionInfo {
  return {
    id: d.id ?? '',
    name: (d.name ?? d.id?.split('/').pop() ?? '').toLowerCase(),
    roleName: d.roleName ?? '',
    permissions: (d.permissions ?? []).map((p) => ({
      actions: p.actions ?? [],
      notActions: p.notActions ?? [],
      dataActions: p.dataActions ?? [],
      notDataActions: p.notDataActions ?? [],
    })),
  };
}

export function toVaultInfo(v: Vault): VaultInfo {
  if (!v.id || !v.name) throw new TypeError('vault without id or name');
  const policies: AccessPolicyInfo[] = (v.properties.accessPolicies ?? []).map((p) => ({
    objectId: p.objectId,
    secrets: [...(p.permissions.secrets ?? [])],
  }));
  return {
    id: v.id,
    name: v.name,
    vaultUri: v.properties.vaultUri ?? `https://${v.name.toLowerCase()}.vault.azure.net/`,
    enableRbacAuthorization: v.properties.enableRbacAuthorization === true,
    accessPolicies: policies,
  };
}

const seconds = (d: Date | undefined): number | undefined => (d ? Math.floor(d.getTime() / 1000) : undefined);

export function toSecretProperties(p: KvSecretProperties): SecretProperties {
  const vaultUrl = normalizeVaultUrl(p.vaultUrl);
  const version = (p.version ?? p.id?.split('/').pop() ?? '').toLowerCase();
  const out: SecretProperties = {
    uri: `${vaultUrl}/secrets/${p.name}/${version}`,
    vaultUrl,
    name: p.name,
    version,
    enabled: p.enabled !== false,
    tags: { ...(p.tags ?? {}) },
  };
  const nbf = seconds(p.notBefore);
  const exp = seconds(p.expiresOn);
  if (nbf !== undefined) out.notBefore = nbf;
  if (exp !== undefined) out.expiresOn = exp;
  if (p.contentType) out.contentType = p.contentType;
  return out;
}

const RUN_STATUSES: readonly RunStatus[] = [
  'Queued',
  'Started',
  'Running',
  'Succeeded',
  'Failed',
  'Canceled',
  'Error',
  'Timeout',
];

/** A run with the task it belongs to (runs.list answers for a whole registry). */
export interface RunSummary extends RunInfo {
  registryId: string;
  /** Task NAME (ARM gives the name, not the id). */
  task?: string;
  createTime?: string;
}

export function toRunSummary(run: Run, registryId: string): RunSummary {
  const status = RUN_STATUSES.find((s) => s.toLowerCase() === (run.status ?? '').toLowerCase()) ?? 'Queued';
  const out: RunSummary = {
    registryId,
    runId: run.runId ?? run.name ?? '',
    status,
    outputImages: (run.outputImages ?? []).map(
      (o) => `${o.registry ?? ''}/${o.repository ?? ''}${o.tag ? `:${o.tag}` : ''}${o.digest ? `@${o.digest}` : ''}`,
    ),
  };
  if (run.task) out.task = run.task;
  if (run.createTime) out.createTime = run.createTime.toISOString();
  if (run.startTime) out.startTime = run.startTime.toISOString();
  if (run.finishTime) out.finishTime = run.finishTime.toISOString();
  if (run.runErrorMessage) out.runErrorMessage = run.runErrorMessage;
  return out;
}

// ---- the adapter ---------------------------------------------------------------------------------------------------

/** Latest / pinned secret properties from one versions listing. */
export interface SecretLookup {
  ref: SecretRef;
  /** Properties of the pinned version, or of the latest version when unpinned; absent = secret/version missing. */
  props?: SecretProperties;
  /** Newest enabled version (to flag pins that fell behind). */
  latestEnabledVersion?: string;
  /** Every version's properties, oldest first. */
  allVersions: SecretProperties[];
}

export interface RunFilter {
  taskName?: string;
  status?: RunStatus;
  /** ISO time: runs created at or after it. */
  createdAfter?: string;
  /** `repository@sha256:…` of an output image. */
  outputImageManifest?: string;
  top?: number;
}

/** ARM/Key Vault requests made through one adapter (pages count one each). */
export interface RequestCounts {
  armReads: number;
  armWrites: number;
  keyVaultReads: number;
}

export interface ArmAdapters {
  readonly counts: RequestCounts;
  /** Registries in a subscription, resource group, or the one registry a registry id names. */
  listRegistries(scope: string): Promise<RegistryInfo[]>;
  getRegistry(id: string): Promise<RegistryInfo>;
  /** Masked task GETs (no credentials) of one registry — the cheap read the index refresh compares. */
  listTasks(registryId: string): Promise<Task[]>;
  /** The unmasked task (`tasks.getDetails`): credentials included. Never log the result. */
  getTaskDetails(taskId: string): Promise<Task>;
  /** `atScope()` (at and above the scope); `includeBelow` lists without a filter (at, above and below). */
  listRoleAssignmentsAtScope(scope: string, options?: { includeBelow?: boolean }): Promise<RoleAssignmentInfo[]>;
  getRoleDefinition(roleDefinitionId: string): Promise<RoleDefinitionInfo>;
  /** User-assigned identities of one resource group (resource id and client id), to name an identity by client id. */
  listUserAssignedIdentities(subscriptionId: string, resourceGroup: string): Promise<UserAssignedIdentityRef[]>;
  listVaults(subscriptionId: string): Promise<VaultInfo[]>;
  getVault(id: string): Promise<VaultInfo>;
  /** The vault whose `vaultUri` is this URL, among the vaults of the given subscriptions; undefined when none. */
  getVaultByUrl(vaultUrl: string, subscriptionIds: readonly string[]): Promise<VaultInfo | undefined>;
  /** Secret properties via `listPropertiesOfSecretVersions` (never the value). */
  getSecretProperties(secret: SecretRef | string): Promise<SecretLookup>;
  listRuns(registryId: string, filter?: RunFilter): Promise<RunSummary[]>;
  createRoleAssignment(input: {
    scope: string;
    name: string;
    roleDefinitionId: string;
    principalId: string;
    condition?: string;
    conditionVersion?: string;
    description?: string;
  }): Promise<RoleAssignmentInfo>;
}

function quote(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** The OData filter runs.list understands (PascalCase properties, `contains`, `and`). */
export function runFilterText(filter: RunFilter): string | undefined {
  const parts: string[] = [];
  if (filter.taskName) parts.push(`TaskName eq ${quote(filter.taskName)}`);
  if (filter.status) parts.push(`Status eq ${quote(filter.status)}`);
  if (filter.createdAfter) parts.push(`CreateTime ge ${filter.createdAfter}`);
  if (filter.outputImageManifest) parts.push(`contains(OutputImageManifests, ${quote(filter.outputImageManifest)})`);
  return parts.length ? parts.join(' and ') : undefined;
}

export function createArmAdapters(clients: AzureClients): ArmAdapters {
  const counts: RequestCounts = { armReads: 0, armWrites: 0, keyVaultReads: 0 };

  async function collect<T>(
    operation: string,
    pages: AsyncIterableIterator<T[]>,
    counter: 'armReads' | 'keyVaultReads' = 'armReads',
  ): Promise<T[]> {
    const out: T[] = [];
    try {
      for await (const page of pages) {
        counts[counter]++;
        out.push(...page);
      }
    } catch (err) {
      counts[counter]++;
      throw toAzureError(err, operation);
    }
    return out;
  }

  async function read<T>(operation: string, run: () => Promise<T>): Promise<T> {
    counts.armReads++;
    return call(operation, run);
  }

  const registryFrom = (r: Registry): RegistryInfo => toRegistryInfo(r);

  async function getVaultsOf(subscriptionId: string): Promise<VaultInfo[]> {
    const vaults = await collect(
      `vaults.listBySubscription /subscriptions/${subscriptionId}`,
      clients.vaults(subscriptionId).vaults.listBySubscription().byPage(),
    );
    return vaults.map(toVaultInfo);
  }

  return {
    counts,

    async listRegistries(scope) {
      const s = parseScope(scope);
      const acr = clients.acr(s.subscriptionId);
      if (s.kind === 'registry') return [await this.getRegistry(scope)];
      const pages =
        s.kind === 'subscription'
          ? acr.registries.list().byPage()
          : acr.registries.listByResourceGroup(s.resourceGroup as string).byPage();
      return (await collect(`registries.list ${scope}`, pages)).map(registryFrom);
    },

    async getRegistry(id) {
      const a = registryAddress(id);
      const r = await read(`registries.get ${id}`, () =>
        clients.acr(a.subscriptionId).registries.get(a.resourceGroup, a.name),
      );
      return registryFrom(r);
    },

    async listTasks(registryId) {
      const a = registryAddress(registryId);
      return collect(
        `tasks.list ${registryId}`,
        clients.acr(a.subscriptionId).tasks.list(a.resourceGroup, a.name).byPage(),
      );
    },

    async getTaskDetails(taskId) {
      const a = taskAddress(taskId);
      // The result holds credential references (and possibly Opaque literals): callers must not log it.
      return read(`tasks.getDetails ${taskId}`, () =>
        clients.acr(a.subscriptionId).tasks.getDetails(a.resourceGroup, a.name, a.taskName),
      );
    },

    async listRoleAssignmentsAtScope(scope, options = {}) {
      const sub = parseResourceId(scope).subscriptionId;
      if (!sub) throw new TypeError(`role assignments are listed at subscription scopes or below, not '${scope}'`);
      const list = clients
        .authorization(sub)
        .roleAssignments.listForScope(scope, options.includeBelow ? {} : { filter: 'atScope()' });
      return (await collect(`roleAssignments.listForScope ${scope}`, list.byPage())).map(toRoleAssignmentInfo);
    },

    async getRoleDefinition(roleDefinitionId) {
      const sub = parseResourceId(roleDefinitionId).subscriptionId;
      // Built-in definitions are tenant-level; any subscription's client can read them by id.
      const client = clients.authorization(sub ?? '00000000-0000-0000-0000-000000000000');
      const d = await read(`roleDefinitions.getById ${roleDefinitionId}`, () =>
        client.roleDefinitions.getById(roleDefinitionId),
      );
      return toRoleDefinitionInfo(d);
    },

    async listUserAssignedIdentities(subscriptionId, resourceGroup) {
      const list = await collect(
        `userAssignedIdentities.listByResourceGroup /subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`,
        clients.identities(subscriptionId).userAssignedIdentities.listByResourceGroup(resourceGroup).byPage(),
      );
      return list
        .filter((i) => i.id && i.principalId && i.clientId)
        .map((i) => ({
          resourceId: i.id as string,
          principalId: i.principalId as string,
          clientId: i.clientId as string,
        }));
    },

    listVaults: getVaultsOf,

    async getVault(id) {
      const p = parseResourceId(id);
      const v = await read(`vaults.get ${id}`, () =>
        clients.vaults(p.subscriptionId as string).vaults.get(p.resourceGroup as string, p.name),
      );
      return toVaultInfo(v);
    },

    async getVaultByUrl(vaultUrl, subscriptionIds) {
      const want = normalizeVaultUrl(vaultUrl);
      for (const sub of new Set(subscriptionIds.map((s) => s.toLowerCase()))) {
        const found = (await getVaultsOf(sub)).find((v) => normalizeVaultUrl(v.vaultUri) === want);
        if (found) return found;
      }
      return undefined;
    },

    async getSecretProperties(secret) {
      const ref = typeof secret === 'string' ? parseSecretUri(secret) : secret;
      const client = clients.secrets(ref.vaultUrl);
      let versions: KvSecretProperties[];
      try {
        versions = await collect(
          `secrets.listVersions ${ref.vaultUrl}/secrets/${ref.name}`,
          client.listPropertiesOfSecretVersions(ref.name).byPage(),
          'keyVaultReads',
        );
      } catch (err) {
        if (err instanceof AzureNotFoundError) return { ref, allVersions: [] };
        throw err;
      }
      // "Latest" is the newest created version; list order is not guaranteed chronological, ties keep list order.
      const ordered = versions
        .map((v, i) => ({ v, i, t: v.createdOn?.getTime() ?? 0 }))
        .sort((a, b) => a.t - b.t || a.i - b.i)
        .map((x) => x.v);
      const latest = ordered[ordered.length - 1];
      const latestEnabled = [...ordered].reverse().find((v) => v.enabled !== false);
      const chosen = ref.version
        ? ordered.find((v) => (v.version ?? '').toLowerCase() === ref.version)
        : (latest as KvSecretProperties | undefined);
      const out: SecretLookup = { ref, allVersions: ordered.map(toSecretProperties) };
      if (chosen) out.props = toSecretProperties(chosen);
      if (latestEnabled?.version) out.latestEnabledVersion = latestEnabled.version.toLowerCase();
      return out;
    },

    async listRuns(registryId, filter = {}) {
      const a = registryAddress(registryId);
      const text = runFilterText(filter);
      const pages = clients
        .acr(a.subscriptionId)
        .runs.list(a.resourceGroup, a.name, {
          ...(text ? { filter: text } : {}),
          ...(filter.top ? { top: filter.top } : {}),
        })
        .byPage();
      const runs = await collect(`runs.list ${registryId}`, pages);
      return runs.map((r) => toRunSummary(r, registryId));
    },

    async createRoleAssignment(input) {
      const sub = parseResourceId(input.scope).subscriptionId;
      if (!sub) throw new TypeError(`role assignments need a subscription scope or below, not '${input.scope}'`);
      counts.armWrites++;
      const ra = await call(`roleAssignments.create ${input.scope}`, () =>
        clients.authorization(sub).roleAssignments.create(input.scope, input.name, {
          roleDefinitionId: input.roleDefinitionId,
          principalId: input.principalId,
          // Managed identities: avoids PrincipalNotFound while the directory replicates.
          principalType: 'ServicePrincipal',
          ...(input.condition ? { condition: input.condition, conditionVersion: input.conditionVersion ?? '2.0' } : {}),
          ...(input.description ? { description: input.description } : {}),
        }),
      );
      return toRoleAssignmentInfo(ra);
    },
  };
}
