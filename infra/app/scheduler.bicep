// The Durable Task Scheduler (Consumption SKU) and soraflow's task hub: the default Durable backend in Azure.
param name string
param location string
param tags object
param taskHubName string
@description('At least one entry: an empty list refuses all traffic.')
@minLength(1)
param ipAllowlist array

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    ipAllowlist: ipAllowlist
    sku: {
      name: 'Consumption'
    }
  }
}

resource taskHub 'Microsoft.DurableTask/schedulers/taskHubs@2025-11-01' = {
  parent: scheduler
  name: taskHubName
}

output name string = scheduler.name
// The endpoint carries a hash and the region, so it is read from the resource rather than built.
output endpoint string = scheduler.properties.endpoint
output taskHubName string = taskHub.name
