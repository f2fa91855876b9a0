"""Fan-out/fan-in (samples-v2/fan_in_fan_out): back up a work list to Blob Storage in parallel, sum the bytes."""

import os

import azure.durable_functions as df
import azure.functions as func
from azure.storage.blob import BlobServiceClient

myApp = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@myApp.route(route="orchestrators/{functionName}", methods=["POST"])
@myApp.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client):
    instance_id = await client.start_new(req.route_params["functionName"], None, req.get_json())
    return client.create_check_status_response(req, instance_id)


@myApp.orchestration_trigger(context_name="context")
def backup_orchestrator(context: df.DurableOrchestrationContext):
    job = context.get_input()
    work_batch = yield context.call_activity("get_work_items", job)
    parallel_tasks = [context.call_activity("back_up_item", item) for item in work_batch]
    outputs = yield context.task_all(parallel_tasks)
    return sum(outputs)


@myApp.activity_trigger(input_name="job")
def get_work_items(job: dict) -> list:
    return [{"folder": job["folder"], "name": f"item-{i}.txt", "size": 10 * (i + 1)} for i in range(job["count"])]


@myApp.activity_trigger(input_name="item")
def back_up_item(item: dict) -> int:
    service = BlobServiceClient.from_connection_string(os.environ["BACKUP_STORAGE"])
    container = service.get_container_client("backups")
    data = b"x" * item["size"]
    container.upload_blob(f"{item['folder']}/{item['name']}", data, overwrite=True)
    return len(data)
