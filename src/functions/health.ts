import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { loadSettings, SettingsError } from '../config/settings.js';

/**
 * GET /api/health (anonymous) — is the app configured? Names the first bad setting, never its value (the value may be
 * an internal URL or worse; the function log has the full message).
 */
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
      return {
        status: 503,
        jsonBody: {
          status: 'misconfigured',
          setting: err.setting,
          error: {
            code: 'Misconfigured',
            field: err.setting,
            message: `app setting ${err.setting} is missing or invalid`,
          },
        },
      };
    }
    throw err;
  }
}

app.http('health', { route: 'health', methods: ['GET'], authLevel: 'anonymous', handler: health });
