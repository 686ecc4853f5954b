// Adds (or merges) an access policy for the app on a vault that uses the access-policy permission model.
param vaultName string
param objectId string

@description('Secret permissions, e.g. list (metadata only) or list + set (rotation).')
param secretPermissions array

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource policy 'Microsoft.KeyVault/vaults/accessPolicies@2023-07-01' = {
  parent: vault
  name: 'add'
  properties: {
    accessPolicies: [
      {
        tenantId: subscription().tenantId
        objectId: objectId
        permissions: {
          secrets: secretPermissions
          keys: []
          certificates: []
        }
      }
    ]
  }
}
