// The function app on Flex Consumption and every app setting soraflow reads in Azure: identity-based connections
// only, provider secrets as Key Vault references, the Durable backend chosen here rather than in host.json.
param name string
param location string
param tags object
param planId string
param instanceMemoryMB int
param maximumInstanceCount int
@allowed(['scheduler', 'azureStorage'])
param durableBackend string
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param appInsightsName string
param keyVaultName string
param schedulerEndpoint string
param taskHubName string
param videoOutputContainer string
param videoRequestContainer string
param runIndexTable string
param videoProvider string
param soraEndpoint string
param soraModel string
param hasSoraApiKey bool
param hasFalKey bool
param hasVertexCredentials bool
param vertexProject string = ''
param vertexLocation string = 'us-central1'
param virtualNetworkSubnetId string = ''

var useScheduler = durableBackend == 'scheduler'
var usesSoraJobsApi = videoProvider == 'sora-jobs'
var hasSoraEndpoint = !empty(soraEndpoint)
var hasSoraModel = !empty(soraModel)
var inVirtualNetwork = !empty(virtualNetworkSubnetId)

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

var blobEndpoint = storageAccount.properties.primaryEndpoints.blob
var queueEndpoint = storageAccount.properties.primaryEndpoints.queue
var tableEndpoint = storageAccount.properties.primaryEndpoints.table

// The host's own storage (Durable Functions with the Azure Storage backend, blob-trigger receipts and poison queue).
var hostStorageSettings = {
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: blobEndpoint
  AzureWebJobsStorage__queueServiceUri: queueEndpoint
  AzureWebJobsStorage__tableServiceUri: tableEndpoint
}

// soraflow's outputs, dropped requests and run index. The blob trigger binds to this connection too, and an
// identity-based blob trigger needs the queue URI beside the blob one; the run index needs the table URI.
var videoStorageSettings = {
  VIDEO_STORAGE__credential: 'managedidentity'
  VIDEO_STORAGE__clientId: identityClientId
  VIDEO_STORAGE__blobServiceUri: blobEndpoint
  VIDEO_STORAGE__queueServiceUri: queueEndpoint
  VIDEO_STORAGE__tableServiceUri: tableEndpoint
  VIDEO_OUTPUT_CONTAINER: videoOutputContainer
  VIDEO_REQUEST_CONTAINER: videoRequestContainer
  // Flex Consumption runs blob triggers only from Event Grid; the postdeploy hook creates the subscription.
  VIDEO_REQUEST_TRIGGER_SOURCE: 'EventGrid'
  RUN_INDEX_TABLE: runIndexTable
}

var appSettingsBase = {
  TASKHUB_NAME: taskHubName
  VIDEO_PROVIDER: videoProvider
  // The app setting cannot read the site's own output, so it is the default host name Flex gives a site.
  PUBLIC_BASE_URL: 'https://${name}.azurewebsites.net'
  AZURE_CLIENT_ID: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY: 'true'
}

// Key Vault references resolve with keyVaultAccessIdentityResourceId below; a secret not given is not referenced.
var secretSettings = union(
  hasSoraApiKey ? { SORA_API_KEY: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=sora-api-key)' } : {},
  hasFalKey ? { FAL_KEY: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=fal-key)' } : {},
  hasVertexCredentials ? { VERTEX_CREDENTIALS: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=vertex-credentials)' } : {}
)

var providerSettings = union(
  hasSoraEndpoint ? { SORA_ENDPOINT: soraEndpoint } : {},
  hasSoraModel ? { SORA_MODEL: soraModel } : {},
  usesSoraJobsApi ? { SORA_API: 'jobs' } : {},
  empty(vertexProject) ? {} : { VERTEX_PROJECT: vertexProject, VERTEX_LOCATION: vertexLocation }
)

// host.json keeps the Azure Storage provider for local runs on Azurite; these override it in Azure.
var schedulerSettings = {
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${schedulerEndpoint};Authentication=ManagedIdentity;ClientID=${identityClientId}'
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: 'azureManaged'
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING'
}

// Microsoft's Flex guidance for the Azure Storage backend: poll the control queues at most 10 s apart.
var azureStorageBackendSettings = {
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__maxQueuePollingInterval: '00:00:10'
}

var durableSettings = useScheduler ? schedulerSettings : azureStorageBackendSettings

var appSettings = union(
  hostStorageSettings,
  videoStorageSettings,
  appSettingsBase,
  providerSettings,
  secretSettings,
  durableSettings
)

// One always-ready instance keeps the Azure Storage backend's queues polled (Microsoft's Flex guidance); the
// scheduler pushes work to the app, so it scales from zero.
var alwaysReady = useScheduler ? [] : [{ name: 'durable', instanceCount: 1 }]

module site 'br/public:avm/res/web/site:0.15.1' = {
  name: 'site'
  params: {
    name: name
    kind: 'functionapp,linux'
    location: location
    tags: union(tags, { 'azd-service-name': 'api' })
    serverFarmResourceId: planId
    httpsOnly: true
    managedIdentities: {
      systemAssigned: false
      userAssignedResourceIds: [
        identityId
      ]
    }
    keyVaultAccessIdentityResourceId: identityId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        alwaysReady: alwaysReady
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      // The Python the project is developed and tested on (requires-python >= 3.11, .venv).
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
    siteConfig: {
      alwaysOn: false
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    virtualNetworkSubnetId: inVirtualNetwork ? virtualNetworkSubnetId : null
    appSettingsKeyValuePairs: appSettings
  }
}

output name string = site.outputs.name
output baseUrl string = 'https://${site.outputs.defaultHostname}'
