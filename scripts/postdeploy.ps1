# azd postdeploy hook (Windows): the same steps as scripts/postdeploy.sh, which documents them.
# Subscribes the blob trigger to BlobCreated events in the request container; safe to re-run.
# azd passes its environment's values (the Bicep outputs) to hooks as environment variables.
# No $ErrorActionPreference = 'Stop': az writes warnings to stderr; every az call's exit code is checked instead.

$subscriptionName = 'start-run-from-blob'
$functionName = 'Host.Functions.start_run_from_blob'
$eventType = 'Microsoft.Storage.BlobCreated'
$keyAttempts = if ($env:POSTDEPLOY_KEY_ATTEMPTS) { [int]$env:POSTDEPLOY_KEY_ATTEMPTS } else { 12 }
$keyWaitSeconds = if ($env:POSTDEPLOY_KEY_WAIT_SECONDS) { [int]$env:POSTDEPLOY_KEY_WAIT_SECONDS } else { 10 }

function Stop-Hook([string]$message) {
    [Console]::Error.WriteLine("postdeploy: $message")
    exit 1
}

# Prints az's error output with any webhook key (code=...) masked: this script never shows the key.
function Write-AzErrors([string]$errorFile) {
    $text = Get-Content -Raw -ErrorAction SilentlyContinue $errorFile
    if ($text) { [Console]::Error.WriteLine(($text -replace 'code=[^&\s"]*', 'code=<hidden>')) }
}

$required = 'AZURE_RESOURCE_GROUP', 'AZURE_FUNCTION_APP_NAME', 'AZURE_STORAGE_ACCOUNT_NAME',
    'EVENT_GRID_SYSTEM_TOPIC_NAME', 'VIDEO_REQUEST_CONTAINER'
$missing = @($required | Where-Object { -not [Environment]::GetEnvironmentVariable($_) })
if ($missing.Count -gt 0) {
    Stop-Hook ("missing azd environment value(s): $($missing -join ' '). They are outputs of infra/main.bicep: " +
        "run 'azd provision' first, or set one with 'azd env set NAME VALUE'.")
}

$container = $env:VIDEO_REQUEST_CONTAINER
if ($container.Length -lt 3 -or $container.Length -gt 63 -or $container -cnotmatch '^[a-z0-9]+(-[a-z0-9]+)*$') {
    Stop-Hook ("VIDEO_REQUEST_CONTAINER must be a valid container name (3-63 lowercase letters, digits and single " +
        "hyphens, starting and ending with a letter or digit), got '$container'.")
}
if (-not (Get-Command az -ErrorAction SilentlyContinue)) {
    Stop-Hook "the Azure CLI (az) is not on PATH; install it and run 'az login'."
}

$group = $env:AZURE_RESOURCE_GROUP
$app = $env:AZURE_FUNCTION_APP_NAME
$topic = $env:EVENT_GRID_SYSTEM_TOPIC_NAME
$account = $env:AZURE_STORAGE_ACCOUNT_NAME
$azErrorFile = (New-TemporaryFile).FullName
try {
    $topicSource = az eventgrid system-topic show --resource-group $group --name $topic --query source `
        --output tsv 2> $azErrorFile
    if ($LASTEXITCODE -ne 0) { Write-AzErrors $azErrorFile; Stop-Hook "cannot read Event Grid system topic '$topic' in '$group'." }
    if ($topicSource -notlike "*/storageAccounts/$account") {
        Stop-Hook "Event Grid system topic '$topic' publishes events of '$topicSource', not of storage account '$account'."
    }

    $hostName = az functionapp show --resource-group $group --name $app --query defaultHostName --output tsv 2> $azErrorFile
    if ($LASTEXITCODE -ne 0) { Write-AzErrors $azErrorFile; Stop-Hook "cannot read function app '$app' in resource group '$group'." }
    if (-not $hostName) { Stop-Hook "function app '$app' has no default host name yet; re-run 'azd deploy'." }

    # The host creates the blobs_extension key when it first indexes an Event Grid blob trigger, shortly after a deploy.
    $key = ''
    for ($attempt = 1; ; $attempt++) {
        $key = az functionapp keys list --resource-group $group --name $app `
            --query systemKeys.blobs_extension --output tsv 2> $azErrorFile
        if ($LASTEXITCODE -ne 0) { Write-AzErrors $azErrorFile; $key = '' }
        if ($key) { break }
        if ($attempt -ge $keyAttempts) {
            Stop-Hook ("function app '$app' has no blobs_extension system key after $keyAttempts attempts: check that " +
                "'azd deploy' succeeded and that start_run_from_blob is indexed (Functions page in the portal), " +
                "then run this hook again with 'azd hooks run postdeploy'.")
        }
        Write-Output "postdeploy: waiting for the blobs_extension key of '$app' (attempt $attempt of $keyAttempts)..."
        Start-Sleep -Seconds $keyWaitSeconds
    }

    # Keys are URL-safe base64 in practice; escape the characters that would change the query string if not.
    $encodedKey = $key -replace '%', '%25' -replace '\+', '%2B' -replace '/', '%2F' -replace '&', '%26' -replace '#', '%23'
    $endpoint = "https://$hostName/runtime/webhooks/blobs?functionName=$functionName&code=$encodedKey"
    $subjectPrefix = "/blobServices/default/containers/$container/"
    $wanted = @($endpoint, $subjectPrefix, $eventType) -join "`n"

    $current = az eventgrid system-topic event-subscription show --resource-group $group `
        --system-topic-name $topic --name $subscriptionName --include-full-endpoint-url true `
        --query "[destination.endpointUrl, filter.subjectBeginsWith, join(',', filter.includedEventTypes)]" `
        --output tsv 2> $azErrorFile
    if ($LASTEXITCODE -eq 0) {
        if ((@($current) -join "`n") -ceq $wanted) {
            Write-Output "postdeploy: Event Grid subscription '$subscriptionName' on '$topic' is already up to date; nothing changed."
            exit 0
        }
        $action = 'updated (its endpoint or filter had changed)'
    } elseif ((Get-Content -Raw $azErrorFile) -match 'not *found') {
        $action = 'created'
    } else {
        Write-AzErrors $azErrorFile
        Stop-Hook "cannot read Event Grid subscription '$subscriptionName' on system topic '$topic' in '$group'."
    }

    # az is az.cmd on Windows, and cmd.exe would cut the URL at its '&' unless the argument carries its own quotes.
    $endpointArgument = if ($IsWindows -or $env:OS -eq 'Windows_NT') { '"' + $endpoint + '"' } else { $endpoint }
    # azure-cli's create is a PUT (create or replace), so it also brings a stale subscription up to date in place.
    az eventgrid system-topic event-subscription create --resource-group $group --system-topic-name $topic `
        --name $subscriptionName --endpoint-type webhook --endpoint $endpointArgument `
        --included-event-types $eventType --subject-begins-with $subjectPrefix --output none 2> $azErrorFile
    if ($LASTEXITCODE -ne 0) {
        Write-AzErrors $azErrorFile
        Stop-Hook "cannot create Event Grid subscription '$subscriptionName' on system topic '$topic'."
    }
    Write-Output ("postdeploy: Event Grid subscription '$subscriptionName' $($action): BlobCreated in container " +
        "'$container' of storage account '$account' now starts runs on '$app'.")
} finally {
    Remove-Item -Force -ErrorAction SilentlyContinue $azErrorFile
}
