#!/bin/sh
# azd postdeploy hook: deploy infra/events.bicep (system topics + subscriptions to onRegistryEvent / onVaultEvent).
# It runs after the code deploy because an AzureFunction destination must name a function that already exists.
# Needs the Azure CLI, signed in to the same tenant as azd (az login).
set -eu

if [ -z "${AZURE_RESOURCE_GROUP:-}" ] || [ -z "${CASCADE_EVENTS_PARAMETERS:-}" ]; then
  echo "postdeploy: AZURE_RESOURCE_GROUP or CASCADE_EVENTS_PARAMETERS is not set; run 'azd provision' first." >&2
  exit 1
fi

here=$(dirname "$0")
echo "postdeploy: subscribing the app to its watched registries and vaults (events.bicep)"
az deployment group create \
  --resource-group "$AZURE_RESOURCE_GROUP" \
  --name "acr-cascade-events-${AZURE_ENV_NAME:-default}" \
  --template-file "$here/../events.bicep" \
  --parameters "$CASCADE_EVENTS_PARAMETERS" \
  --output none
echo "postdeploy: done"
