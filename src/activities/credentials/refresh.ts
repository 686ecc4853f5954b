// Refresh: a task pinned to an outdated secret version is moved to the VERSIONLESS secret URI.
//
// Why versionless rather than the current version: a task run resolves a versionless URI to the latest enabled version
// when it starts, so the task follows every later rotation or manual renewal without another PATCH, and a pin can
// never fall behind again. The price is that a new version that someone writes by mistake is picked up too — which is
// already true of every versionless credential, the form `az acr task credential add` documents.
//
// The task is re-read with `tasks.getDetails` right before the PATCH, each reference is changed only if the task still
// pins exactly the version the check found outdated AND a newer enabled version still exists, and the PATCH carries
// each touched `customRegistries` entry complete (userName, password, identity) so nothing else changes.
import type { Task } from '@azure/arm-containerregistry';
import {
  normalizeLoginServer,
  parseSecretUri,
  secretKey,
  SecretUriError,
  type WireCustomRegistryCredential,
} from '../../domain/index.js';
import { AzureError, type ArmAdapters } from '../../azure/adapters.js';
import type { CredentialOps } from '../../azure/credentialOps.js';
import type { RefreshCredentialInput, RefreshCredentialOutput } from '../../contracts/index.js';
import type { RecordTaskDetails } from './inventory.js';

type WireField = 'userName' | 'password';
const wireField = (field: 'username' | 'password'): WireField => (field === 'username' ? 'userName' : 'password');

type Entries = Record<string, WireCustomRegistryCredential | null | undefined>;

function entriesOf(task: Task): Entries {
  return (task.credentials?.customRegistries ?? {}) as Entries;
}

function findKey(entries: Entries, loginServer: string): string | undefined {
  const want = normalizeLoginServer(loginServer);
  return Object.keys(entries).find((k) => normalizeLoginServer(k) === want);
}

/** The URI without its version: `https://v.vault.azure.net/secrets/Name`. */
export function versionlessUri(uri: string): string {
  const ref = parseSecretUri(uri);
  return `${ref.vaultUrl}/secrets/${ref.name}`;
}

function isVault(v: WireCustomRegistryCredential['userName']): v is { type?: string; value: string } {
  return !!v && (v.type ?? '').toLowerCase() === 'vaultsecret' && typeof v.value === 'string';
}

export async function refreshCredential(
  arm: ArmAdapters,
  ops: CredentialOps,
  input: RefreshCredentialInput,
  record?: RecordTaskDetails,
  now: () => Date = () => new Date(),
): Promise<RefreshCredentialOutput> {
  const out: RefreshCredentialOutput = { task: input.task, outcome: 'unchanged', changed: [], message: '' };
  const fail = (err: AzureError | SecretUriError, what: string): RefreshCredentialOutput => ({
    ...out,
    outcome: 'failed',
    changed: [],
    code: err instanceof AzureError ? err.code : 'InvalidSecretUri',
    message: `${what}: ${err.message}. The task keeps its pinned version, which still works until it expires.`,
  });
  let patched = false;
  try {
    const details = await arm.getTaskDetails(input.task);
    const entries = entriesOf(details);
    const patch: Record<string, WireCustomRegistryCredential> = {};
    const skipped: string[] = [];
    for (const c of input.credentials) {
      const key = findKey(entries, c.loginServer);
      const entry = key !== undefined ? entries[key] : undefined;
      const current = entry?.[wireField(c.field)];
      if (key === undefined || !entry || !isVault(current)) {
        skipped.push(`${c.loginServer} ${c.field}: no longer a Key Vault reference`);
        continue;
      }
      const now = parseSecretUri(current.value);
      const found = parseSecretUri(c.secret);
      if (!now.version || secretKey(now) !== secretKey(found)) {
        skipped.push(`${c.loginServer} ${c.field}: the task no longer pins ${c.secret}`);
        continue;
      }
      const lookup = await arm.getSecretProperties({ ...now, version: undefined });
      if (!lookup.latestEnabledVersion || lookup.latestEnabledVersion === now.version) {
        skipped.push(`${c.loginServer} ${c.field}: version ${now.version} is the latest enabled version again`);
        continue;
      }
      // Start from what is in the task now (or what this call already changed) and replace only this reference.
      const next: WireCustomRegistryCredential = patch[key] ?? {
        ...(entry.userName ? { userName: { ...entry.userName } } : {}),
        ...(entry.password ? { password: { ...entry.password } } : {}),
        ...(entry.identity ? { identity: entry.identity } : {}),
      };
      const to = versionlessUri(current.value);
      next[wireField(c.field)] = { type: current.type ?? 'Vaultsecret', value: to };
      patch[key] = next;
      out.changed.push({ loginServer: normalizeLoginServer(key), field: c.field, from: current.value, to });
    }
    if (out.changed.length === 0) {
      return { ...out, message: `Nothing to refresh (${skipped.join('; ') || 'no outdated pin'}).` };
    }
    await ops.updateTaskCustomRegistries(input.task, patch);
    patched = true;

    // Read back: the PATCH answer masks credentials, so only getDetails shows whether it took.
    const readBack = await arm.getTaskDetails(input.task);
    // The index learns the new reference now, so the next plan does not repeat SecretVersionOutdated.
    await record?.([{ details: readBack, readAt: now().toISOString() }])?.catch(() => undefined);
    const after = entriesOf(readBack);
    const missed = out.changed.filter((ch) => {
      const key = findKey(after, ch.loginServer);
      const v = key !== undefined ? after[key]?.[wireField(ch.field)] : undefined;
      return !isVault(v) || v.value !== ch.to;
    });
    if (missed.length > 0) {
      return {
        ...out,
        outcome: 'failed',
        code: 'RefreshNotApplied',
        message: `The task update was accepted but ${missed
          .map((m) => `${m.loginServer} ${m.field}`)
          .join(', ')} still do not read ${missed.map((m) => m.to).join(', ')}.`,
      };
    }
    return {
      ...out,
      outcome: 'refreshed',
      message: `Moved ${out.changed
        .map((ch) => `${ch.loginServer} ${ch.field} from ${ch.from} to ${ch.to}`)
        .join('; ')} (the versionless URI always reads the latest enabled version).`,
    };
  } catch (err) {
    if (patched && err instanceof AzureError) {
      return {
        ...out,
        outcome: 'refreshed',
        message: `The task was updated, but reading it back failed: ${err.message}`,
      };
    }
    if (err instanceof AzureError) return fail(err, 'The task could not be updated');
    if (err instanceof SecretUriError) return fail(err, 'The task holds an invalid secret URI');
    throw err;
  }
}
