"""The queue API (submit, status, result, cancel), the CDN serving output files, and the webhook JWKS."""

from __future__ import annotations

import base64
import binascii
import json
import math
import uuid

import aiohttp
from aiohttp import web
from yarl import URL

from emulators.fal.emulator import FalEmulator
from emulators.fal.errors import FalError, request_error, validation_error
from emulators.fal.models import MODELS, InputError, Model, app_of, detail
from emulators.fal.queue import (
    OUTPUT_FAILURE_AT,
    PAYLOAD_RETENTION_SECONDS,
    STARTUP_FRACTION,
    Failure,
    FalRequest,
    Plan,
    logs_of,
    render_seconds,
    state_of,
)
from emulators.fal.webhooks import Delivery
from emulators.sora import policy
from emulators.sora.downloads import stream_file
from emulators.sora.emulator import EMULATOR, STALL, operation, record_job
from emulators.sora.errors import ApiError
from emulators.sora.images import MAX_IMAGE_BYTES, decode_pixels, open_image

REQUEST_ID = "fal.request_id"
LIFECYCLE_HEADER = "X-Fal-Object-Lifecycle-Preference"
TIMEOUT_HEADER = "X-Fal-Request-Timeout"
IMAGE_FETCH_SECONDS = 10.0
TRUE_WORDS, FALSE_WORDS = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
CONTENT_POLICY_MESSAGE = (
    "The content could not be processed because it contained material flagged by a content checker."
)


def _emulator(request: web.Request) -> FalEmulator:
    return request.app[EMULATOR]


def _origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _query_webhook(request: web.Request) -> str | None:
    url = request.query.get("fal_webhook")
    if url is None:
        return None
    parsed = URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise request_error(400, f"fal_webhook must be an absolute http(s) URL, got {url!r}.", "bad_request")
    return url


def _query_max_queue_length(request: web.Request) -> int | None:
    text = request.query.get("fal_max_queue_length")
    if text is None:
        return None
    if not text.isdigit():
        raise request_error(400, f"fal_max_queue_length must be a whole number, got {text!r}.", "bad_request")
    return int(text)


def _media_lifetime(request: web.Request, emulator: FalEmulator) -> float | None:
    text = request.headers.get(LIFECYCLE_HEADER)
    if text is None:
        return emulator.options.media_retention * emulator.time_scale
    try:
        value = json.loads(text)
        seconds = value["expiration_duration_seconds"]
    except (json.JSONDecodeError, TypeError, KeyError):
        seconds = 0
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 1:
        raise request_error(
            400,
            f'{LIFECYCLE_HEADER} must be {{"expiration_duration_seconds": N}} with N >= 1 or null, got {text!r}.',
            "bad_request",
        )
    return seconds * emulator.time_scale


def _start_timeout(request: web.Request, emulator: FalEmulator) -> float | None:
    text = request.headers.get(TIMEOUT_HEADER)
    if text is None:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or not math.isfinite(seconds):
        raise request_error(400, f"{TIMEOUT_HEADER} must be a number of seconds above 0, got {text!r}.", "bad_request")
    return seconds * emulator.time_scale


def _parse_body(raw: bytes, model: Model) -> dict:
    try:
        body = json.loads(raw) if raw.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError([detail("", "JSON decode error", "json_invalid", ctx={"error": str(exc)})]) from exc
    return model.parse(body)


async def _image_bytes(url: str) -> bytes:
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        if not header.endswith(";base64"):
            raise ValueError("a data: URI image must be base64-encoded")
        try:
            return base64.b64decode(data, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"the data: URI is not valid base64 ({exc})") from exc
    timeout = aiohttp.ClientTimeout(total=IMAGE_FETCH_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
        if response.status != 200:
            raise ValueError(f"HTTP {response.status}")
        data = await response.content.read(MAX_IMAGE_BYTES + 1)
        return data


async def _screen_images(model: Model, inputs: dict) -> tuple[tuple[int, int] | None, list[dict], list[dict]]:
    """Fetch and decode each input image: the first one's size, download problems, and flagged images."""
    size, problems, flagged = None, [], []
    for name in model.image_fields:
        if name not in inputs:
            continue
        url = inputs[name]
        try:
            data = await _image_bytes(url)
        except (ValueError, aiohttp.ClientError, TimeoutError) as exc:
            msg = f"Failed to download the file from {url[:100]}: {exc}"
            problems.append(detail(name, msg, "file_download_error", input=url[:100]))
            continue
        try:
            image = decode_pixels(open_image(data, param=name), param=name)
        except ApiError as exc:
            kind = "image_too_large" if exc.code in ("file_too_large", "image_too_large") else "image_load_error"
            problems.append(detail(name, exc.message, kind, input=url[:100]))
            continue
        size = size or image.size
        if policy.image_is_flagged(image):
            flagged.append(detail(name, CONTENT_POLICY_MESSAGE, "content_policy_violation", input=url[:100]))
    return size, problems, flagged


def _model_failure(details: list[dict], at: float) -> Failure:
    summary = "; ".join(f"{'.'.join(str(p) for p in d['loc'])}: {d['msg']}" for d in details)
    return Failure(422, {"detail": details}, summary, details[0]["type"], at)


@operation("queue", "submit")
async def submit(request: web.Request) -> web.Response:
    """POST /{endpoint_id}: queue a request; its input problems surface when it completes, as on fal."""
    emulator = _emulator(request)
    endpoint_id = request.match_info["endpoint"].strip("/")
    model = MODELS.get(endpoint_id)
    if model is None:
        served = ", ".join(sorted(MODELS))
        raise request_error(404, f"Application '{endpoint_id}' not found. The emulator serves: {served}.", "not_found")
    webhook_url = _query_webhook(request)
    max_queue_length = _query_max_queue_length(request)
    media_lifetime = _media_lifetime(request, emulator)
    start_timeout = _start_timeout(request, emulator)
    raw = await request.read()
    now = emulator.clock.now()
    plans = emulator.queue.plan()
    if max_queue_length is not None:
        waiting = len(emulator.queue.waiting(plans, now, endpoint_id=endpoint_id))
        if waiting >= max_queue_length:
            message = f"{waiting} requests are waiting on {endpoint_id}; fal_max_queue_length is {max_queue_length}."
            raise request_error(429, message, "queue_full")

    inputs, generation, failure = {}, None, None
    try:
        inputs = _parse_body(raw, model)
    except InputError as exc:
        if emulator.options.validation_errors == "submit":
            raise validation_error(exc.details) from exc
        failure = _model_failure(exc.details, STARTUP_FRACTION)
    if failure is None:
        image_size, problems, flagged = await _screen_images(model, inputs)
        generation = model.generation(inputs, image_size)
        verdict = policy.screen_prompt(inputs.get("prompt", ""))
        if problems:
            failure = _model_failure(problems, STARTUP_FRACTION)
        elif verdict.input_blocked or flagged:
            blocked = flagged or [detail("prompt", CONTENT_POLICY_MESSAGE, "content_policy_violation")]
            failure = _model_failure(blocked, STARTUP_FRACTION)
        elif verdict.output_blocked:
            failure = _model_failure(
                [detail("", CONTENT_POLICY_MESSAGE, "content_policy_violation")], OUTPUT_FAILURE_AT
            )
        elif verdict.internal_error:
            body = {"detail": "Internal server error", "error_type": "runner_server_error"}
            headers = {"X-Fal-Error-Type": "runner_server_error"}
            failure = Failure(500, body, "Internal server error", "runner_server_error", OUTPUT_FAILURE_AT, headers)

    seconds = generation.seconds if generation is not None else model.default_seconds()
    fal_request = emulator.queue.add(
        FalRequest(
            id=str(uuid.uuid4()),
            seq=emulator.queue.next_seq(),
            endpoint_id=endpoint_id,
            app=app_of(endpoint_id),
            submitted_at=now,
            work=render_seconds(seconds, emulator.time_scale),
            inputs=inputs,
            generation=generation,
            failure=failure,
            webhook_url=webhook_url,
            media_lifetime=media_lifetime,
            start_timeout=start_timeout,
            stalled=bool(request.get(STALL)),
            origin=_origin(request),
        )
    )
    if webhook_url is not None:
        emulator.deliveries[fal_request.id] = Delivery(fal_request.id, webhook_url, due_at=0.0)
    _note(request, fal_request)
    plans = emulator.queue.plan()
    body = {
        "request_id": fal_request.id,
        "gateway_request_id": fal_request.id,
        **_urls(fal_request),
        "queue_position": _queue_position(emulator, fal_request, plans, now),
    }
    return web.json_response(body)


def _note(request: web.Request, fal_request: FalRequest) -> None:
    request[REQUEST_ID] = fal_request.id
    record_job(request, fal_request.id)


def _urls(fal_request: FalRequest) -> dict:
    base = f"{fal_request.origin}/{fal_request.app}/requests/{fal_request.id}"
    return {"response_url": f"{base}/response", "status_url": f"{base}/status", "cancel_url": f"{base}/cancel"}


def _queue_position(emulator: FalEmulator, fal_request: FalRequest, plans: dict[str, Plan], now: float) -> int:
    waiting = emulator.queue.waiting(plans, now)
    return sum(1 for r in waiting if r.seq < fal_request.seq)


def _payload_gone(fal_request: FalRequest, plan: Plan, now: float, scale: float) -> bool:
    return plan.end <= now and now >= plan.end + PAYLOAD_RETENTION_SECONDS * scale


def _lookup(request: web.Request) -> tuple[FalEmulator, FalRequest, Plan, float]:
    emulator = _emulator(request)
    request_id = request.match_info["request_id"]
    app = request.match_info["app"]
    fal_request = emulator.queue.requests.get(request_id)
    now = emulator.clock.now()
    plans = emulator.queue.plan()
    if fal_request is None or _payload_gone(fal_request, plans[fal_request.id], now, emulator.time_scale):
        raise request_error(404, f"Request {request_id} not found.", "not_found")
    _note(request, fal_request)
    if app != fal_request.app:
        message = (
            f"Request {request_id} is not one of {app}'s. Status, result and cancel URLs use only the owner and app "
            f"of the endpoint: /{fal_request.app}/requests/{request_id}."
        )
        raise request_error(404, message, "not_found")
    return emulator, fal_request, plans[fal_request.id], now


def _wants_logs(request: web.Request) -> bool:
    text = request.query.get("logs", "false").lower()
    if text in TRUE_WORDS | FALSE_WORDS:
        return text in TRUE_WORDS
    msg = "Input should be a valid boolean, unable to interpret input"
    raise FalError(422, {"detail": [{**detail("", msg, "bool_parsing", input=text), "loc": ["query", "logs"]}]})


@operation("queue", "status")
async def status(request: web.Request) -> web.Response:
    """GET /{owner}/{app}/requests/{id}/status?logs=: IN_QUEUE (queue_position), IN_PROGRESS, COMPLETED."""
    with_logs = _wants_logs(request)
    emulator, fal_request, plan, now = _lookup(request)
    state = state_of(fal_request, plan, now)
    body: dict = {"status": state, "request_id": fal_request.id, **_urls(fal_request)}
    if state == "IN_QUEUE":
        body["queue_position"] = _queue_position(emulator, fal_request, emulator.queue.plan(), now)
        return web.json_response(body, status=202)
    body["logs"] = logs_of(fal_request, plan, now) if with_logs else None
    if state == "IN_PROGRESS":
        return web.json_response(body, status=202)
    if plan.outcome == "output":
        body["metrics"] = {"inference_time": round(plan.end - plan.start - STARTUP_FRACTION * fal_request.work, 3)}
    else:
        _, result, _ = await emulator.result(fal_request, plan)
        body["error"] = fal_request.failure.error if fal_request.failure else result["detail"]
        body["error_type"] = fal_request.failure.error_type if fal_request.failure else result["error_type"]
    return web.json_response(body)


@operation("queue", "result")
async def result(request: web.Request) -> web.Response:
    """GET /{owner}/{app}/requests/{id} (and …/response): the model's output, or its error."""
    emulator, fal_request, plan, now = _lookup(request)
    if state_of(fal_request, plan, now) != "COMPLETED":
        raise FalError(400, {"detail": "Request is still in progress"})
    http_status, body, headers = await emulator.result(fal_request, plan)
    return web.json_response(body, status=http_status, headers=headers)


@operation("queue", "cancel")
async def cancel(request: web.Request) -> web.Response:
    """PUT /{owner}/{app}/requests/{id}/cancel: a queued request leaves the queue; a running one completes."""
    try:
        _, fal_request, plan, now = _lookup(request)
    except FalError as exc:
        raise FalError(404, {"status": "NOT_FOUND"}) from exc
    if state_of(fal_request, plan, now) == "COMPLETED":
        raise FalError(400, {"status": "ALREADY_COMPLETED"})
    if fal_request.cancelled_at is None:
        fal_request.cancelled_at = now
    return web.json_response({"status": "CANCELLATION_REQUESTED"}, status=202)


@operation("cdn", "media")
async def media(request: web.Request) -> web.StreamResponse:
    """GET /files/{token}/output.mp4: the output file a result points at, until its lifetime ends."""
    emulator = _emulator(request)
    token = request.match_info["token"]
    now = emulator.clock.now()
    plans = emulator.queue.plan()
    for fal_request in emulator.queue.requests.values():
        plan = plans[fal_request.id]
        if fal_request.media_token != token or plan.outcome != "output" or plan.end > now:
            continue
        _note(request, fal_request)
        if fal_request.media_lifetime is not None and now >= plan.end + fal_request.media_lifetime:
            break
        path = await emulator.video_file(fal_request.generation)
        return await stream_file(request, path, "video/mp4")
    raise FalError(404, {"detail": "File not found"})


async def jwks(request: web.Request) -> web.Response:
    """GET the webhook key set (`/.well-known/jwks.json` unless --jwks-path says otherwise)."""
    return web.json_response(_emulator(request).signer.jwks(), headers={"Cache-Control": "public, max-age=3600"})


def routes(jwks_path: str) -> list[web.RouteDef]:
    """The queue API, the CDN and the JWKS; the submit route takes every other POST path."""
    requests = r"/{app:.+}/requests/{request_id}"
    return [
        web.get(jwks_path, jwks, allow_head=False),
        web.get("/files/{token}/{name}", media, allow_head=False),
        web.get(requests + "/status", status, allow_head=False),
        web.put(requests + "/cancel", cancel),
        web.get(requests + "/response", result, allow_head=False),
        web.get(requests, result, allow_head=False),
        web.post("/{endpoint:.+}", submit),
    ]
