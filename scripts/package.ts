// Builds the deployable artifact: the compiled app (everything under dist/, including the dashboard's dist/web),
// host.json, a package.json without dev tooling, and the production dependencies only — copied from this install's
// node_modules as `npm ls --omit=dev` lists them, so packaging needs no network.
//   npm run package    -> .local/package/app/ (what azd ships, azure.yaml `dist`) and .local/package/acr-cascade.tgz
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..');
export const PACKAGE_DIR = join(ROOT, '.local', 'package');
export const APP_DIR = join(PACKAGE_DIR, 'app');
export const ARCHIVE = join(PACKAGE_DIR, 'acr-cascade.tgz');

interface PackageJson {
  name: string;
  version: string;
  main: string;
  engines?: Record<string, string>;
  dependencies: Record<string, string>;
}

/** Folders of the production dependency tree (nested ones included), relative to the project. */
export function productionDependencyDirs(root = ROOT): string[] {
  const out = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return out
    .split('\n')
    .map((line) => relative(root, line.trim()))
    .filter((dir) => dir.startsWith('node_modules'));
}

export function buildPackage(root = ROOT): { appDir: string; archive: string; dependencies: number } {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;
  const main = join(root, pkg.main);
  if (!existsSync(main)) throw new Error(`${relative(root, main)} is missing: run \`npm run build\` first`);
  rmSync(PACKAGE_DIR, { recursive: true, force: true });
  mkdirSync(APP_DIR, { recursive: true });
  cpSync(join(root, 'dist'), join(APP_DIR, 'dist'), { recursive: true });
  cpSync(join(root, 'host.json'), join(APP_DIR, 'host.json'));
  const shipped = {
    name: pkg.name,
    version: pkg.version,
    private: true,
    main: pkg.main,
    engines: pkg.engines,
    dependencies: pkg.dependencies,
  };
  writeFileSync(join(APP_DIR, 'package.json'), `${JSON.stringify(shipped, null, 2)}\n`);
  const dirs = productionDependencyDirs(root);
  for (const dir of dirs) {
    // Each listed folder without its own node_modules: nested production dependencies are listed themselves.
    cpSync(join(root, dir), join(APP_DIR, dir), {
      recursive: true,
      filter: (src) => src === join(root, dir) || !relative(join(root, dir), src).split('/').includes('node_modules'),
    });
  }
  execFileSync('tar', ['-czf', ARCHIVE, '-C', APP_DIR, '.']);
  return { appDir: APP_DIR, archive: ARCHIVE, dependencies: dirs.length };
}

if (require.main === module) {
  const { appDir, archive, dependencies } = buildPackage();
  console.log(`packaged ${relative(ROOT, appDir)} (${dependencies} production packages) -> ${relative(ROOT, archive)}`);
}
