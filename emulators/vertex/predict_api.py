"""`:predictLongRunning` and `:fetchPredictOperation` under `/{v1,v1beta1}/projects/…/models/{model}`."""

from __future__ import annotations

import asyncio
import base64
import json

from aiohttp import web

from emulators.sora.emulator import STALL, emulator_of, operation, record_job
from emulators.sora.store import Timeline
from emulators.vertex import policy
from emulators.vertex.emulator import API
from emulators.vertex.errors import RPC_CODES, GoogleError, error_info, invalid_argument, not_found, unknown_field
from emulators.vertex.operations import (
    VIDEO_MIME_TYPE,
    Operation,
    model_resource,
    new_operation,
    render_seconds,
    retention_seconds,
)
from emulators.vertex.video_request import MODELS, parse_video_request

MODEL_PATH = (
    "/{version:v1|v1beta1}/projects/{project}/locations/{location}/publishers/{publisher}/models/{model:[^/:]+}"
)
RESPONSE_TYPE = "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse"
PREDICT_PERMISSION = "aiplatform.endpoints.predict"


async def read_json(request: web.Request) -> object:
    """The request body as JSON; Google's 400 when it is not JSON."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GoogleError(400, f"Invalid JSON payload received. {exc}.") from exc


def _resource_of(request: web.Request) -> tuple[str, str]:
    """The publisher model's resource name and model id, after the project (403) and model (404) checks."""
    info = request.match_info
    project, location, publisher, model = info["project"], info["location"], info["publisher"], info["model"]
    resource = f"projects/{project}/locations/{location}/publishers/{publisher}/models/{model}"
    allowed = emulator_of(request).options.project
    if allowed is not None and project != allowed:
        raise GoogleError(
            403,
            f"Permission '{PREDICT_PERMISSION}' denied on resource '//aiplatform.googleapis.com/{resource}' "
            "(or it may not exist).",
            details=[
                error_info(
                    "IAM_PERMISSION_DENIED",
                    "aiplatform.googleapis.com",
                    {"permission": PREDICT_PERMISSION, "resource": resource},
                )
            ],
        )
    if publisher != "google" or model not in MODELS:
        raise not_found(
            f"Publisher Model `{resource}` was not found or your project does not have access to it. "
            "Please ensure you are using a valid model version. For more information, see: "
            "https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions"
        )
    return model_resource(project, location, model), model


@operation(API, "create")
async def predict_long_running(request: web.Request) -> web.Response:
    """POST …/models/{model}:predictLongRunning: validate, screen, admit, start a render; answer the operation name."""
    emulator = emulator_of(request)
    resource, model = _resource_of(request)
    spec = parse_video_request(await read_json(request))
    verdict = policy.screen(spec.prompt, sample_count=spec.sample_count, flagged_image=spec.flagged_image)
    now = emulator.clock.now()
    emulator.store.admit(now, emulator.max_concurrent_jobs, model)
    timeline = Timeline(
        start=now,
        duration=render_seconds(model, spec.duration_seconds, emulator.time_scale),
        failure=verdict.failure,
        stalled=bool(request.get(STALL)),
    )
    created = emulator.store.add(
        new_operation(
            spec,
            resource=resource,
            timeline=timeline,
            retention=retention_seconds(emulator.time_scale),
            filtered=verdict.filtered_samples,
        )
    )
    record_job(request, created.id)
    return web.json_response({"name": created.name})


async def operation_json(request: web.Request, found: Operation) -> dict:
    """The operation as Vertex answers it: only `name` while running, then `done` with `response` or `error`."""
    emulator = emulator_of(request)
    if not found.done(emulator.clock.now()):
        return {"name": found.name}  # proto3 JSON leaves out `done: false`
    failure = found.timeline.failure
    if failure is not None:
        return {
            "name": found.name,
            "done": True,
            "error": {"code": RPC_CODES[failure.code], "message": failure.message},
        }
    videos = []
    for sample in found.samples:
        if sample.gcs_uri is not None:
            videos.append({"gcsUri": sample.gcs_uri, "mimeType": VIDEO_MIME_TYPE})
            continue
        path = await emulator.media.video(sample.source)
        data = await asyncio.to_thread(path.read_bytes)
        videos.append({"bytesBase64Encoded": base64.b64encode(data).decode("ascii"), "mimeType": VIDEO_MIME_TYPE})
    response: dict = {"@type": RESPONSE_TYPE, "raiMediaFilteredCount": found.filtered}
    if found.filtered:
        response["raiMediaFilteredReasons"] = [policy.FILTERED_REASON]
    if videos:
        response["videos"] = videos
    return {"name": found.name, "done": True, "response": response}


@operation(API, "retrieve")
async def fetch_predict_operation(request: web.Request) -> web.Response:
    """POST …/models/{model}:fetchPredictOperation {"operationName"}: the operation now (404 once it is gone)."""
    emulator = emulator_of(request)
    resource, _ = _resource_of(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise GoogleError(400, "Invalid JSON payload received. Expected an object.")
    unknown = sorted(set(body) - {"operationName"})
    if unknown:
        raise unknown_field(unknown[0])
    name = body.get("operationName")
    if name is None:
        raise invalid_argument("operationName", "'operationName' is required: the name :predictLongRunning answered.")
    if not isinstance(name, str) or "/operations/" not in name:
        raise invalid_argument(
            "operationName", f"'operationName' must be a full operation name ({resource}/operations/ID)."
        )
    found = emulator.store.find(name, emulator.clock.now())
    if found is None or found.resource != resource:
        raise not_found(f"Operation {name[:300]} was not found (it never existed, or it is past its 2-day retention).")
    record_job(request, found.id)
    return web.json_response(await operation_json(request, found))


def routes() -> list[web.RouteDef]:
    """The Veo prediction routes."""
    return [
        web.post(f"{MODEL_PATH}:predictLongRunning", predict_long_running),
        web.post(f"{MODEL_PATH}:fetchPredictOperation", fetch_predict_operation),
    ]
