"""How triggers start and find runs: the orchestration's input, reference checks before a start, durable status.

Shared by the HTTP API (`videos_api`) and blob-triggered starts (`blob_requests`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import azure.durable_functions as df

from orchestrators.run_state import RunInput, RunOptions
from orchestrators.video_run import ORCHESTRATOR
from soraflow.config import Settings
from soraflow.errors import FieldError, RequestValidationError
from soraflow.providers.registry import plugin_for, run_cost
from soraflow.reference_image import MAX_REFERENCE_BYTES, detect_image_format
from soraflow.run_resource import build_run_resource
from soraflow.runs import RunStatus, is_valid_run_id
from soraflow.storage import BlobNotFoundError, container_store
from soraflow.video_request import ReferenceSource, VideoRequest

UPLOAD_EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp"}


def build_run_input(
    settings: Settings,
    run_id: str,
    request: VideoRequest,
    fingerprint: str,
    *,
    remix_of: dict | None = None,
    origin: dict | None = None,
) -> dict:
    """The orchestration's input: the validated request, the settings it needs, its cost and its deadline."""
    now = datetime.now(UTC)
    options = RunOptions(
        api=request.api,
        timeout_minutes=settings.run_timeout_minutes,
        create_retry_seconds=settings.create_retry_seconds,
        store_retry_seconds=settings.store_retry_seconds,
        polling={"initial": settings.poll_initial_seconds, "floor": settings.poll_floor_seconds},
        polls_per_execution=settings.polls_per_execution,
        delete_provider_copy=settings.delete_provider_copy,
        quota=plugin_for(request).quota(settings),
        push=pushes_completion(request, settings),
    )
    return RunInput(
        run_id=run_id,
        request=request.to_dict(),
        options=options,
        cost=run_cost(request, settings).to_dict(),
        created_at=now.isoformat(),
        deadline=(now + timedelta(minutes=settings.run_timeout_minutes)).isoformat(),
        fingerprint=fingerprint,
        remix_of=remix_of,
        origin=origin or {"kind": "http"},
    ).to_dict()


def pushes_completion(request: VideoRequest, settings: Settings) -> bool:
    """Whether the provider will call back when this run's job ends: it can push, and the app has a public URL."""
    caps = plugin_for(request).capabilities(request.model, settings)
    return bool(caps and caps.pushes_completion and settings.public_base_url)


async def check_reference(client: df.DurableOrchestrationClient, source: ReferenceSource | None) -> None:
    """Refuse, before a run starts, a reference it could not read: no such blob or run, too large, not an image."""
    if source is None or source.kind == "upload":
        return
    if source.kind == "run":
        instance = await find_run(client, source.run_id or "")
        if instance is None:
            raise RequestValidationError(FieldError("input_reference.run", f"no run {source.run_id}"))
        status = build_run_resource(instance)["status"]
        if status != RunStatus.COMPLETED:
            message = f"run {source.run_id} is {status}; a frame can only come from a completed run"
            raise RequestValidationError(FieldError("input_reference.run", message))
        return
    name = "input_reference.blob"
    try:
        reader = container_store(source.container or "").open_read(source.path or "")
    except BlobNotFoundError:
        raise RequestValidationError(FieldError(name, f"no blob {source.blob}")) from None
    except RequestValidationError as error:  # a name the storage layer refuses
        raise RequestValidationError(FieldError(name, error.errors[0].message)) from None
    if reader.blob.bytes > MAX_REFERENCE_BYTES:
        message = f"{source.blob} is {reader.blob.bytes:,} bytes; a reference image is at most 20 MB"
        raise RequestValidationError(FieldError(name, message))
    kind = detect_image_format(next(iter(reader), b"")[:64])
    if kind not in UPLOAD_EXTENSIONS:
        message = f"{source.blob} must be a JPEG, PNG or WebP image; got {kind or 'not an image'}"
        raise RequestValidationError(FieldError(name, message))


async def find_run(client: df.DurableOrchestrationClient, run_id: str) -> dict | None:
    """The durable status of a run as a dict, or None if there is no such run (or the id is not one of ours)."""
    if not is_valid_run_id(run_id):
        return None
    status = await client.get_status(run_id, show_input=True)
    if status is None or status.runtime_status is None:
        return None
    instance = instance_dict(status)
    return instance if instance.get("name") in (None, ORCHESTRATOR) else None


def instance_dict(status: df.DurableOrchestrationStatus) -> dict:
    """The SDK's status object as the plain dict build_run_resource reads (JSON text decoded)."""
    run_input = decoded(status.input_)
    custom = decoded(status.custom_status)
    return {
        "name": status.name,
        "instanceId": status.instance_id,
        "runtimeStatus": status.runtime_status.value if status.runtime_status else None,
        "input": run_input if isinstance(run_input, dict) else {},
        "customStatus": custom if isinstance(custom, dict) else None,
        "output": decoded(status.output),
        "createdTime": status.created_time,
        "lastUpdatedTime": status.last_updated_time,
    }


def decoded(value):
    """Durable payloads may arrive as JSON text (the extension stores the raw body): decode it once."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
