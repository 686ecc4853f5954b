// Role assignments of one principal at a Key Vault (watched or rotation vault).

@description('Object id of the principal (a managed identity).')
param principalId string

@description('Roles to assign: { roleDefinitionId (GUID), condition (ABAC, empty for none), description }.')
param roles array

@description('Key Vault name (in the resource group this module is deployed to).')
param vaultName string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in roles: {
    name: guid(vault.id, principalId, role.roleDefinitionId)
    scope: vault
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
