// Azure Container Registry: registries, tokens and scope maps (ARM 2025-11-01), tasks and runs (2019-06-01-preview)
// with a run simulation, and each registry's OCI data plane on its own HTTPS listener. See acr/README.md.
import type { Emulator } from '../core/emulator.js';
import { registerBaseImageTriggers } from './baseImageTriggers.js';
import { OciStore, registerOci } from './oci.js';
import { AsyncOperations, registerOperations } from './operations.js';
import { regKey } from './model.js';
import { registerRegistries } from './registries.js';
import { registerRuns } from './runs.js';
import { RunSimulator } from './simulation.js';
import { dropRegistryTasks, registerTasks } from './tasks.js';
import { dropTokenSecrets, registerTokens } from './tokens.js';

export { BASE_IMAGES_TAG, DEFAULT_DURATION_MS } from './simulation.js';

export function registerAcr(emu: Emulator): void {
  const data = new OciStore(emu);
  const sim = new RunSimulator(emu);
  const ops = new AsyncOperations(emu);
  registerOci(emu, data);
  registerOperations(emu, ops);
  registerRegistries(emu, {
    onCreating: (name) => data.dropRegistry(regKey(name)),
    onDeleted(registry) {
      dropRegistryTasks(emu, registry);
      dropTokenSecrets(emu, registry);
      sim.dropRegistry(registry);
      data.dropRegistry(regKey(registry.name));
    },
  });
  registerTokens(emu, ops);
  registerTasks(emu, { onDeleted: (task) => sim.dropTask(task) }, ops);
  registerRuns(emu, sim, ops);
  registerBaseImageTriggers(emu, sim);
}
