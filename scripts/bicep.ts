// The Bicep CLI, restored from NuGet with `dotnet` (tools/bicep/bicep.csproj) into tools/bicep/packages, and a build
// that treats every diagnostic (compiler or linter warning, see infra/bicepconfig.json) as an error.
//   npx tsx scripts/bicep.ts            compile infra/main.bicep and infra/events.bicep into .local/infra/*.json
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

export const BICEP_VERSION = '0.49.2';
export const ROOT = resolve(__dirname, '..');
const PROJECT = join(ROOT, 'tools', 'bicep', 'bicep.csproj');
const BINARY = join(ROOT, 'tools/bicep/packages/azure.bicep.commandline.linux-x64', BICEP_VERSION, 'tools/bicep');

/** How to get the compiler when it cannot be had here (named in skip messages). */
export const BICEP_HOWTO =
  'install the .NET SDK (`dotnet` on PATH; it restores the Bicep CLI from NuGet: `npm run bicep:restore`)';

export function dotnetAvailable(): boolean {
  return spawnSync('dotnet', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Restores the pinned Bicep CLI from NuGet if it is not there yet; returns its path. */
export function restoreBicep(): string {
  if (!existsSync(BINARY)) {
    execFileSync('dotnet', ['restore', PROJECT, '--verbosity', 'quiet'], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (!existsSync(BINARY)) throw new Error(`dotnet restore finished but ${BINARY} is missing`);
  }
  return BINARY;
}

export class BicepError extends Error {}

/** Compiles one Bicep file to ARM JSON; any warning or error fails the build with the compiler's own lines. */
export function buildBicep(file: string): Record<string, unknown> {
  const bicep = restoreBicep();
  const result = spawnSync(bicep, ['build', file, '--stdout'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const diagnostics = (result.stderr ?? '')
    .split('\n')
    .filter((line) => / : (Warning|Error) /.test(line))
    .map((line) => line.replace(`${ROOT}/`, ''));
  if (result.status !== 0 || diagnostics.length > 0) {
    throw new BicepError(`bicep build ${basename(file)} failed:\n${diagnostics.join('\n') || result.stderr}`);
  }
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

export const TEMPLATES = ['main', 'events'] as const;

if (require.main === module) {
  const out = join(ROOT, '.local', 'infra');
  mkdirSync(out, { recursive: true });
  for (const name of TEMPLATES) {
    const template = buildBicep(join(ROOT, 'infra', `${name}.bicep`));
    writeFileSync(join(out, `${name}.json`), `${JSON.stringify(template, null, 2)}\n`);
    console.log(`compiled infra/${name}.bicep -> .local/infra/${name}.json`);
  }
}
