// Shared shapes and lookups of the Container Registry emulator: resource types, api-versions, stored wire forms and
// the 404 taxonomy (resource group → registry → child) every ACR route follows.
import type { Emulator, EmuRequest } from '../core/emulator.js';
import { arm } from '../core/errors.js';
import type { ArmResource } from '../core/state.js';
import { requireResourceGroup } from '../arm/resourceGroups.js';

export const REGISTRY_TYPE = 'Microsoft.ContainerRegistry/registries';
export const TASK_TYPE = `${REGISTRY_TYPE}/tasks`;
export const RUN_TYPE = `${REGISTRY_TYPE}/runs`;
export const TOKEN_TYPE = `${REGISTRY_TYPE}/tokens`;
export const SCOPE_MAP_TYPE = `${REGISTRY_TYPE}/scopeMaps`;

/** Registries, tokens, scope maps: what `@azure/arm-containerregistry@11` sends, plus the previous stable. */
export const REGISTRY_API_VERSIONS = ['2025-11-01', '2023-07-01'];
/** Tasks and runs: v11 of the SDK pins them to this preview (contracts section 1). */
export const TASK_API_VERSIONS = ['2019-06-01-preview'];

export const LEGACY_MODE = 'LegacyRegistryPermissions';
export const ABAC_MODE = 'AbacRepositoryPermissions';
export const REPOSITORY_ATTRIBUTE = 'Request:Microsoft.ContainerRegistry/registries/repositories:name';
export const PULL_ACTION = 'Microsoft.ContainerRegistry/registries/pull/read';
export const PUSH_ACTION = 'Microsoft.ContainerRegistry/registries/push/write';
export const CONTENT_READ = 'Microsoft.ContainerRegistry/registries/repositories/content/read';
export const CONTENT_WRITE = 'Microsoft.ContainerRegistry/registries/repositories/content/write';

export type Dict<T> = Record<string, T>;

export interface StoredIdentity {
  type: string;
  principalId?: string;
  tenantId?: string;
  /** Keys are user-assigned identity ARM ids as given; values filled (principalId/clientId) when presented. */
  userAssignedIdentities?: Dict<Record<string, never>>;
}

export interface RegistryResource extends ArmResource {
  location: string;
  tags?: Dict<string>;
  sku: { name: string; tier: string };
  identity?: StoredIdentity;
  properties: {
    loginServer: string;
    creationDate: string;
    provisioningState: string;
    adminUserEnabled: boolean;
    anonymousPullEnabled: boolean;
    roleAssignmentMode: string;
    publicNetworkAccess: string;
    networkRuleBypassOptions: string;
    dataEndpointEnabled: boolean;
    zoneRedundancy: string;
    /** Emulator-only: where OCI clients reach this registry's data plane. */
    dataEndpoint: string;
    [k: string]: unknown;
  };
}

export interface TaskResource extends ArmResource {
  location: string;
  tags?: Dict<string>;
  identity?: StoredIdentity;
  /** Stored unmasked, exactly as the wire form (`listDetails` returns it as is). */
  properties: Dict<unknown> & {
    provisioningState: string;
    creationDate: string;
    status: string;
    timeout: number;
    isSystemTask: boolean;
    platform?: { os: string; architecture?: string; variant?: string };
    step?: TaskStep;
    trigger?: Dict<unknown>;
    credentials?: TaskCredentials;
  };
}

export interface SecretArg {
  name: string;
  value: string;
  isSecret?: boolean;
}

export interface BaseImageDependency {
  type: 'BuildTime' | 'RunTime';
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

export interface TaskStep {
  type: 'Docker' | 'FileTask' | 'EncodedTask';
  contextPath?: string;
  contextAccessToken?: string;
  baseImageDependencies?: BaseImageDependency[];
  // Docker
  dockerFilePath?: string;
  imageNames?: string[];
  isPushEnabled?: boolean;
  noCache?: boolean;
  target?: string;
  arguments?: SecretArg[];
  // FileTask / EncodedTask
  taskFilePath?: string;
  valuesFilePath?: string;
  encodedTaskContent?: string;
  encodedValuesContent?: string;
  values?: SecretArg[];
}

export interface SecretObject {
  type?: 'Opaque' | 'Vaultsecret';
  value?: string;
}

export interface CustomRegistryCredential {
  userName?: SecretObject;
  password?: SecretObject;
  identity?: string;
}

export interface TaskCredentials {
  sourceRegistry?: { loginMode?: string; identity?: string } | null;
  customRegistries?: Dict<CustomRegistryCredential | null>;
}

export interface ImageDescriptor {
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

export interface RunResource extends ArmResource {
  properties: {
    runId: string;
    status: string;
    lastUpdatedTime: string;
    runType: string;
    createTime: string;
    startTime?: string;
    finishTime?: string;
    task?: string;
    platform?: Dict<unknown>;
    agentConfiguration?: Dict<unknown>;
    outputImages?: ImageDescriptor[];
    customRegistries?: string[];
    sourceRegistryAuth?: string;
    runErrorMessage?: string;
    updateTriggerToken?: string;
    /** Set on runs the task's native base-image trigger started: the base update that triggered it. */
    imageUpdateTrigger?: { id: string; timestamp: string; images: ImageDescriptor[] };
    provisioningState: string;
    isArchiveEnabled: boolean;
    agentPoolName?: string;
  };
}

export interface TokenResource extends ArmResource {
  properties: {
    creationDate: string;
    provisioningState: string;
    scopeMapId?: string;
    status: string;
    credentials: {
      certificates: Dict<unknown>[];
      passwords: { name: string; creationTime: string; expiry?: string }[];
    };
  };
}

export interface ScopeMapResource extends ArmResource {
  properties: {
    description?: string;
    type: string;
    creationDate: string;
    provisioningState: string;
    actions: string[];
  };
}

export const TERMINAL_STATUSES = ['Succeeded', 'Failed', 'Canceled', 'Error', 'Timeout'];

export function registryId(sub: string, rg: string, name: string): string {
  return `/subscriptions/${sub}/resourceGroups/${rg}/providers/${REGISTRY_TYPE}/${name}`;
}

/** Lower-cased registry name: the key of every data-plane record (names are globally unique, like DNS names). */
export const regKey = (name: string) => name.toLowerCase();

export function findRegistryByName(emu: Emulator, name: string): RegistryResource | undefined {
  const n = name.toLowerCase();
  return emu.store.listResources<RegistryResource>(REGISTRY_TYPE).find((r) => r.name.toLowerCase() === n);
}

export function findRegistryByLoginServer(emu: Emulator, loginServer: string): RegistryResource | undefined {
  const l = loginServer.toLowerCase();
  return emu.store
    .listResources<RegistryResource>(REGISTRY_TYPE)
    .find((r) => r.properties.loginServer.toLowerCase() === l);
}

/** The registry a request addresses: `ResourceGroupNotFound`, then `ResourceNotFound` (registry operations). */
export function requireRegistry(emu: Emulator, req: EmuRequest): RegistryResource {
  const rg = requireResourceGroup(emu, req.params.subscriptionId!, req.params.resourceGroupName!);
  const found = emu.store.getResource<RegistryResource>(
    registryId(emu.subscriptionId, rg.name, req.params.registryName!),
  );
  if (!found) throw arm.resourceNotFound(`${REGISTRY_TYPE}/${req.params.registryName}`, rg.name);
  return found;
}

/** The parent registry of a child operation (tasks, runs, tokens...): `ParentResourceNotFound` when missing. */
export function requireParentRegistry(emu: Emulator, req: EmuRequest): RegistryResource {
  const rg = requireResourceGroup(emu, req.params.subscriptionId!, req.params.resourceGroupName!);
  const found = emu.store.getResource<RegistryResource>(
    registryId(emu.subscriptionId, rg.name, req.params.registryName!),
  );
  if (!found) throw arm.parentNotFound(`${REGISTRY_TYPE}/${req.params.registryName}`);
  return found;
}

/** ResourceNotFound for a child resource (`registries/{r}/tasks/{t}`), under the registry's resource group. */
export function childNotFound(registry: RegistryResource, childType: string, childName: string) {
  const rg = /\/resourceGroups\/([^/]+)/i.exec(registry.id)?.[1] ?? '';
  return arm.resourceNotFound(`${REGISTRY_TYPE}/${registry.name}/${childType}/${childName}`, rg);
}

export function isObject(v: unknown): v is Dict<unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
