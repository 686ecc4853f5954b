// System tools some tests drive (skopeo). On a fresh machine a missing tool is installed the way .ci/run does it
// (apt-get, as root); where that is not possible the test is skipped with a line naming the tool and how to get it —
// never a red test for a missing binary.
import { execFileSync, spawnSync } from 'node:child_process';

const tried = new Map<string, string | undefined>();

function which(tool: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() || undefined : undefined;
}

/** The tool's path, installing its Debian package first when missing and running as root; undefined if unavailable. */
export function systemTool(tool: string, aptPackage = tool): string | undefined {
  if (tried.has(tool)) return tried.get(tool);
  let path = which(tool);
  if (!path && process.getuid?.() === 0 && which('apt-get')) {
    try {
      const opts = { stdio: 'ignore' as const, timeout: 300_000 };
      execFileSync('apt-get', ['update', '-qq'], opts);
      execFileSync('apt-get', ['install', '-y', '-qq', aptPackage], {
        ...opts,
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
    } catch {
      // Falls through to the skip line below.
    }
    path = which(tool);
  }
  if (!path)
    console.warn(
      `skipping tests that need ${tool}: not installed (as root: apt-get install ${aptPackage}; .ci/run does this)`,
    );
  tried.set(tool, path);
  return path;
}
