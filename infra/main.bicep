// acr-cascade: the Function App, its storage, monitoring, Durable backend, notification topic, custom roles and every
// role assignment of the app identity. Deploy with `azd up` (azure.yaml) or `az deployment group create`. The Event
// Grid subscriptions on the watched registries and vaults are in events.bicep: an AzureFunction destination must name
// a function that already exists, so they are deployed after the code (azd's postdeploy hook does it).
targetScope = 'resourceGroup'

import { builtInRoles, customRoleDefinitions, appRoleAssignments, appAccessPolicies, operatorRoleAssignments } from 'shared/roles.bicep'

// ---------------------------------------------------------------------------------------------------------------
// Deployment
// ---------------------------------------------------------------------------------------------------------------

@minLength(1)
@maxLength(64)
@description('Environment name (azd environment). Part of every resource name and of the custom role names.')
param environmentName string

@description('Region of the app resources. System topics are created in the region of their registry or vault.')
param location string = resourceGroup().location

@description('Tags added to every resource created here.')
param tags object = {}

@description('Flex Consumption: most instances the app may scale out to.')
@minValue(40)
@maxValue(1000)
param flexMaximumInstanceCount int = 40

@description('Flex Consumption: memory per instance.')
@allowed([
  512
  2048
  4096
])
param flexInstanceMemoryMB int = 2048

@description('Durable Functions backend: the Azure Storage provider in the app storage account, or the Durable Task Scheduler.')
@allowed([
  'AzureStorage'
  'DurableTaskScheduler'
])
param durableBackend string = 'AzureStorage'

@description('Durable Task Scheduler SKU (only with durableBackend = DurableTaskScheduler).')
@allowed([
  'Consumption'
  'Dedicated'
])
param durableTaskSchedulerSku string = 'Consumption'

@description('Addresses allowed to reach the Durable Task Scheduler. An empty list denies all traffic.')
param durableTaskSchedulerIpAllowlist array = [
  '0.0.0.0/0'
]

@description('Identity the app uses for Azure: its system-assigned identity, or a user-assigned identity created here (which then holds every role).')
@allowed([
  'SystemAssigned'
  'UserAssigned'
])
param appIdentityType string = 'SystemAssigned'

@description('Days Log Analytics keeps logs.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

@description('Registries (ARM ids) whose ACR tokens the app may rotate (generateCredentials). Empty: no token rotation.')
param rotationRegistries array = []

@description('Key Vaults (ARM ids) where the app may write rotated passwords as new secret versions. Empty: no rotation.')
param rotationVaults array = []

@description('Credential refresh: let the app repoint tasks pinned to an old secret version (grants tasks/write at the managed scopes, with token rotation or nativeTriggers = disable too). Off: the credential check reports such tasks with the fix instead.')
param credentialRefresh bool = true

@description('Object id of an Entra ID group of operators; it gets what docs/operations.md has operators do (read the app tables, read dead-lettered events). Empty: none.')
param operatorsGroupPrincipalId string = ''

@description('Watched vaults that use the access-policy permission model instead of Azure RBAC; they get an access policy (list, plus set for rotation vaults).')
param accessPolicyVaults array = []

// ---------------------------------------------------------------------------------------------------------------
// App settings (same names and defaults as src/config/settings.ts)
// ---------------------------------------------------------------------------------------------------------------

@description('CASCADE_WATCHED_REGISTRIES: base registries (ARM ids) whose ImagePushed events may start cascades.')
param watchedRegistries array = []

@description('CASCADE_WATCHED_VAULTS: Key Vaults (ARM ids) whose secret events may start credential checks.')
param watchedVaults array = []

// What the app may read (the lists above: reader roles, app settings) is separate from where Event Grid system topics
// are created (these lists): a vault the app must read for preflight may already have a system topic of its own.
@description('Watched registries (ARM ids, a subset of watchedRegistries) whose events are subscribed to (events.bicep).')
param eventRegistries array = watchedRegistries

@description('Watched vaults (ARM ids, a subset of watchedVaults) whose events are subscribed to (events.bicep).')
param eventVaults array = watchedVaults

@description('Existing system topics to subscribe through instead of creating one (Azure allows one per source): source ARM id (lower case) -> topic name. The topic must have a system-assigned identity.')
param existingSystemTopics object = {}

@description('CASCADE_MANAGED_SCOPES: subscriptions, resource groups or registries (ARM ids) whose ACR tasks are managed.')
param managedScopes array = []

@description('CASCADE_SETTLE_SECONDS: pushes of one tag within this many seconds coalesce into one cascade.')
@minValue(0)
@maxValue(3600)
param settleSeconds int = 30

@description('CASCADE_MAX_PARALLEL_RUNS: runs in flight per cascade.')
@minValue(1)
@maxValue(1000)
param maxParallelRuns int = 20

@description('CASCADE_TRANSIENT_RETRIES: retries of a run that failed for a transient reason.')
@minValue(0)
@maxValue(3)
param transientRetries int = 1

@description('CASCADE_POLL_INITIAL_SECONDS: seconds before the first status poll of a scheduled run (doubles up to pollMaxSeconds).')
@minValue(1)
@maxValue(600)
param pollInitialSeconds int = 10

@description('CASCADE_POLL_MAX_SECONDS: cap of the run status poll backoff.')
@minValue(1)
@maxValue(3600)
param pollMaxSeconds int = 60

@description('CASCADE_CLAIM_TIMEOUT_SECONDS: age at which a run claim without a run (its scheduler crashed) is taken over. Keep it above the longest scheduleRun and near the durable backend\'s redelivery delay (Azure Storage: 5 minutes).')
@minValue(10)
@maxValue(3600)
param claimTimeoutSeconds int = 300

@description('CASCADE_NATIVE_TRIGGERS: what to do about ACR\'s own base-image triggers on managed tasks: adopt their runs (default), disable them on tasks acr-cascade rebuilds (a task update, allowed by the Operator role), or ignore them (such tasks build twice per push).')
@allowed(['adopt', 'disable', 'ignore'])
param nativeTriggers string = 'adopt'

@description('CASCADE_NATIVE_ADOPT_WINDOW_SECONDS: under adopt, how long to wait for a task\'s native run before scheduling one.')
@minValue(5)
@maxValue(3600)
param nativeAdoptWindowSeconds int = 120

@description('CASCADE_AUTO_REMEDIATE: create missing pull role assignments on the watched registries (adds the Pull Granter role).')
param autoRemediate bool = false

@description('CASCADE_SECRET_WARNING_DAYS: secrets expiring within this many days are reported expiring.')
@minValue(1)
@maxValue(365)
param secretWarningDays int = 30

@description('CASCADE_CREDENTIAL_CHECK_SCHEDULE: NCRONTAB (6 fields) of the credential check and rotation. Empty: the app default.')
param credentialCheckSchedule string = '0 0 3 * * *'

@description('CASCADE_HISTORY_RETENTION_DAYS: ended cascades/checks and their history rows are purged after this many days.')
@minValue(0)
@maxValue(3650)
param historyRetentionDays int = 30

@description('CASCADE_INDEX_REFRESH_SCHEDULE: NCRONTAB (6 fields) of the dependency index refresh. Empty: the app default.')
param indexRefreshSchedule string = '0 */15 * * * *'

@description('CASCADE_ARM_ENDPOINT: ARM endpoint; defaults to the endpoint of the cloud being deployed to.')
param armEndpoint string = environment().resourceManager

@description('CASCADE_ARM_AUDIENCE: ARM token audience; defaults to that of the cloud being deployed to.')
param armAudience string = environment().resourceManager

@description('CASCADE_KEYVAULT_VERIFY_CHALLENGE_RESOURCE: verify the Key Vault challenge resource (switch off only for vaults outside *.vault.azure.net-style domains).')
param keyVaultVerifyChallengeResource bool = true

@description('CASCADE_TASK_HUB: Durable task hub name (also the Durable Task Scheduler task hub): 3-45 letters and digits, starting with a letter, not \'Cascade\' (its tables would be the app\'s own). The app refuses anything else at start-up.')
@minLength(3)
@maxLength(45)
param taskHub string = 'AcrCascade'

@description('CASCADE_API_AUTH: how API callers authenticate: entra (Entra ID tokens with the Cascade.Reader / Cascade.Operator app roles) or keys (function keys; an opt-in for automation).')
@allowed(['entra', 'keys'])
param apiAuth string = 'entra'

@description('CASCADE_API_AUDIENCE: application (client) id of the API app registration (docs/deploy.md creates it). Required with apiAuth entra.')
param apiAudience string = ''

@description('CASCADE_API_TENANT_ID: tenant whose tokens the API accepts. Empty: the tenant of this deployment.')
param apiTenantId string = ''

@description('CASCADE_AUTHORITY_HOST: Entra ID authority host; defaults to the one of the cloud being deployed to.')
param authorityHost string = environment().authentication.loginEndpoint

@description('Alerts: an existing action group resource id (wins), or an email for a new one; both empty = no alerts.')
param alertActionGroupId string = ''
param alertEmail string = ''
@description('Event Grid system topic ids whose dead-lettered events raise an alert.')
param alertEventGridSystemTopicIds array = []

// ---------------------------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------------------------

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var allTags = union(tags, { 'azd-env-name': environmentName })
var functionAppName = 'func-acr-cascade-${resourceToken}'
var storageAccountName = 'stcascade${resourceToken}'
var deploymentContainerName = 'app-package'
var deadLetterContainerName = 'eventgrid-deadletter'
var useUserAssignedIdentity = appIdentityType == 'UserAssigned'
var useDurableTaskScheduler = durableBackend == 'DurableTaskScheduler'

// Tables the app uses (Table Storage in the app storage account).
var appTables = [
  'CascadeIndex'
  'CascadeHistory'
  'CredentialHealth'
  'CascadeDedupe'
]

// ---------------------------------------------------------------------------------------------------------------
// Resources in this resource group
// ---------------------------------------------------------------------------------------------------------------

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring-${resourceToken}'
  params: {
    location: location
    tags: allTags
    workspaceName: 'log-acr-cascade-${resourceToken}'
    appInsightsName: 'appi-acr-cascade-${resourceToken}'
    retentionInDays: logRetentionInDays
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts-${resourceToken}'
  params: {
    location: location
    tags: allTags
    namePrefix: 'acr-cascade-${resourceToken}'
    appInsightsId: resourceId('Microsoft.Insights/components', 'appi-acr-cascade-${resourceToken}')
    actionGroupId: alertActionGroupId
    alertEmail: alertEmail
    eventGridSystemTopicIds: alertEventGridSystemTopicIds
  }
  dependsOn: [monitoring]
}

module storage 'modules/storage.bicep' = {
  name: 'storage-${resourceToken}'
  params: {
    name: storageAccountName
    location: location
    tags: allTags
    containerNames: [
      deploymentContainerName
      deadLetterContainerName
    ]
    tableNames: appTables
  }
}

// Optional user-assigned identity: created before the app so that it can be granted access ahead of time.
resource appIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = if (useUserAssignedIdentity) {
  name: 'id-acr-cascade-${resourceToken}'
  location: location
  tags: allTags
}

module notificationTopic 'modules/notification-topic.bicep' = {
  name: 'topic-${resourceToken}'
  params: {
    name: 'evgt-acr-cascade-${resourceToken}'
    location: location
    tags: allTags
  }
}

module scheduler 'modules/durable-task-scheduler.bicep' = if (useDurableTaskScheduler) {
  name: 'scheduler-${resourceToken}'
  params: {
    name: 'dts-acr-cascade-${resourceToken}'
    location: location
    tags: allTags
    skuName: durableTaskSchedulerSku
    ipAllowlist: durableTaskSchedulerIpAllowlist
    taskHubName: taskHub
  }
}

var appClientId = useUserAssignedIdentity ? appIdentity!.properties.clientId : ''

// Every setting the app reads (src/config/settings.ts), plus what the Functions host needs. No keys: host storage is
// identity-based and the topic, vaults and ARM are reached with the app identity.
var cascadeSettings = {
  CASCADE_WATCHED_REGISTRIES: join(watchedRegistries, ',')
  CASCADE_WATCHED_VAULTS: join(watchedVaults, ',')
  CASCADE_MANAGED_SCOPES: join(managedScopes, ',')
  CASCADE_SETTLE_SECONDS: string(settleSeconds)
  CASCADE_MAX_PARALLEL_RUNS: string(maxParallelRuns)
  CASCADE_TRANSIENT_RETRIES: string(transientRetries)
  CASCADE_POLL_INITIAL_SECONDS: string(pollInitialSeconds)
  CASCADE_POLL_MAX_SECONDS: string(pollMaxSeconds)
  CASCADE_CLAIM_TIMEOUT_SECONDS: string(claimTimeoutSeconds)
  CASCADE_NATIVE_TRIGGERS: nativeTriggers
  CASCADE_NATIVE_ADOPT_WINDOW_SECONDS: string(nativeAdoptWindowSeconds)
  CASCADE_AUTO_REMEDIATE: autoRemediate ? 'true' : 'false'
  CASCADE_SECRET_WARNING_DAYS: string(secretWarningDays)
  CASCADE_CREDENTIAL_CHECK_SCHEDULE: credentialCheckSchedule
  CASCADE_HISTORY_RETENTION_DAYS: string(historyRetentionDays)
  CASCADE_INDEX_REFRESH_SCHEDULE: indexRefreshSchedule
  CASCADE_NOTIFICATION_TOPIC_ENDPOINT: notificationTopic.outputs.endpoint
  CASCADE_ARM_ENDPOINT: armEndpoint
  CASCADE_ARM_AUDIENCE: armAudience
  CASCADE_KEYVAULT_VERIFY_CHALLENGE_RESOURCE: keyVaultVerifyChallengeResource ? 'true' : 'false'
  CASCADE_TASK_HUB: taskHub
  CASCADE_API_AUTH: apiAuth
  CASCADE_API_AUDIENCE: apiAudience
  CASCADE_API_TENANT_ID: empty(apiTenantId) ? tenant().tenantId : apiTenantId
  CASCADE_AUTHORITY_HOST: authorityHost
  AZURE_CLIENT_ID: appClientId
}

var hostSettings = {
  AzureWebJobsStorage__accountName: storage.outputs.name
  AzureWebJobsStorage__credential: 'managedidentity'
  // The account's own table endpoint: right in sovereign clouds too (the app reads it before the account name).
  AzureWebJobsStorage__tableServiceUri: storage.outputs.tableEndpoint
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.appInsightsConnectionString
  // Entra ID ingestion with the app identity (Monitoring Metrics Publisher on the component).
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: useUserAssignedIdentity
    ? 'Authorization=AAD;ClientId=${appClientId}'
    : 'Authorization=AAD'
}

var identityHostSettings = useUserAssignedIdentity ? {
  AzureWebJobsStorage__clientId: appClientId
} : {}


// The Durable Task Scheduler replaces the Azure Storage provider named by host.json; app settings override host.json.
var schedulerClientIdPart = useUserAssignedIdentity ? ';ClientID=${appClientId}' : ''
var durableSettings = useDurableTaskScheduler ? {
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${scheduler!.outputs.endpoint};Authentication=ManagedIdentity${schedulerClientIdPart}'
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: 'azureManaged'
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING'
} : {}

var appSettings = union(cascadeSettings, hostSettings, identityHostSettings, durableSettings)

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app-${resourceToken}'
  params: {
    name: functionAppName
    location: location
    tags: allTags
    planName: 'plan-acr-cascade-${resourceToken}'
    flexMaximumInstanceCount: flexMaximumInstanceCount
    flexInstanceMemoryMB: flexInstanceMemoryMB
    deploymentContainerUrl: '${storage.outputs.blobEndpoint}${deploymentContainerName}'
    userAssignedIdentityId: useUserAssignedIdentity ? appIdentity.id : ''
    appSettings: appSettings
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Roles: the model is data in shared/roles.bicep; this section only places it.
// ---------------------------------------------------------------------------------------------------------------

// The principal that holds every role: the user-assigned identity when chosen, else the app's system identity.
var appPrincipalId = useUserAssignedIdentity ? appIdentity!.properties.principalId : functionApp.outputs.systemPrincipalId

// Custom role definition names are tenant-wide GUIDs: derive them from this environment so environments don't clash.
var customRoleIds = toObject(objectKeys(customRoleDefinitions), k => k, k => guid(subscription().id, resourceGroup().id, environmentName, 'acr-cascade-role', k))

// A custom role must list every scope it is assigned at: the subscriptions of all scopes involved.
var roleSubscriptionIds = union([toLower(subscription().subscriptionId)], map(concat(managedScopes, watchedRegistries, watchedVaults, rotationRegistries, rotationVaults), id => toLower(split(id, '/')[2])))
var customRoleAssignableScopes = map(roleSubscriptionIds, s => '/subscriptions/${s}')

var roleSwitches = {
  always: true
  autoRemediate: autoRemediate
  // tasks/write only when the app changes tasks: credential refresh, token rotation, or native triggers switched off.
  taskWrites: credentialRefresh || !empty(rotationRegistries) || nativeTriggers == 'disable'
  azureStorageBackend: !useDurableTaskScheduler
  durableTaskScheduler: useDurableTaskScheduler
}

var activeAppRoles = filter(appRoleAssignments, a => roleSwitches[a.when])
var appRoleSpecs = map(activeAppRoles, a => {
  scope: a.scope
  roleDefinitionId: contains(builtInRoles, a.role) ? builtInRoles[a.role].id : customRoleIds[a.role]
  condition: a.condition
  description: 'acr-cascade (${environmentName}): ${a.role}'
})

var rolesFor = {
  managedScope: filter(appRoleSpecs, r => r.scope == 'managedScope')
  watchedRegistry: filter(appRoleSpecs, r => r.scope == 'watchedRegistry')
  watchedVault: filter(appRoleSpecs, r => r.scope == 'watchedVault')
  rotationRegistry: filter(appRoleSpecs, r => r.scope == 'rotationRegistry')
  rotationVault: filter(appRoleSpecs, r => r.scope == 'rotationVault')
  storage: filter(appRoleSpecs, r => r.scope == 'storage')
  topic: filter(appRoleSpecs, r => r.scope == 'topic')
  scheduler: filter(appRoleSpecs, r => r.scope == 'scheduler')
  appInsights: filter(appRoleSpecs, r => r.scope == 'appInsights')
}

// Managed scopes come in three depths: /subscriptions/s, .../resourceGroups/rg, .../registries/r.
var managedSubscriptionScopes = filter(managedScopes, s => length(split(s, '/')) == 3)
var managedResourceGroupScopes = filter(managedScopes, s => length(split(s, '/')) == 5)
var managedRegistryScopes = filter(managedScopes, s => length(split(s, '/')) == 9)

module customRoles 'modules/custom-roles.bicep' = {
  name: 'custom-roles-${resourceToken}'
  scope: subscription()
  params: {
    roleIds: customRoleIds
    nameSuffix: '${environmentName}, ${resourceToken}'
    assignableScopes: customRoleAssignableScopes
  }
}

module managedSubscriptionRoles 'modules/rbac/subscription-roles.bicep' = [
  for (scopeId, i) in managedSubscriptionScopes: {
    name: 'rbac-managed-sub-${i}-${resourceToken}'
    scope: subscription(split(scopeId, '/')[2])
    params: {
      principalId: appPrincipalId
      roles: rolesFor.managedScope
    }
    dependsOn: [
      customRoles
    ]
  }
]

module managedResourceGroupRoles 'modules/rbac/resource-group-roles.bicep' = [
  for (scopeId, i) in managedResourceGroupScopes: {
    name: 'rbac-managed-rg-${i}-${resourceToken}'
    scope: resourceGroup(split(scopeId, '/')[2], split(scopeId, '/')[4])
    params: {
      principalId: appPrincipalId
      roles: rolesFor.managedScope
    }
    dependsOn: [
      customRoles
    ]
  }
]

module managedRegistryRoles 'modules/rbac/registry-roles.bicep' = [
  for (scopeId, i) in managedRegistryScopes: {
    name: 'rbac-managed-acr-${i}-${resourceToken}'
    scope: resourceGroup(split(scopeId, '/')[2], split(scopeId, '/')[4])
    params: {
      registryName: split(scopeId, '/')[8]
      principalId: appPrincipalId
      roles: rolesFor.managedScope
    }
    dependsOn: [
      customRoles
    ]
  }
]

module watchedRegistryRoles 'modules/rbac/registry-roles.bicep' = [
  for (registryId, i) in watchedRegistries: {
    name: 'rbac-watched-acr-${i}-${resourceToken}'
    scope: resourceGroup(split(registryId, '/')[2], split(registryId, '/')[4])
    params: {
      registryName: split(registryId, '/')[8]
      principalId: appPrincipalId
      roles: rolesFor.watchedRegistry
    }
    dependsOn: [
      customRoles
    ]
  }
]

module rotationRegistryRoles 'modules/rbac/registry-roles.bicep' = [
  for (registryId, i) in rotationRegistries: {
    name: 'rbac-rotation-acr-${i}-${resourceToken}'
    scope: resourceGroup(split(registryId, '/')[2], split(registryId, '/')[4])
    params: {
      registryName: split(registryId, '/')[8]
      principalId: appPrincipalId
      roles: rolesFor.rotationRegistry
    }
    dependsOn: [
      customRoles
    ]
  }
]

module watchedVaultRoles 'modules/rbac/vault-roles.bicep' = [
  for (vaultId, i) in watchedVaults: {
    name: 'rbac-watched-kv-${i}-${resourceToken}'
    scope: resourceGroup(split(vaultId, '/')[2], split(vaultId, '/')[4])
    params: {
      vaultName: split(vaultId, '/')[8]
      principalId: appPrincipalId
      roles: rolesFor.watchedVault
    }
    dependsOn: [
      customRoles
    ]
  }
]

module rotationVaultRoles 'modules/rbac/vault-roles.bicep' = [
  for (vaultId, i) in rotationVaults: {
    name: 'rbac-rotation-kv-${i}-${resourceToken}'
    scope: resourceGroup(split(vaultId, '/')[2], split(vaultId, '/')[4])
    params: {
      vaultName: split(vaultId, '/')[8]
      principalId: appPrincipalId
      roles: rolesFor.rotationVault
    }
    dependsOn: [
      customRoles
    ]
  }
]

module storageRoles 'modules/rbac/storage-roles.bicep' = {
  name: 'rbac-storage-${resourceToken}'
  params: {
    storageAccountName: storage.outputs.name
    principalId: appPrincipalId
    roles: rolesFor.storage
  }
}

// The optional operators' group: read-only access for what docs/operations.md has operators do.
var useOperatorsGroup = !empty(operatorsGroupPrincipalId)
var operatorRoleSpecs = map(operatorRoleAssignments, a => {
  scope: a.scope
  roleDefinitionId: builtInRoles[a.role].id
  condition: ''
  description: 'acr-cascade (${environmentName}) operators: ${a.role}'
})

module operatorStorageRoles 'modules/rbac/storage-roles.bicep' = if (useOperatorsGroup) {
  name: 'rbac-operators-storage-${resourceToken}'
  params: {
    storageAccountName: storage.outputs.name
    principalId: operatorsGroupPrincipalId
    principalType: 'Group'
    roles: filter(operatorRoleSpecs, r => r.scope == 'storage')
  }
}

module operatorDeadLetterRoles 'modules/rbac/container-roles.bicep' = if (useOperatorsGroup) {
  name: 'rbac-operators-deadletter-${resourceToken}'
  params: {
    storageAccountName: storage.outputs.name
    containerName: deadLetterContainerName
    principalId: operatorsGroupPrincipalId
    principalType: 'Group'
    roles: filter(operatorRoleSpecs, r => r.scope == 'deadLetterContainer')
  }
}

module topicRoles 'modules/rbac/topic-roles.bicep' = {
  name: 'rbac-topic-${resourceToken}'
  params: {
    topicName: notificationTopic.outputs.name
    principalId: appPrincipalId
    roles: rolesFor.topic
  }
}

module appInsightsRoles 'modules/rbac/app-insights-roles.bicep' = {
  name: 'rbac-appi-${resourceToken}'
  params: {
    appInsightsName: monitoring.outputs.appInsightsName
    principalId: appPrincipalId
    roles: rolesFor.appInsights
  }
}

module schedulerRoles 'modules/rbac/scheduler-roles.bicep' = if (useDurableTaskScheduler) {
  name: 'rbac-scheduler-${resourceToken}'
  params: {
    schedulerName: scheduler!.outputs.name
    principalId: appPrincipalId
    roles: rolesFor.scheduler
  }
}

// Vaults in the access-policy model: RBAC data actions do not apply there, so the app gets an access policy.
var rotationVaultIds = map(rotationVaults, v => toLower(v))
var plainAccessPolicyVaults = filter(accessPolicyVaults, v => !contains(rotationVaultIds, toLower(v)))
var rotationAccessPolicyVaults = filter(accessPolicyVaults, v => contains(rotationVaultIds, toLower(v)))
var accessPoliciesFor = {
  accessPolicyVault: first(filter(appAccessPolicies, p => p.scope == 'accessPolicyVault'))!.secrets
  rotationAccessPolicyVault: first(filter(appAccessPolicies, p => p.scope == 'rotationAccessPolicyVault'))!.secrets
}

module vaultAccessPolicies 'modules/vault-access-policy.bicep' = [
  for (vaultId, i) in plainAccessPolicyVaults: {
    name: 'kv-policy-${i}-${resourceToken}'
    scope: resourceGroup(split(vaultId, '/')[2], split(vaultId, '/')[4])
    params: {
      vaultName: split(vaultId, '/')[8]
      objectId: appPrincipalId
      secretPermissions: accessPoliciesFor.accessPolicyVault
    }
  }
]

module rotationVaultAccessPolicies 'modules/vault-access-policy.bicep' = [
  for (vaultId, i) in rotationAccessPolicyVaults: {
    name: 'kv-policy-rotation-${i}-${resourceToken}'
    scope: resourceGroup(split(vaultId, '/')[2], split(vaultId, '/')[4])
    params: {
      vaultName: split(vaultId, '/')[8]
      objectId: appPrincipalId
      secretPermissions: accessPoliciesFor.rotationAccessPolicyVault
    }
  }
]

// ---------------------------------------------------------------------------------------------------------------
// Outputs (azd stores them in the environment; the postdeploy hook reads CASCADE_EVENTS_PARAMETERS)
// ---------------------------------------------------------------------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = resourceGroup().name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = 'https://${functionApp.outputs.defaultHostName}'
output CASCADE_API_BASE_URL string = 'https://${functionApp.outputs.defaultHostName}/api'
output CASCADE_APP_PRINCIPAL_ID string = appPrincipalId
output CASCADE_APP_CLIENT_ID string = appClientId
output CASCADE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output CASCADE_DEAD_LETTER_CONTAINER string = deadLetterContainerName
output CASCADE_NOTIFICATION_TOPIC_ID string = notificationTopic.outputs.id
output CASCADE_NOTIFICATION_TOPIC_ENDPOINT string = notificationTopic.outputs.endpoint
output CASCADE_DURABLE_TASK_SCHEDULER_ENDPOINT string = useDurableTaskScheduler ? scheduler!.outputs.endpoint : ''
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.appInsightsName
output LOG_ANALYTICS_WORKSPACE_ID string = monitoring.outputs.workspaceId
output CASCADE_CUSTOM_ROLE_IDS object = customRoleIds

// Parameters of events.bicep, in the `az deployment group create --parameters` JSON form.
output CASCADE_EVENTS_PARAMETERS object = {
  environmentName: {
    value: environmentName
  }
  functionAppName: {
    value: functionApp.outputs.name
  }
  storageAccountName: {
    value: storage.outputs.name
  }
  deadLetterContainerName: {
    value: deadLetterContainerName
  }
  watchedRegistries: {
    value: eventRegistries
  }
  watchedVaults: {
    value: eventVaults
  }
  existingSystemTopics: {
    value: existingSystemTopics
  }
  tags: {
    value: allTags
  }
  alertActionGroupId: {
    value: alerts.outputs.actionGroupId
  }
}
