// The Function App (Node 22, Functions v4) on a Flex Consumption plan. (Elastic Premium was dropped: without Azure
// Files it needs the package at a blob URL read with the app identity, which azd's deploy does not produce.)
// Always has a system-assigned identity; a user-assigned identity is added when given (it then holds the roles).
param name string
param location string
param tags object
param planName string

param flexMaximumInstanceCount int
param flexInstanceMemoryMB int

@description('Blob container URL the Flex plan deploys packages to.')
param deploymentContainerUrl string

@description('Resource id of the user-assigned identity, or empty for the system-assigned identity only.')
param userAssignedIdentityId string

@description('App settings by name.')
param appSettings object

var useUserAssignedIdentity = !empty(userAssignedIdentityId)

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

var identity = useUserAssignedIdentity ? {
  type: 'SystemAssigned, UserAssigned'
  userAssignedIdentities: {
    '${userAssignedIdentityId}': {}
  }
} : {
  type: 'SystemAssigned'
}

// The deployment container is read with the same identity that holds Storage Blob Data Owner.
var deploymentAuthentication = useUserAssignedIdentity ? {
  type: 'UserAssignedIdentity'
  userAssignedIdentityResourceId: userAssignedIdentityId
} : {
  type: 'SystemAssignedIdentity'
}

var flexConfig = {
  deployment: {
    storage: {
      type: 'blobContainer'
      value: deploymentContainerUrl
      authentication: deploymentAuthentication
    }
  }
  scaleAndConcurrency: {
    maximumInstanceCount: flexMaximumInstanceCount
    instanceMemoryMB: flexInstanceMemoryMB
  }
  runtime: {
    name: 'node'
    version: '22'
  }
}

var settingsList = [
  for setting in items(appSettings): {
    name: setting.key
    value: string(setting.value)
  }
]

// Flex takes the runtime from functionAppConfig.runtime (not linuxFxVersion) and rejects FUNCTIONS_* settings.
var siteProperties = {
  serverFarmId: plan.id
  httpsOnly: true
  siteConfig: {
    minTlsVersion: '1.2'
    ftpsState: 'Disabled'
    appSettings: settingsList
  }
  functionAppConfig: flexConfig
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: identity
  properties: siteProperties
}

// Publishing uses Microsoft Entra ID (azd, az functionapp deployment): no basic-auth credentials.
resource ftpPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output id string = site.id
output name string = site.name
output defaultHostName string = site.properties.defaultHostName
output systemPrincipalId string = site.identity.principalId
