// Role assignments of one principal at the Durable Task Scheduler.

@description('Object id of the principal (a managed identity).')
param principalId string

@description('Roles to assign: { roleDefinitionId (GUID), condition (ABAC, empty for none), description }.')
param roles array

param schedulerName string

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' existing = {
  name: schedulerName
}

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in roles: {
    name: guid(scheduler.id, principalId, role.roleDefinitionId)
    scope: scheduler
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
