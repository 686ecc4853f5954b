#!/bin/sh
# azd postdeploy hook: deploy infra/events.bicep (system topics + subscriptions to onRegistryEvent / onVaultEvent).
# It runs after the code deploy because an AzureFunction destination must name a function that already exists: it
# first waits (bounded) until the app lists both Event Grid functions. Every az call names azd's subscription.
# Needs the Azure CLI, signed in to the same tenant as azd (az login).
set -eu

for name in AZURE_SUBSCRIPTION_ID AZURE_RESOURCE_GROUP AZURE_FUNCTION_APP_NAME CASCADE_EVENTS_PARAMETERS; do
  eval "value=\${$name:-}"
  if [ -z "$value" ]; then
    echo "postdeploy: $name is not set; run 'azd provision' first (azd passes its environment to this hook)." >&2
    exit 1
  fi
done

wait_seconds=${CASCADE_POSTDEPLOY_WAIT_SECONDS:-600}
poll_seconds=${CASCADE_POSTDEPLOY_POLL_SECONDS:-10}
# Deployment names allow letters, digits, '-', '_', '.', '(' and ')'; keep it to the safe subset everywhere.
env_name=$(printf '%s' "${AZURE_ENV_NAME:-default}" | tr -c 'A-Za-z0-9-' '-')

echo "postdeploy: waiting for onRegistryEvent and onVaultEvent on $AZURE_FUNCTION_APP_NAME (up to ${wait_seconds}s)"
start=$(date +%s)
while :; do
  listed=$(az functionapp function list \
    --subscription "$AZURE_SUBSCRIPTION_ID" \
    --resource-group "$AZURE_RESOURCE_GROUP" \
    --name "$AZURE_FUNCTION_APP_NAME" \
    --query "[].name" --output tsv 2>/dev/null || true)
  missing=""
  for fn in onRegistryEvent onVaultEvent; do
    # Names are listed as <app>/<function>.
    printf '%s\n' "$listed" | grep -q "/$fn\$" || missing="$missing $fn"
  done
  [ -z "$missing" ] && break
  if [ $(($(date +%s) - start)) -ge "$wait_seconds" ]; then
    echo "postdeploy: timed out after ${wait_seconds}s waiting for$missing on $AZURE_FUNCTION_APP_NAME; check the deployment logs, then run 'azd hooks run postdeploy' (CASCADE_POSTDEPLOY_WAIT_SECONDS sets the bound)." >&2
    exit 1
  fi
  sleep "$poll_seconds"
done

here=$(dirname "$0")
echo "postdeploy: subscribing the app to its watched registries and vaults (events.bicep)"
az deployment group create \
  --subscription "$AZURE_SUBSCRIPTION_ID" \
  --resource-group "$AZURE_RESOURCE_GROUP" \
  --name "acr-cascade-events-$env_name" \
  --template-file "$here/../events.bicep" \
  --parameters "$CASCADE_EVENTS_PARAMETERS" \
  --output none
echo "postdeploy: done"
