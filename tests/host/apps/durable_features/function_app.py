"""Durable behaviours driven through the SDK's own client: every starter and query goes through an HTTP
function of this app that uses DurableOrchestrationClient, exactly as a user's app would."""

import datetime as dt
import json
import os
import threading
import time
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)


def json_response(value, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(value), status_code=status, mimetype="application/json")


# -- client functions (the SDK's DurableOrchestrationClient against the host's API) ----------------------


@app.route(route="start/{name}/{instance_id?}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    try:
        instance_id = await client.start_new(
            req.route_params["name"], req.route_params.get("instance_id"), json.loads(body) if body else None
        )
    except Exception as exc:
        return json_response({"error": str(exc)}, 409)
    return client.create_check_status_response(req, instance_id)


@app.route(route="run/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def run_and_wait(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    instance_id = await client.start_new(req.route_params["name"], None, json.loads(body) if body else None)
    return await client.wait_for_completion_or_create_check_status_response(req, instance_id, 20000, 50)


@app.route(route="status/{instance_id}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    history = req.params.get("history") == "1"
    found = await client.get_status(req.route_params["instance_id"], show_history=history, show_history_output=history)
    if not found:
        return json_response({"found": False, "message": found.message}, 404)
    return json_response(found.to_json())


@app.route(route="instances", methods=["GET"])
@app.durable_client_input(client_name="client")
async def list_instances(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    statuses = [df.OrchestrationRuntimeStatus(s) for s in req.params.get("status", "").split(",") if s]
    since = req.params.get("since")
    found = await client.get_status_by(
        created_time_from=dt.datetime.fromisoformat(since) if since else None,
        runtime_status=statuses or None,
        instance_id_prefix=req.params.get("prefix"),
    )
    return json_response(sorted(s.instance_id for s in found))


@app.route(route="raise/{instance_id}/{event}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def raise_event(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    try:
        await client.raise_event(req.route_params["instance_id"], req.route_params["event"], req.get_json())
    except Exception as exc:
        return json_response({"error": str(exc)}, 400)
    return json_response({"raised": True}, 202)


@app.route(route="manage/{instance_id}/{operation}", methods=["POST", "DELETE"])
@app.durable_client_input(client_name="client")
async def manage(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id, operation = req.route_params["instance_id"], req.route_params["operation"]
    try:
        if operation == "terminate":
            await client.terminate(instance_id, "stopped by test")
        elif operation == "suspend":
            await client.suspend(instance_id, "paused by test")
        elif operation == "resume":
            await client.resume(instance_id, "resumed by test")
        elif operation == "restart":
            restarted = await client.restart(instance_id, restart_with_new_instance_id=True)
            # The SDK hands back the extension's 202 body (the check-status payload) as it is.
            return json_response({"id": restarted["id"] if isinstance(restarted, dict) else restarted})
        elif operation == "rewind":
            await client.rewind(instance_id, "rewound by test")
        elif operation == "purge":
            return json_response({"deleted": (await client.purge_instance_history(instance_id)).instances_deleted})
    except Exception as exc:
        return json_response({"error": str(exc)}, 400)
    return json_response({"done": operation})


@app.route(route="ping", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS)
def ping(req: func.HttpRequest) -> func.HttpResponse:
    return json_response({"pong": req.get_body().decode() or None, "method": req.method})


# -- orchestrators ---------------------------------------------------------------------------------------


@app.orchestration_trigger(context_name="context")
def sequence(context: df.DurableOrchestrationContext):
    name = context.get_input()
    first = yield context.call_activity("say_hello", "Tokyo")
    second = yield context.call_activity("say_hello", name)
    fanned = yield context.task_all([context.call_activity("say_hello", str(i)) for i in range(3)])
    return [first, second, *fanned]


@app.orchestration_trigger(context_name="context")
def retry_exhausted(context: df.DurableOrchestrationContext):
    options = df.RetryOptions(first_retry_interval_in_milliseconds=100, max_number_of_attempts=3)
    try:
        yield context.call_activity_with_retry("always_fails", options, context.get_input())
    except Exception as exc:
        return {"caught": str(exc)}
    return {"caught": None}


@app.orchestration_trigger(context_name="context")
def retry_among_siblings(context: df.DurableOrchestrationContext):
    # Retry timers and re-attempts take hidden sequence numbers between visible tasks: a wrong count on the
    # host's side would leave a task unresolved or resolve the wrong one.
    folder = context.get_input()
    options = df.RetryOptions(first_retry_interval_in_milliseconds=50, max_number_of_attempts=4)
    results = yield context.task_all(
        [
            context.call_activity("say_hello", "one"),
            context.call_activity_with_retry("fails_twice", options, {"folder": folder, "tag": "a"}),
            context.call_activity("say_hello", "two"),
            context.call_activity_with_retry("fails_twice", options, {"folder": folder, "tag": "b"}),
        ]
    )
    after = yield context.call_activity("say_hello", "after")
    child = yield context.call_sub_orchestrator_with_retry("flaky_child", options, folder)
    return [*results, after, child]


@app.orchestration_trigger(context_name="context")
def flaky_child(context: df.DurableOrchestrationContext):
    attempt = yield context.call_activity("count_attempt", {"folder": context.get_input(), "tag": "child"})
    if attempt < 2:
        raise RuntimeError(f"child attempt {attempt} fails")
    return f"child ok on attempt {attempt}"


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    results = yield context.task_all([context.call_sub_orchestrator("sequence", f"child{i}") for i in range(2)])
    named = yield context.call_sub_orchestrator("sequence", "named", instance_id=f"{context.instance_id}-named")
    try:
        yield context.call_sub_orchestrator("failing", "boom")
    except Exception as exc:
        failure = str(exc)
    return {"children": results, "named": named, "failure": failure}


@app.orchestration_trigger(context_name="context")
def failing(context: df.DurableOrchestrationContext):
    yield context.call_activity("say_hello", "before failing")
    raise ValueError(f"orchestrator broke: {context.get_input()}")


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):
    seconds = context.get_input()
    deadline = context.current_utc_datetime + dt.timedelta(seconds=seconds)
    event = context.wait_for_external_event("Approval")
    timeout = context.create_timer(deadline)
    winner = yield context.task_any([event, timeout])
    if winner == event:
        timeout.cancel()
        return {"outcome": "approved", "by": event.result}
    return {"outcome": "timed out"}


@app.orchestration_trigger(context_name="context")
def early_event(context: df.DurableOrchestrationContext):
    yield context.call_activity("sleep_for", 0.5)
    value = yield context.wait_for_external_event("Go")
    return value


@app.orchestration_trigger(context_name="context")
def generations(context: df.DurableOrchestrationContext):
    state = context.get_input() or {"generation": 0, "events": []}
    if state["generation"] == 3:
        return state
    value = yield context.wait_for_external_event("Next")
    state = {"generation": state["generation"] + 1, "events": [*state["events"], value]}
    context.continue_as_new(state)


@app.orchestration_trigger(context_name="context")
def custom_status(context: df.DurableOrchestrationContext):
    context.set_custom_status({"stage": "waiting", "instance": context.instance_id})
    yield context.wait_for_external_event("Continue")
    context.set_custom_status({"stage": "done"})
    return "finished"


@app.orchestration_trigger(context_name="context")
def replay_aware(context: df.DurableOrchestrationContext):
    log_file = Path(context.get_input())
    for step in range(3):
        if not context.is_replaying:
            with log_file.open("a") as handle:
                handle.write(f"step {step}\n")
        yield context.call_activity("say_hello", str(step))
    return "done"


@app.orchestration_trigger(context_name="context")
def nondeterministic(context: df.DurableOrchestrationContext):
    flag = context.get_input()
    # Deliberately wrong: the first activity creates the flag file, so the replay takes the other branch.
    first = "create_flag" if not os.path.exists(flag) else "say_hello"
    yield context.call_activity(first, flag)
    yield context.call_activity("say_hello", "second")
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def long_wait(context: df.DurableOrchestrationContext):
    yield context.create_timer(context.current_utc_datetime + dt.timedelta(seconds=context.get_input()))
    return "woke up"


@app.orchestration_trigger(context_name="context")
def durable_http(context: df.DurableOrchestrationContext):
    response = yield context.call_http("POST", context.get_input(), content="hello over http", is_raw_str=True)
    return response


@app.orchestration_trigger(context_name="context")
def waits_forever(context: df.DurableOrchestrationContext):
    yield context.wait_for_external_event("Never")


@app.orchestration_trigger(context_name="context")
def suspendable(context: df.DurableOrchestrationContext):
    first = yield context.wait_for_external_event("One")
    second = yield context.wait_for_external_event("Two")
    return [first, second]


@app.orchestration_trigger(context_name="context")
def fail_then_recover(context: df.DurableOrchestrationContext):
    folder = context.get_input()
    value = yield context.call_activity("fails_first_time", folder)
    return value


@app.orchestration_trigger(context_name="context")
def calls_missing(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("no_such_activity", 1)
    except Exception as exc:
        return str(exc)


@app.orchestration_trigger(context_name="context")
def crowded(context: df.DurableOrchestrationContext):
    peaks = yield context.task_all([context.call_activity("measure_concurrency", i) for i in range(12)])
    return max(peaks)


# -- activities ------------------------------------------------------------------------------------------

_running = {"now": 0, "peak": 0}
_running_lock = threading.Lock()


@app.activity_trigger(input_name="index")
def measure_concurrency(index: int) -> int:
    with _running_lock:
        _running["now"] += 1
        _running["peak"] = max(_running["peak"], _running["now"])
    time.sleep(0.15)
    with _running_lock:
        _running["now"] -= 1
        return _running["peak"]


@app.activity_trigger(input_name="name")
def say_hello(name: str) -> str:
    return f"Hello {name}!"


@app.activity_trigger(input_name="folder")
def always_fails(folder: str) -> str:
    with (Path(folder) / "always_fails.log").open("a") as handle:
        handle.write("attempt\n")
    raise ValueError("this activity always fails")


def _count(folder: str, tag: str) -> int:
    path = Path(folder) / f"{tag}.count"
    count = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(count))
    return count


@app.activity_trigger(input_name="job")
def fails_twice(job: dict) -> str:
    count = _count(job["folder"], job["tag"])
    if count <= 2:
        raise RuntimeError(f"{job['tag']} attempt {count} fails")
    return f"{job['tag']} ok on attempt {count}"


@app.activity_trigger(input_name="job")
def count_attempt(job: dict) -> int:
    return _count(job["folder"], job["tag"])


@app.activity_trigger(input_name="folder")
def fails_first_time(folder: str) -> str:
    count = _count(folder, "rewind")
    if count == 1:
        raise RuntimeError("first attempt fails")
    return f"ok on attempt {count}"


@app.activity_trigger(input_name="flag")
def create_flag(flag: str) -> str:
    Path(flag).write_text("flipped")
    return "created"


@app.activity_trigger(input_name="seconds")
def sleep_for(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


# -- an activity with a durable client (how one orchestration wakes another) ------------------------------


@app.orchestration_trigger(context_name="context")
def sleeper(context: df.DurableOrchestrationContext):
    """Waits for `Wake` (raised by another orchestration's activity), with a long timer as the alternative."""
    wake = context.wait_for_external_event("Wake")
    timer = context.create_timer(context.current_utc_datetime + dt.timedelta(seconds=300))
    winner = yield context.task_any([wake, timer])
    if winner == wake:
        timer.cancel()
        return {"woken_by": wake.result}
    return {"woken_by": None}


@app.orchestration_trigger(context_name="context")
def waker(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("raise_wake", {"instance_id": context.get_input(), "by": context.instance_id}))


@app.activity_trigger(input_name="payload")
@app.durable_client_input(client_name="client")
async def raise_wake(payload: dict, client: df.DurableOrchestrationClient) -> dict:
    try:
        await client.raise_event(payload["instance_id"], "Wake", payload["by"])
    except Exception as exc:
        return {"raised": False, "error": str(exc)}
    return {"raised": True}
