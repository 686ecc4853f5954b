// Rotation of an ACR repository-scoped token password kept in a Key Vault secret (opt-in by secret tags, see
// domain/credentialPolicy.ts). The password value exists only inside this function, between generateCredentials and
// setSecret (and the read-back that verifies it); it is never logged, returned or put into an error.
//
// Protocol — each step runs only when the previous one succeeded, so a failure half-way always leaves the credential
// the tasks use working:
//   0. take the secret's lease (Table lock): two checks never rotate one secret at once;
//   1. re-read the secret's properties: still rotatable (tags) and still expiring/expired? (else: skipped — another
//      check or a person renewed it; this also makes a retried activity harmless);
//   2. pick the token password slot: the one the current value did NOT come from (`cascade.passwordName` tag; without
//      the tag, the free slot from `tokens.get`) — the old password keeps working meanwhile;
//   3. `generateCredentials` for that slot with an expiry (ROTATION_VALIDITY_DAYS, at least 2× the warning window);
//   4. new secret version: the value, `exp` = the password's expiry, tags updated to the new slot;
//   5. verify the new version: read it back and compare (needs secret `get` on the vault); with only `set`/`list`,
//      check its properties (listed, enabled, `exp` as written) instead;
//   6. tasks pinned to an older version of the secret are moved to the versionless URI (they would otherwise keep
//      the old password, which step 7 revokes);
//   7. revoke the old password: regenerate its slot with an expiry a minute away and discard the value — the old
//      value stops working at once, the replacement is never seen by anyone.
// A username secret (`cascade.role=username`, it holds the token name) is "renewed": a new version with the same
// token name and a new `exp`; no ACR call.
import {
  unixSeconds,
  isRotatable,
  PASSWORD_NAME_TAG,
  parseSecretUri,
  secretHealth,
  SecretUriError,
  vaultNameFromUrl,
  type SecretProperties,
} from '../../domain/index.js';
import { AzureError, AzureForbiddenError, type ArmAdapters } from '../../azure/adapters.js';
import type { CredentialOps, PasswordName } from '../../azure/credentialOps.js';
import type { RotateCredentialInput, RotateCredentialOutput } from '../../contracts/index.js';
import type { Deps } from '../deps.js';
import { refreshCredential } from './refresh.js';

export const ROTATION_VALIDITY_DAYS = 90;
/** A rotation holds the secret's lease at most this long (it takes seconds; a crashed one frees it after this). */
export const ROTATION_LEASE_MS = 10 * 60_000;

/** One rotation per secret at a time, across concurrent checks (a timer run and a Key Vault event, say). */
export interface RotationLock {
  /** A lease id, or undefined while someone else holds the secret. */
  acquire(secret: string): Promise<string | undefined>;
  release(secret: string, lease: string): Promise<void>;
}
/** Expiry of the discarded value that replaces a revoked password (the old value is invalid at once regardless). */
export const REVOKE_EXPIRY_SECONDS = 60;

function tagValue(tags: Record<string, string>, name: string): string | undefined {
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(tags)) if (k.toLowerCase() === want) return v;
  return undefined;
}

function withTag(tags: Record<string, string>, name: string, value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags)) if (k.toLowerCase() !== name.toLowerCase()) out[k] = v;
  out[name] = value;
  return out;
}

const iso = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export function validityDays(warningDays: number): number {
  return Math.max(ROTATION_VALIDITY_DAYS, 2 * warningDays + 1);
}

export async function rotateCredential(
  deps: Deps,
  arm: ArmAdapters,
  ops: CredentialOps,
  input: RotateCredentialInput,
  lock?: RotationLock,
): Promise<RotateCredentialOutput> {
  if (!lock) return rotateLocked(deps, arm, ops, input);
  const name = input.secret.toLowerCase();
  const lease = await lock.acquire(name);
  if (lease === undefined) {
    return {
      secret: input.secret,
      outcome: 'skipped',
      message: `Another rotation of ${input.secret} is in progress; this check leaves it to that one.`,
      refreshedTasks: [],
      steps: [],
    };
  }
  try {
    return await rotateLocked(deps, arm, ops, input);
  } finally {
    await lock.release(name, lease);
  }
}

async function rotateLocked(
  deps: Deps,
  arm: ArmAdapters,
  ops: CredentialOps,
  input: RotateCredentialInput,
): Promise<RotateCredentialOutput> {
  const out: RotateCredentialOutput = {
    secret: input.secret,
    outcome: 'failed',
    message: '',
    refreshedTasks: [],
    steps: [],
  };
  const finish = (o: Partial<RotateCredentialOutput>): RotateCredentialOutput => {
    Object.assign(out, o);
    deps.log(`rotateCredential ${input.secret}: ${out.outcome} — ${out.steps.join(', ') || 'no step'}`);
    return out;
  };

  let ref;
  try {
    ref = parseSecretUri(input.secret);
  } catch (err) {
    if (!(err instanceof SecretUriError)) throw err;
    return finish({ outcome: 'skipped', message: err.message });
  }
  const versionless = { ...ref, version: undefined };
  const where = `secret '${ref.name}' (${ref.vaultUrl})`;

  // 1. Authoritative properties: the check that asked for this may be minutes old.
  let latest: SecretProperties | undefined;
  try {
    latest = (await arm.getSecretProperties(versionless)).props;
  } catch (err) {
    if (!(err instanceof AzureError)) throw err;
    return finish({
      oldCredentialWorking: true,
      message: `Could not read the properties of ${where} (${err.code}); nothing was changed.`,
    });
  }
  if (!latest) return finish({ outcome: 'skipped', message: `${where} does not exist; nothing to rotate.` });
  const rot = isRotatable(latest.tags, input.loginServer);
  if (!rot.rotatable) return finish({ outcome: 'skipped', message: `${where} is not rotatable: ${rot.why}.` });
  const now = deps.now();
  const health = secretHealth({
    props: latest,
    accessAllowed: true,
    now: unixSeconds(now),
    warningDays: input.warningDays,
  });
  if (health.status !== 'expiring' && health.status !== 'expired') {
    return finish({
      outcome: 'skipped',
      message: `The latest version ${latest.version} of ${where} is ${health.status}${
        health.daysLeft !== undefined ? ` (${health.daysLeft} days left)` : ''
      }; nothing to rotate.`,
    });
  }
  const expiry = new Date(now.getTime() + validityDays(input.warningDays) * 86400_000);
  const tokenWords = `token '${rot.tokenName}' of registry '${rot.registryName}'`;

  // Steps 5 and 6, shared by password rotation and username renewal.
  const verifyAndRefresh = async (
    written: SecretProperties,
    readBack: () => Promise<boolean>,
  ): Promise<string | undefined> => {
    // 5. verify
    try {
      if (!(await readBack())) return `version ${written.version} does not hold the value that was written`;
      out.verified = 'value';
    } catch (err) {
      if (!(err instanceof AzureForbiddenError)) {
        if (err instanceof AzureError) return `version ${written.version} could not be read back (${err.code})`;
        throw err;
      }
      // No `get` on this vault (the documented least-privilege setup): its properties must match what was written.
      const listed = (await arm.getSecretProperties(versionless)).allVersions.find(
        (v) => v.version === written.version,
      );
      if (!listed || !listed.enabled || listed.expiresOn !== written.expiresOn) {
        return `version ${written.version} is not listed as enabled with the expiry that was written`;
      }
      out.verified = 'properties';
    }
    out.steps.push(`verified version ${written.version} (${out.verified})`);
    // 6. pinned tasks follow the versionless URI before the old value goes away.
    const pinnedByTask = new Map<string, RotateCredentialInput['credentials']>();
    for (const c of input.credentials) {
      const v = parseSecretUri(c.secret).version;
      if (!v || v === written.version) continue;
      pinnedByTask.set(c.task, [...(pinnedByTask.get(c.task) ?? []), c]);
    }
    for (const [task, creds] of pinnedByTask) {
      const r = await refreshCredential(arm, ops, {
        task,
        credentials: creds.map((c) => ({ loginServer: c.loginServer, field: c.field, secret: c.secret })),
      });
      if (r.outcome === 'failed')
        return `task ${task} is pinned to an older version and could not be moved: ${r.message}`;
      if (r.outcome === 'refreshed') out.refreshedTasks.push(task);
    }
    if (out.refreshedTasks.length)
      out.steps.push(`moved ${out.refreshedTasks.length} pinned task(s) to the versionless URI`);
    return undefined;
  };

  if (rot.role === 'username') {
    // The token name is not a secret: re-issue it with a fresh expiry.
    let written: SecretProperties;
    try {
      written = await ops.setSecretVersion(ref.vaultUrl, ref.name, rot.tokenName, {
        expiresOn: expiry,
        tags: latest.tags,
        ...(latest.contentType ? { contentType: latest.contentType } : {}),
      });
    } catch (err) {
      if (!(err instanceof AzureError)) throw err;
      return finish({
        oldCredentialWorking: true,
        message: `Could not write a new version of ${where} (${err.code}); the current version is unchanged.`,
        fix: `az keyvault set-policy --name ${vaultNameFromUrl(ref.vaultUrl)} --object-id <acr-cascade principal id> --secret-permissions list set`,
      });
    }
    out.steps.push(`wrote version ${written.version}`);
    const problem = await verifyAndRefresh(written, async () => {
      const v = await ops.readSecretVersionValue(ref.vaultUrl, ref.name, written.version);
      return v === rot.tokenName;
    });
    if (problem) return finish({ oldCredentialWorking: true, message: `Renewal of ${where}: ${problem}.` });
    return finish({
      outcome: 'renewed',
      newVersion: written.version,
      expiresOn: iso(expiry),
      message: `Renewed ${where} (the user name of ${tokenWords}) as version ${written.version}, expiring ${iso(expiry)}.`,
    });
  }

  // 2. Which slot: the one the current value did not come from.
  let next: PasswordName = rot.nextPasswordName;
  let old: PasswordName | undefined;
  const tagged = tagValue(latest.tags, PASSWORD_NAME_TAG)?.toLowerCase();
  if (tagged === 'password1' || tagged === 'password2') {
    old = tagged;
  } else {
    try {
      const slots = (await ops.getTokenPasswords(rot.tokenId)).map((p) => p.name);
      if (slots.length >= 2) {
        return finish({
          oldCredentialWorking: true,
          message: `${where} has no ${PASSWORD_NAME_TAG} tag and ${tokenWords} uses both password slots, so the slot to keep cannot be told; nothing was changed.`,
          fix: `az keyvault secret set-attributes --vault-name ${vaultNameFromUrl(ref.vaultUrl)} --name ${ref.name} --tags ${PASSWORD_NAME_TAG}=<password1|password2>`,
        });
      }
      next = slots.includes('password1') ? 'password2' : 'password1';
      old = slots[0];
    } catch (err) {
      if (!(err instanceof AzureError)) throw err;
      return finish({
        oldCredentialWorking: true,
        message: `${where} has no ${PASSWORD_NAME_TAG} tag and the slots of ${tokenWords} could not be read (${err.code}); nothing was changed.`,
      });
    }
  }

  // 3. New password in the other slot (the old one keeps working).
  let value: string;
  try {
    value = (await ops.generateTokenPassword(rot.tokenId, next, expiry)).value;
  } catch (err) {
    if (!(err instanceof AzureError)) throw err;
    return finish({
      oldCredentialWorking: true,
      message: `Could not generate ${next} of ${tokenWords} (${err.code}); nothing was changed and the current password keeps working.`,
      fix: `az role assignment create --assignee <acr-cascade principal id> --role "ACR Cascade Credential Rotator" --scope ${rot.registryId}`,
    });
  }
  out.steps.push(`generated ${next} (expires ${iso(expiry)})`);
  out.passwordName = next;

  // 4. Store it as a new secret version whose exp matches the password's expiry.
  let written: SecretProperties;
  try {
    written = await ops.setSecretVersion(ref.vaultUrl, ref.name, value, {
      expiresOn: expiry,
      tags: withTag(latest.tags, PASSWORD_NAME_TAG, next),
      ...(latest.contentType ? { contentType: latest.contentType } : {}),
    });
  } catch (err) {
    if (!(err instanceof AzureError)) throw err;
    return finish({
      oldCredentialWorking: true,
      message: `Generated ${next} of ${tokenWords} but could not store it in ${where} (${err.code}); the secret still holds the old password (${old ?? 'unknown slot'}), which keeps working. The unused ${next} expires ${iso(expiry)}.`,
      fix: `az keyvault set-policy --name ${vaultNameFromUrl(ref.vaultUrl)} --object-id <acr-cascade principal id> --secret-permissions list set`,
    });
  }
  out.steps.push(`stored as version ${written.version}`);
  out.newVersion = written.version;
  out.expiresOn = iso(expiry);

  // 5 + 6.
  const problem = await verifyAndRefresh(written, async () => {
    const v = await ops.readSecretVersionValue(ref.vaultUrl, ref.name, written.version);
    return v === value;
  });
  if (problem) {
    return finish({
      oldCredentialWorking: true,
      message: `Rotation of ${where} stopped before revoking the old password: ${problem}. Both ${old ?? 'the old password'} and ${next} stay valid, so every task keeps working.`,
    });
  }

  // 7. Revoke the old password by regenerating its slot and discarding the value.
  if (old && old !== next) {
    try {
      await ops.generateTokenPassword(rot.tokenId, old, new Date(now.getTime() + REVOKE_EXPIRY_SECONDS * 1000));
      out.revoked = old;
      out.steps.push(`revoked ${old}`);
    } catch (err) {
      if (!(err instanceof AzureError)) throw err;
      return finish({
        outcome: 'rotated',
        message: `Rotated ${where} to ${next} of ${tokenWords} (version ${written.version}, expires ${iso(expiry)}), but the old ${old} could not be revoked (${err.code}): it stays valid until its own expiry.`,
        fix: `az acr token credential delete --name ${rot.tokenName} --registry ${rot.registryName} --password-name ${old}`,
      });
    }
  }
  return finish({
    outcome: 'rotated',
    message: `Rotated ${where}: ${next} of ${tokenWords} generated (expires ${iso(expiry)}), stored as version ${written.version} (verified by ${out.verified}), ${
      out.revoked ? `old ${out.revoked} revoked` : 'no old password to revoke'
    }.`,
  });
}
