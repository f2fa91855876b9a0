// The optional virtual network (vnetEnabled): one subnet for the storage private endpoints, one delegated to the
// Flex Consumption app for outbound integration.
param name string
param location string
param tags object

var privateEndpointSubnetName = 'private-endpoints'
var appSubnetName = 'app'

module network 'br/public:avm/res/network/virtual-network:0.6.1' = {
  name: 'network'
  params: {
    name: name
    location: location
    tags: tags
    addressPrefixes: [
      '10.0.0.0/16'
    ]
    subnets: [
      {
        name: privateEndpointSubnetName
        addressPrefix: '10.0.1.0/24'
        privateEndpointNetworkPolicies: 'Disabled'
        privateLinkServiceNetworkPolicies: 'Enabled'
      }
      {
        name: appSubnetName
        addressPrefix: '10.0.2.0/24'
        privateEndpointNetworkPolicies: 'Disabled'
        privateLinkServiceNetworkPolicies: 'Enabled'
        // Flex Consumption integrates through a subnet delegated to Microsoft.App/environments.
        delegation: 'Microsoft.App/environments'
      }
    ]
  }
}

output privateEndpointSubnetName string = privateEndpointSubnetName
output appSubnetId string = '${network.outputs.resourceId}/subnets/${appSubnetName}'
