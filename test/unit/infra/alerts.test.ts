// infra/modules/alerts.bicep through main.bicep: the compiled ARM JSON evaluated for a parameter set (test/support/arm.ts).
import { expect, it } from 'vitest';
import { deployEvents, deployMain, describeBicep, FULL_PARAMETERS, SUB } from '../../support/infra.js';

const GROUP = `/subscriptions/${SUB}/resourceGroups/rg-ops/providers/Microsoft.Insights/actionGroups/oncall`;
const TOPIC = `/subscriptions/${SUB}/resourceGroups/rg-base/providers/Microsoft.EventGrid/systemTopics/base-topic`;

type Props = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const of = (d: Awaited<ReturnType<typeof deployMain>>, type: string) =>
  d.resources.filter((r) => r.type === type).map((r) => ({ name: r.name, id: r.id, p: r.properties as Props }));

describeBicep('alerts (infra/modules/alerts.bicep)', () => {
  it('wires each scheduled-query rule, with its query and severity, to the given action group', async () => {
    const d = await deployMain({
      ...FULL_PARAMETERS,
      alertActionGroupId: GROUP,
      alertEventGridSystemTopicIds: [TOPIC],
    });
    const rules = of(d, 'Microsoft.Insights/scheduledQueryRules');
    const byName = Object.fromEntries(rules.map((r) => [r.name.replace(/^acr-cascade-\w+-/, ''), r.p]));
    expect(Object.keys(byName).sort()).toEqual([
      'cascade-failed',
      'credential-expiring',
      'function-failures',
      'task-blocked',
    ]);
    expect(byName['cascade-failed']).toMatchObject({ severity: 2, actions: { actionGroups: [GROUP] } });
    expect(byName['cascade-failed']!.criteria.allOf[0].query).toContain('"cascade.runFailed"');
    expect(byName['task-blocked']!.criteria.allOf[0].query).toContain('by reason = tostring(r.reason)');
    expect(byName['credential-expiring']!.criteria.allOf[0].query).toContain('"credential.expiring"');
    expect(byName['function-failures']).toMatchObject({ severity: 1 });
    expect(byName['function-failures']!.criteria.allOf[0].query).toContain('success == false');
    for (const p of Object.values(byName)) expect(p.actions.actionGroups).toEqual([GROUP]);
    expect(of(d, 'Microsoft.Insights/actionGroups')).toEqual([]);

    const metric = of(d, 'Microsoft.Insights/metricAlerts');
    expect(metric).toHaveLength(1);
    expect(metric[0]!.p).toMatchObject({ scopes: [TOPIC], actions: [{ actionGroupId: GROUP }] });
    expect(metric[0]!.p.criteria.allOf[0]).toMatchObject({ metricName: 'DeadLetteredCount', threshold: 0 });

    const [workbook] = of(d, 'Microsoft.Insights/workbooks');
    expect(JSON.parse(workbook!.p.serializedData).items).toHaveLength(4);
  });

  it('creates an action group from an email and points the rules at it', async () => {
    const d = await deployMain({ ...FULL_PARAMETERS, alertEmail: 'oncall@example.com' });
    const [group] = of(d, 'Microsoft.Insights/actionGroups');
    expect(group!.p.emailReceivers[0]).toMatchObject({ emailAddress: 'oncall@example.com' });
    for (const r of of(d, 'Microsoft.Insights/scheduledQueryRules'))
      expect(r.p.actions.actionGroups).toEqual([group!.id]);
  });

  it('deploys no alert, action group or workbook when both parameters are empty', async () => {
    const d = await deployMain({ ...FULL_PARAMETERS, alertEventGridSystemTopicIds: [TOPIC] });
    for (const t of ['scheduledQueryRules', 'metricAlerts', 'actionGroups', 'workbooks'])
      expect(of(d, `Microsoft.Insights/${t}`), t).toEqual([]);
  });

  it('alerts on dead letters of every system topic events.bicep creates, with the action group main.bicep resolved', async () => {
    const main = await deployMain({ ...FULL_PARAMETERS, alertActionGroupId: GROUP });
    const events = await deployEvents(main);
    const topics = events.resources.filter((r) => r.type === 'Microsoft.EventGrid/systemTopics').map((r) => r.id);
    expect(topics).toHaveLength(2); // the watched registry's and the watched vault's
    const alerts = of(events, 'Microsoft.Insights/metricAlerts');
    expect(alerts.map((a) => a.p.scopes[0]).sort()).toEqual([...topics].sort());
    for (const a of alerts) {
      expect(a.p).toMatchObject({ severity: 2, actions: [{ actionGroupId: GROUP }] });
      expect(a.p.criteria.allOf[0]).toMatchObject({
        metricName: 'DeadLetteredCount',
        metricNamespace: 'Microsoft.EventGrid/systemTopics',
        operator: 'GreaterThan',
        threshold: 0,
      });
    }
  });

  it("points the topics' dead-letter alerts at the action group it creates from an email, and adds none with alerts off", async () => {
    const main = await deployMain({ ...FULL_PARAMETERS, alertEmail: 'oncall@example.com' });
    const [group] = of(main, 'Microsoft.Insights/actionGroups');
    const alerts = of(await deployEvents(main), 'Microsoft.Insights/metricAlerts');
    expect(alerts).toHaveLength(2);
    for (const a of alerts) expect(a.p.actions).toEqual([{ actionGroupId: group!.id }]);

    const off = await deployEvents(await deployMain(FULL_PARAMETERS));
    expect(of(off, 'Microsoft.Insights/metricAlerts')).toEqual([]);
  });
});
