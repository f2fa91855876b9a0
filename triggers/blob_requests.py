"""Runs started by dropping a file into the request container (`video-requests` by default).

A `*.json` file is a request (the POST body's schema). An image (.png .jpg .jpeg .webp) is an image-to-video
request whose prompt comes from the blob's `prompt` metadata or a sidecar named after the whole image name
(`cat.png.json`), so a sidecar can never be mistaken for a request of its own, whichever file arrives first. The
run id is derived from the blob version (name and ETag, and the sidecar's), so a duplicate event starts nothing
new. An invalid file gets a manifest with the error under `runs/{id}/run.json` and starts nothing; inputs are
never modified.

The trigger's source and container are read when the app is indexed (`soraflow.config.request_trigger`, which
readiness health reports too): VIDEO_REQUEST_TRIGGER_SOURCE `EventGrid` (the default, required on Flex Consumption) or
`LogsAndContainerScan`, and VIDEO_REQUEST_CONTAINER (`video-requests`). The local host serves both sources by scanning.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import azure.durable_functions as df
import azure.functions as func

from orchestrators.video_run import ORCHESTRATOR
from soraflow.config import Settings, request_trigger
from soraflow.errors import FieldError, RequestValidationError, SoraflowError
from soraflow.providers.registry import parse_request
from soraflow.run_index import run_index
from soraflow.run_resource import build_run_resource
from soraflow.runs import request_fingerprint, run_id_for_blob
from soraflow.storage import BlobStore, StoredBlob, container_store, output_store
from soraflow.video_request import MAX_BODY_BYTES, parse_request_json
from triggers.runs import build_run_input, check_reference, find_run

bp = df.Blueprint()
log = logging.getLogger("soraflow.blob_requests")

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
BLOB_SOURCES = {
    "EventGrid": func.BlobSource.EVENT_GRID,
    "LogsAndContainerScan": func.BlobSource.LOGS_AND_CONTAINER_SCAN,
}
# The host binds the trigger when it indexes the app, before any call, so these two settings are read at import. A bad
# value is replaced by its default (the other functions must still index) and named here and by readiness health.
REQUEST_TRIGGER = request_trigger()
for problem in REQUEST_TRIGGER.problems:
    log.error("%s; the blob trigger uses the default instead", problem.message)


@bp.blob_trigger(
    arg_name="blob",
    path=f"{REQUEST_TRIGGER.container}/{{name}}",
    connection="VIDEO_STORAGE",
    source=BLOB_SOURCES[REQUEST_TRIGGER.source],
)
@bp.durable_client_input(client_name="client")
async def start_run_from_blob(blob: func.InputStream, client: df.DurableOrchestrationClient) -> None:
    """Start one run per request-file version; write an error manifest for an invalid file."""
    settings = Settings.from_env()
    container = settings.video_request_container
    name = blob_path(blob.name or "", container)
    if name is None:
        log.warning("ignoring a blob event outside %s: %s", container, blob.name)
        return
    plan = plan_run(container_store(container), container, name)
    if plan is None:
        return
    if await find_run(client, plan.run_id) is not None:
        log.info("blob %s/%s already started run %s; a duplicate event starts nothing", container, name, plan.run_id)
        return
    try:
        if plan.error is not None:
            raise plan.error
        allowed = (settings.video_request_container, settings.video_output_container)
        request = parse_request(plan.body, settings, allowed_containers=allowed)
        await check_reference(client, request.input_reference)  # an image that is not one starts nothing
    except RequestValidationError as error:
        error_view = {**error.to_dict(), "provider_code": None}
        manifest = {"id": plan.run_id, "status": "failed", "origin": plan.origin, "error": error_view, "outputs": []}
        output_store().write_manifest(plan.run_id, manifest)
        log.warning("blob %s/%s is not a valid request (%s); wrote its manifest", container, name, error.message)
        return
    run_id = plan.run_id
    run_input = build_run_input(settings, run_id, request, request_fingerprint(plan.body), origin=plan.origin)
    try:
        await client.start_new(ORCHESTRATOR, run_id, run_input)
    except Exception:
        if await find_run(client, run_id) is not None:  # a concurrent duplicate event won the race
            return
        raise
    log.info("blob %s/%s started run %s", container, name, run_id)
    try:
        resource = build_run_resource({"instanceId": run_id, "runtimeStatus": "Pending", "input": run_input})
        await asyncio.to_thread(run_index().record, resource, only_if_absent=True)
    except Exception:  # the run has started; its row is written at its first change of stage
        log.warning("run %s started without its run-index row", run_id, exc_info=True)


@dataclass
class BlobPlan:
    """What a request blob asks for: the run id of this version, and the body or why there is none."""

    run_id: str
    origin: dict
    body: dict | None = None
    error: RequestValidationError | None = None


def plan_run(requests: BlobStore, container: str, name: str) -> BlobPlan | None:
    """The run a blob event stands for, or None when the blob is gone or is not a request."""
    if is_sidecar(name):
        # A sidecar only completes its image's request: plan the image's run (nothing, until the image is there).
        name = name[: -len(".json")]
    elif name.lower().endswith(".json"):
        return plan_json_request(requests, container, name)
    elif not name.lower().endswith(IMAGE_EXTENSIONS):
        log.info("ignoring %s/%s: neither a .json request nor an image", container, name)
        return None
    image = requests.find(name)
    if image is None:
        return None
    sidecar_name = name + ".json"
    sidecar = requests.find(sidecar_name)
    prompt = (image.metadata or {}).get("prompt")
    origin = {"kind": "blob", "container": container, "blob": name, "etag": image.etag,
              "sidecar": sidecar_name if sidecar else None}  # fmt: skip
    plan = BlobPlan(
        run_id_for_blob(container, name, f"{image.etag}|{sidecar.etag if sidecar else ''}|{prompt}"), origin
    )
    body: dict = {}
    if sidecar is not None:
        try:
            body = read_json_request(requests, sidecar_name)
        except RequestValidationError as error:
            plan.error = error
            return plan
    if prompt and "prompt" not in body:
        body["prompt"] = prompt
    if "prompt" not in body:
        plan.error = RequestValidationError(
            FieldError("prompt", f"an image needs a `prompt` metadata value or a sidecar {sidecar_name} with a prompt")
        )
        return plan
    fit = body.pop("fit", "cover")
    plan.body = {**body, "input_reference": {"blob": f"{container}/{name}", "fit": fit}}
    return plan


def plan_json_request(requests: BlobStore, container: str, name: str) -> BlobPlan | None:
    stored = requests.find(name)
    if stored is None:
        return None
    origin = {"kind": "blob", "container": container, "blob": name, "etag": stored.etag}
    plan = BlobPlan(run_id_for_blob(container, name, stored.etag or ""), origin)
    try:
        plan.body = read_json_request(requests, name)
    except RequestValidationError as error:
        plan.error = error
    return plan


def read_json_request(requests, name: str) -> dict:
    stored: StoredBlob | None = requests.find(name)
    if stored is not None and stored.bytes > MAX_BODY_BYTES:
        raise RequestValidationError(FieldError("body", f"{name} is larger than {MAX_BODY_BYTES:,} bytes"))
    try:
        return parse_request_json(requests.open_read(name).read())
    except SoraflowError as error:
        if isinstance(error, RequestValidationError):
            raise
        raise RequestValidationError(FieldError("body", f"{name} could not be read: {error.message}")) from error


def is_sidecar(name: str) -> bool:
    """`cat.png.json` is the sidecar of `cat.png`: named after the whole image name, so it is never a request."""
    return name.lower().endswith(tuple(extension + ".json" for extension in IMAGE_EXTENSIONS))


def blob_path(full_name: str, container: str) -> str | None:
    """The blob's path inside the request container, from the trigger's `container/path` name."""
    prefix = container + "/"
    if not full_name.startswith(prefix) or len(full_name) == len(prefix):
        return None
    return full_name[len(prefix) :]
