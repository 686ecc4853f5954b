// PLACEHOLDER — replaced by the helper that owns this module.
import type { Emulator } from '../core/emulator.js';

export function registerKeyVaultData(_emu: Emulator): void {}
