// Every template under infra/ is structurally sound, and the facts the app depends on are in it.
import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type BicepExpr,
  checkBicepTree,
  declaration,
  declarationsOf,
  evaluateLiteral,
  listBicepFiles,
  loadBicep,
  property,
} from '../../support/bicep.js';

const root = resolve(__dirname, '../../..');
const infra = join(root, 'infra');
const load = (path: string) => loadBicep(join(infra, path));

/** Follows a chain of object properties from a resource or module body. */
function at(expr: BicepExpr | undefined, ...keys: string[]): BicepExpr | undefined {
  return keys.reduce<BicepExpr | undefined>((e, k) => property(e, k), expr);
}

function text(expr: BicepExpr | undefined): string {
  if (expr?.kind === 'expr') return expr.text;
  if (expr?.kind === 'string') return `'${expr.value}'`;
  return JSON.stringify(expr);
}

describe('infra templates', () => {
  it('all parse and pass the structure checks, and every file is reachable from main.bicep or events.bicep', () => {
    const files = listBicepFiles(infra).map((f) => relative(infra, f));
    expect(files).toContain('main.bicep');
    expect(files).toContain('events.bicep');
    const problems = checkBicepTree(infra).map((p) => `${relative(infra, p.file)}:${p.line}: ${p.message}`);
    expect(problems).toEqual([]);
  });

  it('deploy main.bicep and events.bicep at resource-group scope (az deployment group create works for both)', () => {
    expect(load('main.bicep').targetScope).toBe('resourceGroup');
    expect(load('events.bicep').targetScope).toBe('resourceGroup');
  });

  it('run the app on Node 20 with a Flex Consumption default and an Elastic Premium option', () => {
    const main = load('main.bicep');
    const plan = declaration(main, 'param', 'hostingPlan');
    expect(evaluateLiteral(main, plan?.defaultValue)).toBe('FlexConsumption');
    expect(evaluateLiteral(main, plan?.decorators.find((d) => d.name === 'allowed')?.args[0])).toEqual([
      'FlexConsumption',
      'ElasticPremium',
    ]);
    const app = load('modules/function-app.bicep');
    expect(evaluateLiteral(app, at(declaration(app, 'var', 'flexConfig')?.value, 'runtime'))).toEqual({
      name: 'node',
      version: '20',
    });
    expect(app.text).toContain("linuxFxVersion: 'Node|20'");
    const site = declarationsOf(app, 'resource').find((r) => r.type === 'Microsoft.Web/sites');
    expect(evaluateLiteral(app, property(site?.body, 'kind'))).toBe('functionapp,linux');
    // azd finds the app to deploy by this tag.
    expect(text(property(site?.body, 'tags'))).toContain("'azd-service-name': 'api'");
  });

  it('give the app a system-assigned identity, plus the user-assigned one when chosen', () => {
    const app = load('modules/function-app.bicep');
    const identity = declaration(app, 'var', 'identity')?.value;
    expect(identity?.kind).toBe('expr');
    const branches = identity?.kind === 'expr' ? identity.parts.map((p) => evaluateLiteral(app, at(p, 'type'))) : [];
    expect(branches).toEqual(['SystemAssigned, UserAssigned', 'SystemAssigned']);
  });

  it('keep no storage key anywhere: shared keys off, identity-based host storage, no listKeys', () => {
    const storage = load('modules/storage.bicep');
    const account = declarationsOf(storage, 'resource').find((r) => r.type === 'Microsoft.Storage/storageAccounts');
    expect(evaluateLiteral(storage, at(account?.body, 'properties', 'allowSharedKeyAccess'))).toBe(false);
    expect(evaluateLiteral(storage, at(account?.body, 'properties', 'allowBlobPublicAccess'))).toBe(false);
    for (const file of listBicepFiles(infra)) {
      const source = readFileSync(file, 'utf8');
      expect(source, relative(infra, file)).not.toMatch(/listKeys|AccountKey=|primaryKey|SharedAccessSignature/);
    }
  });

  it('create the four app tables and the deployment and dead-letter containers', () => {
    const main = load('main.bicep');
    expect(evaluateLiteral(main, declaration(main, 'var', 'appTables')?.value)).toEqual([
      'CascadeIndex',
      'CascadeHistory',
      'CredentialHealth',
      'CascadeDedupe',
    ]);
    const storage = declaration(main, 'module', 'storage');
    expect(text(at(storage?.body, 'params', 'tableNames'))).toBe('appTables');
    expect(at(storage?.body, 'params', 'containerNames')).toMatchObject({ kind: 'array' });
  });

  it('offer the Durable Task Scheduler as a backend, wired through app settings that override host.json', () => {
    const main = load('main.bicep');
    const backend = declaration(main, 'param', 'durableBackend');
    expect(evaluateLiteral(main, backend?.defaultValue)).toBe('AzureStorage');
    const durable = declaration(main, 'var', 'durableSettings')?.value;
    const keys = durable?.kind === 'expr' ? durable.parts.flatMap((p) => (p.kind === 'object' ? p.props : [])) : [];
    expect(keys.map((p) => p.key)).toEqual([
      'DURABLE_TASK_SCHEDULER_CONNECTION_STRING',
      'AzureFunctionsJobHost__extensions__durableTask__storageProvider__type',
      'AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName',
    ]);
    // host.json names the hub through the same setting the scheduler's task hub is created with.
    const host = JSON.parse(readFileSync(join(root, 'host.json'), 'utf8')) as {
      extensions: { durableTask: { hubName: string } };
    };
    expect(host.extensions.durableTask.hubName).toBe('%CASCADE_TASK_HUB%');
    expect(text(at(declaration(main, 'module', 'scheduler')?.body, 'params', 'taskHubName'))).toBe('taskHub');
  });

  it('publish outbound CloudEvents to a custom topic without local auth', () => {
    const topic = load('modules/notification-topic.bicep');
    const resource = declarationsOf(topic, 'resource')[0];
    expect(resource?.type).toBe('Microsoft.EventGrid/topics');
    expect(evaluateLiteral(topic, at(resource?.body, 'properties'))).toMatchObject({
      inputSchema: 'CloudEventSchemaV1_0',
      disableLocalAuth: true,
    });
  });

  it("subscribe the app's Event Grid functions with the Event Grid schema, a retry policy and dead-letter", () => {
    const events = load('events.bicep');
    const literal = (name: string) => evaluateLiteral(events, declaration(events, 'var', name)?.value);
    expect(literal('registryFunctionName')).toBe('onRegistryEvent');
    expect(literal('vaultFunctionName')).toBe('onVaultEvent');
    expect(literal('registryEventTypes')).toEqual([
      'Microsoft.ContainerRegistry.ImagePushed',
      'Microsoft.ContainerRegistry.ImageDeleted',
    ]);
    expect(literal('vaultEventTypes')).toEqual([
      'Microsoft.KeyVault.SecretNewVersionCreated',
      'Microsoft.KeyVault.SecretNearExpiry',
      'Microsoft.KeyVault.SecretExpired',
    ]);
    for (const name of ['registrySubscriptions', 'vaultSubscriptions']) {
      const params = at(declaration(events, 'module', name)?.body, 'params');
      expect(text(property(params, 'functionResourceId'))).toMatch(
        /^resourceId\('Microsoft\.Web\/sites\/functions', functionAppName, (registry|vault)FunctionName\)$/,
      );
    }
    const sub = load('modules/events/topic-subscription.bicep');
    const resource = declarationsOf(sub, 'resource').find((r) => !r.existing);
    expect(resource?.type).toBe('Microsoft.EventGrid/systemTopics/eventSubscriptions');
    const properties = at(resource?.body, 'properties');
    expect(evaluateLiteral(sub, at(properties, 'destination', 'endpointType'))).toBe('AzureFunction');
    expect(evaluateLiteral(sub, property(properties, 'eventDeliverySchema'))).toBe('EventGridSchema');
    expect(text(at(properties, 'retryPolicy', 'maxDeliveryAttempts'))).toBe('maxDeliveryAttempts');
    expect(evaluateLiteral(sub, at(properties, 'deadLetterWithResourceIdentity', 'identity'))).toEqual({
      type: 'SystemAssigned',
    });
    expect(
      evaluateLiteral(sub, at(properties, 'deadLetterWithResourceIdentity', 'deadLetterDestination', 'endpointType')),
    ).toBe('StorageBlob');
  });

  it('create system topics on registries and vaults in their own resource groups, for each watched id', () => {
    const events = load('events.bicep');
    for (const [name, source, topicType] of [
      ['registryTopics', 'watchedRegistries', 'Microsoft.ContainerRegistry.Registries'],
      ['vaultTopics', 'watchedVaults', 'Microsoft.KeyVault.vaults'],
    ] as const) {
      const module = declaration(events, 'module', name);
      expect(text(module?.loop?.source)).toBe(source);
      expect(text(property(module?.body, 'scope'))).toMatch(
        /^resourceGroup\(split\(\w+, '\/'\)\[2\], split\(\w+, '\/'\)\[4\]\)$/,
      );
      const topicFile = loadBicep(join(infra, 'events.bicep', '..', module?.path ?? ''));
      const topic = declarationsOf(topicFile, 'resource').find((r) => r.type === 'Microsoft.EventGrid/systemTopics');
      expect(evaluateLiteral(topicFile, at(topic?.body, 'properties', 'topicType'))).toBe(topicType);
    }
  });

  it('pass events.bicep exactly the parameters main.bicep outputs for the postdeploy hook', () => {
    const main = load('main.bicep');
    const events = load('events.bicep');
    const output = declarationsOf(main, 'output').find((o) => o.name === 'CASCADE_EVENTS_PARAMETERS');
    const passed = output?.value.kind === 'object' ? output.value.props.map((p) => p.key).sort() : [];
    const required = declarationsOf(events, 'param')
      .filter((p) => p.defaultValue === undefined)
      .map((p) => p.name);
    const all = declarationsOf(events, 'param').map((p) => p.name);
    expect(passed.filter((k) => !all.includes(k))).toEqual([]);
    expect(required.filter((k) => !passed.includes(k))).toEqual([]);
    for (const p of output?.value.kind === 'object' ? output.value.props : []) {
      expect(property(p.value, 'value'), p.key).toBeDefined();
    }
  });
});
