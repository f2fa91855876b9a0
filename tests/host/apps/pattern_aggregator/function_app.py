"""Aggregator (stateful entity): the documented Counter entity, fed by HTTP signals and read by clients."""

import json

import azure.durable_functions as df
import azure.functions as func

myApp = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@myApp.entity_trigger(context_name="context")
def Counter(context):
    current_value = context.get_state(lambda: 0)
    operation = context.operation_name
    if operation == "add":
        amount = context.get_input()
        current_value += amount
    elif operation == "reset":
        current_value = 0
    elif operation == "get":
        context.set_result(current_value)
    context.set_state(current_value)


@myApp.route(route="counters/{key}/add", methods=["POST"])
@myApp.durable_client_input(client_name="client")
async def add_to_counter(req: func.HttpRequest, client):
    entity_id = df.EntityId("Counter", req.route_params["key"])
    await client.signal_entity(entity_id, "add", req.get_json())
    return func.HttpResponse(status_code=202)


@myApp.route(route="counters/{key}", methods=["GET"])
@myApp.durable_client_input(client_name="client")
async def read_counter(req: func.HttpRequest, client):
    entity_id = df.EntityId("Counter", req.route_params["key"])
    state = await client.read_entity_state(entity_id)
    return func.HttpResponse(json.dumps(state.entity_state), mimetype="application/json")


@myApp.route(route="counters/{key}/total", methods=["POST"])
@myApp.durable_client_input(client_name="client")
async def total_via_orchestration(req: func.HttpRequest, client):
    instance_id = await client.start_new("read_total", None, req.route_params["key"])
    return await client.wait_for_completion_or_create_check_status_response(req, instance_id, 10000, 50)


@myApp.orchestration_trigger(context_name="context")
def read_total(context: df.DurableOrchestrationContext):
    return (yield context.call_entity(df.EntityId("Counter", context.get_input()), "get"))
