# azd postdeploy hook (Windows): same as postdeploy.sh. Deploys infra/events.bicep after the code, because an
# AzureFunction destination must name a function that already exists. Needs the Azure CLI (az login).
$ErrorActionPreference = 'Stop'

if (-not $env:AZURE_RESOURCE_GROUP -or -not $env:CASCADE_EVENTS_PARAMETERS) {
  Write-Error "postdeploy: AZURE_RESOURCE_GROUP or CASCADE_EVENTS_PARAMETERS is not set; run 'azd provision' first."
  exit 1
}

$envName = if ($env:AZURE_ENV_NAME) { $env:AZURE_ENV_NAME } else { 'default' }
# Pass the parameters through a file: PowerShell would strip the quotes of inline JSON.
$parametersFile = New-TemporaryFile
try {
  Set-Content -Path $parametersFile -Value $env:CASCADE_EVENTS_PARAMETERS -Encoding utf8
  Write-Host 'postdeploy: subscribing the app to its watched registries and vaults (events.bicep)'
  az deployment group create `
    --resource-group $env:AZURE_RESOURCE_GROUP `
    --name "acr-cascade-events-$envName" `
    --template-file (Join-Path $PSScriptRoot '..' 'events.bicep') `
    --parameters "@$parametersFile" `
    --output none
  if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
  Write-Host 'postdeploy: done'
} finally {
  Remove-Item $parametersFile -ErrorAction SilentlyContinue
}
