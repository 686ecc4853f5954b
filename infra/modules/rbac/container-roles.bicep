// Role assignments of one principal at one blob container (the Event Grid dead-letter container).

@description('Object id of the principal (a managed identity, or a group).')
param principalId string

@description('ServicePrincipal for managed identities (avoids the replication-delay PrincipalNotFound failure), Group for an operators\' group.')
@allowed([
  'ServicePrincipal'
  'Group'
])
param principalType string = 'ServicePrincipal'

@description('Roles to assign: { roleDefinitionId (GUID), condition (ABAC, empty for none), description }.')
param roles array

param storageAccountName string
param containerName string

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: account
  name: 'default'
}

resource container 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: containerName
}

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in roles: {
    name: guid(container.id, principalId, role.roleDefinitionId)
    scope: container
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.roleDefinitionId)
      principalId: principalId
      principalType: principalType
      description: role.description
      condition: empty(role.condition) ? null : role.condition
      conditionVersion: empty(role.condition) ? null : '2.0'
    }
  }
]

output assignmentIds array = [for (role, i) in roles: assignments[i].id]
