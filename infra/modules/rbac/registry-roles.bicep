// Role assignments of one principal at a container registry (managed, watched or rotation registry).

@description('Object id of the principal (a managed identity).')
param principalId string

@description('Roles to assign: { roleDefinitionId (GUID), condition (ABAC, empty for none), description }.')
param roles array

@description('Registry name (in the resource group this module is deployed to).')
param registryName string

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
}

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in roles: {
    name: guid(registry.id, principalId, role.roleDefinitionId)
    scope: registry
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.roleDefinitionId)
      principalId: principalId
      // Managed identities: ServicePrincipal avoids the replication-delay PrincipalNotFound failure.
      principalType: 'ServicePrincipal'
      description: role.description
      condition: empty(role.condition) ? null : role.condition
      conditionVersion: empty(role.condition) ? null : '2.0'
    }
  }
]

output assignmentIds array = [for (role, i) in roles: assignments[i].id]
