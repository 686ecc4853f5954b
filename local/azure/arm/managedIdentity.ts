// PLACEHOLDER — replaced by the helper that owns this module.
import type { Emulator } from '../core/emulator.js';

export function registerManagedIdentity(_emu: Emulator): void {}
