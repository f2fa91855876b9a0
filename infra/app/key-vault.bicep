// The Key Vault for provider secrets: RBAC only (no access policies), and a secret exists only when it was given.
param name string
param location string
param tags object
@secure()
param soraApiKey string
@secure()
param falKey string
@secure()
param vertexCredentials string

var hasSoraApiKey = !empty(soraApiKey)
var hasFalKey = !empty(falKey)
var hasVertexCredentials = !empty(vertexCredentials)

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource soraApiKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (hasSoraApiKey) {
  parent: vault
  name: 'sora-api-key'
  properties: {
    value: soraApiKey
    contentType: 'text/plain'
  }
}

resource falKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (hasFalKey) {
  parent: vault
  name: 'fal-key'
  properties: {
    value: falKey
    contentType: 'text/plain'
  }
}

resource vertexCredentialsSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (hasVertexCredentials) {
  parent: vault
  name: 'vertex-credentials'
  properties: {
    value: vertexCredentials
    contentType: 'application/json'
  }
}

output name string = vault.name
