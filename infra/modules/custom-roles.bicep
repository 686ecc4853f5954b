// The custom roles of shared/roles.bicep, defined once per environment at the app's subscription and assignable in
// every subscription the app's scopes live in.
targetScope = 'subscription'

import { customRoleDefinitions } from '../shared/roles.bicep'

@description('Role definition GUID by custom role key.')
param roleIds object

@description('Appended to each role name: role names are unique per tenant.')
param nameSuffix string

@description('Subscriptions (as /subscriptions/{id}) where the roles may be assigned.')
param assignableScopes array

resource roles 'Microsoft.Authorization/roleDefinitions@2022-04-01' = [
  for role in items(customRoleDefinitions): {
    name: roleIds[role.key]
    properties: {
      roleName: '${role.value.roleName} (${nameSuffix})'
      description: role.value.description
      type: 'CustomRole'
      assignableScopes: assignableScopes
      permissions: [
        {
          actions: role.value.actions
          notActions: role.value.notActions
          dataActions: role.value.dataActions
          notDataActions: role.value.notDataActions
        }
      ]
    }
  }
]

output roleDefinitionIds array = [for (role, i) in items(customRoleDefinitions): roles[i].id]
