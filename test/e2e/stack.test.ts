// The local stack as a newcomer uses it: start it, then learn everything from stack.json alone, push an image with
// the push script, and see the app's Event Grid function invoked with the ImagePushed event.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startStack, type RunningStack } from '../../local/stack/stack.js';

const run = promisify(execFile);
let stack: RunningStack;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'acr-cascade-stack-'));
  stack = await startStack({
    stateDir: join(dir, 'state'),
    stackFile: join(dir, 'stack.json'),
    ports: { arm: 0, identity: 0, host: 0, azurite: 0 },
    runDurationMs: 100,
    appSettings: { CASCADE_SETTLE_SECONDS: '1' },
  });
});

afterAll(async () => {
  await stack?.stop();
});

describe('the local stack', () => {
  it('describes where everything is in stack.json', () => {
    const d = JSON.parse(readFileSync(join(dir, 'stack.json'), 'utf8'));
    expect(d).toMatchObject({
      tenantId: expect.any(String),
      subscriptionId: expect.any(String),
      arm: { endpoint: expect.stringMatching(/^https:\/\/127\.0\.0\.1:\d+$/) },
      tls: { caCertPath: expect.stringMatching(/ca\.crt$/) },
      identity: {
        endpoint: expect.any(String),
        header: expect.any(String),
        operatorClientId: expect.any(String),
        appPrincipalId: expect.any(String),
      },
      registries: {
        mybaseregistry: {
          id: expect.stringMatching(/registries\/mybaseregistry$/),
          loginServer: 'mybaseregistry.azurecr.io',
        },
        myregistry: { loginServer: 'myregistry.azurecr.io' },
      },
      vaults: { mykeyvault: { vaultUri: expect.stringMatching(/^https:\/\/127\.0\.0\.1:\d+\/$/) } },
      functions: {
        baseUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
        masterKey: expect.any(String),
        functionKey: expect.any(String),
      },
    });
  });

  it('protects function-level routes with the function key', async () => {
    const base = stack.description.functions.baseUrl;
    expect((await fetch(`${base}/api/rebuilds`)).status).toBe(401);
    expect((await fetch(`${base}/api/rebuilds?code=${stack.description.functions.functionKey}`)).status).toBe(200);
  });

  it('delivers a push made with the push script to the app as an ImagePushed event', async () => {
    const { stdout } = await run(
      join(process.cwd(), 'node_modules', '.bin', 'tsx'),
      ['local/azure/push.ts', 'mybaseregistry', 'baseimages/node:15-alpine'],
      {
        env: { ...process.env, ACR_CASCADE_STACK_FILE: join(dir, 'stack.json') },
      },
    );
    const digest = /sha256:[0-9a-f]{64}/.exec(stdout)?.[0];
    expect(digest).toBeDefined();
    const admin = stack.description.arm.adminEndpoint;
    await fetch(`${admin}/eventgrid/idle`);
    const deliveries = (
      (await (await fetch(`${admin}/eventgrid/deliveries`)).json()) as {
        value: { eventTypes: string[]; endpointBaseUrl: string; outcome: string; attempts: { status?: number }[] }[];
      }
    ).value;
    const pushed = deliveries.filter((d) => d.eventTypes.includes('Microsoft.ContainerRegistry.ImagePushed'));
    expect(pushed.length).toBeGreaterThanOrEqual(1);
    expect(pushed.at(-1)).toMatchObject({
      endpointBaseUrl: expect.stringContaining('/runtime/webhooks/eventgrid'),
      outcome: 'delivered',
    });
    expect(pushed.at(-1)!.attempts.at(-1)!.status).toBe(202);
    // The app's function ran for that very image.
    expect(stack.hostLines.some((l) => /onRegistryEvent \(.+\) Succeeded/.test(l))).toBe(true);
    expect(stack.hostLines.some((l) => l.includes(digest!))).toBe(true);
  });
});
