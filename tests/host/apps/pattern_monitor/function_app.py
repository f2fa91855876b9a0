"""Monitor: poll a job's status on durable timers until it completes or the monitor expires."""

from datetime import timedelta
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

myApp = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@myApp.route(route="orchestrators/{functionName}", methods=["POST"])
@myApp.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client):
    instance_id = await client.start_new(req.route_params["functionName"], None, req.get_json())
    return client.create_check_status_response(req, instance_id)


@myApp.orchestration_trigger(context_name="context")
def monitor_job(context: df.DurableOrchestrationContext):
    job = context.get_input()
    polling_interval = job["interval"]
    expiry_time = context.current_utc_datetime + timedelta(seconds=job["expires_after"])
    checks = 0
    while context.current_utc_datetime < expiry_time:
        job_status = yield context.call_activity("get_job_status", job["folder"])
        checks += 1
        context.set_custom_status({"checks": checks, "last": job_status})
        if job_status == "Completed":
            yield context.call_activity("send_alert", job["folder"])
            return {"status": "Completed", "checks": checks}
        next_check = context.current_utc_datetime + timedelta(seconds=polling_interval)
        yield context.create_timer(next_check)
    return {"status": "Expired", "checks": checks}


@myApp.activity_trigger(input_name="folder")
def get_job_status(folder: str) -> str:
    return "Completed" if (Path(folder) / "job-done").exists() else "Running"


@myApp.activity_trigger(input_name="folder")
def send_alert(folder: str) -> None:
    (Path(folder) / "alert-sent").write_text("the job completed")
