"""Veo 3.1 on Vertex AI: the client (`:predictLongRunning`, polled with `:fetchPredictOperation`, videos inline or in
Cloud Storage) and the `vertex` plug-in that declares its models, options and prices."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from soraflow.config import Settings
from soraflow.errors import FieldError, RequestValidationError
from soraflow.providers.capabilities import DeclaredProvider, ModelCapabilities, OptionSpec, ReferenceImage
from soraflow.providers.endpoint import Endpoint, path_segment
from soraflow.providers.errors import (
    ProviderDownloadIncomplete,
    ProviderError,
    ProviderInvalidResponse,
    ProviderNotFound,
    ProviderUnsupported,
    error_from_response,
    readable,
    retry_advice,
)
from soraflow.providers.google_auth import GoogleTokenAuth, load_google_credentials
from soraflow.providers.job import JobError, JobOutput, JobPage, JobSpec, ProviderJob, bounded_extra
from soraflow.providers.retry import RetryPolicy
from soraflow.providers.status import JobStatus
from soraflow.providers.transport import (
    DEFAULT_CHUNK_SIZE,
    MAX_DOWNLOAD_BYTES,
    MAX_JSON_BYTES,
    READ_SIZE,
    Download,
    Timeouts,
    Transport,
)
from soraflow.quota import QuotaLimits, quota_key
from soraflow.video_request import VideoRequest

API = "vertex"
MODELS = ("veo-3.1-generate-001", "veo-3.1-fast-generate-001")
# Sizes soraflow speaks ("WxH") and the Veo parameters that make them.
SIZES = {
    "1280x720": ("16:9", "720p"),
    "720x1280": ("9:16", "720p"),
    "1920x1080": ("16:9", "1080p"),
    "1080x1920": ("9:16", "1080p"),
}
SECONDS = ("4", "6", "8")
# Veo 3.1 renders 1080p only at 8 s (Google's parameter table).
FULL_HD_SECONDS = "8"
RETENTION_HOURS = 48.0  # "Generated videos are stored on the server for 2 days"
# Gemini API list prices (research/providers-2026.md §2.2, with audio; the Vertex price is unverified). No silent
# price is published there, so the audio price is used for silent videos too: an upper bound, never an undercount.
PRICES = {
    "veo-3.1-generate-001": {"720p": 0.40, "1080p": 0.40},
    "veo-3.1-fast-generate-001": {"720p": 0.10, "1080p": 0.12},
}
MAX_SAMPLES = 4
VIDEO_KEY = b"bytesBase64Encoded"
VIDEO_MIME_TYPE = "video/mp4"
GCS_PREFIX = "gs://"
_OPERATION_NAME = re.compile(
    r"^projects/[A-Za-z0-9._:-]{1,128}/locations/[a-z0-9-]{1,64}/publishers/google/models/"
    r"(?P<model>[A-Za-z0-9._-]{1,128})/operations/[A-Za-z0-9._-]{1,128}$"
)
_GCS_URI = re.compile(r"^gs://(?P<bucket>[a-z0-9][a-z0-9._-]{1,220})/(?P<object>[^\x00-\x1f]{1,1024})$")
# google.rpc.Code numbers an operation's `error` carries, by name.
RPC_CODES = {
    1: "CANCELLED",
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    13: "INTERNAL",
    14: "UNAVAILABLE",
}
# Words Veo uses when Responsible AI filtering refused the prompt or an input image.
_SAFETY_WORDS = ("responsible ai", "safety", "usage guidelines", "raimediafiltered")
_KNOWN_RESPONSE_FIELDS = frozenset({"@type", "videos", "raiMediaFilteredCount", "raiMediaFilteredReasons"})
_STRUCTURE = re.compile(rb'["\\]')


class VertexTransport(Transport):
    """The shared transport with Google's error bodies read right and `fetchPredictOperation` streamed."""

    @contextlib.contextmanager
    def open_json_stream(self, *segments: str, operation: str, json_body: Any) -> Iterator[Download]:
        """POST a read-only call (retried like a GET) and yield its body as a stream, never buffered whole."""

        def attempt():
            return self._open(
                "POST",
                self.endpoint.url(*segments),
                operation=operation,
                idempotent=True,
                json_body=json_body,
                accept="application/json",
            )

        response = self._with_retries(attempt, operation=operation, idempotent=True)
        try:
            yield Download(
                response, api=self.api, operation=operation, max_bytes=MAX_DOWNLOAD_BYTES, secrets=self._secrets()
            )
        finally:
            response.close()

    def _error(self, response, *, operation: str, idempotent: bool) -> ProviderError:
        try:
            body = self._read_limited(response, 64 * 1024, operation=operation, idempotent=idempotent) or b""
        except ProviderError:
            body = b""
        finally:
            response.close()
        error = error_from_response(
            response.status_code,
            google_error_body(body),
            api=self.api,
            operation=operation,
            retry_after=_retry_after(response.headers),
            request_id=response.headers.get("x-request-id"),
            idempotent=idempotent,
            secrets=self._secrets(),
        )
        return in_vertex_words(error)


def in_vertex_words(error: ProviderError) -> ProviderError:
    """The error with the shared transport's Sora wording made Vertex's (its name, its settings)."""
    error.message = error.message.replace(f"Sora {API} API", "Vertex AI").replace(
        "Check SORA_ENDPOINT and SORA_VIDEOS_PATH point at a Sora-compatible API.", "Check VERTEX_ENDPOINT."
    )
    error.args = (error.message,)
    return error


@contextlib.contextmanager
def _vertex_words() -> Iterator[None]:
    try:
        yield
    except ProviderError as error:
        raise in_vertex_words(error) from None


class VertexClient:
    """Create and poll Veo operations on Vertex AI and stream their videos (inline base64 or Cloud Storage)."""

    api = API
    lists_jobs = False  # Vertex has no way to list a project's video operations (the ledger never asks it to)

    def __init__(self, transport: VertexTransport, *, storage: VertexTransport, output_gcs_uri: str | None = None):
        self._transport = transport
        self._storage = storage
        self._output_gcs_uri = output_gcs_uri

    def close(self) -> None:
        self._transport.close()
        self._storage.close()

    def create_job(self, spec: JobSpec) -> ProviderJob:
        """Start one Veo operation; never retried, so one call is at most one paid job."""
        model = _model_segment(spec.model)
        with _vertex_words():
            reply = self._transport.call_json(
                "POST", f"{model}:predictLongRunning", operation="create", idempotent=False, json_body=self.body(spec)
            )
        body = reply.body if isinstance(reply.body, Mapping) else {}
        return parse_operation(body, operation="create")

    def body(self, spec: JobSpec) -> dict:
        """The `:predictLongRunning` body for a spec."""
        if spec.size not in SIZES:
            raise RequestValidationError(FieldError("size", f"size must be one of {', '.join(SIZES)} for Veo"))
        aspect_ratio, resolution = SIZES[spec.size]
        instance: dict[str, Any] = {"prompt": spec.prompt}
        if spec.input_reference is not None:
            instance["image"] = {
                "bytesBase64Encoded": base64.b64encode(spec.input_reference.content).decode("ascii"),
                "mimeType": spec.input_reference.content_type,
            }
        parameters: dict[str, Any] = {
            "aspectRatio": aspect_ratio,
            "resolution": resolution,
            "durationSeconds": int(spec.seconds),
            "sampleCount": spec.variants,
        }
        options = spec.options
        for name, wire in (
            ("generate_audio", "generateAudio"),
            ("negative_prompt", "negativePrompt"),
            ("seed", "seed"),
        ):
            if options.get(name) is not None:
                parameters[wire] = options[name]
        for name, wire in (("enhance_prompt", "enhancePrompt"), ("person_generation", "personGeneration")):
            if options.get(name) is not None:
                parameters[wire] = options[name]
        if self._output_gcs_uri:
            parameters["storageUri"] = self._output_gcs_uri
        return {"instances": [instance], "parameters": parameters}

    def get_job(self, job_id: str) -> ProviderJob:
        """The operation's state; inline videos are read past (counted, never kept) so history stays small."""
        with _vertex_words(), self._fetch(job_id) as download:
            text = bytearray()
            for event in scan_operation(download.iter_bytes(READ_SIZE)):
                if event[0] == "json":
                    text += event[1]
                    if len(text) > MAX_JSON_BYTES:
                        raise _malformed("get", f"the operation is larger than {MAX_JSON_BYTES} bytes without videos")
        try:
            body = json.loads(text.decode("utf-8")) if text.strip() else None
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise _malformed("get", "the operation is not JSON") from None
        if not isinstance(body, Mapping):
            raise _malformed("get", "the operation is not a JSON object")
        return parse_operation(body, operation="get")

    def delete_job(self, job_id: str) -> bool:
        """Vertex has no delete for Veo operations (they expire after 2 days): nothing is deleted."""
        _operation_name(job_id)
        return False

    def remix_job(self, job_id: str, prompt: str) -> ProviderJob:
        raise ProviderUnsupported("Veo on Vertex AI has no remix. " + retry_advice(False), operation="remix")

    def list_jobs(self, *, limit: int | None = None, after: str | None = None) -> JobPage:
        raise _cannot_list()

    def iter_jobs(self, *, page_size: int = 100) -> Iterator[ProviderJob]:
        raise _cannot_list()

    @contextlib.contextmanager
    def open_output(self, output: JobOutput) -> Iterator[Any]:
        """Stream one video: a Cloud Storage object, or the base64 of an inline sample decoded as it arrives."""
        if output.api != API:
            raise ProviderUnsupported(f"a {output.api} API output cannot be downloaded from Vertex AI")
        if output.source_id.startswith(GCS_PREFIX):
            bucket, name = _gcs_parts(output.source_id)
            with (
                _vertex_words(),
                self._storage.open_stream(
                    "storage", "v1", "b", bucket, "o", name, operation="content", params={"alt": "media"}
                ) as download,
            ):
                if download.content_type in (None, "application/octet-stream"):
                    download.content_type = VIDEO_MIME_TYPE
                yield download
            return
        with _vertex_words(), self._fetch(output.source_id, operation="content") as download:
            yield InlineVideo(download, output.index)

    def _fetch(self, job_id: str, *, operation: str = "get") -> contextlib.AbstractContextManager[Download]:
        name = _operation_name(job_id)
        model = _model_segment(_OPERATION_NAME.match(name)["model"])
        return self._transport.open_json_stream(
            f"{model}:fetchPredictOperation", operation=operation, json_body={"operationName": name}
        )


class InlineVideo:
    """One inline sample of an operation, decoded from base64 as the operation streams in (a Download's interface)."""

    def __init__(self, download: Download, index: int):
        self._download = download
        self._index = index
        self.content_type = VIDEO_MIME_TYPE
        self.length: int | None = None
        self.bytes_read = 0

    def iter_bytes(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        """The video's bytes in chunks of at most `chunk_size`; raises if the answer ends before the video does."""
        pending_text = b""
        pending = bytearray()
        finished = False
        for event in scan_operation(self._download.iter_bytes(READ_SIZE)):
            if event[0] == "video" and event[1] == self._index:
                text = pending_text + event[2]
                usable = len(text) - len(text) % 4
                pending_text = text[usable:]
                pending += _decode(text[:usable])
                while len(pending) >= chunk_size:
                    chunk = bytes(pending[:chunk_size])
                    del pending[:chunk_size]
                    self.bytes_read += len(chunk)
                    yield chunk
            elif event[0] == "video_end" and event[1] == self._index:
                if pending_text:
                    raise _malformed("content", "the inline video's base64 is not a whole number of 4-character groups")
                finished = True
                break  # the rest of the answer (other samples) is not needed
        if not finished:
            if self.bytes_read or pending:
                raise ProviderDownloadIncomplete(
                    f"Vertex AI content download is incomplete: the operation's answer ended inside video "
                    f"{self._index} ({self.bytes_read + len(pending)} bytes decoded). {retry_advice(True)}",
                    operation="content",
                )
            raise ProviderNotFound(
                f"Vertex AI operation has no inline video {self._index}. {retry_advice(False)}", operation="content"
            )
        if pending:
            self.bytes_read += len(pending)
            yield bytes(pending)


# ---- reading an operation as it streams -------------------------------------------------------------------------


def scan_operation(pieces: Iterable[bytes]) -> Iterator[tuple]:
    """Events over a streamed operation: ("json", text) for the operation with every `bytesBase64Encoded` string
    emptied, ("video", index, base64 text) as each such string arrives, and ("video_end", index) where it closes.

    Only a few bytes are held at a time whatever the size of the videos, so polls and downloads stay in bounded memory.
    """
    stack: list[int] = []  # b"{"[0] or b"["[0] for each open container
    expecting_key = False
    key = bytearray()
    last_key = b""
    kind: str | None = None  # None outside a string, else "key", "value" or "video"
    escape = False
    videos = -1
    for piece in pieces:
        out = bytearray()
        i, n = 0, len(piece)
        while i < n:
            if kind is not None:
                if escape:
                    char = piece[i : i + 1]
                    escape = False
                    i += 1
                    if kind == "video":
                        if char == b"/":
                            yield ("video", videos, b"/")
                        elif char not in (b"n", b"r"):
                            raise _malformed("get", "an inline video holds an escape that is not base64")
                    else:
                        out += b"\\" + char
                        if kind == "key":
                            key += b"\\" + char
                    continue
                match = _STRUCTURE.search(piece, i)
                end = match.start() if match else n
                content = piece[i:end]
                if kind == "video":
                    if content:
                        yield ("video", videos, content)
                else:
                    out += content
                    if kind == "key":
                        key += content
                if match is None:
                    i = n
                    continue
                i = end + 1
                if piece[end : end + 1] == b"\\":
                    escape = True
                    continue
                if kind == "video":
                    yield ("video_end", videos)
                    out += b'"'
                else:
                    out += b'"'
                    if kind == "key":
                        last_key = bytes(key)
                kind = None
                continue
            byte = piece[i]
            i += 1
            if byte == 0x22:  # a string starts
                in_object = bool(stack) and stack[-1] == 0x7B
                if in_object and expecting_key:
                    kind, key = "key", bytearray()
                elif in_object and last_key == VIDEO_KEY:
                    kind, videos = "video", videos + 1
                else:
                    kind = "value"
                out.append(byte)
                continue
            if byte in (0x7B, 0x5B):  # { [
                stack.append(byte)
                expecting_key = byte == 0x7B
            elif byte in (0x7D, 0x5D):  # } ]
                if stack:
                    stack.pop()
                expecting_key = False
            elif byte == 0x3A:  # :
                expecting_key = False
            elif byte == 0x2C:  # ,
                expecting_key = bool(stack) and stack[-1] == 0x7B
            elif byte in b" \t\r\n":
                continue
            out.append(byte)
        if out:
            yield ("json", bytes(out))


def parse_operation(body: Mapping[str, Any], *, operation: str) -> ProviderJob:
    """A Veo operation as a ProviderJob: running until `done`, then failed (error, or every sample filtered) or
    succeeded with one output per video, saying where it is (inline sample index or gcsUri), never its bytes."""
    name = body.get("name")
    if not isinstance(name, str) or not _OPERATION_NAME.match(name):
        raise _malformed(operation, f"the operation name must be projects/…/operations/ID, got {str(name)[:80]!r}")
    if body.get("done") is not True:
        return ProviderJob(api=API, id=name, status=JobStatus.RUNNING, provider_status="running")
    error = body.get("error")
    if isinstance(error, Mapping):
        return ProviderJob(
            api=API, id=name, status=JobStatus.FAILED, provider_status="failed", error=operation_error(error)
        )
    response = body.get("response") if isinstance(body.get("response"), Mapping) else {}
    videos = [video for video in response.get("videos") or () if isinstance(video, Mapping)]
    filtered = _count(response.get("raiMediaFilteredCount"))
    reasons = [readable(r, 500) for r in response.get("raiMediaFilteredReasons") or () if isinstance(r, str)]
    extra = bounded_extra(response, _KNOWN_RESPONSE_FIELDS)
    if filtered:
        extra = {**extra, "rai_media_filtered_count": filtered, "rai_media_filtered_reasons": reasons[:5]}
    if not videos:
        message = "; ".join(reasons) or "Vertex AI returned no videos"
        code = "content_policy" if filtered else "no_videos"
        job_error = JobError(code=code, message=message, content_policy=bool(filtered))
        return ProviderJob(
            api=API,
            id=name,
            status=JobStatus.FAILED,
            provider_status="filtered" if filtered else "failed",
            error=job_error,
            extra=extra,
        )
    outputs = tuple(_output(name, index, video) for index, video in enumerate(videos))
    return ProviderJob(
        api=API,
        id=name,
        status=JobStatus.SUCCEEDED,
        provider_status="done",
        progress=100,
        outputs=outputs,
        retention_seconds=int(RETENTION_HOURS * 3600),  # Veo reports no expiry: its documented two days
        extra=extra,
    )


def operation_error(error: Mapping[str, Any]) -> JobError:
    """An operation's google.rpc Status as a JobError; Responsible AI refusals are content-policy errors."""
    code = error.get("code")
    status = error.get("status") if isinstance(error.get("status"), str) else RPC_CODES.get(code, f"code {code}")
    message = error.get("message") if isinstance(error.get("message"), str) else ""
    if any(word in message.lower() for word in _SAFETY_WORDS):
        return JobError(code="content_policy", message=readable(message) or status, content_policy=True)
    return JobError.from_provider(str(status).lower(), message)


def google_error_body(body: bytes) -> bytes:
    """Google's `{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", ...}}` with its status as the code."""
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return body
    error = parsed.get("error") if isinstance(parsed, Mapping) else None
    if not isinstance(error, Mapping) or not isinstance(error.get("status"), str):
        return body
    return json.dumps({"error": {"code": error["status"], "message": error.get("message")}}).encode()


def _output(name: str, index: int, video: Mapping[str, Any]) -> JobOutput:
    uri = video.get("gcsUri")
    if isinstance(uri, str) and uri:
        _gcs_parts(uri)
        return JobOutput(api=API, kind="video", index=index, source_id=uri)
    if VIDEO_KEY.decode() in video:
        return JobOutput(api=API, kind="video", index=index, source_id=name)
    raise _malformed("get", f"video {index} has neither gcsUri nor bytesBase64Encoded")


def _decode(text: bytes) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise _malformed("content", "an inline video is not valid base64") from None


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _operation_name(value: Any) -> str:
    if not isinstance(value, str) or not _OPERATION_NAME.match(value):
        raise RequestValidationError(
            FieldError("job_id", f"must be a Vertex operation name (projects/…/operations/ID), got {str(value)[:80]!r}")
        )
    return value


def _model_segment(model: Any) -> str:
    return path_segment(model, "model")


def _gcs_parts(uri: str) -> tuple[str, str]:
    match = _GCS_URI.match(uri)
    if match is None or ".." in match["object"].split("/"):
        raise _malformed("get", f"a video's gcsUri must be gs://bucket/object, got {uri[:80]!r}")
    return match["bucket"], quote(match["object"], safe="")


def _retry_after(headers: Mapping[str, str]) -> float | None:
    from soraflow.providers.retry import parse_retry_after

    return parse_retry_after(headers)


def _malformed(operation: str, problem: str) -> ProviderInvalidResponse:
    return ProviderInvalidResponse(
        f"Vertex AI {operation} returned a malformed response: {problem}. Check VERTEX_ENDPOINT points at Vertex AI. "
        + retry_advice(False),
        operation=operation,
    )


def _cannot_list() -> ProviderUnsupported:
    # Veo operations cannot be listed, so a create whose answer was lost cannot be found again; creating another
    # could pay twice, so the caller must stop instead.
    return ProviderUnsupported(
        "Vertex AI cannot list Veo operations, so a create whose answer was lost cannot be looked up; soraflow does "
        "not create another (it could be paid twice). Check the project's Vertex AI usage before starting a new run. "
        + retry_advice(False),
        operation="list",
    )


# ---- building the client ----------------------------------------------------------------------------------------


def vertex_models_base(settings: Settings) -> str:
    """`{endpoint}/v1/projects/{project}/locations/{location}/publishers/google/models`."""
    project = path_segment(settings.vertex_project, "VERTEX_PROJECT")
    location = path_segment(settings.vertex_location, "VERTEX_LOCATION")
    return f"{settings.vertex_base_url.rstrip('/')}/v1/projects/{project}/locations/{location}/publishers/google/models"


def storage_base(settings: Settings) -> str:
    """Where Cloud Storage objects are read: Google's JSON API, or VERTEX_ENDPOINT's origin when that is not Google's
    (the emulator or a proxy serves both)."""
    host = (urlsplit(settings.vertex_base_url).hostname or "").lower()
    if host.endswith(".googleapis.com"):
        return "https://storage.googleapis.com"
    parts = urlsplit(settings.vertex_base_url)
    return f"{parts.scheme}://{parts.netloc}"


def build_vertex_client(
    settings: Settings,
    *,
    auth: Any | None = None,
    retry: RetryPolicy | None = None,
    timeouts: Timeouts | None = None,
) -> VertexClient:
    """A new Vertex client for the settings; prefer `vertex_client` (shared)."""
    if auth is None:
        value = settings.vertex_credentials
        auth = GoogleTokenAuth(lambda: load_google_credentials(value))
    models = VertexTransport(Endpoint(vertex_models_base(settings)), auth, api=API, retry=retry, timeouts=timeouts)
    storage = VertexTransport(Endpoint(storage_base(settings)), auth, api=API, retry=retry, timeouts=timeouts)
    return VertexClient(models, storage=storage, output_gcs_uri=settings.vertex_output_gcs_uri)


_clients: dict[tuple, VertexClient] = {}
_clients_lock = threading.Lock()


def vertex_client(settings: Settings) -> VertexClient:
    """The shared client for this configuration, built on first use and reused."""
    key = (
        settings.vertex_base_url,
        settings.vertex_project,
        settings.vertex_location,
        settings.vertex_credentials,
        settings.vertex_output_gcs_uri,
    )
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = build_vertex_client(settings)
        return client


# ---- the plug-in ------------------------------------------------------------------------------------------------

OPTIONS = {
    "generate_audio": OptionSpec("bool", description="generateAudio: render a soundtrack (default true)"),
    "negative_prompt": OptionSpec("string", max_length=2_000, description="negativePrompt: what not to show"),
    "seed": OptionSpec("int", minimum=0, maximum=4_294_967_295, description="seed: the same seed, the same video"),
    "enhance_prompt": OptionSpec("bool", description="enhancePrompt: let Veo rewrite the prompt"),
    "person_generation": OptionSpec(
        "string", choices=("allow_all", "allow_adult", "dont_allow"), description="personGeneration"
    ),
}


class VertexProvider(DeclaredProvider):
    """Veo 3.1 on Vertex AI (VERTEX_PROJECT): 4-8 s at 720p or 1080p, up to 4 samples, first-frame images, audio."""

    name = "vertex"
    api = API

    def is_configured(self, settings: Settings) -> bool:
        return bool(settings.vertex_project)

    def declared_models(self, settings: Settings) -> list[ModelCapabilities]:
        return [_model_capabilities(model) for model in MODELS]

    def parse(
        self, body: Mapping, settings: Settings, *, allowed_containers: Collection[str], allow_upload: bool
    ) -> VideoRequest:
        request = super().parse(body, settings, allowed_containers=allowed_containers, allow_upload=allow_upload)
        if SIZES[request.size][1] == "1080p" and str(request.seconds) != FULL_HD_SECONDS:
            raise RequestValidationError(
                FieldError(
                    "seconds",
                    f"seconds must be {FULL_HD_SECONDS} at 1080p ({request.size}) for {request.model}; "
                    f"got {request.seconds}",
                )
            )
        return request

    def quota(self, settings: Settings) -> dict | None:
        if not settings.sora_quota_gate:
            return None
        limits = QuotaLimits(settings.vertex_max_concurrent_jobs, None, settings.sora_quota_lease_seconds)
        key = quota_key(f"{settings.vertex_base_url}/projects/{settings.vertex_project}", API)
        return {"key": key, "limits": limits.to_dict()}

    def client(self, settings: Settings) -> VertexClient:
        return vertex_client(settings)

    def probe(self, settings: Settings) -> None:
        """One cheap authenticated call: fetch an operation that does not exist (404 proves access)."""
        client = vertex_client(settings)
        name = f"{vertex_models_base(settings).split('/v1/', 1)[1]}/{MODELS[1]}/operations/soraflow-probe"
        try:
            client.get_job(name)
        except ProviderNotFound:
            return


def _model_capabilities(model: str) -> ModelCapabilities:
    prices: dict[str, float | None] = {}
    for size, (_ratio, resolution) in SIZES.items():
        prices[size] = prices[f"{size}+audio"] = PRICES[model][resolution]
    return ModelCapabilities(
        provider="vertex",
        model=model,
        sizes=tuple(SIZES),
        seconds=SECONDS,
        default_size="1280x720",
        default_seconds="8",
        reference=ReferenceImage(first_frame=True, last_frame=False, transport="base64", must_match_size=False),
        max_variants=MAX_SAMPLES,
        remix=False,
        audio=True,
        negative_prompt=True,
        seed=True,
        usd_per_second=prices,
        price_per_variant=True,
        retention_hours=RETENTION_HOURS,
        lists_jobs=False,
        pushes_completion=False,
        api=API,
        options=OPTIONS,
    )
