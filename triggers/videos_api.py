"""The HTTP API under /api/videos: start, read, list, cancel, delete, download and remix runs.

Every 4xx is problem+json naming the field, and nothing is started or changed when one is returned.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta

import azure.durable_functions as df
import azure.functions as func

from orchestrators.video_run import CANCEL_EVENT, ORCHESTRATOR
from soraflow.config import Settings
from soraflow.errors import ConfigurationError, FieldError, RequestValidationError, SoraflowError
from soraflow.pricing import load_price_table
from soraflow.providers.registry import request_capabilities
from soraflow.reference_image import MAX_REFERENCE_BYTES, detect_image_format, fit_reference_image
from soraflow.run_index import run_index
from soraflow.run_resource import build_run_resource
from soraflow.runs import RunStatus, is_valid_run_id, request_fingerprint, run_id_for_idempotency_key
from soraflow.storage import output_store, run_blob
from soraflow.video_request import (
    MAX_BODY_BYTES,
    VideoRequest,
    parse_request_json,
    parse_video_request,
)
from triggers.problems import ContentTooLarge, UnsupportedMediaType, field_problem, problem, problem_from_error
from triggers.runs import (
    UPLOAD_EXTENSIONS,
    build_run_input,
    check_reference,
    find_run,
)

bp = df.Blueprint()
log = logging.getLogger("soraflow.api")

MAX_MULTIPART_BYTES = MAX_REFERENCE_BYTES + 1024 * 1024
MAX_IDEMPOTENCY_KEY_CHARS = 255
MAX_LIST_LIMIT = 100
DEFAULT_LIST_LIMIT = 20
MAX_CONTENT_INDEX = 16
CONTENT_VARIANTS = ("video", "thumbnail", "spritesheet")
READ_URL_TTL = timedelta(minutes=15)


# --- start ---


@bp.route(route="videos", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start_video_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Start a run from a JSON body, or multipart with an `input_reference` image; 202 + Location."""
    try:
        settings = Settings.from_env()
        load_price_table(settings.sora_pricing)  # the run's cost estimate needs it; fail here, naming the setting
        key = idempotency_key(req)
        body, upload = read_start_body(req)
        request = parse_video_request(
            body,
            api=settings.sora_api,
            default_model=settings.sora_model,
            extra_models=settings.sora_extra_models,
            allowed_containers=reference_containers(settings),
            allow_upload=False,
        )
        if upload is not None:
            fit_reference_image(upload[0], request.width, request.height)  # validates; the run fits it again
        await check_reference(client, request.input_reference)
    except SoraflowError as error:
        return problem_from_error(error, status=500 if isinstance(error, ConfigurationError) else None)
    fingerprint = request_fingerprint(
        {"body": body, "upload": hashlib.sha256(upload[0]).hexdigest() if upload else None}
    )
    run_id = run_id_for_idempotency_key(key) if key else new_run_id()
    return await start_or_replay(
        client, req, settings, run_id, request, fingerprint, upload=upload, replayable=bool(key)
    )


@bp.route(route="videos/{id}/remix", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def remix_video_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Start a new run that remixes a completed one with a new prompt (videos API only)."""
    source_id = req.route_params.get("id", "")
    try:
        settings = Settings.from_env()
        load_price_table(settings.sora_pricing)
        key = idempotency_key(req)
        body = read_json_body(req, accepted="application/json")
    except SoraflowError as error:
        return problem_from_error(error, status=500 if isinstance(error, ConfigurationError) else None)
    unknown = sorted(set(body) - {"prompt", "callback_url", "metadata"})
    if unknown:
        return field_problem(unknown[0], "unknown field; a remix takes prompt, callback_url and metadata")
    source = await find_run(client, source_id)
    if source is None:
        return run_not_found(source_id)
    resource = build_run_resource(source)
    if resource["status"] != RunStatus.COMPLETED:
        return problem(409, "run_not_completed", f"run {source_id} is {resource['status']}; only a completed run can "
                       "be remixed", errors=[FieldError("id", "the run must be completed")])  # fmt: skip
    source_request = VideoRequest.from_dict(resource["request"])
    caps = request_capabilities(source_request.model, source_request.api, settings)
    if caps is None or not caps.remix:
        provider = caps.provider if caps else source_request.api
        return field_problem("id", f"remix is not supported by {source_request.model} ({provider})")
    job = remix_source_job(source)
    if job is None:
        return field_problem("id", "the run has no provider video to remix (it was deleted from the provider)")
    try:
        request = parse_video_request(
            {
                "prompt": body.get("prompt"),
                "model": source_request.model,
                "size": source_request.size,
                "seconds": str(source_request.seconds),
                **{k: body[k] for k in ("callback_url", "metadata") if k in body},
            },
            api="videos",
            default_model=settings.sora_model,
            extra_models=settings.sora_extra_models,
        )
    except SoraflowError as error:
        return problem_from_error(error)
    fingerprint = request_fingerprint({"remix_of": source_id, "body": body})
    run_id = run_id_for_idempotency_key(f"remix:{source_id}:{key}") if key else new_run_id()
    remix_of = {"run_id": source_id, "job_id": job}
    return await start_or_replay(client, req, settings, run_id, request, fingerprint, remix_of=remix_of,
                                 replayable=bool(key))  # fmt: skip


async def start_or_replay(
    client: df.DurableOrchestrationClient,
    req: func.HttpRequest,
    settings: Settings,
    run_id: str,
    request: VideoRequest,
    fingerprint: str,
    *,
    upload: tuple[bytes, str] | None = None,
    remix_of: dict | None = None,
    replayable: bool,
) -> func.HttpResponse:
    """Start the run, or, for a retried POST with the same key and body, answer with the run it started."""
    if replayable:
        existing = await find_run(client, run_id)
        if existing is not None:
            return replay_or_conflict(req, existing, fingerprint)
    if upload is not None:
        data, kind = upload
        blob = run_blob(run_id, f"upload.{UPLOAD_EXTENSIONS[kind]}")
        try:
            output_store().upload_bytes(blob, data, content_type=f"image/{kind}")
        except SoraflowError as error:
            return problem_from_error(error, status=503)
        request = VideoRequest.from_dict(
            {**request.to_dict(), "input_reference": {"upload": f"{output_store().container}/{blob}", "fit": "cover"}}
        )
    run_input = build_run_input(settings, run_id, request, fingerprint, remix_of=remix_of)
    try:
        await client.start_new(ORCHESTRATOR, run_id, run_input)
    except Exception:
        # Two POSTs with one key can race to start the same id: the loser answers with the winner's run.
        existing = await find_run(client, run_id) if replayable else None
        if existing is None:
            raise
        return replay_or_conflict(req, existing, fingerprint)
    log.info("started run %s (%s, %s s, %s)", run_id, request.model, request.seconds, request.size)
    resource = build_run_resource({"instanceId": run_id, "runtimeStatus": "Pending", "input": run_input})
    await index_started_run(resource)
    return run_response(req, resource, status=202)


async def index_started_run(resource: dict) -> None:
    """Give a run that just started its run-index row, unless the run already wrote a later one."""
    try:
        await asyncio.to_thread(run_index().record, resource, only_if_absent=True)
    except Exception:
        # The run has started: failing the answer now would invite a retry that starts (and pays for) a second
        # run. The row is written at the run's first change of stage.
        log.warning("run %s started without its run-index row", resource["id"], exc_info=True)


def replay_or_conflict(req: func.HttpRequest, existing: dict, fingerprint: str) -> func.HttpResponse:
    if (existing.get("input") or {}).get("fingerprint") != fingerprint:
        return problem(409, "idempotency_key_reused", "this Idempotency-Key was already used with a different "
                       "request body; use a new key for a new request",
                       errors=[FieldError("Idempotency-Key", "already used with a different body")])  # fmt: skip
    response = run_response(req, build_run_resource(existing), status=202)
    response.headers["Idempotent-Replayed"] = "true"
    return response


def read_start_body(req: func.HttpRequest) -> tuple[dict, tuple[bytes, str] | None]:
    """The request fields and, for multipart, the uploaded image (bytes, kind)."""
    media_type, options = content_type_of(req)
    if media_type != "multipart/form-data":
        return read_json_body(req, accepted="application/json or multipart/form-data"), None
    if not options.get("boundary"):
        raise RequestValidationError(FieldError("Content-Type", "multipart/form-data needs a boundary parameter"))
    if len(req.get_body()) > MAX_MULTIPART_BYTES:
        raise ContentTooLarge(FieldError("body", f"multipart body over {MAX_MULTIPART_BYTES:,} bytes"))
    try:
        form, files = req.form, req.files
    except ValueError:  # werkzeug refuses some malformed bodies outright
        raise RequestValidationError(FieldError("body", "the multipart body could not be parsed")) from None
    body: dict = {}
    for name in form:
        if len(form.getlist(name)) > 1:
            raise RequestValidationError(FieldError(field_label(name), "form field appears more than once"))
        value = form[name]
        if name in ("metadata", "remix"):
            try:
                value = json.loads(value)
            except ValueError:
                raise RequestValidationError(
                    FieldError(name, f"{name} must be a JSON object in a form field")
                ) from None
        body[name] = value
    extra = [name for name in files if name != "input_reference"]
    if extra:
        message = "unknown file field; only input_reference is accepted"
        raise RequestValidationError(FieldError(field_label(extra[0]), message))
    if "input_reference" not in files:
        return body, None
    if len(files.getlist("input_reference")) > 1:
        raise RequestValidationError(FieldError("input_reference", "give one image, not several"))
    if "input_reference" in body:
        raise RequestValidationError(FieldError("input_reference", "give either a file or a blob reference, not both"))
    data = files["input_reference"].read(MAX_REFERENCE_BYTES + 1)
    if len(data) > MAX_REFERENCE_BYTES:
        raise RequestValidationError(FieldError("input_reference", "the image is larger than 20 MB"))
    kind = detect_image_format(data[:64])
    if kind not in UPLOAD_EXTENSIONS:
        what = kind or "not an image"
        raise RequestValidationError(FieldError("input_reference", f"must be a JPEG, PNG or WebP image; got {what}"))
    return body, (data, kind)


def read_json_body(req: func.HttpRequest, *, accepted: str) -> dict:
    """A JSON body: another media type or charset is a 415, more than MAX_BODY_BYTES a 413, malformed JSON a 400."""
    media_type, options = content_type_of(req)
    structured_json = media_type.startswith("application/") and media_type.endswith("+json")
    if media_type not in ("", "application/json") and not structured_json:
        raise UnsupportedMediaType(FieldError("Content-Type", f"must be {accepted}; got {shown_param(media_type)}"))
    charset = options.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(FieldError("Content-Type", f"charset must be utf-8; got {shown_param(charset)}"))
    data = req.get_body()
    if len(data) > MAX_BODY_BYTES:
        message = f"body is too large: {len(data):,} bytes; at most {MAX_BODY_BYTES:,} bytes allowed"
        raise ContentTooLarge(FieldError("body", message))
    return parse_request_json(data)


def content_type_of(req: func.HttpRequest) -> tuple[str, dict[str, str]]:
    """The request's media type (lower case) and its parameters (`charset`, `boundary`)."""
    media_type, _, rest = (req.headers.get("content-type") or "").partition(";")
    options = {}
    for item in rest.split(";"):
        name, sep, value = item.partition("=")
        if sep:
            options[name.strip().lower()] = value.strip().strip('"')
    return media_type.strip().lower(), options


def idempotency_key(req: func.HttpRequest) -> str | None:
    key = req.headers.get("idempotency-key")
    if key is None:
        return None
    # The host joins a repeated header with commas, so a comma would make two keys look like one.
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_CHARS or not key.isprintable() or not key.isascii() or "," in key:
        raise RequestValidationError(
            FieldError(
                "Idempotency-Key",
                f"must be 1-{MAX_IDEMPOTENCY_KEY_CHARS} printable ASCII characters without commas, sent once",
            )
        )
    return key


def field_label(name: str) -> str:
    """A client-chosen field name, safe to echo in an error (short, printable)."""
    return name if len(name) <= 64 and name.isprintable() else shown_param(name)


def shown_param(value: str) -> str:
    """A client-sent value, quoted and cut short so an error never echoes a huge or invisible string."""
    return repr(value) if len(value) <= 40 else repr(value[:40]) + "…"


def new_run_id() -> str:
    return "run-" + uuid.uuid4().hex[:24]


def reference_containers(settings: Settings) -> tuple[str, ...]:
    """Containers a request may take a reference image from: the request container and the output container."""
    return (settings.video_request_container, settings.video_output_container)


def remix_source_job(instance: dict) -> str | None:
    """The provider job whose video the run stored last (the remix's, if a chained remix succeeded)."""
    output = instance.get("output") or {}
    if "stored_job_id" in output:
        return output["stored_job_id"]
    return (output.get("provider") or {}).get("job_id")  # runs finished before stored_job_id was recorded


# --- read, list ---


@bp.route(route="videos/{id}", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def get_video_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """The run resource."""
    run_id = req.route_params.get("id", "")
    instance = await find_run(client, run_id)
    if instance is None:
        return run_not_found(run_id)
    resource = build_run_resource(instance)
    if RunStatus(resource["status"]).is_final:
        await repair_index_row(instance, resource)
    return run_response(req, resource)


async def repair_index_row(instance: dict, resource: dict) -> None:
    """Re-record a finished run whose row is missing or older (its last index write failed, or it was terminated).

    A finished run never writes its row again, so without this the list would show it unfinished for good.
    """
    created_at = (instance.get("input") or {}).get("created_at") or resource["created_at"]
    try:
        # The row is keyed by the creation time the run's own writes use: the one in its input.
        await asyncio.to_thread(run_index().record, {**resource, "created_at": created_at})
    except Exception:  # the read answers anyway; the next read tries again
        log.warning("run %s: could not repair its run-index row", resource["id"], exc_info=True)


@bp.route(route="videos", methods=["GET"])
def list_video_runs(req: func.HttpRequest) -> func.HttpResponse:
    """Runs, newest first, one page of the run index: `status=`, `limit=` (1-100), `continuation=` token."""
    status = req.params.get("status")
    if status is not None and status not in {s.value for s in RunStatus}:
        allowed = ", ".join(s.value for s in RunStatus)
        return field_problem("status", f"must be one of {allowed}; got {shown_param(status)}")
    raw_limit = req.params.get("limit", str(DEFAULT_LIST_LIMIT))
    limit = whole_number(raw_limit, 1, MAX_LIST_LIMIT)
    if limit is None:
        message = f"must be a whole number from 1 to {MAX_LIST_LIMIT}; got {shown_param(raw_limit)}"
        return field_problem("limit", message)
    try:
        runs, token = run_index().page(status=status, limit=limit, continuation=req.params.get("continuation"))
    except SoraflowError as error:
        return problem_from_error(error, status=500 if isinstance(error, ConfigurationError) else None)
    body = {"object": "list", "data": [with_content_urls(req, run) for run in runs], "has_more": token is not None}
    if token is not None:
        body["continuation"] = token
    return json_response(body)


def whole_number(raw: str, low: int, high: int) -> int | None:
    """`raw` as an int in [low, high], or None; only ASCII digits count (str.isdigit also takes "²")."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(high)):
        return None
    value = int(raw)
    return value if low <= value <= high else None


# --- cancel, delete ---


@bp.route(route="videos/{id}/cancel", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def cancel_video_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Ask a live run to stop: it stops waiting, deletes the provider job and ends `cancelled`."""
    run_id = req.route_params.get("id", "")
    instance = await find_run(client, run_id)
    if instance is None:
        return run_not_found(run_id)
    resource = build_run_resource(instance)
    if RunStatus(resource["status"]).is_final:
        return problem(409, "run_finished", f"run {run_id} already ended {resource['status']}",
                       errors=[FieldError("id", f"the run is {resource['status']}")])  # fmt: skip
    await client.raise_event(run_id, CANCEL_EVENT, {"requested_at": datetime.now(UTC).isoformat()})
    return run_response(req, resource, status=202)


@bp.route(route="videos/{id}", methods=["DELETE"])
@bp.durable_client_input(client_name="client")
async def delete_video_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Delete a finished run's outputs and history; 409 while it is running."""
    run_id = req.route_params.get("id", "")
    instance = await find_run(client, run_id)
    if instance is None:
        return run_not_found(run_id)
    resource = build_run_resource(instance)
    if not RunStatus(resource["status"]).is_final:
        return problem(409, "run_in_progress", f"run {run_id} is {resource['status']}; cancel it first, then delete",
                       errors=[FieldError("id", "the run is still in progress")])  # fmt: skip
    try:
        removed = output_store().delete_run(run_id)
        # Before the history goes: a failure here leaves the run to a retried DELETE instead of a row without a run.
        run_index().remove(run_id, (instance.get("input") or {}).get("created_at") or resource["created_at"])
    except SoraflowError as error:
        return problem_from_error(error, status=503)
    await client.purge_instance_history(run_id)
    log.info("deleted run %s (%d blobs)", run_id, removed)
    return func.HttpResponse(status_code=204)


# --- content ---


@bp.route(route="videos/{id}/content", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def get_video_content(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Redirect to a short-lived read-only URL of one output (`variant`, `index`, `source`)."""
    run_id = req.route_params.get("id", "")
    variant = req.params.get("variant", "video")
    if variant not in CONTENT_VARIANTS:
        return field_problem("variant", f"must be one of {', '.join(CONTENT_VARIANTS)}; got {shown_param(variant)}")
    raw_index = req.params.get("index", "0")
    index = whole_number(raw_index, 0, MAX_CONTENT_INDEX)
    if index is None:
        message = f"must be a whole number from 0 to {MAX_CONTENT_INDEX}; got {shown_param(raw_index)}"
        return field_problem("index", message)
    source = req.params.get("source", "generation")
    if source not in ("generation", "remix"):
        return field_problem("source", f"must be generation or remix; got {shown_param(source)}")
    stream = req.params.get("stream", "false")
    if stream.lower() != "false":
        # A Python HTTP function returns its whole body at once: streaming read every video into worker memory.
        message = f"is not supported (got {shown_param(stream)}): follow the 302 to the read-only URL instead"
        return field_problem("stream", message)
    instance = await find_run(client, run_id)
    if instance is None:
        return run_not_found(run_id)
    resource = build_run_resource(instance)
    matches = [
        o
        for o in resource["outputs"]
        if o.get("kind") == variant and int(o.get("index") or 0) == index and o.get("source") == source
    ]
    if not matches:
        if not RunStatus(resource["status"]).is_final:
            return problem(409, "run_in_progress", f"run {run_id} is {resource['status']}; its outputs are not "
                           "stored yet", errors=[FieldError("id", "the run has not finished")])  # fmt: skip
        return problem(404, "output_not_found", f"run {run_id} has no {source} {variant} at index {index}",
                       errors=[FieldError("variant", "no such output")])  # fmt: skip
    output = matches[0]
    store = output_store()
    try:
        url = store.read_url(output["blob"], ttl=READ_URL_TTL)
    except SoraflowError as error:
        return problem_from_error(error, status=404 if error.code == "blob_not_found" else 503)
    return func.HttpResponse(status_code=302, headers={"Location": url, "Cache-Control": "no-store"})


# --- shared ---


def content_url_for(req: func.HttpRequest, run_id: str):
    base = api_base(req)

    def url(output: dict) -> str:
        query = f"variant={output.get('kind')}&index={output.get('index') or 0}&source={output.get('source')}"
        return f"{base}/videos/{run_id}/content?{query}"

    return url


def api_base(req: func.HttpRequest) -> str:
    url = req.url.split("?", 1)[0]
    marker = url.find("/videos")
    return url[:marker] if marker >= 0 else url.rstrip("/")


def run_response(req: func.HttpRequest, resource: dict, *, status: int = 200) -> func.HttpResponse:
    location = f"{api_base(req)}/videos/{resource['id']}"
    headers = {"Location": location} if status == 202 else {}
    return json_response(with_content_urls(req, resource), status=status, headers=headers)


def with_content_urls(req: func.HttpRequest, resource: dict) -> dict:
    """The run resource with each output's content `url` on this API."""
    if not resource.get("outputs"):
        return resource
    url = content_url_for(req, resource["id"])
    return {**resource, "outputs": [{**output, "url": url(output)} for output in resource["outputs"]]}


def json_response(body: dict, *, status: int = 200, headers: dict | None = None) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json", headers=headers or {})


def run_not_found(run_id: str) -> func.HttpResponse:
    shown = run_id if is_valid_run_id(run_id) else "that id"
    return problem(404, "run_not_found", f"no run {shown}", errors=[FieldError("id", "no such run")])
