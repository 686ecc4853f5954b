// remediatePull: create the pull role assignment a MissingPullPermission reason names (AcrPull in Legacy mode, Container
// Registry Repository Reader with the repository condition in ABAC mode — the domain put the right one in
// `reason.remediation`). Only when settings.autoRemediate. The app identity needs a role that may write role
// assignments (e.g. Role Based Access Control Administrator, constrained to these roles); without it ARM answers 403,
// which is reported in `failed`, never thrown. Assignment names are deterministic so a retried activity is idempotent.
import { parseResourceId, roleGuidOf, type Reason } from '../../domain/index.js';
import { AzureError, type ArmAdapters } from '../../azure/adapters.js';
import type { RemediateInput, RemediateOutput } from '../../contracts/index.js';
import type { Deps } from '../deps.js';
import { guidFromText } from './util.js';

export async function remediatePull(deps: Deps, arm: ArmAdapters, input: RemediateInput): Promise<RemediateOutput> {
  const out: RemediateOutput = { created: [], failed: [] };
  const wanted = input.reasons.filter(
    (r): r is Reason & { remediation: NonNullable<Reason['remediation']> } =>
      r.code === 'MissingPullPermission' && r.remediation?.kind === 'roleAssignment',
  );
  for (const { remediation: rem } of wanted) {
    if (!deps.settings.autoRemediate) {
      out.failed.push({
        scope: rem.scope,
        principalId: rem.principalId,
        message: 'auto-remediation is off (CASCADE_AUTO_REMEDIATE=false); run the fix command instead',
      });
      continue;
    }
    const sub = parseResourceId(rem.scope).subscriptionId as string;
    const roleDefinitionId = `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${rem.roleDefinitionGuid}`;
    const name = guidFromText(
      `acr-cascade|${rem.scope.toLowerCase()}|${rem.principalId.toLowerCase()}|${rem.roleDefinitionGuid}`,
    );
    try {
      const ra = await arm.createRoleAssignment({
        scope: rem.scope,
        name,
        roleDefinitionId,
        principalId: rem.principalId,
        description: `acr-cascade: pull for task ${input.task}`,
        ...(rem.condition ? { condition: rem.condition, conditionVersion: rem.conditionVersion ?? '2.0' } : {}),
      });
      out.created.push({ scope: rem.scope, principalId: rem.principalId, roleName: rem.roleName, assignmentId: ra.id });
      deps.log(`remediatePull: created ${rem.roleName} for ${rem.principalId} at ${rem.scope}`);
    } catch (err) {
      if (!(err instanceof AzureError)) throw err;
      if (err.code === 'RoleAssignmentExists') {
        // Same (scope, role, principal) under another name: it exists, so the pull is granted.
        const existing = (await arm.listRoleAssignmentsAtScope(rem.scope)).find(
          (a) =>
            a.principalId.toLowerCase() === rem.principalId.toLowerCase() &&
            roleGuidOf(a.roleDefinitionId) === rem.roleDefinitionGuid.toLowerCase(),
        );
        out.created.push({
          scope: rem.scope,
          principalId: rem.principalId,
          roleName: rem.roleName,
          assignmentId: existing?.id ?? '',
        });
        continue;
      }
      out.failed.push({
        scope: rem.scope,
        principalId: rem.principalId,
        message:
          err.statusCode === 403
            ? `acr-cascade may not create role assignments at ${rem.scope} (${err.code}); grant its identity Role Based Access Control Administrator there (constrained to ${rem.roleName}) or run the fix command`
            : `${err.code}: ${err.message}`,
      });
    }
  }
  return out;
}
