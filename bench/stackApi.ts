// The calls both stack benchmarks make: the emulator's admin API, the app's HTTP API with the stack's function key,
// and an index refresh waited for through the API's own status route.
import type { RunningStack } from '../local/stack/stack.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function stackApi(s: RunningStack) {
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${s.emu.armEndpoint}/_emulator${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.status === 204 ? undefined : ((await res.json()) as unknown);
  };
  const call = async (method: string, path: string) => {
    const f = s.description.functions;
    const res = await fetch(`${f.baseUrl}${path}${path.includes('?') ? '&' : '?'}code=${f.functionKey}`, { method });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const refreshIndex = async () => {
    const refresh = await call('POST', '/api/index/refresh');
    if (refresh.status !== 202)
      throw new Error(`POST /api/index/refresh: ${refresh.status} ${JSON.stringify(refresh.json)}`);
    for (;;) {
      const { status } = (await call('GET', '/api/index/refresh')).json as { status?: string };
      if (status === 'Completed') return;
      if (status === 'Failed') throw new Error('index refresh failed');
      await sleep(250);
    }
  };
  return { admin, call, refreshIndex };
}
