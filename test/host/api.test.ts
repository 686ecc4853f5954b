// The programmatic API, in this test process (one app per process: this file is the only in-process user).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startHost } from '../../local/host/index.js';
import { FIXTURES, tempDir } from './helpers.js';

describe('startHost', () => {
  it('serves the app in this process, reports address, keys and task hub, and stops cleanly', async () => {
    const lines: string[] = [];
    const options = {
      appRoot: path.join(FIXTURES, 'basic'),
      port: 0,
      stateDir: await tempDir('in-process'),
      env: { TICK_SCHEDULE: '0 0 0 1 1 *' },
      log: (line: string) => lines.push(line),
    };
    const host = await startHost(options);
    try {
      expect(host.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(host.taskHub).toBe('TestHubName');
      expect(Object.keys(host.keys).sort()).toEqual(['durableTask', 'eventGrid', 'function', 'master']);
      const res = await fetch(`${host.baseUrl}/api/echo/dave`);
      expect(res.status).toBe(200);
      expect(lines.some((l) => /^\[host\] echo \([0-9a-f-]{36}\) Succeeded in \d+ms$/.test(l))).toBe(true);
      await expect(startHost(options)).rejects.toThrow('an app is already loaded in this process');
    } finally {
      await host.stop();
    }
    await expect(fetch(`${host.baseUrl}/api/echo/dave`)).rejects.toThrow();
  });
});
