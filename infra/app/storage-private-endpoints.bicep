// Private endpoints and DNS zones for the storage services soraflow uses (blob, queue, table) when vnetEnabled.
param location string
param tags object
param virtualNetworkName string
param subnetName string
param storageAccountName string

var services = [
  'blob'
  'queue'
  'table'
]

resource network 'Microsoft.Network/virtualNetworks@2024-05-01' existing = {
  name: virtualNetworkName
}

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

module dnsZones 'br/public:avm/res/network/private-dns-zone:0.7.1' = [
  for service in services: {
    name: 'dns-${service}'
    params: {
      name: 'privatelink.${service}.${environment().suffixes.storage}'
      location: 'global'
      tags: tags
      virtualNetworkLinks: [
        {
          name: '${storageAccountName}-${service}-link'
          virtualNetworkResourceId: network.id
          registrationEnabled: false
          location: 'global'
          tags: tags
        }
      ]
    }
  }
]

module endpoints 'br/public:avm/res/network/private-endpoint:0.11.0' = [
  for (service, i) in services: {
    name: 'pe-${service}'
    params: {
      name: 'pe-${storageAccountName}-${service}'
      location: location
      tags: tags
      subnetResourceId: '${network.id}/subnets/${subnetName}'
      privateLinkServiceConnections: [
        {
          name: '${service}-connection'
          properties: {
            privateLinkServiceId: storageAccount.id
            groupIds: [
              service
            ]
          }
        }
      ]
      privateDnsZoneGroup: {
        name: '${service}-dns'
        privateDnsZoneGroupConfigs: [
          {
            name: '${service}-record'
            privateDnsZoneResourceId: dnsZones[i].outputs.resourceId
          }
        ]
      }
    }
  }
]
