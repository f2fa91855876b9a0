"""The videos API (Sora 2, OpenAI-style) at `/v1/videos…` (OpenAI) and `/openai/v1/videos…` (Azure v1)."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from aiohttp import web

from emulators.sora import policy
from emulators.sora.downloads import stream_file
from emulators.sora.emulator import LOG_ENTRY, STALL, emulator_of, operation, record_job
from emulators.sora.errors import ApiError, invalid_type, invalid_value, missing_parameter, not_found
from emulators.sora.images import decode_pixels, open_image
from emulators.sora.media import CONTENT_TYPES, FLAVOURS, MediaSource
from emulators.sora.payloads import (
    Payload,
    json_type_name,
    list_response,
    parse_limit,
    read_payload,
    reject_unknown,
    wrong_type,
)
from emulators.sora.request_log import record_uploads
from emulators.sora.store import (
    OUTPUT_FAILURE_AT,
    Failure,
    Timeline,
    Video,
    new_video_id,
    render_seconds,
    retention_seconds,
)

PREFIXES = ("/v1/videos", "/openai/v1/videos")

STANDARD_SIZES = ("720x1280", "1280x720")
PRO_SIZES = (*STANDARD_SIZES, "1024x1792", "1792x1024")
# Model names the public SDK knows, with the sizes each renders.
MODELS = {
    "sora-2": STANDARD_SIZES,
    "sora-2-2025-10-06": STANDARD_SIZES,
    "sora-2-2025-12-08": STANDARD_SIZES,
    "sora-2-pro": PRO_SIZES,
    "sora-2-pro-2025-10-06": PRO_SIZES,
}
DEFAULT_MODEL = "sora-2"
DEFAULT_SIZE = "720x1280"
SECONDS = ("4", "8", "12")
DEFAULT_SECONDS = "4"
MAX_PROMPT_CHARS = 32_000
MAX_IMAGE_URL_CHARS = 20_971_520
LIST_DEFAULT_LIMIT = 20
LIST_MAX_LIMIT = 100

CREATE_FIELDS = {
    "prompt",
    "model",
    "seconds",
    "size",
    "input_reference",
    "input_reference[image_url]",
    "input_reference[file_id]",
}
DATA_URL = re.compile(r"^data:image/(png|jpeg|jpg|webp);base64,(.*)$", re.DOTALL)


@dataclass(frozen=True)
class VideoRequest:
    """A valid create request."""

    prompt: str
    model: str
    size: str
    seconds: str
    reference: bytes | None


def _quoted(values: tuple[str, ...]) -> str:
    items = [f"'{v}'" for v in values]
    return ", ".join(items[:-1]) + f", and {items[-1]}" if len(items) > 2 else " and ".join(items)


def parse_prompt(payload: Payload) -> str:
    """The `prompt` of a create or remix body: a string of 1 to 32,000 characters."""
    if "prompt" not in payload.fields:
        raise missing_parameter("prompt")
    prompt = payload.fields["prompt"]
    if not isinstance(prompt, str):
        raise wrong_type("prompt", "a string", prompt)
    if not prompt.strip():
        raise ApiError(
            400,
            "Invalid 'prompt': string too short. Expected a string with minimum length 1, but got an empty string "
            "instead.",
            code="string_below_min_length",
            param="prompt",
        )
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ApiError(
            400,
            f"Invalid 'prompt': string too long. Expected a string with maximum length {MAX_PROMPT_CHARS}, but got "
            f"a string with length {len(prompt)} instead.",
            code="string_above_max_length",
            param="prompt",
        )
    return prompt


def _string_choice(payload: Payload, param: str, default: str) -> str:
    value = payload.fields.get(param, default)
    if not isinstance(value, str):
        raise wrong_type(param, "a string", value)
    return value


def parse_create(payload: Payload) -> VideoRequest:
    """Validate a create body (JSON or multipart) exactly as strictly as the real service."""
    reject_unknown(payload, CREATE_FIELDS)
    prompt = parse_prompt(payload)
    model = _string_choice(payload, "model", DEFAULT_MODEL)
    if model not in MODELS:
        raise invalid_value("model", f"Invalid value: '{model}'. Supported values are: {_quoted(tuple(MODELS))}.")
    size = _string_choice(payload, "size", DEFAULT_SIZE)
    if size not in MODELS[model]:
        hint = f" The model '{model}' supports {_quoted(MODELS[model])}." if size in PRO_SIZES else ""
        raise invalid_value("size", f"Invalid value: '{size}'. Supported values are: {_quoted(PRO_SIZES)}.{hint}")
    seconds = payload.fields.get("seconds", DEFAULT_SECONDS)
    if not isinstance(seconds, str):
        raise invalid_type(
            "seconds",
            f"Invalid type for 'seconds': expected one of {_quoted(SECONDS).replace(', and', ', or')}, "
            f"but got {json_type_name(seconds)} instead.",
        )
    if seconds not in SECONDS:
        raise invalid_value("seconds", f"Invalid value: '{seconds}'. Supported values are: {_quoted(SECONDS)}.")
    return VideoRequest(prompt, model, size, seconds, parse_reference(payload))


def parse_reference(payload: Payload) -> bytes | None:
    """The bytes of the `input_reference` image: a file part, or `{image_url}` as a base64 data URL."""
    files = payload.files.get("input_reference", [])
    if len(files) > 1:
        raise invalid_value("input_reference", "Only one 'input_reference' file may be sent.")
    if files:
        return files[0].data
    reference = payload.fields.get("input_reference")
    if payload.form:
        if "input_reference" in payload.fields:
            raise invalid_type(
                "input_reference", "Invalid type for 'input_reference': expected a file, but got a string instead."
            )
        reference = {
            key: payload.fields[f"input_reference[{key}]"]
            for key in ("image_url", "file_id")
            if f"input_reference[{key}]" in payload.fields
        } or None
    if reference is None:
        return None
    if not isinstance(reference, dict):
        raise invalid_type(
            "input_reference",
            f"Invalid type for 'input_reference': expected a file or an object with 'image_url', "
            f"but got {json_type_name(reference)} instead.",
        )
    unknown = sorted(set(reference) - {"image_url", "file_id"})
    if unknown:
        param = f"input_reference.{unknown[0]}"
        raise ApiError(400, f"Unknown parameter: '{param}'.", code="unknown_parameter", param=param)
    if len(reference) != 1:
        raise invalid_value("input_reference", "Provide exactly one of 'input_reference.image_url' or 'file_id'.")
    if "file_id" in reference:
        raise invalid_value(
            "input_reference.file_id", f"No file found with id '{reference['file_id']}': upload the image instead."
        )
    url = reference["image_url"]
    if not isinstance(url, str):
        raise wrong_type("input_reference.image_url", "a string", url)
    if len(url) > MAX_IMAGE_URL_CHARS:
        raise ApiError(
            400,
            f"Invalid 'input_reference.image_url': string too long ({len(url)} > {MAX_IMAGE_URL_CHARS} characters).",
            code="string_above_max_length",
            param="input_reference.image_url",
        )
    match = DATA_URL.match(url)
    if match is None:
        raise invalid_value(
            "input_reference.image_url",
            "The emulator accepts 'input_reference.image_url' only as a base64 data URL "
            "(data:image/png|jpeg|webp;base64,...); it never fetches remote URLs.",
        )
    try:
        return base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise invalid_value("input_reference.image_url", "The data URL is not valid base64.") from exc


def check_reference(data: bytes, size: str) -> bool:
    """Validate the reference image against `size`; True when the content policy flags it."""
    image = open_image(data, param="input_reference")
    width, height = image.size
    if f"{width}x{height}" != size:
        raise invalid_value(
            "input_reference",
            f"Inpaint image must match the requested width and height: the input_reference is {width}x{height} "
            f"but size is {size}.",
        )
    return policy.image_is_flagged(decode_pixels(image, param="input_reference"))


def _moderation_refusal(param: str) -> ApiError:
    return ApiError(400, policy.MODERATION_MESSAGE, code="moderation_blocked", param=param)


def _render_failure(verdict: policy.PromptVerdict) -> Failure | None:
    if verdict.output_blocked:
        return Failure(OUTPUT_FAILURE_AT, "moderation_blocked", policy.MODERATION_MESSAGE)
    if verdict.internal_error:
        return Failure(OUTPUT_FAILURE_AT, "internal_error", policy.INTERNAL_ERROR_MESSAGE)
    return None


def poll_after_ms(video: Video) -> str:
    """The `openai-poll-after-ms` hint: a twentieth of the render time, within 50 ms to 10 s."""
    return str(max(50, min(10_000, int(video.timeline.duration * 1000 / 20))))


def _video_response(video: Video, now: float) -> web.Response:
    return web.json_response(video.to_json(now), headers={"openai-poll-after-ms": poll_after_ms(video)})


def _find(request: web.Request) -> Video:
    video_id = request.match_info["video_id"]
    video = emulator_of(request).store.videos.get(video_id)
    if video is None:
        raise not_found(f"Video with id '{video_id}' not found.", param="video_id")
    record_job(request, video.id)
    return video


def _start_render(request: web.Request, *, seconds: str, failure: Failure | None) -> Timeline:
    emulator = emulator_of(request)
    now = emulator.clock.now()
    emulator.store.admit(now, emulator.max_concurrent_jobs, emulator.time_scale)
    duration = render_seconds(int(seconds), emulator.time_scale)
    return Timeline(start=now, duration=duration, failure=failure, stalled=bool(request.get(STALL)))


@operation("videos", "create")
async def create_video(request: web.Request) -> web.Response:
    """POST /videos: validate, apply the content policy and the concurrency limit, start a render."""
    emulator = emulator_of(request)
    payload = await read_payload(request)
    record_uploads(request.get(LOG_ENTRY), payload.files)
    spec = parse_create(payload)
    verdict = policy.screen_prompt(spec.prompt)
    if verdict.input_blocked:
        raise _moderation_refusal("prompt")
    if spec.reference is not None and check_reference(spec.reference, spec.size):
        raise _moderation_refusal("input_reference")
    timeline = _start_render(request, seconds=spec.seconds, failure=_render_failure(verdict))
    width, height = (int(n) for n in spec.size.split("x"))
    video = emulator.store.add_video(
        Video(
            id=new_video_id(),
            model=spec.model,
            prompt=spec.prompt,
            size=spec.size,
            seconds=spec.seconds,
            timeline=timeline,
            retention=retention_seconds(emulator.time_scale),
            source=MediaSource(width, height, int(spec.seconds)),
        )
    )
    record_job(request, video.id)
    return _video_response(video, timeline.start)


@operation("videos", "retrieve")
async def retrieve_video(request: web.Request) -> web.Response:
    """GET /videos/{id}: the video's state now, with the poll hint header."""
    video = _find(request)
    return _video_response(video, emulator_of(request).clock.now())


@operation("videos", "list")
async def list_videos(request: web.Request) -> web.Response:
    """GET /videos: cursor pagination with `limit` (0-100), `order` (asc/desc, default desc) and `after`."""
    emulator = emulator_of(request)
    limit = parse_limit(request, LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT)
    order = request.query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise invalid_value("order", f"Invalid value: '{order[:100]}'. Supported values are: 'asc' and 'desc'.")
    videos = sorted(emulator.store.videos.values(), key=lambda v: v.seq, reverse=order == "desc")
    after = request.query.get("after")
    if after is not None:
        ids = [v.id for v in videos]
        if after not in ids:
            raise invalid_value("after", f"Invalid 'after': no video with id '{after[:100]}'.")
        videos = videos[ids.index(after) + 1 :]
    page = videos[:limit]
    now = emulator.clock.now()
    return list_response(page, len(videos), now)


@operation("videos", "delete")
async def delete_video(request: web.Request) -> web.Response:
    """DELETE /videos/{id}: forget the video (in any state; a running render frees its slot)."""
    video = _find(request)
    del emulator_of(request).store.videos[video.id]
    return web.json_response({"id": video.id, "deleted": True, "object": "video.deleted"})


def _require_completed(video: Video, now: float) -> None:
    status = video.status(now)
    if status == "completed":
        return
    if status == "expired":
        raise ApiError(
            410,
            f"Video '{video.id}' expired at {int(video.expires_at() or 0)}; its assets were deleted. "
            "Create a new video.",
            code="video_expired",
            param="video_id",
        )
    if status == "failed":
        failure = video.timeline.failure
        raise ApiError(
            400,
            f"Video '{video.id}' failed ({failure.code if failure else 'unknown'}) and has no content.",
            code="video_failed",
            param="video_id",
        )
    raise ApiError(
        400,
        f"Video '{video.id}' is not ready yet (status {status}, progress {video.progress(now)}%). "
        "Use GET /videos/{video_id} to check its status.",
        code="video_not_ready",
        param="video_id",
    )


@operation("videos", "content")
async def download_video_content(request: web.Request) -> web.StreamResponse:
    """GET /videos/{id}/content?variant=video|thumbnail|spritesheet: stream the asset."""
    video = _find(request)
    variant = request.query.get("variant", "video")
    if variant not in CONTENT_TYPES:
        raise invalid_value(
            "variant", f"Invalid value: '{variant[:100]}'. Supported values are: {_quoted(tuple(CONTENT_TYPES))}."
        )
    emulator = emulator_of(request)
    _require_completed(video, emulator.clock.now())
    path = await emulator.media.asset(video.source, variant)
    return await stream_file(request, path, CONTENT_TYPES[variant])


@operation("videos", "remix")
async def remix_video(request: web.Request) -> web.Response:
    """POST /videos/{id}/remix: a new render of the same size and duration with a new prompt."""
    emulator = emulator_of(request)
    original = _find(request)
    payload = await read_payload(request)
    reject_unknown(payload, {"prompt"})
    prompt = parse_prompt(payload)
    _require_completed(original, emulator.clock.now())
    verdict = policy.screen_prompt(prompt)
    if verdict.input_blocked:
        raise _moderation_refusal("prompt")
    timeline = _start_render(request, seconds=original.seconds, failure=_render_failure(verdict))
    source = original.source
    remix = emulator.store.add_video(
        Video(
            id=new_video_id(),
            model=original.model,
            prompt=prompt,
            size=original.size,
            seconds=original.seconds,
            timeline=timeline,
            retention=retention_seconds(emulator.time_scale),
            source=MediaSource(source.width, source.height, source.seconds, (source.flavour + 1) % FLAVOURS),
            remixed_from_video_id=original.id,
        )
    )
    record_job(request, remix.id)
    return _video_response(remix, timeline.start)


def routes() -> list[web.RouteDef]:
    """The videos API under both prefixes."""
    table = []
    for prefix in PREFIXES:
        table += [
            web.post(prefix, create_video),
            web.get(prefix, list_videos, allow_head=False),
            web.get(prefix + "/{video_id}", retrieve_video, allow_head=False),
            web.delete(prefix + "/{video_id}", delete_video),
            web.get(prefix + "/{video_id}/content", download_video_content, allow_head=False),
            web.post(prefix + "/{video_id}/remix", remix_video),
        ]
    return table
