// The compiled main.bicep sets exactly the app settings the code reads (src/config/settings.ts), with the same
// defaults, values the app accepts, and nothing the code does not read except what the Functions host needs.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { loadSettings, SETTING_SPECS, type Settings } from '../../../src/config/settings.js';
import { compiled, US_GOVERNMENT_CLOUD } from '../../support/arm.js';
import { appSettings, deployMain, describeBicep, FULL_PARAMETERS } from '../../support/infra.js';

const root = resolve(__dirname, '../../..');
const specs = Object.entries(SETTING_SPECS) as [keyof Settings, (typeof SETTING_SPECS)[keyof Settings]][];

// Settings whose value comes from a deployed resource rather than from a parameter.
const DERIVED: Partial<Record<keyof Settings, string>> = {
  notificationTopicEndpoint: 'CASCADE_NOTIFICATION_TOPIC_ENDPOINT',
  appIdentityClientId: 'AZURE_CLIENT_ID',
  // Identity-based host storage: the connection is named by account, never by a key-bearing string.
  storageConnection: 'AzureWebJobsStorage__accountName',
};

// App settings that belong to the Functions host or its extensions, not to the app's code.
const HOST_SETTINGS = [
  /^AzureWebJobsStorage__(accountName|credential|clientId|tableServiceUri)$/,
  /^APPLICATIONINSIGHTS_(CONNECTION|AUTHENTICATION)_STRING$/,
  /^FUNCTIONS_(EXTENSION_VERSION|WORKER_RUNTIME)$/,
  /^WEBSITE_RUN_FROM_PACKAGE$/,
  /^DURABLE_TASK_SCHEDULER_CONNECTION_STRING$/,
  /^AzureFunctionsJobHost__extensions__durableTask__storageProvider__(type|connectionStringName)$/,
];

describeBicep('app settings of the compiled main.bicep', () => {
  const defaults = appSettings(deployMain({ environmentName: 'dev' }));

  it('include every setting the app reads', () => {
    const missing = specs.map(([key, spec]) => DERIVED[key] ?? spec.env).filter((env) => !(env in defaults));
    expect(missing).toEqual([]);
  });

  it('include nothing the app does not read, apart from the Functions host settings', () => {
    const envs = new Set(specs.map(([, spec]) => spec.env as string));
    const unknown = Object.keys(defaults).filter((k) => !envs.has(k) && !HOST_SETTINGS.some((p) => p.test(k)));
    expect(unknown).toEqual([]);
  });

  it('default like the app (the ARM endpoint: the cloud deployed to)', () => {
    const differences = specs
      .filter(([key]) => !DERIVED[key] && !['armEndpoint', 'armAudience', 'authorityHost', 'apiTenantId'].includes(key))
      .filter(([, spec]) => defaults[spec.env] !== spec.default)
      .map(([, spec]) => `${spec.env}: template '${defaults[spec.env]}', app '${spec.default}'`);
    expect(differences).toEqual([]);
    expect(defaults.CASCADE_ARM_ENDPOINT).toBe('https://management.azure.com/');
    const gov = appSettings(deployMain({ environmentName: 'dev' }, { environment: US_GOVERNMENT_CLOUD }));
    expect(gov.CASCADE_ARM_ENDPOINT).toBe('https://management.usgovcloudapi.net/');
    expect(gov.CASCADE_ARM_AUDIENCE).toBe('https://management.usgovcloudapi.net/');
    expect(loadSettings({ ...gov, CASCADE_NOTIFICATION_TOPIC_ENDPOINT: '' })).toMatchObject({
      armAudience: expect.stringMatching(/^https:\/\/management\.usgovcloudapi\.net\/?$/),
    });
    expect(defaults.CASCADE_ARM_AUDIENCE).toBe('https://management.azure.com/');
    // The table endpoint is the account's own (never a public-cloud suffix built by the app).
    expect(gov.AzureWebJobsStorage__tableServiceUri).toMatch(
      /Microsoft\.Storage\/storageAccounts\/.*primaryEndpoints\.table>$/,
    );
    // Entra ID: the cloud's authority host and the deployment's tenant unless told otherwise.
    expect(defaults.CASCADE_AUTHORITY_HOST).toBe('https://login.microsoftonline.com/');
    expect(gov.CASCADE_AUTHORITY_HOST).toBe('https://login.microsoftonline.us/');
    expect(defaults.CASCADE_API_TENANT_ID).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('carry each parameter into its setting, in a form the app accepts', () => {
    const values = {
      ...FULL_PARAMETERS,
      settleSeconds: 7,
      maxParallelRuns: 9,
      transientRetries: 2,
      pollInitialSeconds: 3,
      pollMaxSeconds: 33,
      claimTimeoutSeconds: 120,
      autoRemediate: true,
      secretWarningDays: 14,
      credentialCheckSchedule: '0 30 2 * * *',
      indexRefreshSchedule: '0 */5 * * * *',
      keyVaultVerifyChallengeResource: false,
      taskHub: 'CascadeProd',
    };
    const set = appSettings(deployMain(values));
    const settings = loadSettings({ ...set, CASCADE_NOTIFICATION_TOPIC_ENDPOINT: 'https://topic.example/api/events' });
    expect(settings).toMatchObject({
      watchedRegistries: FULL_PARAMETERS.watchedRegistries,
      watchedVaults: FULL_PARAMETERS.watchedVaults,
      managedScopes: FULL_PARAMETERS.managedScopes,
      settleSeconds: 7,
      maxParallelRuns: 9,
      transientRetries: 2,
      pollInitialSeconds: 3,
      pollMaxSeconds: 33,
      claimTimeoutSeconds: 120,
      autoRemediate: true,
      secretWarningDays: 14,
      credentialCheckSchedule: '0 30 2 * * *',
      indexRefreshSchedule: '0 */5 * * * *',
      keyVaultVerifyChallengeResource: false,
      taskHub: 'CascadeProd',
    });
    expect(set.CASCADE_NOTIFICATION_TOPIC_ENDPOINT).toMatch(/Microsoft\.EventGrid\/topics\/.*endpoint/);
  });

  it('use identity-based host storage and never a key-bearing connection string', () => {
    expect(defaults).not.toHaveProperty('AzureWebJobsStorage');
    expect(defaults.AzureWebJobsStorage__credential).toBe('managedidentity');
    expect(defaults.AzureWebJobsStorage__accountName).toMatch(/^stcascade[a-z0-9]{13}$/);
    expect(defaults.AZURE_CLIENT_ID).toBe('');
    expect(defaults.APPLICATIONINSIGHTS_AUTHENTICATION_STRING).toBe('Authorization=AAD');
    const user = appSettings(deployMain({ environmentName: 'dev', appIdentityType: 'UserAssigned' }));
    expect(user.AZURE_CLIENT_ID).toBe('<appIdentity.clientId>');
    expect(user.AzureWebJobsStorage__clientId).toBe(user.AZURE_CLIENT_ID);
    expect(user.APPLICATIONINSIGHTS_AUTHENTICATION_STRING).toBe('Authorization=AAD;ClientId=<appIdentity.clientId>');
  });

  it('keep Flex Consumption free of the settings it rejects (no FUNCTIONS_*/WEBSITE_RUN_FROM_PACKAGE)', () => {
    expect(Object.keys(defaults).filter((k) => /^(FUNCTIONS_|WEBSITE_)/.test(k))).toEqual([]);
  });

  it('wire the Durable Task Scheduler through settings that override host.json', () => {
    const dts = appSettings(deployMain({ environmentName: 'dev', durableBackend: 'DurableTaskScheduler' }));
    expect(dts).toMatchObject({
      AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: 'azureManaged',
      AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName:
        'DURABLE_TASK_SCHEDULER_CONNECTION_STRING',
    });
    expect(dts.DURABLE_TASK_SCHEDULER_CONNECTION_STRING).toMatch(/^Endpoint=<.*>;Authentication=ManagedIdentity$/);
    const host = JSON.parse(readFileSync(join(root, 'host.json'), 'utf8')) as {
      extensions: { durableTask: { hubName: string } };
    };
    expect(host.extensions.durableTask.hubName).toBe('%CASCADE_TASK_HUB%');
  });

  it('bound numeric parameters exactly as the app validates them', () => {
    const params = compiled('main').parameters as Record<string, { minValue?: number; maxValue?: number }>;
    const bounds = (name: string) => [params[name]?.minValue, params[name]?.maxValue];
    expect(bounds('settleSeconds')).toEqual([0, 3600]);
    expect(bounds('maxParallelRuns')).toEqual([1, 1000]);
    expect(bounds('transientRetries')).toEqual([0, 3]);
    expect(bounds('pollInitialSeconds')).toEqual([1, 600]);
    expect(bounds('pollMaxSeconds')).toEqual([1, 3600]);
    expect(bounds('claimTimeoutSeconds')).toEqual([10, 3600]);
    expect(bounds('secretWarningDays')).toEqual([1, 365]);
  });

  it('bound the task hub name as the durable backend does, and the app refuses what the bounds cannot express', () => {
    const hub = (compiled('main').parameters as Record<string, { minLength?: number; maxLength?: number }>).taskHub;
    expect([hub?.minLength, hub?.maxLength]).toEqual([3, 45]);
    // Bicep has no pattern decorator: a name of the right length but the wrong shape is refused by the app.
    const settings = appSettings(deployMain({ environmentName: 'dev', taskHub: 'acr-cascade' }));
    expect(settings.CASCADE_TASK_HUB).toBe('acr-cascade');
    expect(() => loadSettings({ CASCADE_TASK_HUB: settings.CASCADE_TASK_HUB })).toThrow(
      /^CASCADE_TASK_HUB: 'acr-cascade' is not a task hub name/,
    );
  });
});

describeBicep('infra/main.parameters.json (azd) against the compiled parameters', () => {
  const raw = readFileSync(join(root, 'infra', 'main.parameters.json'), 'utf8');
  // azd substitutes ${NAME} and ${NAME=default} in the text before parsing it; do the same with defaults.
  const substituted = raw.replace(
    /\$\{([A-Z0-9_]+)(?:=([^}]*))?\}/g,
    (_m, _n: string, fallback?: string) => fallback ?? '',
  );
  const parameters = (JSON.parse(substituted) as { parameters: Record<string, { value: unknown }> }).parameters;
  const declared = compiled('main').parameters as Record<string, { type: string; defaultValue?: unknown }>;

  it('names only parameters of main.bicep, with values of the declared types', () => {
    const typeOf = (v: unknown) =>
      Array.isArray(v) ? 'array' : typeof v === 'number' ? 'int' : typeof v === 'boolean' ? 'bool' : typeof v;
    const wrong = Object.entries(parameters)
      .filter(([name, { value }]) => declared[name]?.type !== typeOf(value))
      .map(([name, { value }]) => `${name}: ${JSON.stringify(value)} for ${declared[name]?.type ?? 'no such param'}`);
    expect(wrong).toEqual([]);
  });

  it('passes every required parameter', () => {
    const required = Object.entries(declared).filter(([, p]) => !('defaultValue' in p));
    expect(required.map(([name]) => name).filter((name) => !(name in parameters))).toEqual([]);
  });

  it('defaults each setting like the app (an empty schedule means the app default)', () => {
    const differences: string[] = [];
    for (const [key, spec] of specs) {
      if (!(key in parameters)) continue;
      const v = parameters[key]?.value;
      const value = Array.isArray(v) ? v.join(',') : String(v);
      if (value !== spec.default && value !== '') differences.push(`${key}: '${value}' vs '${spec.default}'`);
    }
    expect(differences).toEqual([]);
  });
});
