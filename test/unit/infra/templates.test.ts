// Both templates compile with the real Bicep compiler (linter on, warnings are errors), and what the compiled ARM JSON
// would deploy carries the facts the app depends on.
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { buildBicep } from '../../../scripts/bicep.js';
import { compiled } from '../../support/arm.js';
import {
  appSettings,
  assignments,
  deployEvents,
  deployMain,
  describeBicep,
  FULL_PARAMETERS,
  id,
  site,
} from '../../support/infra.js';

const root = resolve(__dirname, '../../..');
const infra = join(root, 'infra');
const bicepFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? bicepFiles(join(dir, e.name)) : e.name.endsWith('.bicep') ? [join(dir, e.name)] : [],
  );

describeBicep('the Bicep compiler on infra/', () => {
  it('compiles main.bicep and events.bicep for resource-group deployments without a warning', () => {
    for (const name of ['main', 'events'] as const) {
      const template = compiled(name);
      expect(template.$schema, name).toBe(
        'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
      );
    }
  });

  it('treats a linter warning as an error (infra/bicepconfig.json is in force)', () => {
    // A file next to a copy of infra/bicepconfig.json, outside infra/ (other test files compile infra/ meanwhile).
    const dir = mkdtempSync(join(tmpdir(), 'bicep-lint-'));
    copyFileSync(join(infra, 'bicepconfig.json'), join(dir, 'bicepconfig.json'));
    writeFileSync(
      join(dir, 'probe.bicep'),
      "param unused string\noutput where string = 'https://management.azure.com/'\n",
    );
    try {
      expect(() => buildBicep(join(dir, 'probe.bicep'))).toThrow(/no-unused-params[\s\S]*no-hardcoded-env-urls/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('reaches every .bicep file from main.bicep or events.bicep', () => {
    const text = JSON.stringify([compiled('main'), compiled('events')]);
    const hashes = text.match(/"templateHash":\s*"\d+"/g) ?? [];
    // Every file but the two entry points and the imported shared/roles.bicep is compiled in as a nested template.
    const modules = bicepFiles(infra).filter((f) => /modules\//.test(relative(infra, f)));
    expect(hashes.length).toBeGreaterThanOrEqual(modules.length + 2);
    for (const file of modules) {
      const used = [readFileSync(join(infra, 'main.bicep'), 'utf8'), readFileSync(join(infra, 'events.bicep'), 'utf8')]
        .join('\n')
        .includes(`'${relative(infra, file)}'`);
      expect(used, relative(infra, file)).toBe(true);
    }
  });
});

describeBicep('what the compiled main.bicep deploys', () => {
  const d = deployMain();
  const of = (type: string) => d.resources.filter((r) => r.type === type);

  it('runs the app on Node 22 on Flex Consumption only (Elastic Premium was dropped), tagged for azd', () => {
    const app = site(d);
    expect(app.body.kind).toBe('functionapp,linux');
    expect(app.body.tags).toMatchObject({ 'azd-service-name': 'api', 'azd-env-name': 'dev' });
    expect(app.properties.functionAppConfig).toMatchObject({ runtime: { name: 'node', version: '22' } });
    expect(of('Microsoft.Web/serverfarms').map((p) => p.body.sku)).toEqual([{ name: 'FC1', tier: 'FlexConsumption' }]);
    const parameters = compiled('main').parameters as Record<string, unknown>;
    expect(Object.keys(parameters).filter((p) => /hostingPlan|elasticPremium/i.test(p))).toEqual([]);
    // The package comes from the deployment container, read with the app identity: no run-from-package URL mode.
    expect(app.properties.functionAppConfig).toMatchObject({
      deployment: { storage: { type: 'blobContainer', authentication: { type: 'SystemAssignedIdentity' } } },
    });
  });

  it('gives the app a system-assigned identity, plus the user-assigned one when chosen', () => {
    expect(site(d).body.identity).toEqual({ type: 'SystemAssigned' });
    const user = site(deployMain({ environmentName: 'dev', appIdentityType: 'UserAssigned' }));
    expect(user.body.identity).toMatchObject({ type: 'SystemAssigned, UserAssigned' });
  });

  it('keeps no storage key anywhere: shared keys off, no public blobs, no listKeys', () => {
    const [account] = of('Microsoft.Storage/storageAccounts');
    expect(account?.properties).toMatchObject({ allowSharedKeyAccess: false, allowBlobPublicAccess: false });
    for (const name of ['main', 'events'] as const) {
      expect(JSON.stringify(compiled(name)), name).not.toMatch(/listKeys|AccountKey=|primaryKey|SharedAccessSignature/);
    }
  });

  it('creates the four app tables and the deployment and dead-letter containers', () => {
    expect(of('Microsoft.Storage/storageAccounts/tableServices/tables').map((t) => t.name.split('/').pop())).toEqual([
      'CascadeIndex',
      'CascadeHistory',
      'CredentialHealth',
      'CascadeDedupe',
    ]);
    expect(of('Microsoft.Storage/storageAccounts/blobServices/containers').map((c) => c.name.split('/').pop())).toEqual(
      ['app-package', 'eventgrid-deadletter'],
    );
  });

  it('takes telemetry into Application Insights with Entra ID only (no key-based ingestion)', () => {
    expect(of('Microsoft.Insights/components')).toMatchObject([{ properties: { DisableLocalAuth: true } }]);
  });

  it('publishes outbound CloudEvents to a custom topic without local auth', () => {
    expect(of('Microsoft.EventGrid/topics')).toMatchObject([
      { properties: { inputSchema: 'CloudEventSchemaV1_0', disableLocalAuth: true } },
    ]);
  });

  it('offers the Durable Task Scheduler with the task hub named by the same setting as host.json', () => {
    const dts = deployMain({ environmentName: 'dev', durableBackend: 'DurableTaskScheduler', taskHub: 'Hub1' });
    expect(dts.resources.filter((r) => r.type.startsWith('Microsoft.DurableTask/')).map((r) => r.type)).toEqual(
      expect.arrayContaining(['Microsoft.DurableTask/schedulers', 'Microsoft.DurableTask/schedulers/taskHubs']),
    );
    expect(dts.resources.find((r) => r.type === 'Microsoft.DurableTask/schedulers/taskHubs')?.name).toMatch(/\/Hub1$/);
    expect(of('Microsoft.DurableTask/schedulers')).toEqual([]);
  });
});

describeBicep('what the compiled events.bicep deploys with the parameters main.bicep outputs', () => {
  const main = deployMain();
  const events = deployEvents(main);
  const of = (type: string) => events.resources.filter((r) => r.type === type);

  it('creates a system topic per watched registry and vault, in the source resource group and region', () => {
    expect(
      of('Microsoft.EventGrid/systemTopics').map((t) => [t.id, t.properties.source, t.properties.topicType]),
    ).toEqual([
      [
        `/subscriptions/${id.registry('rg-base', 'base').split('/')[2]}/resourceGroups/rg-base/providers/Microsoft.EventGrid/systemTopics/base-acr-cascade`,
        id.registry('rg-base', 'base'),
        'Microsoft.ContainerRegistry.Registries',
      ],
      [
        `/subscriptions/${id.vault('rg-kv', 'kv').split('/')[2]}/resourceGroups/rg-kv/providers/Microsoft.EventGrid/systemTopics/kv-acr-cascade`,
        id.vault('rg-kv', 'kv'),
        'Microsoft.KeyVault.vaults',
      ],
    ]);
    for (const t of of('Microsoft.EventGrid/systemTopics')) expect(String(t.body.location)).toMatch(/\.location>$/);
  });

  it("subscribes the app's Event Grid functions with the Event Grid schema, a retry policy and dead-letter", () => {
    const app = String((main.outputs.AZURE_FUNCTION_APP_NAME as { value: unknown }).value);
    const subs = of('Microsoft.EventGrid/systemTopics/eventSubscriptions');
    expect(
      subs.map((s) => (s.properties.destination as { properties: { resourceId: string } }).properties.resourceId),
    ).toEqual([
      `/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-cascade/providers/Microsoft.Web/sites/${app}/functions/onRegistryEvent`,
      `/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-cascade/providers/Microsoft.Web/sites/${app}/functions/onVaultEvent`,
    ]);
    expect(subs.map((s) => (s.properties.filter as { includedEventTypes: string[] }).includedEventTypes)).toEqual([
      ['Microsoft.ContainerRegistry.ImagePushed', 'Microsoft.ContainerRegistry.ImageDeleted'],
      [
        'Microsoft.KeyVault.SecretNewVersionCreated',
        'Microsoft.KeyVault.SecretNearExpiry',
        'Microsoft.KeyVault.SecretExpired',
      ],
    ]);
    for (const s of subs) {
      expect(s.properties).toMatchObject({
        destination: { endpointType: 'AzureFunction' },
        eventDeliverySchema: 'EventGridSchema',
        retryPolicy: { maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 },
        deadLetterWithResourceIdentity: {
          identity: { type: 'SystemAssigned' },
          deadLetterDestination: {
            endpointType: 'StorageBlob',
            properties: { blobContainerName: 'eventgrid-deadletter' },
          },
        },
      });
    }
  });

  it('names event subscriptions with letters, digits and hyphens only, whatever the azd environment name', () => {
    const odd = deployEvents(deployMain({ ...FULL_PARAMETERS, environmentName: 'team_a.prod(1)' }));
    const names = odd.resources
      .filter((r) => r.type === 'Microsoft.EventGrid/systemTopics/eventSubscriptions')
      .map((r) => r.name.split('/')[1]);
    expect(names).toEqual(['acr-cascade-team-a-prod-1-', 'acr-cascade-team-a-prod-1-']);
  });

  it('separates what the app may read from what it subscribes to, and can use an existing system topic', () => {
    const kv = id.vault('rg-kv', 'kv');
    const other = id.vault('rg-kv', 'shared-kv');
    const main = deployMain({
      ...FULL_PARAMETERS,
      watchedVaults: [kv, other],
      eventVaults: [kv],
      existingSystemTopics: { [kv.toLowerCase()]: 'kv-events' },
    });
    // Both vaults are read (setting and reader role); only kv is subscribed, through its existing topic.
    expect(appSettings(main).CASCADE_WATCHED_VAULTS).toBe(`${kv},${other}`);
    expect(
      assignments(main, {})
        .filter((a) => a.scope === other)
        .map((a) => a.roleName),
    ).toEqual(['ACR Cascade Reader']);
    const events = deployEvents(main);
    const topics = events.resources.filter((r) => r.type === 'Microsoft.EventGrid/systemTopics').map((r) => r.name);
    expect(topics).toEqual(['base-acr-cascade']);
    const subs = events.resources.filter((r) => r.type === 'Microsoft.EventGrid/systemTopics/eventSubscriptions');
    expect(subs.map((r) => r.id)).toEqual([
      expect.stringMatching(
        /\/rg-base\/providers\/Microsoft\.EventGrid\/systemTopics\/base-acr-cascade\/eventSubscriptions\//,
      ),
      expect.stringMatching(/\/rg-kv\/providers\/Microsoft\.EventGrid\/systemTopics\/kv-events\/eventSubscriptions\//),
    ]);
    // The existing topic's own identity writes dead letters.
    const deadLetter = assignments(events, {}).map((a) => a.principalId);
    expect(deadLetter).toEqual([
      expect.stringMatching(/base-acr-cascade\.identity/),
      expect.stringMatching(/kv-events.*identity/),
    ]);
  });

  it('takes exactly the parameters main.bicep outputs for the postdeploy hook', () => {
    const passed = Object.keys((main.outputs.CASCADE_EVENTS_PARAMETERS as { value: object }).value).sort();
    const declared = compiled('events').parameters as Record<string, { defaultValue?: unknown }>;
    expect(passed.filter((k) => !(k in declared))).toEqual([]);
    expect(Object.keys(declared).filter((k) => !('defaultValue' in declared[k]!) && !passed.includes(k))).toEqual([]);
    expect(FULL_PARAMETERS.watchedRegistries).toHaveLength(1);
  });
});
