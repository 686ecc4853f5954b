// Will this task's run succeed at pulling its bases and reading its credentials? Pure: everything it needs is passed
// in, already read from ARM and Key Vault (secret properties only, never values).

import { canGetSecret } from './keyVaultAccess.js';
import { isRotatable, secretHealth } from './credentialPolicy.js';
import { normalizeVaultUrl, secretKey, SecretUriError, vaultSecretsOf } from './credentials.js';
import { type ResolvedIdentity, resolveIdentity } from './identity.js';
import { ImageRefError, normalizeLoginServer, parseImageRef } from './imageRef.js';
import { canPull } from './rbac.js';
import {
  keyVaultAccessDenied,
  missingPullPermission,
  type NamedIdentity,
  missingRegistryCredential,
  type Reason,
  registryNotManaged,
  sourceRegistryAbac,
  taskDisabled,
  unknownIdentity,
  vaultNotFound,
} from './reasons.js';
import type {
  RegistryInfo,
  RoleAssignmentInfo,
  RoleDefinitionInfo,
  SecretProperties,
  TaskCredential,
  TaskInfo,
  VaultInfo,
} from './types.js';

/** Login-server suffixes of Azure Container Registry (public, China, US Government clouds). */
const AZURE_REGISTRY_SUFFIXES = ['.azurecr.io', '.azurecr.cn', '.azurecr.us'];

export interface PreflightInput {
  task: TaskInfo;
  /** Base image refs the run will pull (PlannedTask.baseImages). */
  baseImages: readonly string[];
  /** Registries acr-cascade can read, by login server (any casing). Unknown login servers are external. */
  registries: Record<string, RegistryInfo>;
  /** Role assignments at (and above) the registries and vaults involved. */
  assignments: readonly RoleAssignmentInfo[];
  definitions: readonly RoleDefinitionInfo[];
  /** Vaults by vault URL (`https://mykeyvault.vault.azure.net`, trailing slash or not). */
  vaults: Record<string, VaultInfo>;
  /** Secret properties by secretKey(reference) — the version the task pins, else the latest. Absent = missing. */
  secrets: Record<string, SecretProperties>;
  /** Latest enabled version by secretKey(versionless reference), to flag pinned versions that fell behind. */
  latestVersions?: Record<string, string>;
  /** User-assigned identity resources acr-cascade can see, to name the one an unknown client id belongs to. */
  identities?: readonly NamedIdentity[];
  /** Unix seconds. */
  now: number;
  warningDays: number;
}

export type IdentityUse = Pick<ResolvedIdentity, 'kind' | 'principalId' | 'clientId'>;

export interface PreflightResult {
  taskId: string;
  decision: 'ready' | 'blocked';
  reasons: Reason[];
  /** Login server → the identity the run uses there (credentials with a resolvable identity). */
  identity: Record<string, IdentityUse>;
}

function rekey<T>(record: Record<string, T>, normalize: (k: string) => string): Map<string, T> {
  const out = new Map<string, T>();
  for (const [k, v] of Object.entries(record)) {
    try {
      out.set(normalize(k), v);
    } catch (err) {
      if (!(err instanceof SecretUriError)) throw err;
    }
  }
  return out;
}

function isAzureRegistry(loginServer: string): boolean {
  return AZURE_REGISTRY_SUFFIXES.some((s) => loginServer.endsWith(s));
}

export function preflightTask(input: PreflightInput): PreflightResult {
  const { task } = input;
  const reasons: Reason[] = [];
  const identity: Record<string, IdentityUse> = {};
  const registries = rekey(input.registries, normalizeLoginServer);
  const vaults = rekey(input.vaults, normalizeVaultUrl);
  const secrets = rekey(input.secrets, secretKey);
  const latest = rekey(input.latestVersions ?? {}, secretKey);
  const creds = new Map<string, TaskCredential>(task.credentials.map((c) => [normalizeLoginServer(c.loginServer), c]));
  const ownLoginServer = normalizeLoginServer(task.loginServer);
  const identityFix = (ls: string, r: Extract<ReturnType<typeof resolveIdentity>, { ok: false }>): Reason => {
    const named = r.value
      ? input.identities?.find((i) => i.clientId.toLowerCase() === r.value?.toLowerCase())
      : undefined;
    return unknownIdentity(task, ls, r.problem, r.value, named);
  };

  if (task.status === 'Disabled') reasons.push(taskDisabled(task));

  const resolved = new Map<string, ResolvedIdentity>();
  for (const [ls, cred] of creds) {
    const r = resolveIdentity(task, cred.identity);
    if (!r.ok) continue;
    resolved.set(ls, r.identity);
    identity[ls] = {
      kind: r.identity.kind,
      principalId: r.identity.principalId,
      ...(r.identity.clientId ? { clientId: r.identity.clientId } : {}),
    };
  }

  // Pulls: group the bases by registry.
  const repositories = new Map<string, Set<string>>();
  for (const ref of input.baseImages) {
    try {
      const r = parseImageRef(ref);
      const set = repositories.get(r.loginServer) ?? new Set<string>();
      set.add(r.repository);
      repositories.set(r.loginServer, set);
    } catch (err) {
      if (!(err instanceof ImageRefError)) throw err;
    }
  }
  for (const [ls, repos] of [...repositories].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const registry = registries.get(ls);
    if (!registry) {
      // External registries (Docker Hub, …) allow public pulls; a credential, if declared, is checked below.
      if (isAzureRegistry(ls)) reasons.push(registryNotManaged(task, ls));
      continue;
    }
    const cred = creds.get(ls);
    if (ls === ownLoginServer) {
      // Assumption: in Legacy mode a run pulls from its own registry with the run's implicit source-registry token
      // (sourceRegistry loginMode Default), so nothing to check. In ABAC mode that access needs a source-registry
      // identity, which api-version 2019-06-01-preview cannot show: evaluate an explicit identity credential when
      // the task has one, else warn.
      if (registry.roleAssignmentMode === 'LegacyRegistryPermissions' || registry.anonymousPullEnabled) continue;
      if (!cred?.identity) {
        reasons.push(sourceRegistryAbac(task, registry));
        continue;
      }
    }
    if (registry.anonymousPullEnabled) continue;
    if (!cred) {
      reasons.push(missingRegistryCredential(task, ls));
      continue;
    }
    // A user name and password (ACR token or admin user) log in without RBAC; their secrets are checked below.
    if (cred.userName || cred.password) continue;
    if (!cred.identity) {
      reasons.push(missingRegistryCredential(task, ls));
      continue;
    }
    const who = resolved.get(ls);
    if (!who) {
      const r = resolveIdentity(task, cred.identity);
      if (!r.ok) reasons.push(identityFix(ls, r));
      continue;
    }
    // Legacy mode is registry-wide: one evaluation answers for every repository.
    const toCheck =
      registry.roleAssignmentMode === 'AbacRepositoryPermissions' ? [...repos].sort() : [...repos].slice(0, 1);
    for (const repository of toCheck) {
      const d = canPull({
        registry,
        repository,
        principalId: who.principalId,
        assignments: input.assignments,
        definitions: input.definitions,
      });
      if (!d.allowed) reasons.push(missingPullPermission(task, registry, repository, who, d.considered, d.nearMiss));
    }
  }

  // Credentials: a run logs in to every custom registry, so every Key Vault-backed credential must be readable.
  for (const [ls, cred] of [...creds].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const used = vaultSecretsOf(cred);
    if (used.length === 0) continue;
    const who = resolved.get(ls);
    if (!who) {
      const r = resolveIdentity(task, cred.identity);
      if (!r.ok) reasons.push(identityFix(ls, r));
      continue;
    }
    for (const { role, ref } of used) {
      const vault = vaults.get(ref.vaultUrl);
      if (!vault) {
        reasons.push(vaultNotFound(task, ls, ref));
        continue;
      }
      const access = canGetSecret({
        vault,
        principalId: who.principalId,
        secretName: ref.name,
        assignments: input.assignments,
        definitions: input.definitions,
      });
      if (!access.allowed) {
        reasons.push(keyVaultAccessDenied(task, vault, ref, who));
        continue;
      }
      const props = secrets.get(secretKey(ref));
      const rotation = props ? isRotatable(props.tags, ls) : undefined;
      const latestVersion = latest.get(secretKey({ ...ref, version: undefined }));
      const health = secretHealth({
        ...(props ? { props } : {}),
        ...(latestVersion ? { latestEnabledVersion: latestVersion } : {}),
        ...(ref.version ? { referencedVersion: ref.version } : {}),
        accessAllowed: true,
        now: input.now,
        warningDays: input.warningDays,
        role,
        use: {
          secret: ref,
          vaultName: vault.name,
          task,
          loginServer: ls,
          ...(rotation?.rotatable
            ? { rotation: { tokenName: rotation.tokenName, registryName: rotation.registryName } }
            : {}),
        },
      });
      if (health.reason) reasons.push(health.reason);
    }
  }

  const unique = [...new Map(reasons.map((r) => [`${r.code}|${r.message}`, r])).values()];
  return {
    taskId: task.id,
    decision: unique.some((r) => r.severity === 'blocking') ? 'blocked' : 'ready',
    reasons: unique,
    identity,
  };
}
