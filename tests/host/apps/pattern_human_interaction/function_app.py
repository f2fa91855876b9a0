"""Human interaction: ask for approval, wait for the event or escalate when the deadline passes."""

from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

myApp = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@myApp.route(route="orchestrators/{functionName}", methods=["POST"])
@myApp.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client):
    instance_id = await client.start_new(req.route_params["functionName"], None, req.get_json())
    return client.create_check_status_response(req, instance_id)


@myApp.orchestration_trigger(context_name="context")
def approval_workflow(context: df.DurableOrchestrationContext):
    request = context.get_input()
    yield context.call_activity("request_approval", request)
    due_time = context.current_utc_datetime + timedelta(seconds=request["timeout"])
    approval_event = context.wait_for_external_event("ApprovalEvent")
    durable_timeout_task = context.create_timer(due_time)
    winning_task = yield context.task_any([approval_event, durable_timeout_task])
    if approval_event == winning_task:
        durable_timeout_task.cancel()
        return (yield context.call_activity("process_approval", approval_event.result))
    return (yield context.call_activity("escalate", request))


@myApp.activity_trigger(input_name="request")
def request_approval(request: dict) -> str:
    return f"approval requested for {request['item']}"


@myApp.activity_trigger(input_name="decision")
def process_approval(decision: dict) -> str:
    return f"approved by {decision['approver']}"


@myApp.activity_trigger(input_name="request")
def escalate(request: dict) -> str:
    return f"escalated {request['item']} to a manager"
