// ACR's native base-image trigger: a task with `trigger.baseImageTrigger` Enabled runs by itself when a base image it
// recorded (`step.baseImageDependencies`, written by its runs) is updated in a registry of this emulator. `Runtime`
// follows the runtime base only, `All` every base. The run is an ordinary task run (same simulation and outcome
// rules) whose `imageUpdateTrigger` names the base update. Bases in public registries are polled by ACR every 10-60
// minutes; the emulator does not poll them, so only pushes to its own registries trigger runs.
import { randomUUID } from 'node:crypto';
import type { Emulator } from '../core/emulator.js';
import {
  REGISTRY_TYPE,
  RUN_TYPE,
  TASK_TYPE,
  TERMINAL_STATUSES,
  isObject,
  type RegistryResource,
  type RunResource,
  type TaskResource,
} from './model.js';
import { taskRunSnapshot, taskRunType } from './runs.js';
import type { RunSimulator } from './simulation.js';

export interface BaseImagePush {
  loginServer: string;
  repository: string;
  tag: string;
  digest: string;
}

/** Does this task's native trigger fire for the push? (Enabled trigger, runnable task, recorded base now changed.) */
export function triggersOn(task: TaskResource, push: BaseImagePush): boolean {
  const p = task.properties;
  const trigger = isObject(p.trigger) ? p.trigger.baseImageTrigger : undefined;
  if (!isObject(trigger) || trigger.status !== 'Enabled') return false;
  if (p.status === 'Disabled' || !p.step || !p.platform) return false;
  const all = trigger.baseImageTriggerType === 'All';
  return (p.step.baseImageDependencies ?? []).some(
    (d) =>
      (all || d.type === 'RunTime') &&
      d.registry.toLowerCase() === push.loginServer.toLowerCase() &&
      d.repository === push.repository &&
      d.tag === push.tag &&
      d.digest !== push.digest,
  );
}

export function registerBaseImageTriggers(emu: Emulator, sim: RunSimulator): void {
  emu.onEvent((e) => {
    if (e.eventType !== 'Microsoft.ContainerRegistry.ImagePushed') return;
    const target = (e.data as { target?: { repository?: string; tag?: string; digest?: string } }).target;
    // A push by digest updates no tag, so no base "image:tag" changes.
    if (!target?.repository || !target.tag || !target.digest) return;
    const registry = emu.store.getResource<RegistryResource>(e.source);
    if (!registry || registry.type !== REGISTRY_TYPE) return;
    const push = {
      loginServer: registry.properties.loginServer,
      repository: target.repository,
      tag: target.tag,
      digest: target.digest,
    };
    for (const task of emu.store.listResources<TaskResource>(TASK_TYPE)) {
      if (!triggersOn(task, push) || hasOpenRunFor(emu, task, push)) continue;
      const owner = emu.store.getResource<RegistryResource>(task.id.replace(/\/tasks\/[^/]+$/i, ''));
      if (!owner) continue;
      sim.schedule(
        owner,
        taskRunSnapshot(task),
        taskRunType(task),
        {},
        {
          imageUpdateTrigger: {
            id: randomUUID(),
            timestamp: emu.nowIso(),
            images: [{ registry: push.loginServer, repository: push.repository, tag: push.tag, digest: push.digest }],
          },
        },
      );
    }
  });
}

/** The same update pushed again (another event for the same digest) while its run is still going starts nothing. */
function hasOpenRunFor(emu: Emulator, task: TaskResource, push: BaseImagePush): boolean {
  const registryId = task.id.replace(/\/tasks\/[^/]+$/i, '');
  // Not settled here: settling can finish runs and push images, re-entering this handler.
  return emu.store.listResources<RunResource>(RUN_TYPE, registryId).some((run) => {
    const p = run.properties;
    return (
      p.task?.toLowerCase() === task.name.toLowerCase() &&
      !TERMINAL_STATUSES.includes(p.status) &&
      (p.imageUpdateTrigger?.images ?? []).some((i) => i.digest === push.digest)
    );
  });
}
