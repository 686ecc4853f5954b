// Reads the app's host.json, local.settings.json and package.json the way Core Tools does, so the same app folder
// runs under `func start` and here.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export class HostConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HostConfigError';
  }
}

export interface HostConfig {
  appRoot: string;
  /** Absolute path of package.json `main`. */
  mainFile: string;
  /** `extensions.http.routePrefix` without slashes ('' allowed). */
  routePrefix: string;
  /** `extensions.durableTask.hubName`, settings resolved. */
  hubName: string;
  /** `functionTimeout` in ms; undefined = unlimited. */
  functionTimeoutMs: number | undefined;
  /** The text of functionTimeout, for messages. */
  functionTimeoutText: string | undefined;
  maxConcurrentActivities: number;
  maxConcurrentOrchestrations: number;
  /** local.settings.json `Host.LocalHttpPort`, if any. */
  localHttpPort: number | undefined;
}

export type Env = Record<string, string | undefined>;

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new HostConfigError(`cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text.replace(/^\uFEFF/, '')) as unknown;
  } catch (err) {
    throw new HostConfigError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `Values` of local.settings.json as strings (absent file = no values). */
export function readLocalSettings(appRoot: string): { values: Record<string, string>; localHttpPort?: number } {
  const file = path.join(appRoot, 'local.settings.json');
  if (!existsSync(file)) return { values: {} };
  const json = readJson(file);
  if (!isRecord(json)) throw new HostConfigError(`${file}: expected a JSON object`);
  if (json.IsEncrypted === true) {
    throw new HostConfigError(`${file}: encrypted settings are not supported; run 'func settings decrypt' first`);
  }
  const values: Record<string, string> = {};
  if (json.Values !== undefined) {
    if (!isRecord(json.Values)) throw new HostConfigError(`${file}: Values must be an object`);
    for (const [k, v] of Object.entries(json.Values)) {
      if (v === null || v === undefined) continue;
      values[k] = typeof v === 'string' ? v : JSON.stringify(v);
    }
  }
  const host = isRecord(json.Host) ? json.Host : {};
  const port = host.LocalHttpPort;
  return typeof port === 'number' ? { values, localHttpPort: port } : { values };
}

/** Replaces `%NAME%` with the app setting NAME; an unset setting is an error naming `where`. */
export function resolveSettingRefs(text: string, env: Env, where: string): string {
  return text.replace(/%([^%\s]+)%/g, (_m, name: string) => {
    const v = env[name];
    if (v === undefined) throw new HostConfigError(`${where} refers to app setting '${name}', which is not set`);
    return v;
  });
}

/** Parses a .NET TimeSpan ("hh:mm:ss", "d.hh:mm:ss", "hh:mm:ss.fff"). */
export function parseTimeSpan(text: string): number {
  const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$/.exec(text.trim());
  if (!m) throw new HostConfigError(`'${text}' is not a TimeSpan (expected hh:mm:ss)`);
  const [, d = '0', h = '0', min = '0', s = '0', frac = ''] = m;
  const ms = frac ? Number(`0.${frac}`) * 1000 : 0;
  return ((Number(d) * 24 + Number(h)) * 60 + Number(min)) * 60_000 + Number(s) * 1000 + ms;
}

function positiveInt(v: unknown, where: string, fallback: number): number {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new HostConfigError(`host.json ${where} must be a positive integer`);
  }
  return v;
}

const HUB_NAME = /^[A-Za-z][A-Za-z0-9]{2,44}$/;

/** Reads host.json and package.json. `env` must already contain local.settings.json values. */
export function readHostConfig(appRoot: string, env: Env, localHttpPort?: number): HostConfig {
  const root = path.resolve(appRoot);
  const pkg = readJson(path.join(root, 'package.json'));
  if (!isRecord(pkg) || typeof pkg.main !== 'string' || pkg.main === '') {
    throw new HostConfigError(`${path.join(root, 'package.json')}: "main" must name the app's entry file`);
  }
  if (/[*?{}[\]]/.test(pkg.main)) {
    throw new HostConfigError(`package.json "main" globs are not supported by the local host: '${pkg.main}'`);
  }
  const mainFile = path.resolve(root, pkg.main);

  const hostFile = path.join(root, 'host.json');
  const host = existsSync(hostFile) ? readJson(hostFile) : {};
  if (!isRecord(host)) throw new HostConfigError(`${hostFile}: expected a JSON object`);
  const extensions = isRecord(host.extensions) ? host.extensions : {};
  const http = isRecord(extensions.http) ? extensions.http : {};
  const durable = isRecord(extensions.durableTask) ? extensions.durableTask : {};

  let routePrefix = 'api';
  if (http.routePrefix !== undefined) {
    if (typeof http.routePrefix !== 'string')
      throw new HostConfigError('host.json extensions.http.routePrefix must be a string');
    routePrefix = http.routePrefix.replace(/^\/+|\/+$/g, '');
  }

  let hubName = 'TestHubName';
  if (durable.hubName !== undefined) {
    if (typeof durable.hubName !== 'string')
      throw new HostConfigError('host.json extensions.durableTask.hubName must be a string');
    hubName = resolveSettingRefs(durable.hubName, env, 'host.json extensions.durableTask.hubName');
  }
  if (!HUB_NAME.test(hubName)) {
    throw new HostConfigError(
      `task hub name '${hubName}' is invalid: 3-45 letters or digits, starting with a letter (Azure Storage rules)`,
    );
  }

  let functionTimeoutMs: number | undefined;
  let functionTimeoutText: string | undefined;
  if (typeof host.functionTimeout === 'string' && host.functionTimeout !== '-1') {
    functionTimeoutText = host.functionTimeout;
    functionTimeoutMs = parseTimeSpan(host.functionTimeout);
  } else if (host.functionTimeout !== undefined && host.functionTimeout !== null && host.functionTimeout !== '-1') {
    throw new HostConfigError('host.json functionTimeout must be a TimeSpan string such as "00:10:00"');
  }

  return {
    appRoot: root,
    mainFile,
    routePrefix,
    hubName,
    functionTimeoutMs,
    functionTimeoutText,
    maxConcurrentActivities: positiveInt(
      durable.maxConcurrentActivityFunctions,
      'extensions.durableTask.maxConcurrentActivityFunctions',
      16,
    ),
    maxConcurrentOrchestrations: positiveInt(
      durable.maxConcurrentOrchestratorFunctions,
      'extensions.durableTask.maxConcurrentOrchestratorFunctions',
      16,
    ),
    localHttpPort,
  };
}
