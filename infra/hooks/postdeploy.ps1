# azd postdeploy hook (Windows): same as postdeploy.sh. Waits (bounded) until the app lists both Event Grid functions,
# then deploys infra/events.bicep, every az call in azd's subscription. Needs the Azure CLI (az login).
$ErrorActionPreference = 'Stop'

foreach ($name in 'AZURE_SUBSCRIPTION_ID', 'AZURE_RESOURCE_GROUP', 'AZURE_FUNCTION_APP_NAME', 'CASCADE_EVENTS_PARAMETERS') {
  if (-not [Environment]::GetEnvironmentVariable($name)) {
    Write-Error "postdeploy: $name is not set; run 'azd provision' first (azd passes its environment to this hook)."
    exit 1
  }
}

$waitSeconds = if ($env:CASCADE_POSTDEPLOY_WAIT_SECONDS) { [int]$env:CASCADE_POSTDEPLOY_WAIT_SECONDS } else { 600 }
$pollSeconds = if ($env:CASCADE_POSTDEPLOY_POLL_SECONDS) { [int]$env:CASCADE_POSTDEPLOY_POLL_SECONDS } else { 10 }
$envName = $(if ($env:AZURE_ENV_NAME) { $env:AZURE_ENV_NAME } else { 'default' }) -replace '[^A-Za-z0-9-]', '-'

Write-Host "postdeploy: waiting for onRegistryEvent and onVaultEvent on $env:AZURE_FUNCTION_APP_NAME (up to ${waitSeconds}s)"
$deadline = (Get-Date).AddSeconds($waitSeconds)
while ($true) {
  $listed = @(az functionapp function list --subscription $env:AZURE_SUBSCRIPTION_ID `
      --resource-group $env:AZURE_RESOURCE_GROUP --name $env:AZURE_FUNCTION_APP_NAME `
      --query '[].name' --output tsv 2>$null)
  $missing = @('onRegistryEvent', 'onVaultEvent' | Where-Object { $fn = $_; -not ($listed | Where-Object { $_ -like "*/$fn" }) })
  if ($missing.Count -eq 0) { break }
  if ((Get-Date) -ge $deadline) {
    Write-Error "postdeploy: timed out after ${waitSeconds}s waiting for $($missing -join ', ') on $env:AZURE_FUNCTION_APP_NAME; check the deployment logs, then run 'azd hooks run postdeploy' (CASCADE_POSTDEPLOY_WAIT_SECONDS sets the bound)."
    exit 1
  }
  Start-Sleep -Seconds $pollSeconds
}

# Pass the parameters through a file: PowerShell would strip the quotes of inline JSON.
$parametersFile = New-TemporaryFile
try {
  Set-Content -Path $parametersFile -Value $env:CASCADE_EVENTS_PARAMETERS -Encoding utf8
  Write-Host 'postdeploy: subscribing the app to its watched registries and vaults (events.bicep)'
  az deployment group create `
    --subscription $env:AZURE_SUBSCRIPTION_ID `
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
