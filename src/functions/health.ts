import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { loadSettings, SettingsError } from '../config/settings.js';

/** GET /api/health — is the app configured? Names the first bad setting instead of failing later. */
export async function health(_req: HttpRequest): Promise<HttpResponseInit> {
  try {
    const s = loadSettings();
    return {
      status: 200,
      jsonBody: {
        status: 'ok',
        watchedRegistries: s.watchedRegistries.length,
        watchedVaults: s.watchedVaults.length,
        managedScopes: s.managedScopes.length,
      },
    };
  } catch (err) {
    if (err instanceof SettingsError) {
      return { status: 503, jsonBody: { status: 'misconfigured', setting: err.setting, message: err.message } };
    }
    throw err;
  }
}

app.http('health', { route: 'health', methods: ['GET'], authLevel: 'anonymous', handler: health });
