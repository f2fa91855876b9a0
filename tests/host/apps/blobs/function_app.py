"""Blob triggers on Azurite: a scanned container, an Event Grid-sourced one starting orchestrations, a failing one."""

import json
import os
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def record(kind: str, entry: dict) -> None:
    with (Path(os.environ["FIRINGS_DIR"]) / f"{kind}.jsonl").open("a") as handle:
        handle.write(json.dumps(entry) + "\n")


@app.blob_trigger(arg_name="blob", path="%UPLOADS_CONTAINER%/{name}", connection="BlobConn")
def on_upload(blob: func.InputStream) -> None:
    record("uploads", {"name": blob.name, "length": blob.length, "content": blob.read().decode(), "uri": blob.uri})


@app.blob_trigger(arg_name="blob", path="requests/{name}.json", connection="BlobConn", source="EventGrid")
@app.durable_client_input(client_name="client")
async def on_request(blob: func.InputStream, client: df.DurableOrchestrationClient) -> None:
    request = json.loads(blob.read())
    instance_id = await client.start_new("greet", request["id"], request)
    record("requests", {"name": blob.name, "instance": instance_id})


@app.blob_trigger(arg_name="blob", path="fragile/{name}", connection="BlobConn")
def on_fragile(blob: func.InputStream) -> None:
    record("fragile", {"name": blob.name})
    raise RuntimeError("this blob handler always fails")


@app.orchestration_trigger(context_name="context")
def greet(context: df.DurableOrchestrationContext):
    request = context.get_input()
    return (yield context.call_activity("say", request["who"]))


@app.activity_trigger(input_name="who")
def say(who: str) -> str:
    return f"Hello {who}!"
