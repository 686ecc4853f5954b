// Azure Monitor alerts for on-call and a workbook with the same queries. The app writes one structured JSON object at
// the end of each log line (src/telemetry/log.ts); the queries parse it out of traces.message.
param location string
param tags object
@description('Workspace-based Application Insights the Functions host reports to.')
param appInsightsId string
@description('Existing action group resource id; wins over alertEmail.')
param actionGroupId string = ''
@description('Email for a new action group when actionGroupId is empty. Both empty: no alerts.')
param alertEmail string = ''
@description('Event Grid system topic ids whose DeadLetteredCount is alerted on.')
param eventGridSystemTopicIds array = []
param namePrefix string

var enabled = !empty(actionGroupId) || !empty(alertEmail)
var createGroup = empty(actionGroupId) && !empty(alertEmail)
var parse = 'traces | extend r = parse_json(extract(@\' (\\{"event":.*\\})$\', 1, message))'

resource group 'Microsoft.Insights/actionGroups@2023-01-01' = if (createGroup) {
  name: '${namePrefix}-oncall'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'cascade'
    enabled: true
    emailReceivers: [
      {
        name: 'oncall'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var workbookItems = [
  for rule in rules: {
    type: 3
    name: rule.name
    content: {
      version: 'KqlItem/1.0'
      query: rule.query
      queryType: 0
      resourceType: 'microsoft.insights/components'
    }
  }
]

var groupId = createGroup ? group.id : actionGroupId

var rules = [
  {
    name: 'cascade-failed'
    severity: 2
    query: '${parse} | where tostring(r.event) == "cascade.runFailed" | summarize count() by cascadeId = tostring(r.cascadeId)'
  }
  {
    name: 'task-blocked'
    severity: 3
    query: '${parse} | where tostring(r.event) == "cascade.taskBlocked" | summarize count() by reason = tostring(r.reason)'
  }
  {
    name: 'credential-expiring'
    severity: 2
    query: '${parse} | where tostring(r.event) in ("credential.expiring", "credential.failed") | summarize count() by event = tostring(r.event)'
  }
  {
    name: 'function-failures'
    severity: 1
    query: 'requests | where success == false | summarize count() by operation_Name'
  }
]

resource queryAlerts 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [
  for rule in rules: if (enabled) {
    name: '${namePrefix}-${rule.name}'
    location: location
    tags: tags
    properties: {
      severity: rule.severity
      enabled: true
      scopes: [appInsightsId]
      evaluationFrequency: 'PT5M'
      windowSize: 'PT15M'
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: 'Count'
            operator: 'GreaterThan'
            threshold: 0
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      actions: {
        actionGroups: [groupId]
      }
    }
  }
]

module deadLetters 'dead-letter-alerts.bicep' = if (enabled && !empty(eventGridSystemTopicIds)) {
  name: take('${namePrefix}-dead-letter-alerts', 64)
  params: {
    namePrefix: namePrefix
    tags: tags
    actionGroupId: groupId
    topicIds: eventGridSystemTopicIds
  }
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = if (enabled) {
  name: guid(resourceGroup().id, namePrefix, 'oncall-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'acr-cascade on-call'
    category: 'workbook'
    sourceId: appInsightsId
    serializedData: string({
      version: 'Notebook/1.0'
      items: workbookItems
    })
  }
}

@description('The action group the alerts notify (\'\' when alerts are off): events.bicep alerts on its topics with it.')
output actionGroupId string = enabled ? groupId : ''
