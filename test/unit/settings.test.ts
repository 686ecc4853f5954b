import { describe, expect, it } from 'vitest';
import { loadSettings, SettingsError } from '../../src/config/settings.js';

const BASE = '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/mybaseregistry';

describe('settings', () => {
  it('gives every setting a safe default', () => {
    const s = loadSettings({});
    expect(s).toMatchObject({ settleSeconds: 30, maxParallelRuns: 20, autoRemediate: false, secretWarningDays: 30 });
    expect(s.watchedRegistries).toEqual([]);
    expect(s.armEndpoint).toBe('https://management.azure.com');
  });

  it('parses comma-separated registry ids', () => {
    expect(loadSettings({ CASCADE_WATCHED_REGISTRIES: `${BASE}, ${BASE}2` }).watchedRegistries).toEqual([
      BASE,
      `${BASE}2`,
    ]);
  });

  it('names the setting that is malformed', () => {
    expect(() => loadSettings({ CASCADE_SETTLE_SECONDS: 'soon' })).toThrow(SettingsError);
    expect(() => loadSettings({ CASCADE_SETTLE_SECONDS: 'soon' })).toThrow(/^CASCADE_SETTLE_SECONDS: 'soon'/);
    expect(() => loadSettings({ CASCADE_WATCHED_REGISTRIES: 'mybaseregistry' })).toThrow(
      /CASCADE_WATCHED_REGISTRIES: 'mybaseregistry' is not a container registry resource id/,
    );
    expect(() => loadSettings({ CASCADE_CREDENTIAL_CHECK_SCHEDULE: '0 3 * * *' })).toThrow(/6-field NCRONTAB/);
    expect(() => loadSettings({ CASCADE_ARM_ENDPOINT: 'http://x' })).toThrow(/CASCADE_ARM_ENDPOINT/);
    for (const bad of ['ab', '1Hub', 'acr-cascade', 'a'.repeat(46)]) {
      expect(() => loadSettings({ CASCADE_TASK_HUB: bad })).toThrow(
        `CASCADE_TASK_HUB: '${bad}' is not a task hub name: 3-45 letters and digits, starting with a letter`,
      );
    }
    expect(() => loadSettings({ CASCADE_TASK_HUB: 'Cascade' })).toThrow(
      "CASCADE_TASK_HUB: 'Cascade' would make the durable backend use the app's own table CascadeHistory",
    );
    expect(loadSettings({ CASCADE_TASK_HUB: 'Acr2Cascade' }).taskHub).toBe('Acr2Cascade');
  });
});
