// infra/hooks/postdeploy.sh against a stand-in `az` on PATH that records its arguments and answers like Azure: the
// app's functions are not listed at first (the code deploy is still syncing triggers), then they are.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const hook = resolve(__dirname, '../../../infra/hooks/postdeploy.sh');
let dir: string;

/** Writes a stand-in az: `function list` answers nothing for the first `hiddenFor` calls, then `listed`. */
function standInAz(hiddenFor: number, listed: string[]): void {
  writeFileSync(
    join(dir, 'az'),
    `#!/bin/sh
printf '%s\\n' "$*" >> "${dir}/calls"
case "$1 $2 $3" in
  "functionapp function list")
    n=$(cat "${dir}/lists" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "${dir}/lists"
    if [ "$n" -gt ${hiddenFor} ]; then printf '%s\\n' ${listed.map((l) => `'${l}'`).join(' ')}; fi ;;
  "deployment group create") echo '{}' ;;
  *) echo "stand-in az: unexpected: $*" >&2; exit 2 ;;
esac
`,
  );
  chmodSync(join(dir, 'az'), 0o755);
}

function runHook(env: Record<string, string>) {
  const result = spawnSync('sh', [hook], {
    encoding: 'utf8',
    env: {
      PATH: `${dir}:${process.env.PATH}`,
      AZURE_SUBSCRIPTION_ID: '11111111-2222-3333-4444-555555555555',
      AZURE_RESOURCE_GROUP: 'rg-cascade',
      AZURE_FUNCTION_APP_NAME: 'func-acr-cascade-abc',
      AZURE_ENV_NAME: 'team_a.prod(1)',
      CASCADE_EVENTS_PARAMETERS: '{"environmentName":{"value":"team_a.prod(1)"}}',
      CASCADE_POSTDEPLOY_POLL_SECONDS: '0',
      ...env,
    },
  });
  const calls = (() => {
    try {
      return readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n');
    } catch {
      return [];
    }
  })();
  return { ...result, calls };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'postdeploy-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('infra/hooks/postdeploy.sh', () => {
  it("waits until both Event Grid functions are listed, then deploys events.bicep in azd's subscription", () => {
    standInAz(2, [
      'func-acr-cascade-abc/health',
      'func-acr-cascade-abc/onRegistryEvent',
      'func-acr-cascade-abc/onVaultEvent',
    ]);
    const r = runHook({});
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lists = r.calls.filter((c) => c.startsWith('functionapp function list'));
    expect(lists).toHaveLength(3);
    for (const c of lists) {
      expect(c).toBe(
        'functionapp function list --subscription 11111111-2222-3333-4444-555555555555 --resource-group rg-cascade --name func-acr-cascade-abc --query [].name --output tsv',
      );
    }
    const deploy = r.calls.filter((c) => c.startsWith('deployment group create'));
    expect(deploy).toHaveLength(1);
    expect(deploy[0]).toMatch(
      /^deployment group create --subscription 11111111-2222-3333-4444-555555555555 --resource-group rg-cascade --name acr-cascade-events-team-a-prod-1- --template-file \S+\/infra\/hooks\/\.\.\/events\.bicep --parameters \{"environmentName":\{"value":"team_a\.prod\(1\)"\}\} --output none$/,
    );
    expect(r.calls.indexOf(deploy[0]!)).toBe(r.calls.length - 1);
  });

  it('gives up after the bound with a message naming the function that never appeared, deploying nothing', () => {
    standInAz(0, ['func-acr-cascade-abc/onRegistryEvent']);
    const r = runHook({ CASCADE_POSTDEPLOY_WAIT_SECONDS: '1', CASCADE_POSTDEPLOY_POLL_SECONDS: '1' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('postdeploy: timed out after 1s waiting for onVaultEvent on func-acr-cascade-abc');
    expect(r.calls.filter((c) => c.startsWith('deployment group create'))).toEqual([]);
  });

  it('refuses to run without the azd environment it needs, naming the missing variable', () => {
    standInAz(0, []);
    const r = runHook({ AZURE_SUBSCRIPTION_ID: '' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('postdeploy: AZURE_SUBSCRIPTION_ID is not set');
    expect(r.calls).toEqual([]);
  });
});
