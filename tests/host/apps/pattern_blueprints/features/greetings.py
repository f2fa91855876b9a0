"""The orchestration and its activity in a second blueprint."""

import azure.durable_functions as df

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context")
def greeting_orchestrator(context: df.DurableOrchestrationContext):
    name = context.get_input()
    formal = yield context.call_activity(compose_greeting, {"name": name, "style": "formal"})
    casual = yield context.call_activity("compose_greeting", {"name": name, "style": "casual"})
    return [formal, casual]


@bp.activity_trigger(input_name="request")
def compose_greeting(request: dict) -> str:
    if request["style"] == "formal":
        return f"Good day, {request['name']}."
    return f"Hi {request['name']}!"
