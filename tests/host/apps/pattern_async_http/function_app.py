"""Async HTTP API: the client polls the statusQueryGetUri (202 + Location) until the work is done."""

import time

import azure.durable_functions as df
import azure.functions as func

myApp = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)


@myApp.route(route="orchestrators/{functionName}", methods=["POST"])
@myApp.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client):
    instance_id = await client.start_new(req.route_params["functionName"], None, req.get_json())
    return client.create_check_status_response(req, instance_id)


@myApp.orchestration_trigger(context_name="context")
def long_running_orchestrator(context: df.DurableOrchestrationContext):
    seconds = context.get_input()
    context.set_custom_status("working")
    result = yield context.call_activity("do_work", seconds)
    context.set_custom_status("done")
    return result


@myApp.activity_trigger(input_name="seconds")
def do_work(seconds: float) -> str:
    time.sleep(seconds)
    return f"worked for {seconds}s"
