// Event Grid system topic on a Key Vault, in the vault's resource group and region. It has its own identity, used
// only to write dead-lettered events. Azure allows one system topic per source resource.
param vaultName string
param topicName string

@description('Region of the source: a system topic lives in its source\'s region (the caller reads it at run time).')
param location string
param tags object

@description('An existing system topic on the source to use instead of creating one (empty: create).')
param existingTopicName string = ''

var createTopic = empty(existingTopicName)

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' = if (createTopic) {
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

resource existingTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = if (!createTopic) {
  name: existingTopicName
}

output id string = createTopic ? topic.id : existingTopic.id
output name string = createTopic ? topic.name : existingTopic.name
output principalId string = createTopic ? topic!.identity.principalId : existingTopic!.identity.principalId
