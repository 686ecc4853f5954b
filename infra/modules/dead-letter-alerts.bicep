// One metric alert per Event Grid system topic: any dead-lettered event (DeadLetteredCount > 0 in 15 minutes) pages the
// action group. Used by alerts.bicep (topics given by id) and by events.bicep (the topics it creates), so the topics
// that deliver into the app are covered without listing them twice.
param namePrefix string
param tags object = {}
@description('Action group every alert notifies.')
param actionGroupId string
@description('Event Grid system topic resource ids.')
param topicIds array

resource deadLetterAlerts 'Microsoft.Insights/metricAlerts@2018-03-01' = [
  for topicId in topicIds: {
    // Named by the topic, not by position: adding a watched registry does not rename the others' alerts.
    name: take('${namePrefix}-dead-lettered-${last(split(topicId, '/'))}-${uniqueString(toLower(topicId))}', 260)
    location: 'global'
    tags: tags
    properties: {
      description: 'Events to acr-cascade were dead-lettered (see docs/operations.md, runbook: dead-lettered events).'
      severity: 2
      enabled: true
      scopes: [topicId]
      evaluationFrequency: 'PT5M'
      windowSize: 'PT15M'
      criteria: {
        'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
        allOf: [
          {
            criterionType: 'StaticThresholdCriterion'
            name: 'deadLettered'
            metricName: 'DeadLetteredCount'
            metricNamespace: 'Microsoft.EventGrid/systemTopics'
            operator: 'GreaterThan'
            threshold: 0
            timeAggregation: 'Total'
          }
        ]
      }
      actions: [
        {
          actionGroupId: actionGroupId
        }
      ]
    }
  }
]
