// soraflow on Azure: a Flex Consumption function app that reaches everything through one user-assigned identity.
// Layout follows Azure-Samples/functions-quickstart-python-azd-eventgrid-blob, with the Durable Task Scheduler from
// Azure-Samples/durable-functions-order-processing-python. AVM versions are the ones those templates pin.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; it seeds the unique token in every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource.')
@metadata({ azd: { type: 'location' } })
param location string

@description('Object id of the deploying user (azd sets it): gets the same data roles as the app, for the scheduler dashboard and local runs against Azure. Empty for none.')
param principalId string = ''

@description('The Durable Functions backend: the Durable Task Scheduler, or the Azure Storage provider on the app\'s own storage account.')
@allowed(['scheduler', 'azureStorage'])
param durableBackend string = 'scheduler'

@description('Memory of each Flex Consumption instance.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('The most instances Flex Consumption scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Put storage behind private endpoints and the app in a virtual network.')
param vnetEnabled bool = false

@description('Resource id of an existing Azure OpenAI (or AI Services) account: the app gets Cognitive Services OpenAI User on it, and its endpoint is SORA_ENDPOINT unless soraEndpoint is given.')
param azureOpenAiResourceId string = ''

@description('The default provider (VIDEO_PROVIDER).')
@allowed(['sora', 'sora-jobs', 'fal', 'vertex'])
param videoProvider string = 'sora'

@description('SORA_ENDPOINT: an OpenAI-compatible endpoint. Empty means the Azure OpenAI account\'s endpoint.')
param soraEndpoint string = ''

@description('SORA_MODEL: the model, or the deployment name on Azure. Empty keeps the app\'s default.')
param soraModel string = ''

@secure()
@description('SORA_API_KEY, stored in Key Vault. Empty means Entra ID through the managed identity.')
param soraApiKey string = ''

@secure()
@description('FAL_KEY for fal.ai, stored in Key Vault.')
param falKey string = ''

@secure()
@description('VERTEX_CREDENTIALS (a service account key JSON) for Vertex AI, stored in Key Vault.')
param vertexCredentials string = ''

@description('VERTEX_PROJECT: the Google Cloud project for Vertex AI Veo. Empty leaves Vertex unconfigured.')
param vertexProject string = ''

@description('VERTEX_LOCATION: the Vertex AI region.')
param vertexLocation string = 'us-central1'

@description('TASKHUB_NAME: a letter, then letters and digits, 3-45 in all.')
@minLength(3)
@maxLength(45)
param taskHubName string = 'soraflow'

@description('VIDEO_OUTPUT_CONTAINER: where outputs land.')
param videoOutputContainer string = 'videos'

@description('VIDEO_REQUEST_CONTAINER: where dropped request files start runs.')
param videoRequestContainer string = 'video-requests'

@description('RUN_INDEX_TABLE: the table GET /api/videos lists runs from.')
param runIndexTable string = 'soraflowruns'

@description('Who may reach the Durable Task Scheduler endpoint (it refuses all traffic with an empty list); identity still gates every call.')
@minLength(1)
param schedulerIpAllowlist array = ['0.0.0.0/0']

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var useScheduler = durableBackend == 'scheduler'
var hasOpenAi = !empty(azureOpenAiResourceId)
var hasSoraEndpoint = !empty(soraEndpoint)
var functionAppName = '${abbrs.webSitesFunctions}api-${resourceToken}'
var storageAccountName = '${abbrs.storageStorageAccounts}${resourceToken}'
var keyVaultName = '${abbrs.keyVaultVaults}${resourceToken}'
var systemTopicName = '${abbrs.eventGridSystemTopics}${resourceToken}'
var vnetName = '${abbrs.networkVirtualNetworks}${resourceToken}'
// Flex Consumption deploys the package from this container, read with the app's identity.
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'br/public:avm/res/storage/storage-account:0.8.3' = {
  name: 'storage'
  scope: rg
  params: {
    name: storageAccountName
    location: location
    tags: tags
    skuName: 'Standard_LRS'
    allowBlobPublicAccess: false
    // No account keys anywhere: the app, the host and the deploying user all authenticate with Entra ID.
    allowSharedKeyAccess: false
    dnsEndpointType: 'Standard'
    minimumTlsVersion: 'TLS1_2'
    publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'
    networkAcls: {
      defaultAction: vnetEnabled ? 'Deny' : 'Allow'
      // Event Grid must still reach the account to publish blob events when the network is closed.
      bypass: 'AzureServices'
    }
    blobServices: {
      containers: [
        { name: deploymentContainerName }
        { name: videoOutputContainer }
        { name: videoRequestContainer }
      ]
    }
  }
}

module runIndex 'app/run-index.bicep' = {
  name: 'runIndex'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    tableName: runIndexTable
  }
}

module logAnalytics 'br/public:avm/res/operational-insights/workspace:0.11.1' = {
  name: 'logAnalytics'
  scope: rg
  params: {
    name: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    location: location
    tags: tags
    dataRetention: 30
  }
}

module appInsights 'br/public:avm/res/insights/component:0.6.0' = {
  name: 'appInsights'
  scope: rg
  params: {
    name: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
    workspaceResourceId: logAnalytics.outputs.resourceId
    // Telemetry is accepted only with an Entra token (Monitoring Metrics Publisher), never the instrumentation key.
    disableLocalAuth: true
  }
}

// Blob events of the storage account; the postdeploy hook subscribes the blob trigger's webhook to it.
module systemTopic 'br/public:avm/res/event-grid/system-topic:0.6.1' = {
  name: 'systemTopic'
  scope: rg
  params: {
    name: systemTopicName
    location: location
    tags: tags
    source: storage.outputs.resourceId
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

module keyVault 'app/key-vault.bicep' = {
  name: 'keyVault'
  scope: rg
  params: {
    name: keyVaultName
    location: location
    tags: tags
    soraApiKey: soraApiKey
    falKey: falKey
    vertexCredentials: vertexCredentials
  }
}

module scheduler 'app/scheduler.bicep' = if (useScheduler) {
  name: 'scheduler'
  scope: rg
  params: {
    name: '${abbrs.durableTaskSchedulers}${resourceToken}'
    location: location
    tags: tags
    taskHubName: taskHubName
    ipAllowlist: schedulerIpAllowlist
  }
}

module openAi 'app/openai.bicep' = if (hasOpenAi) {
  name: 'openAi'
  // The account may live in another resource group or subscription: assign the role where it is.
  scope: resourceGroup(split(azureOpenAiResourceId, '/')[2], split(azureOpenAiResourceId, '/')[4])
  params: {
    accountName: last(split(azureOpenAiResourceId, '/'))
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    appInsightsName: appInsights.outputs.name
    keyVaultName: keyVault.outputs.name
    schedulerName: useScheduler ? scheduler.outputs.name : ''
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
  }
}

module vnet 'app/vnet.bicep' = if (vnetEnabled) {
  name: 'vnet'
  scope: rg
  params: {
    name: vnetName
    location: location
    tags: tags
  }
}

module storagePrivateEndpoints 'app/storage-private-endpoints.bicep' = if (vnetEnabled) {
  name: 'storagePrivateEndpoints'
  scope: rg
  params: {
    location: location
    tags: tags
    virtualNetworkName: vnetName
    subnetName: vnetEnabled ? vnet.outputs.privateEndpointSubnetName : ''
    storageAccountName: storage.outputs.name
  }
}

module plan 'br/public:avm/res/web/serverfarm:0.1.1' = {
  name: 'plan'
  scope: rg
  params: {
    name: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    sku: {
      name: 'FC1'
      tier: 'FlexConsumption'
    }
    reserved: true
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    location: location
    tags: tags
    planId: plan.outputs.resourceId
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    durableBackend: durableBackend
    identityId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    appInsightsName: appInsights.outputs.name
    keyVaultName: keyVault.outputs.name
    schedulerEndpoint: useScheduler ? scheduler.outputs.endpoint : ''
    taskHubName: taskHubName
    videoOutputContainer: videoOutputContainer
    videoRequestContainer: videoRequestContainer
    runIndexTable: runIndexTable
    videoProvider: videoProvider
    soraEndpoint: hasSoraEndpoint ? soraEndpoint : (hasOpenAi ? openAi.outputs.endpoint : '')
    soraModel: soraModel
    hasSoraApiKey: !empty(soraApiKey)
    hasFalKey: !empty(falKey)
    hasVertexCredentials: !empty(vertexCredentials)
    vertexProject: vertexProject
    vertexLocation: vertexLocation
    virtualNetworkSubnetId: vnetEnabled ? vnet.outputs.appSubnetId : ''
  }
  // Key Vault references and the deployment container are read with the identity's roles, so they come first.
  dependsOn: [
    rbac
  ]
}

// azd stores these in the environment; the postdeploy hook and local runs against Azure read them.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_BASE_URL string = api.outputs.baseUrl
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_CLIENT_ID string = identity.outputs.clientId
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output EVENT_GRID_SYSTEM_TOPIC_NAME string = systemTopic.outputs.name
output VIDEO_REQUEST_CONTAINER string = videoRequestContainer
output VIDEO_OUTPUT_CONTAINER string = videoOutputContainer
output RUN_INDEX_TABLE string = runIndexTable
output TASKHUB_NAME string = taskHubName
output DURABLE_BACKEND string = durableBackend
output DURABLE_TASK_SCHEDULER_ENDPOINT string = useScheduler ? scheduler.outputs.endpoint : ''
output APPLICATIONINSIGHTS_CONNECTION_STRING string = appInsights.outputs.connectionString
