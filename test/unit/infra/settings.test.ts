// The templates set exactly the app settings the code reads (src/config/settings.ts), with the same defaults, and
// nothing the code does not read except what the Functions host itself needs.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SETTING_SPECS, type Settings } from '../../../src/config/settings.js';
import {
  type BicepExpr,
  declaration,
  declarationsOf,
  evaluateLiteral,
  loadBicep,
  objectKeysOf,
  property,
} from '../../support/bicep.js';

const root = resolve(__dirname, '../../..');
const main = loadBicep(join(root, 'infra', 'main.bicep'));
const appSettingsVar = declaration(main, 'var', 'appSettings');
const appSettings = appSettingsVar ? objectKeysOf(main, appSettingsVar.value) : new Map<string, BicepExpr>();

// Settings whose value comes from a deployed resource rather than from a parameter.
const DERIVED: Partial<Record<keyof Settings, { key: string; from: RegExp }>> = {
  notificationTopicEndpoint: {
    key: 'CASCADE_NOTIFICATION_TOPIC_ENDPOINT',
    from: /^notificationTopic\.outputs\.endpoint$/,
  },
  appIdentityClientId: { key: 'AZURE_CLIENT_ID', from: /^appClientId$/ },
  // Identity-based host storage: the connection is named by account, never by a key-bearing string.
  storageConnection: { key: 'AzureWebJobsStorage__accountName', from: /^storage\.outputs\.name$/ },
};

// App settings that belong to the Functions host or its extensions, not to the app's code.
const HOST_SETTINGS = [
  /^AzureWebJobsStorage__(accountName|credential|clientId)$/,
  /^APPLICATIONINSIGHTS_CONNECTION_STRING$/,
  /^FUNCTIONS_(EXTENSION_VERSION|WORKER_RUNTIME)$/,
  /^WEBSITE_RUN_FROM_PACKAGE$/,
  /^DURABLE_TASK_SCHEDULER_CONNECTION_STRING$/,
  /^AzureFunctionsJobHost__extensions__durableTask__storageProvider__(type|connectionStringName)$/,
];

const specs = Object.entries(SETTING_SPECS) as [keyof Settings, (typeof SETTING_SPECS)[keyof Settings]][];

function text(expr: BicepExpr | undefined): string {
  return expr?.kind === 'expr' ? expr.text : JSON.stringify(expr);
}

/** The setting's default as the app would see the parameter default once written into the app setting. */
function asSettingText(value: unknown): string | undefined {
  if (Array.isArray(value)) return value.join(',');
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

describe('app settings in main.bicep', () => {
  it('are collected from one appSettings variable that the Function App receives', () => {
    expect(appSettings.size).toBeGreaterThan(specs.length);
    const functionApp = declaration(main, 'module', 'functionApp');
    expect(text(property(property(functionApp?.body, 'params'), 'appSettings'))).toBe('appSettings');
    const module = loadBicep(join(root, 'infra', 'modules', 'function-app.bicep'));
    const list = declaration(module, 'var', 'settingsList')?.value;
    expect(list?.kind === 'for' ? text(list.source) : '').toBe('items(appSettings)');
    expect(text(property(declaration(module, 'var', 'baseSiteConfig')?.value, 'appSettings'))).toBe('settingsList');
  });

  it('include every setting the app reads', () => {
    const missing = specs.map(([key, spec]) => DERIVED[key]?.key ?? spec.env).filter((env) => !appSettings.has(env));
    expect(missing).toEqual([]);
  });

  it('include nothing the app does not read, apart from the Functions host settings', () => {
    const envs = new Set(specs.map(([, spec]) => spec.env as string));
    const unknown = [...appSettings.keys()].filter(
      (key) => !envs.has(key) && !HOST_SETTINGS.some((pattern) => pattern.test(key)),
    );
    expect(unknown).toEqual([]);
    const cascade = [...appSettings.keys()].filter((key) => key.startsWith('CASCADE_'));
    expect(cascade.filter((key) => !envs.has(key))).toEqual([]);
  });

  it('never set a plain AzureWebJobsStorage connection string (no account key)', () => {
    expect(appSettings.has('AzureWebJobsStorage')).toBe(false);
    expect(evaluateLiteral(main, appSettings.get('AzureWebJobsStorage__credential'))).toBe('managedidentity');
  });

  it('take each value from the parameter named like the setting, or from the resource it describes', () => {
    const wrong: string[] = [];
    for (const [key, spec] of specs) {
      const derived = DERIVED[key];
      const value = appSettings.get(derived?.key ?? spec.env);
      if (derived) {
        if (!derived.from.test(text(value))) wrong.push(`${spec.env} = ${text(value)}`);
      } else if (value?.kind !== 'expr' || !value.refs.includes(key)) {
        wrong.push(`${spec.env} = ${text(value)} (expected a use of param '${key}')`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('have one parameter per setting with the same default as the app', () => {
    const differences: string[] = [];
    for (const [key, spec] of specs) {
      if (DERIVED[key]) continue;
      const param = declaration(main, 'param', key);
      if (!param) {
        differences.push(`no param '${key}'`);
        continue;
      }
      if (key === 'armEndpoint') continue; // checked below: the cloud's own endpoint
      const fallback = asSettingText(evaluateLiteral(main, param.defaultValue));
      if (fallback !== spec.default) differences.push(`${key}: template '${fallback}', app '${spec.default}'`);
    }
    expect(differences).toEqual([]);
  });

  it('default the ARM endpoint to the cloud being deployed to (the app default in the public cloud)', () => {
    expect(text(declaration(main, 'param', 'armEndpoint')?.defaultValue)).toBe('environment().resourceManager');
    expect(SETTING_SPECS.armEndpoint.default).toBe('https://management.azure.com');
  });

  it('bound numeric parameters exactly as the app validates them', () => {
    const bounds = (name: string) => {
      const param = declaration(main, 'param', name);
      const value = (decorator: string) =>
        evaluateLiteral(main, param?.decorators.find((d) => d.name === decorator)?.args[0]);
      return [value('minValue'), value('maxValue')];
    };
    expect(bounds('settleSeconds')).toEqual([0, 3600]);
    expect(bounds('maxParallelRuns')).toEqual([1, 500]);
    expect(bounds('transientRetries')).toEqual([0, 3]);
    expect(bounds('pollInitialSeconds')).toEqual([1, 600]);
    expect(bounds('pollMaxSeconds')).toEqual([1, 3600]);
    expect(bounds('secretWarningDays')).toEqual([1, 365]);
  });

  it('keep the Flex Consumption plan free of the settings it rejects', () => {
    const planSettings = declaration(main, 'var', 'planSettings')?.value;
    expect(text(planSettings)).toMatch(/^hostingPlan == 'ElasticPremium' \? \{/);
    for (const name of ['cascadeSettings', 'hostSettings']) {
      const keys = [...objectKeysOf(main, declaration(main, 'var', name)!.value).keys()];
      expect(keys.filter((k) => /^(FUNCTIONS_|WEBSITE_)/.test(k))).toEqual([]);
    }
  });
});

describe('infra/main.parameters.json (azd)', () => {
  const raw = readFileSync(join(root, 'infra', 'main.parameters.json'), 'utf8');
  // azd substitutes ${NAME} and ${NAME=default} in the text before parsing it; do the same with defaults.
  const substituted = raw.replace(
    /\$\{([A-Z0-9_]+)(?:=([^}]*))?\}/g,
    (_m, _name: string, fallback?: string) => fallback ?? '',
  );
  const parameters = (JSON.parse(substituted) as { parameters: Record<string, { value: unknown }> }).parameters;

  it('names only parameters of main.bicep, with values of the declared types', () => {
    const params = new Map(declarationsOf(main, 'param').map((p) => [p.name, p.type]));
    const typeOf = (v: unknown) =>
      Array.isArray(v) ? 'array' : typeof v === 'number' ? 'int' : typeof v === 'boolean' ? 'bool' : typeof v;
    const wrong = Object.entries(parameters)
      .filter(([name, { value }]) => params.get(name) !== typeOf(value))
      .map(([name, { value }]) => `${name}: ${JSON.stringify(value)} for ${params.get(name) ?? 'no such param'}`);
    expect(wrong).toEqual([]);
  });

  it('passes every required parameter', () => {
    const required = declarationsOf(main, 'param').filter((p) => p.defaultValue === undefined);
    expect(required.map((p) => p.name).filter((name) => !(name in parameters))).toEqual([]);
  });

  it('defaults each setting like the app (an empty schedule means the app default)', () => {
    const differences: string[] = [];
    for (const [key, spec] of specs) {
      if (!(key in parameters)) continue;
      const value = asSettingText(parameters[key]?.value);
      if (value !== spec.default && value !== '') differences.push(`${key}: '${value}' vs '${spec.default}'`);
    }
    expect(differences).toEqual([]);
  });
});
