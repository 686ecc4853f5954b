// azure.yaml is what `azd up` reads: one Functions service built from this package, Bicep infra, the postdeploy hook.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '../../..');

type Yaml = string | { [key: string]: Yaml };

/**
 * Reads the block-mapping subset of YAML that azure.yaml uses: `key: value`, `key:` + indented block, comments,
 * quoted scalars. Anything else (sequences, flow style, anchors, tabs) is an error, so a change that the test cannot
 * read fails loudly instead of passing unchecked.
 */
function parseYaml(text: string): Yaml {
  const rootMap: { [key: string]: Yaml } = {};
  const stack: { indent: number; map: { [key: string]: Yaml } }[] = [{ indent: -1, map: rootMap }];
  text.split('\n').forEach((rawLine, index) => {
    const line = rawLine.replace(/\s+#.*$/, '').replace(/^#.*$/, '');
    if (line.trim() === '') return;
    if (/\t/.test(line)) throw new Error(`azure.yaml:${index + 1}: tab in indentation`);
    const match = /^( *)([A-Za-z0-9_.-]+):(?: +(.*))?$/.exec(line);
    if (!match) throw new Error(`azure.yaml:${index + 1}: unsupported YAML: ${rawLine.trim()}`);
    const indent = (match[1] ?? '').length;
    const key = match[2] as string;
    while ((stack[stack.length - 1] as { indent: number }).indent >= indent) stack.pop();
    const parent = stack[stack.length - 1];
    if (!parent) throw new Error(`azure.yaml:${index + 1}: bad indentation`);
    if (key in parent.map) throw new Error(`azure.yaml:${index + 1}: duplicate key '${key}'`);
    const value = match[3];
    if (value === undefined || value === '') {
      const child: { [key: string]: Yaml } = {};
      parent.map[key] = child;
      stack.push({ indent, map: child });
    } else {
      parent.map[key] = value.replace(/^(['"])(.*)\1$/, '$2');
    }
  });
  return rootMap;
}

function get(node: Yaml | undefined, ...path: string[]): Yaml | undefined {
  return path.reduce<Yaml | undefined>((n, k) => (typeof n === 'object' ? n[k] : undefined), node);
}

const azureYaml = parseYaml(readFileSync(join(root, 'azure.yaml'), 'utf8'));

describe('azure.yaml', () => {
  it('declares exactly one service, api, hosted as a Function App from this TypeScript package', () => {
    expect(get(azureYaml, 'name')).toBe('acr-cascade');
    const services = get(azureYaml, 'services');
    expect(typeof services === 'object' ? Object.keys(services) : []).toEqual(['api']);
    expect(get(services, 'api', 'host')).toBe('function');
    expect(['js', 'ts']).toContain(get(services, 'api', 'language'));
    const project = resolve(root, String(get(services, 'api', 'project')));
    const pkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as {
      main: string;
      scripts: Record<string, string>;
    };
    // azd runs `npm run build`; the Functions host then loads package.json "main" next to host.json.
    expect(pkg.scripts.build).toBeDefined();
    expect(pkg.main).toBe('dist/src/functions/index.js');
    expect(existsSync(join(project, 'host.json'))).toBe(true);
    // The artifact azd ships is the packaging script's folder (test/e2e/package.test.ts starts the host on it).
    expect(pkg.scripts.package).toBe('npm run build && tsx scripts/package.ts');
    expect(get(services, 'api', 'dist')).toBe('.local/package/app');
    expect(get(services, 'api', 'remoteBuild')).toBe('false');
    expect(existsSync(join(root, '.funcignore'))).toBe(false);
  });

  it('provisions infra/main.bicep with Bicep', () => {
    expect(get(azureYaml, 'infra', 'provider')).toBe('bicep');
    const dir = join(root, String(get(azureYaml, 'infra', 'path')));
    expect(existsSync(join(dir, `${String(get(azureYaml, 'infra', 'module'))}.bicep`))).toBe(true);
    expect(existsSync(join(dir, `${String(get(azureYaml, 'infra', 'module'))}.parameters.json`))).toBe(true);
  });

  it('runs an existing postdeploy hook on both shells, failing the deploy when it fails', () => {
    for (const [os, shell] of [
      ['posix', 'sh'],
      ['windows', 'pwsh'],
    ] as const) {
      expect(get(azureYaml, 'hooks', 'postdeploy', os, 'shell')).toBe(shell);
      expect(get(azureYaml, 'hooks', 'postdeploy', os, 'continueOnError')).toBe('false');
      const script = join(root, String(get(azureYaml, 'hooks', 'postdeploy', os, 'run')));
      expect(existsSync(script), script).toBe(true);
      const body = readFileSync(script, 'utf8');
      expect(body).toContain('events.bicep');
      expect(body).toContain('CASCADE_EVENTS_PARAMETERS');
      expect(body).toContain('AZURE_RESOURCE_GROUP');
    }
    const sh = join(root, String(get(azureYaml, 'hooks', 'postdeploy', 'posix', 'run')));
    expect(() => accessSync(sh, constants.X_OK)).not.toThrow();
    expect(readFileSync(sh, 'utf8')).toMatch(/^#!\/bin\/sh\n[\s\S]*set -eu/);
  });

  it('is read strictly: unsupported YAML is an error, not silently skipped', () => {
    expect(() => parseYaml('services:\n  - api\n')).toThrow('azure.yaml:2: unsupported YAML: - api');
    expect(() => parseYaml('a: 1\na: 2\n')).toThrow("azure.yaml:2: duplicate key 'a'");
  });
});
