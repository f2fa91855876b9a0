"""HTTP starters in their own blueprint."""

import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint()


@bp.route(route="greetings/{name}", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start_greeting(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = await client.start_new("greeting_orchestrator", None, req.route_params["name"])
    return client.create_check_status_response(req, instance_id)
