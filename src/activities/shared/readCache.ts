// Per-activity-call caches over the ARM / Key Vault adapters, shared by preflight (plan) and credential health. Every
// getter shares in-flight requests, so a batch that touches one vault or registry many times reads it once.
import {
  normalizeVaultUrl,
  roleGuidOf,
  type RegistryInfo,
  type RoleAssignmentInfo,
  type RoleDefinitionInfo,
  type VaultInfo,
} from '../../domain/index.js';
import { AzureError, AzureNotFoundError, type ArmAdapters, type SecretLookup } from '../../azure/adapters.js';
import { memoAsync } from './async.js';

/** How `vault(url)` finds a vault: the watched vaults first, then a search of subscriptions. */
export interface VaultSearch {
  /** Vault resource ids read first, in order; the first whose URI matches wins. */
  readonly watchedVaults: readonly string[];
  /** Whether an error reading a watched vault means "skip it" (anything else fails the lookup). */
  readonly skipWatchedError: (err: unknown) => boolean;
  /** Subscriptions to search when no watched vault matches; asked only then. */
  readonly subscriptions: () => string[];
}

export class AzureReadCache {
  /** A registry, or undefined when ARM says 404. */
  readonly registry: (id: string) => Promise<RegistryInfo | undefined>;
  /** A role definition, or undefined when ARM says 404 (an assignment of a deleted custom role grants nothing). */
  readonly definition: (roleDefinitionId: string) => Promise<RoleDefinitionInfo | undefined>;
  /** A vault by its URL (see VaultSearch), or undefined when none is found. */
  readonly vault: (vaultUrl: string) => Promise<VaultInfo | undefined>;
  /** Properties of every version of a secret (versionless key); Azure errors are returned, not thrown. */
  readonly secret: (versionlessKey: string) => Promise<SecretLookup | { error: AzureError }>;
  private readonly assignmentsByKey: (key: string) => Promise<RoleAssignmentInfo[]>;

  constructor(
    protected readonly arm: ArmAdapters,
    private readonly vaultSearch: VaultSearch,
  ) {
    this.registry = memoAsync(async (id) => {
      try {
        return await arm.getRegistry(id);
      } catch (err) {
        if (err instanceof AzureNotFoundError) return undefined;
        throw err;
      }
    });
    this.definition = memoAsync(async (id) => {
      try {
        return await arm.getRoleDefinition(id);
      } catch (err) {
        if (err instanceof AzureNotFoundError) return undefined;
        throw err;
      }
    });
    this.vault = memoAsync((url) => this.findVault(url));
    this.secret = memoAsync(async (key) => {
      try {
        return await arm.getSecretProperties(key);
      } catch (err) {
        if (err instanceof AzureError) return { error: err };
        throw err;
      }
    });
    this.assignmentsByKey = memoAsync(async (key) => {
      const [mode, scope] = [key.slice(0, 1), key.slice(2)];
      return arm.listRoleAssignmentsAtScope(scope, { includeBelow: mode === 'b' });
    });
  }

  /** Role assignments at and above `scope`, and also below it with `includeBelow`. Cached per scope and mode. */
  assignments(scope: string, opts: { includeBelow: boolean }): Promise<RoleAssignmentInfo[]> {
    return this.assignmentsByKey(`${opts.includeBelow ? 'b' : 'a'}:${scope}`);
  }

  /** The role definitions these assignments refer to, each read once (a deleted custom role is left out). */
  async definitions(assignments: readonly RoleAssignmentInfo[]): Promise<RoleDefinitionInfo[]> {
    const ids = new Map<string, string>();
    for (const a of assignments) ids.set(roleGuidOf(a.roleDefinitionId), a.roleDefinitionId);
    const out: RoleDefinitionInfo[] = [];
    for (const id of ids.values()) {
      const d = await this.definition(id);
      if (d) out.push(d);
    }
    return out;
  }

  private async findVault(url: string): Promise<VaultInfo | undefined> {
    const want = normalizeVaultUrl(url);
    for (const id of this.vaultSearch.watchedVaults) {
      try {
        const v = await this.arm.getVault(id);
        if (normalizeVaultUrl(v.vaultUri) === want) return v;
      } catch (err) {
        if (!this.vaultSearch.skipWatchedError(err)) throw err;
      }
    }
    return this.arm.getVaultByUrl(want, this.vaultSearch.subscriptions());
  }
}
