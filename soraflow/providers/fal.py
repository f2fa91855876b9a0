"""fal.ai's queue API: the client (submit, status, result, cancel, CDN download) and the `fal` plug-in with its
built-in models (Veo 3.1, Veo 3.1 Fast, Kling 2.5 Turbo Pro, MiniMax Hailuo 02), each mapped to fal's input schema.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from soraflow.config import Settings
from soraflow.errors import ConfigurationError, FieldError, RequestValidationError
from soraflow.providers.capabilities import DeclaredProvider, ModelCapabilities, OptionSpec, ReferenceImage
from soraflow.providers.endpoint import Endpoint, path_segment
from soraflow.providers.errors import (
    ProviderBadRequest,
    ProviderDownloadIncomplete,
    ProviderNotFound,
    ProviderUnsupported,
    retry_advice,
)
from soraflow.providers.job import (
    JobError,
    JobOutput,
    JobPage,
    JobSpec,
    ProviderJob,
    invalid_response,
    optional_text,
    require_object,
    require_text,
)
from soraflow.providers.push import PushedUpdate, WebhookRefused
from soraflow.providers.status import JobStatus
from soraflow.providers.transport import MAX_DOWNLOAD_BYTES, Download, Transport
from soraflow.quota import QuotaLimits, quota_key

# requests and cryptography are imported where they are used: importing the app never needs them.
if TYPE_CHECKING:
    import requests

API = "fal"
# fal keeps generated media "at least 7 days by default" (fal FAQ); nothing longer is promised.
FAL_RETENTION_HOURS = 168.0

# fal's queue states (status endpoint); a failure is COMPLETED with `error` and `error_type`, never its own state.
FAL_STATUSES = {"IN_QUEUE": JobStatus.QUEUED, "IN_PROGRESS": JobStatus.RUNNING, "COMPLETED": JobStatus.SUCCEEDED}
CANCELLED_ERROR_TYPES = frozenset({"client_cancelled"})
# Endpoint ids are owner/alias[/sub/path]: only these characters, so an id can go into a URL path unescaped.
_ENDPOINT_ID = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")
_PROGRESS_LOG = re.compile(r"(\d{1,3})\s*%")
# A job id is the endpoint the request was submitted to and fal's request id: status URLs need the endpoint's
# owner/app, and a webhook brings back only the request id.
JOB_ID_SEPARATOR = "::"


@dataclass(frozen=True)
class FalModel:
    """One fal model family: its text- and image-to-video endpoints, and how soraflow's fields map to fal's."""

    model: str
    text_endpoint: str
    image_endpoint: str | None
    # soraflow "WxH" -> the fal fields that produce it (aspect_ratio, resolution)
    sizes: Mapping[str, Mapping[str, str]]
    # soraflow seconds ("4") -> fal's duration string ("4s"); None: the model has no duration field
    seconds: Mapping[str, str | None]
    default_size: str
    default_seconds: str
    audio: bool
    options: Mapping[str, OptionSpec]
    usd_per_second: Mapping[str, float]
    page: str  # fal's model page the schema and price come from
    # Fields the image-to-video endpoint does not take (the image decides its aspect), and ones it needs instead.
    image_drops: tuple[str, ...] = ()
    image_fields: Mapping[str, str] = field(default_factory=dict)

    def capabilities(self, reference_transport: str = "data-uri") -> ModelCapabilities:
        return ModelCapabilities(
            provider="fal",
            model=self.model,
            sizes=tuple(self.sizes),
            seconds=tuple(self.seconds),
            default_size=self.default_size,
            default_seconds=self.default_seconds,
            reference=ReferenceImage(transport=reference_transport) if self.image_endpoint else None,
            max_variants=1,
            remix=False,
            audio=self.audio,
            negative_prompt="negative_prompt" in self.options,
            seed="seed" in self.options,
            usd_per_second=dict(self.usd_per_second),
            retention_hours=FAL_RETENTION_HOURS,
            lists_jobs=False,
            pushes_completion=True,
            source=self.page,
            api=API,
            options=dict(self.options),
        )


_VEO_SIZES = {
    "1280x720": {"aspect_ratio": "16:9", "resolution": "720p"},
    "720x1280": {"aspect_ratio": "9:16", "resolution": "720p"},
    "1920x1080": {"aspect_ratio": "16:9", "resolution": "1080p"},
    "1080x1920": {"aspect_ratio": "9:16", "resolution": "1080p"},
    "3840x2160": {"aspect_ratio": "16:9", "resolution": "4k"},
    "2160x3840": {"aspect_ratio": "9:16", "resolution": "4k"},
}
_VEO_SECONDS = {"4": "4s", "6": "6s", "8": "8s"}
_VEO_OPTIONS = {
    "generate_audio": OptionSpec("bool", description="an audio track (default true; audio costs more)"),
    "negative_prompt": OptionSpec("string", description="what the video should not show"),
    "seed": OptionSpec("int", minimum=0, maximum=2**32 - 1, description="a fixed seed for repeatable output"),
}


def _veo_prices(base: float, audio: float, base_4k: float, audio_4k: float) -> dict[str, float]:
    prices = {"*": base, "*+audio": audio}
    for size in ("3840x2160", "2160x3840"):
        prices |= {size: base_4k, f"{size}+audio": audio_4k}
    return prices


def _veo(model: str, prices: dict[str, float]) -> FalModel:
    """A Veo 3.1 family on fal: `{model}` from text, `{model}/image-to-video` from a first frame."""
    return FalModel(
        model=model,
        text_endpoint=model,
        image_endpoint=f"{model}/image-to-video",
        sizes=_VEO_SIZES,
        seconds=_VEO_SECONDS,
        default_size="1280x720",
        default_seconds="8",
        audio=True,
        options=_VEO_OPTIONS,
        usd_per_second=prices,
        page=f"https://fal.ai/models/{model}",
    )


FAL_MODELS: tuple[FalModel, ...] = (
    _veo("fal-ai/veo3.1", _veo_prices(0.20, 0.40, 0.40, 0.60)),
    _veo("fal-ai/veo3.1/fast", _veo_prices(0.10, 0.15, 0.30, 0.35)),
    FalModel(
        model="fal-ai/kling-video/v2.5-turbo/pro",
        text_endpoint="fal-ai/kling-video/v2.5-turbo/pro/text-to-video",
        image_endpoint="fal-ai/kling-video/v2.5-turbo/pro/image-to-video",
        sizes={
            "1920x1080": {"aspect_ratio": "16:9"},
            "1080x1920": {"aspect_ratio": "9:16"},
            "1080x1080": {"aspect_ratio": "1:1"},
        },
        seconds={"5": "5", "10": "10"},
        default_size="1920x1080",
        default_seconds="5",
        audio=False,
        options={
            "negative_prompt": OptionSpec("string", description="default 'blur, distort, and low quality'"),
            "cfg_scale": OptionSpec("number", minimum=0, maximum=1, description="prompt adherence (default 0.5)"),
        },
        # fal: $0.35 for 5 s and $0.07 per further second, i.e. $0.07/s at both durations.
        usd_per_second={"*": 0.07},
        page="https://fal.ai/models/fal-ai/kling-video/v2.5-turbo/pro/text-to-video",
        image_drops=("aspect_ratio",),
    ),
    FalModel(
        model="fal-ai/minimax/hailuo-02/standard",
        text_endpoint="fal-ai/minimax/hailuo-02/standard/text-to-video",
        image_endpoint="fal-ai/minimax/hailuo-02/standard/image-to-video",
        # 768p 16:9 only from text; from an image the image's aspect, at 768P.
        sizes={"1366x768": {}},
        seconds={"6": "6", "10": "10"},
        default_size="1366x768",
        default_seconds="6",
        audio=False,
        options={"prompt_optimizer": OptionSpec("bool", description="let MiniMax rewrite the prompt (default true)")},
        usd_per_second={"*": 0.045},
        page="https://fal.ai/models/fal-ai/minimax/hailuo-02/standard/text-to-video",
        image_fields={"resolution": "768P"},
    ),
)
BUILT_IN_MODELS: Mapping[str, FalModel] = {model.model: model for model in FAL_MODELS}
_SIZE = re.compile(r"^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$")
_EXTRA_FIELDS = frozenset(
    {"like", "text_endpoint", "image_endpoint", "sizes", "seconds", "default_size", "default_seconds", "audio",
     "usd_per_second", "page"}
)  # fmt: skip


def fal_models(settings: Settings) -> Mapping[str, FalModel]:
    """The built-in models and those FAL_EXTRA_MODELS adds (read once per value of the setting)."""
    if not settings.fal_extra_models:
        return BUILT_IN_MODELS
    return {**BUILT_IN_MODELS, **_extra_models(settings.fal_extra_models)}


@functools.lru_cache(maxsize=8)
def _extra_models(raw: str) -> Mapping[str, FalModel]:
    """FAL_EXTRA_MODELS: {"<fal endpoint id>": {...}}, each entry like a built-in (`like`) or declared in full."""
    try:
        table = json.loads(raw)
    except ValueError as error:
        raise ConfigurationError("FAL_EXTRA_MODELS", f"is not JSON ({error})") from None
    if not isinstance(table, dict) or not table:
        raise ConfigurationError("FAL_EXTRA_MODELS", 'must be a JSON object of model ids, e.g. {"fal-ai/x": {...}}')
    return {name: _extra_model(name, entry) for name, entry in table.items()}


def _extra_model(name: str, entry: Any) -> FalModel:
    def bad(message: str) -> ConfigurationError:
        return ConfigurationError("FAL_EXTRA_MODELS", f"model {name[:80]!r}: {message}")

    if not _ENDPOINT_ID.match(name) or ".." in name.split("/"):
        raise bad("the id must be a fal endpoint id such as fal-ai/wan/v2.2-a14b/text-to-video")
    if not isinstance(entry, dict):
        raise bad("must be an object (sizes, seconds, usd_per_second, ... or like)")
    unknown = sorted(set(entry) - _EXTRA_FIELDS)
    if unknown:
        raise bad(f"unknown field {unknown[0]!r}; the fields are {', '.join(sorted(_EXTRA_FIELDS))}")
    base = None
    if "like" in entry:
        base = BUILT_IN_MODELS.get(entry["like"]) if isinstance(entry["like"], str) else None
        if base is None:
            raise bad(f"like must name a built-in model: {', '.join(BUILT_IN_MODELS)}")
    for endpoint_field in ("text_endpoint", "image_endpoint"):
        value = entry.get(endpoint_field)
        if value is not None and (not isinstance(value, str) or not _ENDPOINT_ID.match(value) or ".." in value):
            raise bad(f"{endpoint_field} must be a fal endpoint id")
    sizes = entry.get("sizes", base.sizes if base else None)
    if not isinstance(sizes, Mapping) or not sizes or not all(
        isinstance(size, str) and _SIZE.match(size) and isinstance(fields, Mapping)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())
        for size, fields in sizes.items()
    ):  # fmt: skip
        raise bad('sizes must map "WxH" to the fal fields that make it, e.g. {"1280x720": {"aspect_ratio": "16:9"}}')
    seconds = entry.get("seconds", base.seconds if base else None)
    if isinstance(seconds, list):
        seconds = {str(value): str(value) for value in seconds if isinstance(value, int | str)} if seconds else None
    if not isinstance(seconds, Mapping) or not seconds or not all(
        isinstance(k, str) and k.isdigit() and 0 < int(k) <= 60 and (v is None or isinstance(v, str))
        for k, v in seconds.items()
    ):  # fmt: skip
        raise bad('seconds must list whole seconds, or map them to fal\'s duration values, e.g. {"5": "5s"}')
    prices = entry.get("usd_per_second", base.usd_per_second if base else None)
    if isinstance(prices, int | float) and not isinstance(prices, bool):
        prices = {"*": float(prices)}
    if not isinstance(prices, Mapping) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < 100 for v in prices.values()
    ):
        raise bad('usd_per_second must be a price per second (0.05) or a table ({"*": 0.05, "*+audio": 0.1})')
    default_size = entry.get("default_size", next(iter(sizes)))
    default_seconds = str(entry.get("default_seconds", next(iter(seconds))))
    if default_size not in sizes or default_seconds not in seconds:
        raise bad("default_size and default_seconds must be among its sizes and seconds")
    audio = entry.get("audio", base.audio if base else False)
    if not isinstance(audio, bool):
        raise bad("audio must be true or false")
    page = entry.get("page", f"https://fal.ai/models/{name}")
    return FalModel(
        model=name,
        text_endpoint=entry.get("text_endpoint", name),
        image_endpoint=entry.get("image_endpoint"),
        sizes={size: dict(fields) for size, fields in sizes.items()},
        seconds=dict(seconds),
        default_size=default_size,
        default_seconds=default_seconds,
        audio=audio,
        options=dict(base.options) if base else {},
        usd_per_second={key: float(value) for key, value in prices.items()},
        page=page if isinstance(page, str) else f"https://fal.ai/models/{name}",
        image_drops=base.image_drops if base else (),
        image_fields=dict(base.image_fields) if base else {},
    )


def fal_model(name: str, models: Mapping[str, FalModel] = BUILT_IN_MODELS) -> FalModel:
    """The fal model `name`, or a 400 naming the models there are."""
    model = models.get(name)
    if model is None:
        raise RequestValidationError(
            FieldError("model", f"model must be one of {', '.join(models)} for fal; got {name!r:.80}")
        )
    return model


def fal_input(
    spec: JobSpec, image_url: str | None = None, models: Mapping[str, FalModel] = BUILT_IN_MODELS
) -> tuple[str, dict[str, Any]]:
    """The endpoint to submit `spec` to and the body fal's schema for it takes (enum values as fal's strings)."""
    model = fal_model(spec.model, models)
    endpoint = model.image_endpoint if image_url else model.text_endpoint
    if endpoint is None:
        raise RequestValidationError(FieldError("input_reference", f"input_reference is not supported by {spec.model}"))
    size_fields = model.sizes.get(spec.size)
    if size_fields is None:
        raise RequestValidationError(
            FieldError("size", f"size must be one of {', '.join(model.sizes)} for {spec.model}; got {spec.size!r}")
        )
    seconds = str(spec.seconds)
    if seconds not in model.seconds:
        raise RequestValidationError(
            FieldError("seconds", f"seconds must be one of {', '.join(model.seconds)} for {spec.model}; got {seconds}")
        )
    body: dict[str, Any] = {"prompt": spec.prompt, **size_fields}
    if model.seconds[seconds] is not None:
        body["duration"] = model.seconds[seconds]
    if image_url:
        body["image_url"] = image_url
        for name in model.image_drops:
            body.pop(name, None)
        body |= model.image_fields
    body |= {name: value for name, value in spec.options.items() if name in model.options}
    return endpoint, body


def reference_data_uri(spec: JobSpec) -> str | None:
    """The spec's reference image as fal's `image_url`: its read-only URL where the run made one
    (FAL_REFERENCE_TRANSPORT=url), else a `data:` URI (fal fetches http(s) URLs or decodes data URIs)."""
    reference = spec.input_reference
    if reference is None:
        return None
    if reference.url is not None:
        return reference.url
    if not isinstance(reference.content, bytes) or not reference.content:
        raise RequestValidationError(FieldError("input_reference", "must be an image file (bytes, name, type)"))
    encoded = base64.b64encode(reference.content).decode("ascii")
    return f"data:{reference.content_type};base64,{encoded}"


def fal_job_id(endpoint: str, request_id: str) -> str:
    """soraflow's id of a fal request: the endpoint it was submitted to and fal's request id."""
    return f"{endpoint}{JOB_ID_SEPARATOR}{request_id}"


def split_job_id(job_id: Any) -> tuple[str, str]:
    """(owner/app, request id) of a job id, checked: the status, result and cancel URLs use only owner/app."""
    endpoint, _, request_id = job_id.partition(JOB_ID_SEPARATOR) if isinstance(job_id, str) else ("", "", "")
    if not _ENDPOINT_ID.match(endpoint) or ".." in endpoint.split("/"):
        raise RequestValidationError(
            FieldError("job_id", f"must be a fal job id (endpoint{JOB_ID_SEPARATOR}request id), got {job_id!r:.80}")
        )
    return "/".join(endpoint.split("/")[:2]), path_segment(request_id, "job_id")


def parse_status(job_id: str, body: Any) -> ProviderJob:
    """A status answer (IN_QUEUE with its position, IN_PROGRESS with logs, COMPLETED with or without an error)."""
    body = require_object(body, api=API, operation="status")
    provider_status = require_text(body, "status", api=API, operation="status")
    status = FAL_STATUSES.get(provider_status.upper(), JobStatus.RUNNING)
    error = None
    extra: dict[str, Any] = {}
    position = body.get("queue_position")
    if isinstance(position, int) and not isinstance(position, bool) and position >= 0:
        extra["queue_position"] = position
    error_type = optional_text(body.get("error_type"))
    message = optional_text(body.get("error"))
    if status is JobStatus.SUCCEEDED and (error_type or message):
        status = JobStatus.CANCELLED if error_type in CANCELLED_ERROR_TYPES else JobStatus.FAILED
        error = JobError.from_provider(error_type, message)
    outputs = (JobOutput(api=API, kind="video", index=0, source_id=job_id),) if status is JobStatus.SUCCEEDED else ()
    return ProviderJob(
        api=API,
        id=job_id,
        status=status,
        provider_status=provider_status,
        progress=100 if status is JobStatus.SUCCEEDED else _logged_progress(body.get("logs")),
        error=error,
        outputs=outputs,
        retention_seconds=int(FAL_RETENTION_HOURS * 3600),  # fal reports no expiry: "at least 7 days"
        extra=extra,
    )


def parse_video_file(body: Any) -> tuple[str, int | None]:
    """The result's `video.url` and `video.file_size` (fal's File object)."""
    body = require_object(body, api=API, operation="result")
    video = require_object(body.get("video"), api=API, operation="result")
    url = require_text(video, "url", api=API, operation="result")
    if not url.startswith(("https://", "http://")):
        raise invalid_response(API, "result", f"video.url must be an http(s) URL, got {url[:60]!r}")
    size = video.get("file_size")
    return url, size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None


def _logged_progress(logs: Any) -> int | None:
    """The last "NN%" in fal's logs (models report render progress there, if anywhere)."""
    if not isinstance(logs, list):
        return None
    for entry in reversed(logs):
        message = entry.get("message") if isinstance(entry, Mapping) else None
        found = _PROGRESS_LOG.search(message) if isinstance(message, str) else None
        if found:
            return max(0, min(99, int(found.group(1))))
    return None


class FalKeyAuth:
    """fal's `Authorization: Key <FAL_KEY>` header."""

    def __init__(self, key: str):
        self._key = key

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Key {self._key}"}

    def invalidate(self) -> bool:
        return False

    def secrets(self) -> tuple[str, ...]:
        return (self._key,)

    def __repr__(self) -> str:
        return "FalKeyAuth(key=[redacted])"


class FalClient:
    """Submit, poll, cancel and download fal queue requests (a `VideoProvider`)."""

    api = API
    # fal's queue has no "list my requests": a lost submit answer is recovered from the webhook instead.
    lists_jobs = False

    def __init__(self, transport: Transport, models: Mapping[str, FalModel] = BUILT_IN_MODELS):
        self._transport = transport
        self._models = models
        self._cdn_session: requests.Session | None = None

    def close(self) -> None:
        self._transport.close()
        if self._cdn_session is not None:
            self._cdn_session.close()

    def create_job(self, spec: JobSpec) -> ProviderJob:
        """Submit the request (never retried: one call is at most one paid job), asking for the webhook if set."""
        if spec.variants != 1:
            raise RequestValidationError(
                FieldError("variants", f"fal makes one video per request, got {spec.variants}")
            )
        endpoint, body = fal_input(spec, reference_data_uri(spec), self._models)
        params = {"fal_webhook": spec.webhook_url} if spec.webhook_url else None
        reply = self._transport.call_json(
            "POST", endpoint, operation="create", idempotent=False, json_body=body, params=params
        )
        answer = require_object(reply.body, api=API, operation="create")
        request_id = require_text(answer, "request_id", api=API, operation="create")
        position = answer.get("queue_position")
        extra = {"queue_position": position} if isinstance(position, int) and not isinstance(position, bool) else {}
        return ProviderJob(
            api=API,
            id=fal_job_id(endpoint, request_id),
            status=JobStatus.QUEUED,
            provider_status="IN_QUEUE",
            extra=extra,
        )

    def job_for_pushed_request(self, model: str, request_id: str) -> ProviderJob:
        """The job of a request fal's webhook named (its submit answer lost), read from its status."""
        return self.get_job(fal_job_id(fal_model(model, self._models).text_endpoint, request_id))

    def get_job(self, job_id: str) -> ProviderJob:
        """The request's status, with its queue position or logs."""
        app, request_id = split_job_id(job_id)
        reply = self._transport.call_json(
            "GET", app, "requests", request_id, "status", operation="get", idempotent=True, params={"logs": "1"}
        )
        return parse_status(job_id, reply.body)

    def delete_job(self, job_id: str) -> bool:
        """Cancel the request: True when fal accepted the cancel, False when it had already completed."""
        app, request_id = split_job_id(job_id)
        try:
            self._transport.call_json("PUT", app, "requests", request_id, "cancel", operation="cancel", idempotent=True)
        except ProviderBadRequest as error:
            if error.http_status == 400:  # {"status": "ALREADY_COMPLETED"}: nothing left to stop
                return False
            raise
        return True

    def remix_job(self, job_id: str, prompt: str) -> ProviderJob:
        raise ProviderUnsupported("fal's queue API has no remix. " + retry_advice(False), operation="remix")

    def list_jobs(self, *, limit: int | None = None, after: str | None = None) -> JobPage:
        raise ProviderUnsupported("fal's queue API cannot list requests. " + retry_advice(False), operation="list")

    def iter_jobs(self, *, page_size: int = 100) -> Iterator[ProviderJob]:
        return iter(self.list_jobs())

    @contextlib.contextmanager
    def open_output(self, output: JobOutput, *, max_bytes: int = MAX_DOWNLOAD_BYTES) -> Iterator[Download]:
        """Stream the result's `video.url` from fal's CDN (no key sent there), its length checked against
        `video.file_size`."""
        if output.api != API or output.kind != "video":
            raise ProviderUnsupported(f"fal serves only its video, not a {output.api} {output.kind}")
        app, request_id = split_job_id(output.source_id)
        reply = self._transport.call_json("GET", app, "requests", request_id, operation="result", idempotent=True)
        url, file_size = parse_video_file(reply.body)
        # A Transport without auth: the CDN is another origin, and the key must not reach it even when (as on the
        # emulator) it is the same one.
        if self._cdn_session is None:
            import requests

            self._cdn_session = requests.Session()
        cdn = Transport(Endpoint(url), None, api=API, session=self._cdn_session)
        with cdn.open_stream(operation="download", max_bytes=max_bytes) as download:
            if file_size is not None:
                if download.length is not None and download.length != file_size:
                    raise ProviderDownloadIncomplete(
                        f"fal's CDN announced {download.length} bytes for a {file_size}-byte video. "
                        + retry_advice(True),
                        operation="download",
                    )
                download.length = file_size
            yield download


class FalProvider(DeclaredProvider):
    """fal.ai's queue API (FAL_KEY, FAL_QUEUE_URL): the built-in models in `FAL_MODELS`, completion pushed by
    signed webhooks."""

    name = "fal"
    api = API

    def is_configured(self, settings: Settings) -> bool:
        return bool(settings.fal_key)

    def declared_models(self, settings: Settings) -> list[ModelCapabilities]:
        transport = settings.fal_reference_transport
        return [model.capabilities(transport) for model in fal_models(settings).values()]

    def quota(self, settings: Settings) -> dict | None:
        if not settings.sora_quota_gate:
            return None
        limits = QuotaLimits(settings.fal_max_concurrent_jobs, None, settings.sora_quota_lease_seconds)
        return {"key": quota_key(settings.fal_queue_url, API), "limits": limits.to_dict()}

    def client(self, settings: Settings) -> FalClient:
        return fal_client(settings)

    def webhook_verifier(self, settings: Settings) -> FalWebhookVerifier:
        """How `POST /api/webhooks/fal` proves a delivery is fal's: Ed25519 against FAL_JWKS_URL's keys."""
        return webhook_verifier(settings.fal_jwks_url)

    def probe(self, settings: Settings) -> None:
        """fal has no cheap authenticated read: a status call for a request id that cannot exist must be a 404,
        while a wrong key is a 401."""
        try:
            fal_client(settings).get_job(
                fal_job_id(FAL_MODELS[0].text_endpoint, "00000000-0000-0000-0000-000000000000")
            )
        except ProviderNotFound:
            return


_clients: dict[tuple, FalClient] = {}


def fal_client(settings: Settings) -> FalClient:
    """The shared client for FAL_QUEUE_URL and FAL_KEY, built on first use."""
    key = (settings.fal_queue_url, settings.fal_key, settings.fal_extra_models)
    client = _clients.get(key)
    if client is None:
        if not settings.fal_key:
            raise ConfigurationError("FAL_KEY", "is not set; fal.ai needs an API key (fal.ai dashboard, API keys)")
        endpoint = Endpoint(settings.fal_queue_url.rstrip("/"))
        transport = Transport(endpoint, FalKeyAuth(settings.fal_key), api=API)
        client = _clients[key] = FalClient(transport, fal_models(settings))
    return client


# ---- webhooks: fal signs each delivery with Ed25519 over its headers and body ------------------------------

# fal's webhook docs: reject deliveries whose timestamp is more than 5 minutes from our clock (replays).
WEBHOOK_TOLERANCE_SECONDS = 300
# fal rotates keys rarely; a signature no cached key verifies refetches the set, at most this often.
JWKS_TTL_SECONDS = 24 * 3600.0
JWKS_REFRESH_MIN_SECONDS = 60.0
MAX_JWKS_BYTES = 64 * 1024
WEBHOOK_HEADERS = ("x-fal-webhook-request-id", "x-fal-webhook-user-id", "x-fal-webhook-timestamp")


SIGNATURE_HEADER = "x-fal-webhook-signature"


class FalWebhookVerifier:
    """Checks `X-Fal-Webhook-Signature` against the keys published at FAL_JWKS_URL (fetched lazily, cached)."""

    def __init__(
        self, jwks_url: str, *, clock: Callable[[], float] = time.time, fetch: Callable[[str], Any] | None = None
    ):
        self.jwks_url = jwks_url
        self._clock = clock
        self._fetch = fetch or _fetch_jwks
        self._keys: list = []
        self._fetched_at: float | None = None

    def verify(self, headers: Mapping[str, str], body: bytes) -> PushedUpdate:
        """The delivery's content when fal signed exactly these headers and body within ±5 minutes; else raises."""
        lowered = {name.lower(): value for name, value in headers.items()}
        values = [lowered.get(name, "").strip() for name in WEBHOOK_HEADERS]
        signature_hex = lowered.get(SIGNATURE_HEADER, "").strip()
        missing = [name for name, value in zip(WEBHOOK_HEADERS, values, strict=True) if not value]
        if missing or not signature_hex:
            header = (missing or [SIGNATURE_HEADER])[0]
            raise WebhookRefused(f"missing header {header}", header=header)
        request_id, user_id, timestamp = values
        if not timestamp.isdigit() or abs(self._clock() - int(timestamp)) > WEBHOOK_TOLERANCE_SECONDS:
            raise WebhookRefused(
                "x-fal-webhook-timestamp is more than 5 minutes from now (a replay, or a bad clock)",
                header="x-fal-webhook-timestamp",
            )
        try:
            signature = bytes.fromhex(signature_hex)
        except ValueError:
            raise WebhookRefused(f"{SIGNATURE_HEADER} is not hex", header=SIGNATURE_HEADER) from None
        message = "\n".join([request_id, user_id, timestamp, hashlib.sha256(body).hexdigest()]).encode()
        if not self._verified(signature, message):
            raise WebhookRefused("the signature does not verify with any key of FAL_JWKS_URL", header=SIGNATURE_HEADER)
        return _webhook_content(request_id, body)

    def _verified(self, signature: bytes, message: bytes) -> bool:
        now = self._clock()
        stale = self._fetched_at is None or now - self._fetched_at > JWKS_TTL_SECONDS
        if stale:
            self._load(now)
        if _any_key_verifies(self._keys, signature, message):
            return True
        # A key fal rotated in since we cached: refetch once, but never let forged webhooks hammer the JWKS host.
        if not stale and now - (self._fetched_at or 0) > JWKS_REFRESH_MIN_SECONDS:
            self._load(now)
            return _any_key_verifies(self._keys, signature, message)
        return False

    def _load(self, now: float) -> None:
        self._keys = _public_keys(self._fetch(self.jwks_url))
        self._fetched_at = now


def _any_key_verifies(keys: list, signature: bytes, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature

    for key in keys:
        try:
            key.verify(signature, message)
            return True
        except InvalidSignature:
            continue
    return False


def _public_keys(jwks: Any) -> list:
    """The Ed25519 keys of a JWKS (`kty` OKP, `crv` Ed25519, `x` base64url); other keys are skipped."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    found = []
    for entry in keys if isinstance(keys, list) else ():
        if not isinstance(entry, Mapping) or entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519":
            continue
        x = entry.get("x")
        try:
            raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)) if isinstance(x, str) else b""
            found.append(Ed25519PublicKey.from_public_bytes(raw))
        except ValueError:
            continue
    return found


def _fetch_jwks(url: str) -> Any:
    import requests

    try:
        response = requests.get(url, timeout=(5, 10), headers={"Accept": "application/json"})
        response.raise_for_status()
        if len(response.content) > MAX_JWKS_BYTES:
            raise ValueError(f"larger than {MAX_JWKS_BYTES} bytes")
        return response.json()
    except (requests.RequestException, ValueError) as error:
        raise ConfigurationError("FAL_JWKS_URL", f"could not be read ({type(error).__name__}: {error})") from None


def _webhook_content(request_id: str, body: bytes) -> PushedUpdate:
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise WebhookRefused("the body is not JSON", header="body") from None
    if not isinstance(parsed, Mapping) or parsed.get("request_id", request_id) != request_id:
        raise WebhookRefused("the body's request_id differs from x-fal-webhook-request-id", header="body")
    status = parsed.get("status") if isinstance(parsed.get("status"), str) else "OK"
    return PushedUpdate(request_id=request_id, status=status, error=optional_text(parsed.get("error")))


_verifiers: dict[str, FalWebhookVerifier] = {}
_verifiers_lock = threading.Lock()


def webhook_verifier(jwks_url: str) -> FalWebhookVerifier:
    """The shared verifier for FAL_JWKS_URL (it caches the key set between deliveries)."""
    with _verifiers_lock:
        verifier = _verifiers.get(jwks_url)
        if verifier is None:
            verifier = _verifiers[jwks_url] = FalWebhookVerifier(jwks_url)
        return verifier
