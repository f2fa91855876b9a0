"""The jobs API (Sora 1, Azure preview) at `/openai/v1/video/generations/…?api-version=preview`."""

from __future__ import annotations

import json
from dataclasses import dataclass

from aiohttp import web

from emulators.sora import policy
from emulators.sora.downloads import stream_file
from emulators.sora.emulator import LOG_ENTRY, STALL, emulator_of, operation, record_job
from emulators.sora.errors import ApiError, invalid_type, invalid_value, missing_parameter, not_found
from emulators.sora.images import MAX_IMAGE_BYTES, decode_pixels, open_image
from emulators.sora.media import CONTENT_TYPES, FLAVOURS, MediaSource
from emulators.sora.payloads import (
    Payload,
    Upload,
    list_response,
    parse_limit,
    read_payload,
    reject_unknown,
    wrong_type,
)
from emulators.sora.request_log import record_uploads
from emulators.sora.store import (
    INPUT_FAILURE_AT,
    JOB_STATUSES,
    OUTPUT_FAILURE_AT,
    Failure,
    GenerationJob,
    Timeline,
    new_generation_id,
    new_job_id,
    render_seconds,
    retention_seconds,
)

BASE = "/openai/v1/video/generations"
API_VERSION = "preview"

RESOLUTIONS = (
    (480, 480),
    (480, 854),
    (854, 480),
    (720, 720),
    (720, 1280),
    (1280, 720),
    (1080, 1080),
    (1080, 1920),
    (1920, 1080),
)
MIN_SECONDS, MAX_SECONDS, DEFAULT_SECONDS = 1, 20, 5
MAX_VARIANTS, DEFAULT_VARIANTS = 4, 1
MAX_PROMPT_CHARS = 32_000
MAX_INPAINT_IMAGES = 2
MAX_INPAINT_VIDEOS = 1
LIST_DEFAULT_LIMIT = 20
LIST_MAX_LIMIT = 100
CREATE_FIELDS = {"prompt", "model", "width", "height", "n_seconds", "n_variants", "inpaint_items", "files"}
INPAINT_FIELDS = {"frame_index", "type", "file_name", "crop_bounds"}
CROP_FIELDS = ("left_fraction", "top_fraction", "right_fraction", "bottom_fraction")
QUALITIES = ("high", "low")


def max_variants(width: int, height: int) -> int:
    """Variants allowed at a resolution: 1 at 1080p, 2 at 720p (1280x720, 720x1280), 4 otherwise."""
    if 1080 in (width, height):
        return 1
    if {width, height} == {720, 1280}:
        return 2
    return MAX_VARIANTS


@dataclass(frozen=True)
class JobRequest:
    """A valid create request; `flagged` when an inpaint image trips the content policy."""

    prompt: str
    model: str
    width: int
    height: int
    n_seconds: int
    n_variants: int
    inpaint_items: list | None
    flagged: bool


def require_api_version(request: web.Request) -> None:
    """Every jobs-API call needs `api-version=preview`, as on Azure."""
    version = request.query.get("api-version")
    if version is None:
        raise ApiError(
            400,
            "Missing required query parameter 'api-version'. This API requires api-version=preview.",
            code="missing_required_parameter",
            param="api-version",
        )
    if version != API_VERSION:
        raise ApiError(
            400,
            f"API version not supported: '{version[:100]}'. This API requires api-version=preview.",
            code="unsupported_api_version",
            param="api-version",
        )


def _integer(payload: Payload, param: str, *, default: int | None, low: int, high: int) -> int:
    """An integer parameter, sent as a JSON integer or a string of digits (both appear in Azure's samples)."""
    if param not in payload.fields:
        if default is None:
            raise missing_parameter(param)
        return default
    value = payload.fields[param]
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 6:
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(param, "an integer", value)
    if not low <= value <= high:
        raise invalid_value(param, f"Invalid '{param}': {value}. It must be between {low} and {high}.")
    return value


def _text(payload: Payload, param: str, *, limit: int) -> str:
    if param not in payload.fields:
        raise missing_parameter(param)
    value = payload.fields[param]
    if not isinstance(value, str):
        raise wrong_type(param, "a string", value)
    if not value.strip():
        raise invalid_value(param, f"Invalid '{param}': it must not be empty.")
    if len(value) > limit:
        raise ApiError(
            400,
            f"Invalid '{param}': string too long. Expected at most {limit} characters, got {len(value)}.",
            code="string_above_max_length",
            param=param,
        )
    return value


def parse_create(payload: Payload) -> JobRequest:
    """Validate a create body (JSON, or multipart with `files` and `inpaint_items`)."""
    reject_unknown(payload, CREATE_FIELDS)
    if "files" in payload.fields:
        raise invalid_type("files", "Invalid type for 'files': expected file uploads, but got a string instead.")
    prompt = _text(payload, "prompt", limit=MAX_PROMPT_CHARS)
    model = _text(payload, "model", limit=256)
    width = _integer(payload, "width", default=None, low=1, high=10_000)
    height = _integer(payload, "height", default=None, low=1, high=10_000)
    if (width, height) not in RESOLUTIONS:
        supported = ", ".join(f"{w}x{h}" for w, h in RESOLUTIONS)
        raise invalid_value("width", f"Unsupported resolution {width}x{height}. Supported resolutions: {supported}.")
    n_seconds = _integer(payload, "n_seconds", default=DEFAULT_SECONDS, low=MIN_SECONDS, high=MAX_SECONDS)
    n_variants = _integer(payload, "n_variants", default=DEFAULT_VARIANTS, low=1, high=MAX_VARIANTS)
    allowed = max_variants(width, height)
    if n_variants > allowed:
        raise invalid_value(
            "n_variants",
            f"Invalid 'n_variants': {n_variants} variants are not available at {width}x{height}; at most {allowed} "
            "(1 at 1080p, 2 at 720p, 4 at other resolutions).",
        )
    items, flagged = parse_inpaint(payload, n_seconds)
    return JobRequest(prompt, model, width, height, n_seconds, n_variants, items, flagged)


def parse_inpaint(payload: Payload, n_seconds: int) -> tuple[list | None, bool]:
    """Validate `inpaint_items` against the uploaded `files`; returns the items and whether an image is flagged."""
    uploads: dict[str, Upload] = {}
    for upload in payload.files.get("files", []):
        if upload.filename in uploads:
            raise invalid_value("files", f"Two uploaded files are named '{upload.filename[:200]}'.")
        uploads[upload.filename] = upload
    raw = payload.fields.get("inpaint_items")
    if raw is None:
        if uploads:
            raise missing_parameter("inpaint_items")
        return None, False
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise invalid_value("inpaint_items", f"'inpaint_items' is not valid JSON: {exc}.") from exc
    if not isinstance(raw, list) or not raw:
        raise invalid_type("inpaint_items", "Invalid type for 'inpaint_items': expected a non-empty array.")
    flagged = False
    counts = {"image": 0, "video": 0}
    referenced = set()
    for index, item in enumerate(raw):
        param = f"inpaint_items[{index}]"
        if not isinstance(item, dict):
            raise invalid_type(param, f"Invalid type for '{param}': expected an object.")
        unknown = sorted(set(item) - INPAINT_FIELDS)
        if unknown:
            raise ApiError(400, f"Unknown parameter: '{param}.{unknown[0]}'.", code="unknown_parameter", param=param)
        kind = item.get("type")
        if kind not in counts:
            raise invalid_value(f"{param}.type", f"Invalid '{param}.type': expected 'image' or 'video'.")
        counts[kind] += 1
        frame = item.get("frame_index")
        if isinstance(frame, bool) or not isinstance(frame, int) or not 0 <= frame <= n_seconds * 30:
            raise invalid_value(
                f"{param}.frame_index", f"Invalid '{param}.frame_index': an integer from 0 to {n_seconds * 30}."
            )
        _check_crop(item.get("crop_bounds"), f"{param}.crop_bounds")
        name = item.get("file_name")
        if not isinstance(name, str) or name not in uploads:
            raise invalid_value(
                f"{param}.file_name", f"Invalid '{param}.file_name': it must name one of the uploaded 'files'."
            )
        referenced.add(name)
        upload = uploads[name]
        if kind == "image":
            image = open_image(upload.data, param="files")
            flagged = policy.image_is_flagged(decode_pixels(image, param="files")) or flagged
        else:
            _check_video(upload)
    if counts["image"] > MAX_INPAINT_IMAGES or counts["video"] > MAX_INPAINT_VIDEOS:
        raise invalid_value(
            "inpaint_items",
            f"At most {MAX_INPAINT_IMAGES} images and {MAX_INPAINT_VIDEOS} video can be used as inputs.",
        )
    unused = sorted(set(uploads) - referenced)
    if unused:
        raise invalid_value("files", f"The uploaded file '{unused[0][:200]}' is not referenced by any inpaint item.")
    return raw, flagged


def _check_crop(bounds: object, param: str) -> None:
    if bounds is None:
        return
    if not isinstance(bounds, dict) or set(bounds) != set(CROP_FIELDS):
        raise invalid_value(param, f"Invalid '{param}': an object with {', '.join(CROP_FIELDS)}.")
    values = {}
    for key in CROP_FIELDS:
        value = bounds[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise invalid_value(f"{param}.{key}", f"Invalid '{param}.{key}': a number from 0 to 1.")
        values[key] = value
    if values["left_fraction"] >= values["right_fraction"] or values["top_fraction"] >= values["bottom_fraction"]:
        raise invalid_value(param, f"Invalid '{param}': left must be below right and top below bottom.")


def _check_video(upload: Upload) -> None:
    if len(upload.data) > MAX_IMAGE_BYTES:
        raise ApiError(400, "The input video is larger than 20 MB.", code="file_too_large", param="files")
    # An MP4/MOV file starts with a box whose type is `ftyp`.
    if upload.data[4:8] != b"ftyp":
        raise ApiError(400, "The input video is not an MP4 file.", code="invalid_video", param="files")


def _failure(request: JobRequest) -> Failure | None:
    verdict = policy.screen_prompt(request.prompt)
    if verdict.input_blocked or request.flagged:
        return Failure(INPUT_FAILURE_AT, "input_moderation", policy.MODERATION_MESSAGE)
    if verdict.output_blocked:
        return Failure(OUTPUT_FAILURE_AT, "output_moderation", policy.MODERATION_MESSAGE)
    if verdict.internal_error:
        return Failure(OUTPUT_FAILURE_AT, "internal_error", policy.INTERNAL_ERROR_MESSAGE)
    return None


def _find_job(request: web.Request) -> GenerationJob:
    job_id = request.match_info["job_id"]
    emulator = emulator_of(request)
    job = emulator.store.jobs.get(job_id)
    if job is None:
        raise not_found(f"Video generation job '{job_id[:100]}' not found.", param="job_id")
    record_job(request, job.id)
    if job.is_expired(emulator.clock.now()):
        raise not_found(
            f"Video generation job '{job.id}' expired at {int(job.expires_at() or 0)} and was deleted.",
            param="job_id",
            code="job_expired",
        )
    return job


@operation("jobs", "create")
async def create_job(request: web.Request) -> web.Response:
    """POST /jobs: validate, apply the concurrency limit and start a render of `n_variants` generations."""
    require_api_version(request)
    emulator = emulator_of(request)
    payload = await read_payload(request)
    record_uploads(request.get(LOG_ENTRY), payload.files)
    spec = parse_create(payload)
    now = emulator.clock.now()
    emulator.store.admit(now, emulator.max_concurrent_jobs, emulator.time_scale)
    timeline = Timeline(
        start=now,
        duration=render_seconds(spec.n_seconds, emulator.time_scale),
        failure=_failure(spec),
        stalled=bool(request.get(STALL)),
    )
    job = emulator.store.add_job(
        GenerationJob(
            id=new_job_id(),
            model=spec.model,
            prompt=spec.prompt,
            width=spec.width,
            height=spec.height,
            n_seconds=spec.n_seconds,
            n_variants=spec.n_variants,
            timeline=timeline,
            retention=retention_seconds(emulator.time_scale),
            generation_ids=[new_generation_id() for _ in range(spec.n_variants)],
            sources=[
                MediaSource(spec.width, spec.height, spec.n_seconds, flavour=i % FLAVOURS)
                for i in range(spec.n_variants)
            ],
            inpaint_items=spec.inpaint_items,
        )
    )
    record_job(request, job.id)
    return web.json_response(job.to_json(now), status=201)


@operation("jobs", "retrieve")
async def get_job(request: web.Request) -> web.Response:
    """GET /jobs/{id}: the job's state now."""
    require_api_version(request)
    job = _find_job(request)
    return web.json_response(job.to_json(emulator_of(request).clock.now()))


def _statuses(request: web.Request) -> set[str] | None:
    values = [part.strip() for raw in request.query.getall("statuses", []) for part in raw.split(",") if part.strip()]
    for value in values:
        if value not in JOB_STATUSES:
            raise invalid_value(
                "statuses", f"Invalid status '{value[:100]}'. Supported values are: {', '.join(JOB_STATUSES)}."
            )
    return set(values) or None


@operation("jobs", "list")
async def list_jobs(request: web.Request) -> web.Response:
    """GET /jobs: newest first, `limit` (1-100), `before`/`after` cursors and a `statuses` filter."""
    require_api_version(request)
    emulator = emulator_of(request)
    limit = parse_limit(request, LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT, minimum=1)
    wanted = _statuses(request)
    now = emulator.clock.now()
    jobs = sorted((j for j in emulator.store.jobs.values() if not j.is_expired(now)), key=lambda j: j.seq, reverse=True)
    ids = [j.id for j in jobs]
    for cursor in ("after", "before"):
        value = request.query.get(cursor)
        if value is not None and value not in ids:
            raise invalid_value(cursor, f"Invalid '{cursor}': no job with id '{value[:100]}'.")
    if "after" in request.query:
        jobs = jobs[ids.index(request.query["after"]) + 1 :]
    if "before" in request.query:
        jobs = [j for j in jobs if j.seq > emulator.store.jobs[request.query["before"]].seq]
    if wanted is not None:
        jobs = [j for j in jobs if j.status(now) in wanted]
    # Paging backwards (`before` alone) returns the `limit` jobs just newer than the cursor.
    backwards = "before" in request.query and "after" not in request.query
    page = jobs[-limit:] if backwards else jobs[:limit]
    return list_response(page, len(jobs), now)


@operation("jobs", "delete")
async def delete_job(request: web.Request) -> web.Response:
    """DELETE /jobs/{id}: forget the job and its generations (a running render frees its slot)."""
    require_api_version(request)
    job = _find_job(request)
    emulator_of(request).store.remove_job(job.id)
    return web.Response(status=204)


async def _download_generation(request: web.Request, variant: str) -> web.StreamResponse:
    require_api_version(request)
    quality = request.query.get("quality", "high")
    if quality not in QUALITIES:
        raise invalid_value("quality", f"Invalid value: '{quality[:100]}'. Supported values are: 'high' and 'low'.")
    emulator = emulator_of(request)
    generation_id = request.match_info["generation_id"]
    found = emulator.store.generations.get(generation_id)
    if found is None:
        raise not_found(f"Video generation '{generation_id[:100]}' not found.", param="generation_id")
    job_id, index = found
    job = emulator.store.jobs[job_id]
    record_job(request, job.id)
    now = emulator.clock.now()
    if job.is_expired(now):
        raise ApiError(
            410,
            f"Video generation '{generation_id}' expired at {int(job.expires_at() or 0)}; its content was deleted.",
            code="generation_expired",
            param="generation_id",
        )
    status = job.status(now)
    if status != "succeeded":
        raise ApiError(
            400,
            f"Video generation '{generation_id}' has no content: its job is {status}.",
            code="generation_not_ready" if status != "failed" else "job_failed",
            param="generation_id",
        )
    path = await emulator.media.asset(job.sources[index], variant)
    return await stream_file(request, path, CONTENT_TYPES[variant])


@operation("jobs", "content")
async def download_generation_video(request: web.Request) -> web.StreamResponse:
    """GET /{generation_id}/content/video: the generation's MP4."""
    return await _download_generation(request, "video")


@operation("jobs", "content")
async def download_generation_thumbnail(request: web.Request) -> web.StreamResponse:
    """GET /{generation_id}/content/thumbnail: a WebP still of the generation."""
    return await _download_generation(request, "thumbnail")


def routes() -> list[web.RouteDef]:
    """The jobs API."""
    return [
        web.post(f"{BASE}/jobs", create_job),
        web.get(f"{BASE}/jobs", list_jobs, allow_head=False),
        web.get(f"{BASE}/jobs/{{job_id}}", get_job, allow_head=False),
        web.delete(f"{BASE}/jobs/{{job_id}}", delete_job),
        web.get(f"{BASE}/{{generation_id}}/content/video", download_generation_video, allow_head=False),
        web.get(f"{BASE}/{{generation_id}}/content/thumbnail", download_generation_thumbnail, allow_head=False),
    ]
