"""Activities over Blob Storage: fit the reference image, stream provider outputs in, write the manifest."""

from __future__ import annotations

import logging

import azure.durable_functions as df

from activities.failures import activity_errors
from soraflow.callbacks import deliver_callback
from soraflow.config import Settings
from soraflow.errors import FieldError, RequestValidationError
from soraflow.frames import extract_frame
from soraflow.providers import JobOutput, ProviderNotFound
from soraflow.providers.registry import client_for
from soraflow.reference_image import MAX_REFERENCE_BYTES, fit_reference_image
from soraflow.storage import container_store, output_store, run_blob
from soraflow.video_request import VideoRequest

bp = df.Blueprint()
log = logging.getLogger("soraflow.activities")

PREPARE_REFERENCE = "prepare_reference"
STORE_PROVIDER_OUTPUT = "store_provider_output"
WRITE_RUN_MANIFEST = "write_run_manifest"
DELIVER_RUN_CALLBACK = "deliver_run_callback"

OUTPUT_NAMES = {"video": ("video", "mp4"), "thumbnail": ("thumbnail", "webp"), "spritesheet": ("spritesheet", "jpg")}
EXTENSIONS = {"video/mp4": "mp4", "image/webp": "webp", "image/jpeg": "jpg", "image/png": "png"}


@bp.function_name(PREPARE_REFERENCE)
@bp.activity_trigger(input_name="payload")
def prepare_reference(payload: dict) -> dict:
    """Fit the run's reference image (an upload, a blob, or a frame of an earlier run) to the video size."""
    with activity_errors():
        run_id = payload["run_id"]
        request = VideoRequest.from_dict(payload["request"])
        source = request.input_reference
        if source.kind == "run":
            video = output_store().open_read(run_blob(source.run_id, "video.mp4"))
            image = extract_frame(video, source.at_seconds)
        else:
            store = container_store(source.container)
            found = store.find(source.path)
            if found is None:
                raise RequestValidationError(FieldError("input_reference", f"no blob {source.blob}"))
            if found.bytes > MAX_REFERENCE_BYTES:
                raise RequestValidationError(FieldError("input_reference", f"{source.blob} is larger than 20 MB"))
            image = store.open_read(source.path).read()
        fitted = fit_reference_image(image, request.width, request.height, fit=source.fit)
        stored = output_store().upload_bytes(
            run_blob(run_id, "reference.png"), fitted.data, content_type=fitted.content_type
        )
        return {"blob": stored.blob, **fitted.describe()}


@bp.function_name(STORE_PROVIDER_OUTPUT)
@bp.activity_trigger(input_name="payload")
def store_provider_output(payload: dict) -> dict | None:
    """Stream one provider output into `runs/{id}/` (or `runs/{id}/remix/`); None if an optional part is absent."""
    with activity_errors():
        output = JobOutput.from_dict(payload["output"])
        source = payload["source"]
        provider = client_for(payload.get("provider"), Settings.from_env())
        try:
            with provider.open_output(output) as download:
                content_type = (download.content_type or "application/octet-stream").split(";")[0].strip()
                name = output_name(output, content_type, folder=payload.get("folder", ""))
                stored = output_store().upload_stream(
                    run_blob(payload["run_id"], name),
                    download.iter_bytes(),
                    content_type=content_type,
                    expected_size=download.length,
                    metadata={"run_id": payload["run_id"], "source": source, "kind": output.kind},
                )
        except ProviderNotFound:
            if output.required:
                raise
            return None
        log.info("run %s: stored %s (%d bytes)", payload["run_id"], stored.blob, stored.bytes)
        return {
            "kind": output.kind,
            "source": source,
            "index": output.index,
            "blob": stored.blob,
            "content_type": stored.content_type,
            "bytes": stored.bytes,
        }


@bp.function_name(WRITE_RUN_MANIFEST)
@bp.activity_trigger(input_name="payload")
def write_run_manifest(payload: dict) -> str:
    """Write `runs/{id}/run.json`, the run's lasting record (also on failure)."""
    with activity_errors():
        return output_store().write_manifest(payload["id"], payload).blob


@bp.function_name(DELIVER_RUN_CALLBACK)
@bp.activity_trigger(input_name="payload")
def deliver_run_callback(payload: dict) -> dict:
    """POST the final run to the caller's callback URL once, signed with CALLBACK_SECRET.

    One attempt per call: the orchestration retries a receiver that is down on durable timers, not in a worker."""
    with activity_errors():
        settings = Settings.from_env()
        return deliver_callback(payload["url"], payload["run"], secret=settings.callback_secret, attempts=1).to_dict()


def output_name(output: JobOutput, content_type: str, *, folder: str) -> str:
    stem, default_extension = OUTPUT_NAMES.get(output.kind, (output.kind, "bin"))
    extension = EXTENSIONS.get(content_type, default_extension)
    suffix = f"-{output.index}" if output.index else ""
    return f"{folder}{stem}{suffix}.{extension}"
