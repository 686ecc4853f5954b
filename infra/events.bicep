// Event Grid delivery into the app: one system topic per watched registry and per watched Key Vault, each with a
// subscription to the app's Event Grid function (AzureFunction destination: no keys), a retry policy, and dead-letter
// into the app storage account written with the system topic's own identity.
//
// Deploy after the app code (the destination function must exist): azd runs infra/hooks/postdeploy.*, which passes
// main.bicep's CASCADE_EVENTS_PARAMETERS output; by hand (ARM returns output names camel-cased):
//   az deployment group create -g <rg> -f infra/events.bicep -p "$(az deployment group show -g <rg> -n <main deployment> \
//     --query properties.outputs.cascadE_EVENTS_PARAMETERS.value -o json)"
targetScope = 'resourceGroup'

import { builtInRoles, systemTopicRoleAssignments } from 'shared/roles.bicep'

@description('Environment name; names the event subscriptions.')
param environmentName string

@description('The acr-cascade Function App (in this resource group).')
param functionAppName string

@description('The app storage account (in this resource group) holding the dead-letter container.')
param storageAccountName string

param deadLetterContainerName string

@description('Base registries (ARM ids) to subscribe to: same list as CASCADE_WATCHED_REGISTRIES.')
param watchedRegistries array = []

@description('Key Vaults (ARM ids) to subscribe to: same list as CASCADE_WATCHED_VAULTS.')
param watchedVaults array = []

@description('Delivery attempts before an event is dead-lettered.')
@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int = 30

@description('Minutes an event is retried before it is dead-lettered.')
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int = 1440

param tags object = {}

@description('Existing system topics to use instead of creating one: source ARM id (lower case) -> topic name (in the source resource group, with a system-assigned identity).')
param existingSystemTopics object = {}

@description('Action group alerted when a topic dead-letters an event (main.bicep passes its alerts\' group); \'\' = none.')
param alertActionGroupId string = ''

// Function names and event types must match the app's triggers (src/functions): Event Grid schema, as the app expects.
var registryFunctionName = 'onRegistryEvent'
var vaultFunctionName = 'onVaultEvent'
var registryEventTypes = [
  'Microsoft.ContainerRegistry.ImagePushed'
  'Microsoft.ContainerRegistry.ImageDeleted'
]
var vaultEventTypes = [
  'Microsoft.KeyVault.SecretNewVersionCreated'
  'Microsoft.KeyVault.SecretNearExpiry'
  'Microsoft.KeyVault.SecretExpired'
]

// Event subscription names allow letters, digits and '-'; an azd environment name may also hold '_', '.', '(' and ')'.
var safeEnvironmentName = replace(replace(replace(replace(environmentName, '_', '-'), '.', '-'), '(', '-'), ')', '-')
var subscriptionName = take('acr-cascade-${safeEnvironmentName}', 64)
var deadLetterStorageAccountId = resourceId('Microsoft.Storage/storageAccounts', storageAccountName)

var topicRoleSpecs = map(systemTopicRoleAssignments, a => {
  scope: a.scope
  roleDefinitionId: builtInRoles[a.role].id
  condition: a.condition
  description: 'acr-cascade (${environmentName}) system topic: ${a.role}'
})

var topicRolesFor = {
  deadLetterContainer: filter(topicRoleSpecs, r => r.scope == 'deadLetterContainer')
}

// The sources themselves: their region is known only at deployment time, and a system topic must share it.
resource registries 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = [
  for registryId in watchedRegistries: {
    name: split(registryId, '/')[8]
    scope: resourceGroup(split(registryId, '/')[2], split(registryId, '/')[4])
  }
]

resource vaults 'Microsoft.KeyVault/vaults@2023-07-01' existing = [
  for vaultId in watchedVaults: {
    name: split(vaultId, '/')[8]
    scope: resourceGroup(split(vaultId, '/')[2], split(vaultId, '/')[4])
  }
]

module registryTopics 'modules/events/registry-topic.bicep' = [
  for (registryId, i) in watchedRegistries: {
    name: take('evt-acr-topic-${i}-${uniqueString(registryId)}', 64)
    scope: resourceGroup(split(registryId, '/')[2], split(registryId, '/')[4])
    params: {
      registryName: split(registryId, '/')[8]
      topicName: take('${split(registryId, '/')[8]}-acr-cascade', 128)
      location: registries[i].location
      existingTopicName: existingSystemTopics[?toLower(registryId)] ?? ''
      tags: tags
    }
  }
]

module registryDeadLetterAccess 'modules/rbac/container-roles.bicep' = [
  for (registryId, i) in watchedRegistries: {
    name: take('evt-acr-dlq-${i}-${uniqueString(registryId)}', 64)
    params: {
      storageAccountName: storageAccountName
      containerName: deadLetterContainerName
      principalId: registryTopics[i].outputs.principalId
      roles: topicRolesFor.deadLetterContainer
    }
  }
]

module registrySubscriptions 'modules/events/topic-subscription.bicep' = [
  for (registryId, i) in watchedRegistries: {
    name: take('evt-acr-sub-${i}-${uniqueString(registryId)}', 64)
    scope: resourceGroup(split(registryId, '/')[2], split(registryId, '/')[4])
    params: {
      topicName: registryTopics[i].outputs.name
      subscriptionName: subscriptionName
      functionResourceId: resourceId('Microsoft.Web/sites/functions', functionAppName, registryFunctionName)
      includedEventTypes: registryEventTypes
      deadLetterStorageAccountId: deadLetterStorageAccountId
      deadLetterContainerName: deadLetterContainerName
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    dependsOn: [
      registryDeadLetterAccess
    ]
  }
]

module vaultTopics 'modules/events/vault-topic.bicep' = [
  for (vaultId, i) in watchedVaults: {
    name: take('evt-kv-topic-${i}-${uniqueString(vaultId)}', 64)
    scope: resourceGroup(split(vaultId, '/')[2], split(vaultId, '/')[4])
    params: {
      vaultName: split(vaultId, '/')[8]
      topicName: take('${split(vaultId, '/')[8]}-acr-cascade', 128)
      location: vaults[i].location
      existingTopicName: existingSystemTopics[?toLower(vaultId)] ?? ''
      tags: tags
    }
  }
]

module vaultDeadLetterAccess 'modules/rbac/container-roles.bicep' = [
  for (vaultId, i) in watchedVaults: {
    name: take('evt-kv-dlq-${i}-${uniqueString(vaultId)}', 64)
    params: {
      storageAccountName: storageAccountName
      containerName: deadLetterContainerName
      principalId: vaultTopics[i].outputs.principalId
      roles: topicRolesFor.deadLetterContainer
    }
  }
]

module vaultSubscriptions 'modules/events/topic-subscription.bicep' = [
  for (vaultId, i) in watchedVaults: {
    name: take('evt-kv-sub-${i}-${uniqueString(vaultId)}', 64)
    scope: resourceGroup(split(vaultId, '/')[2], split(vaultId, '/')[4])
    params: {
      topicName: vaultTopics[i].outputs.name
      subscriptionName: subscriptionName
      functionResourceId: resourceId('Microsoft.Web/sites/functions', functionAppName, vaultFunctionName)
      includedEventTypes: vaultEventTypes
      deadLetterStorageAccountId: deadLetterStorageAccountId
      deadLetterContainerName: deadLetterContainerName
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    dependsOn: [
      vaultDeadLetterAccess
    ]
  }
]

// Dead-lettered deliveries page on-call: a metric alert on each topic created (or reused) above.
module registryDeadLetterAlerts 'modules/dead-letter-alerts.bicep' = [
  for (registryId, i) in watchedRegistries: if (!empty(alertActionGroupId)) {
    name: take('evt-acr-alert-${i}-${uniqueString(registryId)}', 64)
    params: {
      namePrefix: subscriptionName
      tags: tags
      actionGroupId: alertActionGroupId
      topicIds: [registryTopics[i].outputs.id]
    }
  }
]

module vaultDeadLetterAlerts 'modules/dead-letter-alerts.bicep' = [
  for (vaultId, i) in watchedVaults: if (!empty(alertActionGroupId)) {
    name: take('evt-kv-alert-${i}-${uniqueString(vaultId)}', 64)
    params: {
      namePrefix: subscriptionName
      tags: tags
      actionGroupId: alertActionGroupId
      topicIds: [vaultTopics[i].outputs.id]
    }
  }
]

output registrySystemTopics array = [for (registryId, i) in watchedRegistries: registryTopics[i].outputs.id]
output vaultSystemTopics array = [for (vaultId, i) in watchedVaults: vaultTopics[i].outputs.id]
