// Colours only on a terminal: picocolors' own detection also colours whenever CI is set, even into a pipe or a file.
// NO_COLOR / --no-color turn them off, FORCE_COLOR on.
import { isatty } from 'node:tty';
import picocolors from 'picocolors';

function wanted(env = process.env, argv = process.argv): boolean {
  if (env.NO_COLOR || argv.includes('--no-color')) return false;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== '0') return true;
  return isatty(1) && env.TERM !== 'dumb';
}

const pc = picocolors.createColors(wanted());
export default pc;
