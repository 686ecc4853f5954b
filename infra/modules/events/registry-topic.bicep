// Event Grid system topic on a container registry, in the registry's resource group and region. It has its own
// identity, used only to write dead-lettered events. Azure allows one system topic per source resource.
param registryName string
param topicName string

@description('Region of the source: a system topic lives in its source\'s region (the caller reads it at run time).')
param location string
param tags object

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
}

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: topicName
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: registry.id
    topicType: 'Microsoft.ContainerRegistry.Registries'
  }
}

output id string = topic.id
output name string = topic.name
output principalId string = topic.identity.principalId
