// Role assignments of one principal at the Application Insights component.

@description('Object id of the principal (a managed identity).')
param principalId string

@description('Roles to assign: { roleDefinitionId (GUID), condition (ABAC, empty for none), description }.')
param roles array

param appInsightsName string

resource component 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in roles: {
    name: guid(component.id, principalId, role.roleDefinitionId)
    scope: component
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
