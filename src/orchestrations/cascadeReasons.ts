// Reasons the cascade adds to the domain's: why a planned task did not run or did not succeed. Pure; the wording
// names the task and, where a person can act, says what to do.
// contracts.js is the SDK-free names/types module orchestrators may use; the lint pattern targets activity code.
import type { CascadeReason, RunStatus } from '../contracts/index.js';

interface TaskWords {
  taskName: string;
  registryId: string;
}

function registryName(id: string): string {
  return id.replace(/\/+$/, '').split('/').pop() ?? id;
}

function words(t: TaskWords): string {
  return `task '${t.taskName}' (registry ${registryName(t.registryId)})`;
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** A task whose every producer failed, was blocked or canceled: the image it builds from was not rebuilt. */
export function upstreamFailed(t: TaskWords, producers: { taskName: string; outcome: string }[]): CascadeReason {
  const list = producers.map((p) => `'${p.taskName}' (${p.outcome})`).join(', ');
  return {
    code: 'UpstreamFailed',
    severity: 'blocking',
    message: `${cap(words(t))} is not scheduled: the task${producers.length === 1 ? '' : 's'} producing its base image did not succeed: ${list}.`,
  };
}

export function scheduleRejected(t: TaskWords, code: string, message: string): CascadeReason {
  return {
    code: 'ScheduleRejected',
    severity: 'blocking',
    message: `ARM refused to schedule a run of ${words(t)}: ${code}: ${message}`,
    fix: `az acr task show --name ${t.taskName} --registry ${registryName(t.registryId)}`,
  };
}

export function runFailed(t: TaskWords, runId: string, status: RunStatus, error: string | undefined): CascadeReason {
  return {
    code: 'RunFailed',
    severity: 'blocking',
    message: `Run ${runId} of ${words(t)} ended ${status}${error ? `: ${error}` : ''}.`,
    fix: `az acr task logs --registry ${registryName(t.registryId)} --run-id ${runId}`,
  };
}

export function runCanceled(t: TaskWords, runId: string): CascadeReason {
  return { code: 'RunCanceled', severity: 'info', message: `Run ${runId} of ${words(t)} was canceled.` };
}

export function watchTimedOut(t: TaskWords, runId: string, seconds: number): CascadeReason {
  return {
    code: 'WatchTimedOut',
    severity: 'blocking',
    message: `Run ${runId} of ${words(t)} did not finish within ${seconds} seconds (task timeout plus margin); it was canceled.`,
    fix: `az acr task logs --registry ${registryName(t.registryId)} --run-id ${runId}`,
  };
}

export function cascadeCanceled(t: TaskWords): CascadeReason {
  return {
    code: 'CascadeCanceled',
    severity: 'info',
    message: `${cap(words(t))} was not scheduled: the cascade was canceled.`,
  };
}

export function remediationFailed(t: TaskWords, failures: { scope: string; message: string }[]): CascadeReason {
  return {
    code: 'RemediationFailed',
    severity: 'blocking',
    message: `Auto-remediation could not create the missing role assignment(s) for ${words(t)}: ${failures
      .map((f) => `${f.scope}: ${f.message}`)
      .join('; ')}.`,
  };
}

export function taskOrchestrationFailed(t: TaskWords, message: string): CascadeReason {
  return {
    code: 'TaskOrchestrationFailed',
    severity: 'blocking',
    message: `The rebuild of ${words(t)} failed inside acr-cascade: ${message}`,
  };
}

export function planFailed(message: string): CascadeReason {
  return {
    code: 'PlanFailed',
    severity: 'blocking',
    message: `The rebuild plan could not be computed: ${message}`,
  };
}

/** ACR's base-image trigger already started the task's run for this update; that run is the task's run. */
export function nativeRunAdopted(t: TaskWords, runId: string): CascadeReason {
  return {
    code: 'NativeRunAdopted',
    severity: 'info',
    message: `Run ${runId} of ${words(t)} was started by ACR's own base-image trigger; acr-cascade adopted it instead of scheduling another.`,
  };
}

/** Planned because ACR's trigger may have built it, but no native run did: the task already had the pushed digest. */
export function upToDateWithoutNativeRun(t: TaskWords, image: { ref: string; digest: string }): CascadeReason {
  return {
    code: 'UpToDate',
    severity: 'info',
    message: `${cap(words(t))} was last built from ${image.ref}@${image.digest} by a run ACR's base-image trigger did not start; skipped.`,
  };
}

/** ACR's trigger started its run after the window, while ours was building: canceled, so the update builds once. */
export function nativeRunCanceled(t: TaskWords, runId: string): CascadeReason {
  return {
    code: 'NativeRunCanceled',
    severity: 'warning',
    message: `ACR's base-image trigger of ${words(t)} started run ${runId} after the adopt window, when acr-cascade had already scheduled the task's run; acr-cascade canceled it.`,
    fix: `az acr task update --name ${t.taskName} --registry ${registryName(t.registryId)} --base-image-trigger-enabled false`,
  };
}

/** ACR's late run had already finished (or could not be canceled): this update was built twice. */
export function nativeRunLate(t: TaskWords, runId: string, status: string): CascadeReason {
  return {
    code: 'NativeRunLate',
    severity: 'warning',
    message: `ACR's base-image trigger of ${words(t)} started run ${runId} after the adopt window (${status}): this update was built twice. Switch the trigger off or lengthen CASCADE_NATIVE_ADOPT_WINDOW_SECONDS.`,
    fix: `az acr task update --name ${t.taskName} --registry ${registryName(t.registryId)} --base-image-trigger-enabled false`,
  };
}

export function nativeRunNotFound(t: TaskWords, seconds: number): CascadeReason {
  return {
    code: 'NativeRunNotFound',
    severity: 'info',
    message: `ACR's base-image trigger of ${words(t)} started no run within ${seconds} seconds; acr-cascade scheduled one.`,
    fix: `az acr task update --name ${t.taskName} --registry ${registryName(t.registryId)} --base-image-trigger-enabled false`,
  };
}

export function nativeTriggerDisabled(t: TaskWords, triggerName: string | undefined): CascadeReason {
  return {
    code: 'NativeTriggerDisabled',
    severity: 'info',
    message: `ACR's base-image trigger${triggerName ? ` '${triggerName}'` : ''} of ${words(t)} was disabled (CASCADE_NATIVE_TRIGGERS=disable): acr-cascade is its only scheduler.`,
  };
}

export function preflightFailed(t: TaskWords, message: string): CascadeReason {
  return {
    code: 'PreflightFailed',
    severity: 'blocking',
    message: `The pre-run checks of ${words(t)} could not be made, so it was not run: ${message}`,
  };
}
