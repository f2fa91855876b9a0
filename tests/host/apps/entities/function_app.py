"""Function-based entities: a counter and an append-only log, used from clients and orchestrators."""

import json

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.entity_trigger(context_name="context", entity_name="Counter")
def counter(context: df.DurableEntityContext):
    value = context.get_state(lambda: 0)
    operation = context.operation_name
    if operation == "add":
        value += context.get_input()
    elif operation == "reset":
        value = 0
    elif operation == "get":
        context.set_result(value)
    elif operation == "fail":
        raise ValueError("the counter refuses")
    elif operation == "delete":
        context.destruct_on_exit()
        return
    context.set_state(value)


@app.entity_trigger(context_name="context")
def ledger(context: df.DurableEntityContext):
    entries = context.get_state(list)
    if context.operation_name == "append":
        entries.append(context.get_input())
    context.set_result(entries)
    context.set_state(entries)


@app.route(route="entities/{name}/{key}/{operation}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def signal(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    entity = df.EntityId(req.route_params["name"], req.route_params["key"])
    await client.signal_entity(entity, req.route_params["operation"], json.loads(body) if body else None)
    return func.HttpResponse(status_code=202)


@app.route(route="entities/{name}/{key}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def read(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    entity = df.EntityId(req.route_params["name"], req.route_params["key"])
    state = await client.read_entity_state(entity)
    body = {"exists": state.entity_exists, "state": state.entity_state}
    return func.HttpResponse(json.dumps(body), mimetype="application/json")


@app.route(route="orchestrators/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = await client.start_new(req.route_params["name"], None, req.get_json())
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")
def use_counter(context: df.DurableOrchestrationContext):
    key = context.get_input()
    entity = df.EntityId("Counter", key)
    context.signal_entity(entity, "add", 5)
    context.signal_entity(entity, "add", 7)
    total = yield context.call_entity(entity, "get")
    try:
        yield context.call_entity(entity, "fail")
        failure = None
    except Exception as exc:
        failure = str(exc)
    entries = yield context.task_all(
        [context.call_entity(df.EntityId("ledger", key), "append", letter) for letter in "xyz"]
    )
    return {"total": total, "failure": failure, "ledger": entries[-1]}
