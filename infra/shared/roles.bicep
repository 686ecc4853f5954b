// The role model of acr-cascade, as data. main.bicep and events.bicep import it and deploy exactly these entries;
// test/support/bicep.ts derives the same list for the tests and for the emulator's end-to-end run, so the model is
// written once, here. Every entry says why the app needs it.
//
// Scope kinds (where an entry lands):
//   managedScope        each of managedScopes (subscription, resource group or registry) whose ACR tasks are managed
//   watchedRegistry     each base registry in watchedRegistries
//   watchedVault        each Key Vault in watchedVaults
//   rotationRegistry    each registry in rotationRegistries (ACR tokens whose passwords the app rotates)
//   rotationVault       each Key Vault in rotationVaults (where the rotated passwords are stored)
//   storage             the app's own storage account
//   topic               the outbound notification topic
//   scheduler           the Durable Task Scheduler (only with durableBackend = 'DurableTaskScheduler')
//   deadLetterContainer the dead-letter blob container (principal: each Event Grid system topic, not the app)
// `when` names the switch that enables an entry: always | autoRemediate | taskWrites | azureStorageBackend |
// durableTaskScheduler.

// Built-in roles: GUIDs are the same in every tenant.
@export()
var builtInRoles = {
  storageBlobDataOwner: {
    id: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
    name: 'Storage Blob Data Owner'
  }
  storageBlobDataContributor: {
    id: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
    name: 'Storage Blob Data Contributor'
  }
  storageQueueDataContributor: {
    id: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
    name: 'Storage Queue Data Contributor'
  }
  storageTableDataContributor: {
    id: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
    name: 'Storage Table Data Contributor'
  }
  storageTableDataReader: {
    id: '76199698-9eea-4c19-bc75-cec21354c6b6'
    name: 'Storage Table Data Reader'
  }
  storageBlobDataReader: {
    id: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
    name: 'Storage Blob Data Reader'
  }
  eventGridDataSender: {
    id: 'd5a91429-5739-47e2-a06b-3470a27159e7'
    name: 'EventGrid Data Sender'
  }
  durableTaskDataContributor: {
    id: '0ad04412-c4d5-4796-b79c-f76d14c8d402'
    name: 'Durable Task Data Contributor'
  }
  monitoringMetricsPublisher: {
    id: '3913510d-42f4-4e42-8a64-420c390055eb'
    name: 'Monitoring Metrics Publisher'
  }
}

// Custom roles, each tighter than the nearest built-in (the comment above each says which and why).
@export()
var customRoleDefinitions = {
  // Tighter than Container Registry Tasks Contributor, which also deletes tasks, writes runs, manages agent pools and
  // task runs, uploads build sources and creates deployments. The app only reads tasks (with their credentials),
  // schedules and cancels runs. Task writes are a separate role (taskWriter), assigned only when something needs them.
  operator: {
    roleName: 'ACR Cascade Operator'
    description: 'acr-cascade: read ACR tasks and runs, schedule and cancel runs, refresh task credentials.'
    actions: [
      'Microsoft.ContainerRegistry/registries/read'
      'Microsoft.ContainerRegistry/registries/tasks/read'
      'Microsoft.ContainerRegistry/registries/tasks/listDetails/action'
      'Microsoft.ContainerRegistry/registries/scheduleRun/action'
      'Microsoft.ContainerRegistry/registries/runs/read'
      'Microsoft.ContainerRegistry/registries/runs/cancel/action'
      // scheduleRun, runs cancel and tasks update answer 202 in Azure; their poller reads the operation status.
      'Microsoft.ContainerRegistry/registries/operationStatuses/read'
      'Microsoft.Authorization/roleAssignments/read'
      'Microsoft.Authorization/roleDefinitions/read'
    ]
    notActions: []
    dataActions: []
    notDataActions: []
  }
  // tasks/write lets its holder rewrite any task's steps, so it is granted only when the app must change tasks:
  // credential refresh (repointing a task pinned to an old secret version, also after a rotation) or switching
  // ACR's native base-image triggers off (CASCADE_NATIVE_TRIGGERS=disable).
  taskWriter: {
    roleName: 'ACR Cascade Task Writer'
    description: 'acr-cascade: update ACR tasks (credential references, native base-image triggers).'
    actions: [
      'Microsoft.ContainerRegistry/registries/tasks/write'
      // tasks update answers 202 in Azure; its poller reads the operation status.
      'Microsoft.ContainerRegistry/registries/operationStatuses/read'
    ]
    notActions: []
    dataActions: []
    notDataActions: []
  }
  // Tighter than Reader (whose */read also matches registries/pull/read, i.e. it could pull every base image) and
  // than Key Vault Reader (which also creates deployments and classic alert rules). Secret *metadata* only: the app
  // never reads a secret value outside rotation.
  reader: {
    roleName: 'ACR Cascade Reader'
    description: 'acr-cascade: read registry and vault properties, role assignments and definitions, secret metadata.'
    actions: [
      'Microsoft.ContainerRegistry/registries/read'
      'Microsoft.KeyVault/vaults/read'
      'Microsoft.Authorization/roleAssignments/read'
      'Microsoft.Authorization/roleDefinitions/read'
    ]
    notActions: []
    dataActions: [
      'Microsoft.KeyVault/vaults/secrets/readMetadata/action'
    ]
    notDataActions: []
  }
  // Tighter than Container Registry Contributor and Data Access Configuration Administrator (token and scope-map
  // CRUD, admin credentials) plus Key Vault Secrets Officer (which reads, deletes and purges secret values).
  credentialRotator: {
    roleName: 'ACR Cascade Credential Rotator'
    description: 'acr-cascade: generate ACR token passwords and store them as new secret versions.'
    actions: [
      'Microsoft.ContainerRegistry/registries/tokens/read'
      'Microsoft.ContainerRegistry/registries/generateCredentials/action'
      // generateCredentials answers 202 in Azure; the passwords are read once its operation has succeeded.
      'Microsoft.ContainerRegistry/registries/operationStatuses/read'
    ]
    notActions: []
    dataActions: [
      'Microsoft.KeyVault/vaults/secrets/readMetadata/action'
      'Microsoft.KeyVault/vaults/secrets/setSecret/action'
    ]
    notDataActions: []
  }
  // Tighter than Role Based Access Control Administrator, whose */read would let the app pull every image of the
  // base registry (Legacy mode honours */read for pull) and which can also delete assignments. This role can only
  // write assignments, and the condition below narrows that to the two pull roles for service principals.
  pullGranter: {
    roleName: 'ACR Cascade Pull Granter'
    description: 'acr-cascade auto-remediation: grant AcrPull or Container Registry Repository Reader to task identities.'
    actions: [
      'Microsoft.Authorization/roleAssignments/write'
    ]
    notActions: []
    dataActions: []
    notDataActions: []
  }
}

// The only roles auto-remediation may grant (the condition below lists the same GUIDs).
@export()
var remediationGrantableRoles = {
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
  containerRegistryRepositoryReader: 'b93aa761-3e63-49ed-ac28-beffa264f7ac'
}

// ABAC condition (conditionVersion 2.0) on the Pull Granter assignment: a role-assignment write is allowed only when
// it grants AcrPull or Container Registry Repository Reader, and only to a service principal (task identities are
// managed identities). The app must send principalType 'ServicePrincipal' when it creates an assignment.
@export()
var pullGranterCondition = '''
(
 (
  !(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})
 )
 OR
 (
  @Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {7f951dda-4ed3-4680-a7ca-43fe172d538d, b93aa761-3e63-49ed-ac28-beffa264f7ac}
  AND
  @Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}
 )
)
'''

// What the app identity holds. `role` is a key of builtInRoles or customRoleDefinitions.
@export()
var appRoleAssignments = [
  {
    role: 'operator'
    scope: 'managedScope'
    when: 'always'
    condition: ''
    why: 'Find dependent tasks (tasks + listDetails for credentials), schedule, watch and cancel their runs, and evaluate pull permissions where the managed scope contains the base registry.'
  }
  {
    role: 'taskWriter'
    scope: 'managedScope'
    when: 'taskWrites'
    condition: ''
    why: 'Only with credential refresh, token rotation or CASCADE_NATIVE_TRIGGERS=disable: update a task\'s credential references or switch its native base-image trigger off.'
  }
  {
    role: 'reader'
    scope: 'watchedRegistry'
    when: 'always'
    condition: ''
    why: 'Read the base registry (login server, roleAssignmentMode, anonymous pull) and its role assignments and definitions to decide whether each task identity can pull.'
  }
  {
    role: 'reader'
    scope: 'watchedVault'
    when: 'always'
    condition: ''
    why: 'Read vault properties and access policies, RBAC assignments on RBAC vaults, and secret properties (never values) for the credential checks.'
  }
  {
    role: 'credentialRotator'
    scope: 'rotationRegistry'
    when: 'always'
    condition: ''
    why: 'Rotate ACR token passwords (tokens/read + generateCredentials) on the registries whose tokens tasks use.'
  }
  {
    role: 'credentialRotator'
    scope: 'rotationVault'
    when: 'always'
    condition: ''
    why: 'Store a rotated password as a new secret version (setSecret) without being able to read other secret values.'
  }
  {
    role: 'pullGranter'
    scope: 'watchedRegistry'
    when: 'autoRemediate'
    condition: pullGranterCondition
    why: 'Auto-remediation only: create the missing AcrPull / Container Registry Repository Reader assignment for a task identity on the base registry; the ABAC condition forbids any other role or principal type.'
  }
  {
    role: 'storageBlobDataOwner'
    scope: 'storage'
    when: 'always'
    condition: ''
    why: 'Functions host storage (identity-based AzureWebJobsStorage): host locks, keys and the Flex deployment package container need blob data ownership.'
  }
  {
    role: 'storageTableDataContributor'
    scope: 'storage'
    when: 'always'
    condition: ''
    why: 'The app tables CascadeIndex, CascadeHistory, CredentialHealth and CascadeDedupe, and the Durable Functions history and instance tables.'
  }
  {
    role: 'storageQueueDataContributor'
    scope: 'storage'
    when: 'azureStorageBackend'
    condition: ''
    why: 'Durable Functions control and work-item queues of the Azure Storage backend (not needed with the Durable Task Scheduler).'
  }
  {
    role: 'eventGridDataSender'
    scope: 'topic'
    when: 'always'
    condition: ''
    why: 'Publish the outbound CloudEvents (cascade and credential notifications) to the notification topic.'
  }
  {
    role: 'monitoringMetricsPublisher'
    scope: 'appInsights'
    when: 'always'
    condition: ''
    why: 'Send telemetry to Application Insights with Entra ID (local, key-based ingestion is off).'
  }
  {
    role: 'durableTaskDataContributor'
    scope: 'scheduler'
    when: 'durableTaskScheduler'
    condition: ''
    why: 'Run orchestrations and activities on the Durable Task Scheduler task hub.'
  }
]

// What each Event Grid system topic's own identity holds: dead-lettering without storage account keys.
@export()
var systemTopicRoleAssignments = [
  {
    role: 'storageBlobDataContributor'
    scope: 'deadLetterContainer'
    when: 'always'
    condition: ''
    why: 'Write events that could not be delivered after the retry policy into the dead-letter container (and nothing else).'
  }
]

// What the optional operators' group holds: what docs/operations.md tells operators to do by hand.
@export()
var operatorRoleAssignments = [
  {
    role: 'storageTableDataReader'
    scope: 'storage'
    why: 'Read the app tables (CascadeHistory, CredentialHealth, CascadeIndex, CascadeDedupe) when investigating.'
  }
  {
    role: 'storageBlobDataReader'
    scope: 'deadLetterContainer'
    why: 'Read dead-lettered events (runbook "dead-lettered events"), and nothing else in the account.'
  }
]

// Key Vault access policies, for vaults that use the access-policy permission model (listed in accessPolicyVaults);
// RBAC role assignments do not apply to their data plane.
@export()
var appAccessPolicies = [
  {
    scope: 'accessPolicyVault'
    secrets: [
      'list'
    ]
    why: 'Read secret properties (list) for the credential checks; never get.'
  }
  {
    scope: 'rotationAccessPolicyVault'
    secrets: [
      'list'
      'set'
    ]
    why: 'Access-policy vaults that are also rotation vaults: store rotated passwords (set) as new versions.'
  }
]
