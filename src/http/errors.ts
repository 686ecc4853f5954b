// The one error model of the HTTP API: every failure answers `{ error: { code, message, field? } }` with a status
// that follows from the code (docs/operations.md lists them). Handlers throw ApiError; `route` turns it — and the
// known failures from below (settings, Azure calls) — into that shape, so no route builds an error body by hand.
import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { loadSettings, SettingsError } from '../config/settings.js';
import { authenticate, authorize, type Caller, type Role } from './auth.js';
import { AzureError } from '../azure/adapters.js';
import { logger } from '../telemetry/log.js';

/** Every code the API answers with, and the HTTP status each one always has. */
export const ERROR_STATUS = {
  /** A malformed or out-of-range input; `field` names it (`body`, `image`, `tasks[2]`, `id`, `status`, …). */
  InvalidInput: 400,
  /** No credentials: neither a signed-in principal nor (when enabled) a function key. */
  Unauthenticated: 401,
  /** Signed in, but without the app role the operation needs (the message names the role). */
  MissingRole: 403,
  /** A task or registry outside CASCADE_MANAGED_SCOPES / the watched registries. */
  OutsideManagedScopes: 403,
  /** No cascade (or check) with that id. */
  NotFound: 404,
  /** The operation does not fit the current state (e.g. cancel of a cascade that has ended). */
  NotRunning: 409,
  /** An Azure call the route depends on failed; `message` names the operation. */
  UpstreamFailed: 502,
  /** An app setting is missing or invalid; `field` names the setting (never its value). */
  Misconfigured: 503,
  /** A defect in acr-cascade; details are in the function log under the invocation id. */
  InternalError: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorBody {
  error: { code: ErrorCode; message: string; field?: string };
}

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = ERROR_STATUS[code];
  }
}

export function invalid(field: string, message: string): ApiError {
  return new ApiError('InvalidInput', message, field);
}

export function errorResponse(err: ApiError): HttpResponseInit {
  const body: ErrorBody = {
    error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) },
  };
  return {
    status: err.status,
    jsonBody: body,
    ...(err.code === 'Unauthenticated' ? { headers: { 'WWW-Authenticate': 'Bearer' } } : {}),
  };
}

/** Known failures → ApiError; anything else → undefined (a defect). */
export function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof SettingsError) {
    // The setting's name only: its value may be a secret or an internal URL.
    return new ApiError('Misconfigured', `app setting ${err.setting} is missing or invalid`, err.setting);
  }
  if (err instanceof AzureError) {
    return new ApiError(
      'UpstreamFailed',
      `${err.operation} failed: ${err.code}${err.statusCode ? ` (HTTP ${err.statusCode})` : ''}`,
    );
  }
  return undefined;
}

const callers = new WeakMap<HttpRequest, Caller>();

/** The authenticated caller of a request that passed `route` (who started a cascade or check is recorded). */
export function callerOf(req: HttpRequest): Caller {
  const c = callers.get(req);
  if (!c) throw new Error('callerOf: the request did not pass route()');
  return c;
}

/**
 * Host-level auth of the API routes, read at registration: with function keys the host checks the key; with Entra ID
 * the route is anonymous at the host and `route` checks the bearer token. Invalid settings stay closed (keys).
 */
export function apiAuthLevel(): 'function' | 'anonymous' {
  try {
    return loadSettings().apiAuth === 'entra' ? 'anonymous' : 'function';
  } catch {
    return 'function';
  }
}

/**
 * Wraps a route handler: authenticates the caller in the configured mode and requires the app role the route needs
 * (Operator for anything that starts, cancels or changes); ApiError and known failures become the error body; an
 * unexpected error is logged with the invocation id and answered as InternalError without its text (it may quote
 * inputs or upstream bodies).
 */
export function route(role: Role, handler: HttpHandler): HttpHandler {
  return async (req: HttpRequest, context: InvocationContext) => {
    try {
      const caller = await authenticate(req, loadSettings());
      authorize(caller, role);
      callers.set(req, caller);
      return await handler(req, context);
    } catch (err) {
      const api = toApiError(err);
      const log = logger(context);
      if (api) {
        if (api.status >= 500) log.warn('http.failed', `${req.method} ${context.functionName}: ${api.message}`);
        return errorResponse(api);
      }
      log.error(
        'http.defect',
        `${req.method} ${context.functionName}: ${err instanceof Error ? err.stack : String(err)}`,
      );
      return errorResponse(
        new ApiError(
          'InternalError',
          `unexpected failure; see the function log for invocation ${context.invocationId}`,
        ),
      );
    }
  };
}
