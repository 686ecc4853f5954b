// Event Grid system topic on a Key Vault, in the vault's resource group and region. It has its own identity, used
// only to write dead-lettered events. Azure allows one system topic per source resource.
param vaultName string
param topicName string

@description('Region of the source: a system topic lives in its source\'s region (the caller reads it at run time).')
param location string
param tags object

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: topicName
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: vault.id
    topicType: 'Microsoft.KeyVault.vaults'
  }
}

output id string = topic.id
output name string = topic.name
output principalId string = topic.identity.principalId
