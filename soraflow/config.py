"""App settings, read when a call needs them, each problem naming the setting. Only the blob trigger's source and
container are read at indexing (`request_trigger`), because the host binds them before any call."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from soraflow.errors import ConfigurationError, shown_url
from soraflow.polling import DEFAULT_BOUNDS

SORA_APIS = ("videos", "jobs")
DEFAULT_CREATE_RETRY_SECONDS = (5.0, 10.0, 20.0, 30.0, 60.0)
# Waits before storing a finished video again after storage failed; the last repeats until shortly before the
# provider deletes its copy (see soraflow.retention).
DEFAULT_STORE_RETRY_SECONDS = (3.0, 6.0, 12.0, 24.0, 60.0, 120.0, 300.0)
DEFAULT_POLLS_PER_EXECUTION = 40
MAX_CREATE_RETRIES = 20
DEFAULT_OUTPUT_CONTAINER = "videos"
DEFAULT_REQUEST_CONTAINER = "video-requests"
# Blob trigger sources by their setting value (matched case-insensitively); the first is the default, the one
# Flex Consumption supports.
REQUEST_TRIGGER_SOURCES = ("EventGrid", "LogsAndContainerScan")
# The Durable task hub naming rule (Azure Storage backend): a letter first, then letters and digits, 3-45 in all.
_TASK_HUB_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{2,44}")
DEFAULT_RUN_INDEX_TABLE = "soraflowruns"
# The providers VIDEO_PROVIDER may name: Sora's two APIs, fal.ai's queue, Vertex AI Veo.
PROVIDER_NAMES = ("sora", "sora-jobs", "fal", "vertex")
DEFAULT_FAL_QUEUE_URL = "https://queue.fal.run"
DEFAULT_FAL_JWKS_URL = "https://rest.fal.ai/.well-known/jwks.json"
DEFAULT_VERTEX_LOCATION = "us-central1"


@dataclass(frozen=True)
class Settings:
    """Every setting soraflow reads, typed and validated."""

    sora_endpoint: str
    sora_api: str = "videos"
    sora_model: str = "sora-2"
    sora_api_key: str | None = None
    sora_videos_path: str | None = None
    sora_max_concurrent_jobs: int = 2
    sora_max_jobs_per_minute: int | None = None
    sora_quota_gate: bool = True
    sora_quota_lease_seconds: float = 120.0
    sora_extra_models: str | None = None
    azure_client_id: str | None = None
    video_output_container: str = DEFAULT_OUTPUT_CONTAINER
    video_request_container: str = DEFAULT_REQUEST_CONTAINER
    run_index_table: str = DEFAULT_RUN_INDEX_TABLE
    run_timeout_minutes: float = 60.0
    create_retry_seconds: tuple[float, ...] = DEFAULT_CREATE_RETRY_SECONDS
    store_retry_seconds: tuple[float, ...] = DEFAULT_STORE_RETRY_SECONDS
    poll_initial_seconds: float = DEFAULT_BOUNDS.initial
    poll_floor_seconds: float = DEFAULT_BOUNDS.floor
    polls_per_execution: int = DEFAULT_POLLS_PER_EXECUTION
    delete_provider_copy: bool = False
    sora_pricing: str | None = None
    callback_secret: str | None = None
    # The default provider (VIDEO_PROVIDER) and the others a request's model may pick.
    video_provider: str = "sora"
    fal_key: str | None = None
    fal_queue_url: str = DEFAULT_FAL_QUEUE_URL
    fal_max_concurrent_jobs: int = 2
    fal_jwks_url: str = DEFAULT_FAL_JWKS_URL
    fal_extra_models: str | None = None
    fal_reference_transport: str = "data-uri"
    vertex_project: str | None = None
    vertex_location: str = DEFAULT_VERTEX_LOCATION
    vertex_endpoint: str | None = None
    vertex_credentials: str | None = None
    vertex_max_concurrent_jobs: int = 2
    vertex_output_gcs_uri: str | None = None
    public_base_url: str | None = None

    @property
    def vertex_base_url(self) -> str:
        """VERTEX_ENDPOINT, else the regional endpoint of VERTEX_LOCATION."""
        return self.vertex_endpoint or f"https://{self.vertex_location}-aiplatform.googleapis.com"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the settings from the environment (or `env`)."""
        env = os.environ if env is None else env
        api = _text(env, "SORA_API", default="videos").lower()
        if api not in SORA_APIS:
            raise ConfigurationError("SORA_API", f"must be one of {', '.join(SORA_APIS)}, got {api!r}")
        fal_key = _text(env, "FAL_KEY") or None
        vertex_project = _text(env, "VERTEX_PROJECT") or None
        provider = _default_provider(env, api, fal_key=fal_key, vertex_project=vertex_project)
        if provider == "sora-jobs":
            api = "jobs"
        endpoint = _text(env, "SORA_ENDPOINT", required=provider in ("sora", "sora-jobs"))
        if endpoint and not endpoint.startswith(("http://", "https://")):
            raise ConfigurationError("SORA_ENDPOINT", f"must be an http(s) URL, got {shown_url(endpoint)}")
        return cls(
            video_provider=provider,
            fal_key=fal_key,
            fal_queue_url=_url(env, "FAL_QUEUE_URL", DEFAULT_FAL_QUEUE_URL),
            fal_max_concurrent_jobs=_integer(env, "FAL_MAX_CONCURRENT_JOBS", default=2, minimum=1),
            fal_jwks_url=_url(env, "FAL_JWKS_URL", DEFAULT_FAL_JWKS_URL),
            fal_extra_models=_text(env, "FAL_EXTRA_MODELS") or None,
            fal_reference_transport=_choice(env, "FAL_REFERENCE_TRANSPORT", ("data-uri", "url"), default="data-uri"),
            vertex_project=vertex_project,
            vertex_location=_vertex_location(env),
            vertex_endpoint=_url(env, "VERTEX_ENDPOINT", None),
            vertex_credentials=_text(env, "VERTEX_CREDENTIALS") or None,
            vertex_max_concurrent_jobs=_integer(env, "VERTEX_MAX_CONCURRENT_JOBS", default=2, minimum=1),
            vertex_output_gcs_uri=_gcs_uri(env, "VERTEX_OUTPUT_GCS_URI"),
            public_base_url=_url(env, "PUBLIC_BASE_URL", None),
            sora_endpoint=endpoint.rstrip("/"),
            sora_api=api,
            sora_model=_text(env, "SORA_MODEL", default="sora-2"),
            sora_api_key=_text(env, "SORA_API_KEY") or None,
            sora_videos_path=_text(env, "SORA_VIDEOS_PATH") or None,
            sora_max_concurrent_jobs=_integer(env, "SORA_MAX_CONCURRENT_JOBS", default=2, minimum=1),
            sora_max_jobs_per_minute=_integer(env, "SORA_MAX_JOBS_PER_MINUTE", default=None, minimum=1),
            sora_quota_gate=_flag(env, "SORA_QUOTA_GATE", default=True),
            sora_quota_lease_seconds=_number(env, "SORA_QUOTA_LEASE_SECONDS", default=120.0, minimum=1.0),
            sora_extra_models=_text(env, "SORA_EXTRA_MODELS") or None,
            azure_client_id=_text(env, "AZURE_CLIENT_ID") or None,
            video_output_container=container_setting(env, "VIDEO_OUTPUT_CONTAINER", DEFAULT_OUTPUT_CONTAINER),
            video_request_container=container_setting(env, "VIDEO_REQUEST_CONTAINER", DEFAULT_REQUEST_CONTAINER),
            run_index_table=_table(env, "RUN_INDEX_TABLE", DEFAULT_RUN_INDEX_TABLE),
            run_timeout_minutes=_number(env, "RUN_TIMEOUT_MINUTES", default=60.0, minimum=0.01),
            create_retry_seconds=_seconds_list(env, "CREATE_RETRY_SECONDS", default=DEFAULT_CREATE_RETRY_SECONDS),
            store_retry_seconds=_seconds_list(env, "STORE_RETRY_SECONDS", default=DEFAULT_STORE_RETRY_SECONDS),
            poll_initial_seconds=_number(env, "POLL_INITIAL_SECONDS", default=DEFAULT_BOUNDS.initial, minimum=0.05),
            poll_floor_seconds=_number(env, "POLL_FLOOR_SECONDS", default=DEFAULT_BOUNDS.floor, minimum=0.05),
            polls_per_execution=_integer(
                env, "RUN_POLLS_PER_EXECUTION", default=DEFAULT_POLLS_PER_EXECUTION, minimum=1
            ),
            delete_provider_copy=_flag(env, "DELETE_PROVIDER_COPY", default=False),
            sora_pricing=_text(env, "SORA_PRICING") or None,
            callback_secret=_text(env, "CALLBACK_SECRET") or None,
        )


def _default_provider(env: Mapping[str, str], api: str, *, fal_key: str | None, vertex_project: str | None) -> str:
    """VIDEO_PROVIDER, else the provider the other settings configure (Sora first, as before there was a choice)."""
    chosen = _text(env, "VIDEO_PROVIDER").lower()
    if not chosen:
        if _text(env, "SORA_ENDPOINT") or not (fal_key or vertex_project):
            return "sora-jobs" if api == "jobs" else "sora"
        return "fal" if fal_key else "vertex"
    if chosen not in PROVIDER_NAMES:
        got = repr(chosen) if len(chosen) <= 30 else f"a {len(chosen)}-character value"
        raise ConfigurationError("VIDEO_PROVIDER", f"must be one of {', '.join(PROVIDER_NAMES)}, got {got}")
    if chosen == "sora" and api == "jobs":
        raise ConfigurationError("VIDEO_PROVIDER", "is sora (the videos API) but SORA_API is jobs; use sora-jobs")
    if chosen == "fal" and not fal_key:
        raise ConfigurationError("FAL_KEY", "is not set; VIDEO_PROVIDER=fal needs a fal.ai API key")
    if chosen == "vertex" and not vertex_project:
        raise ConfigurationError("VERTEX_PROJECT", "is not set; VIDEO_PROVIDER=vertex needs a Google Cloud project")
    return chosen


def _url(env: Mapping[str, str], name: str, default: str | None) -> str | None:
    value = _text(env, name)
    if not value:
        return default
    if not value.startswith(("http://", "https://")) or len(value) > 2048:
        raise ConfigurationError(name, f"must be an http(s) URL, got {shown_url(value)}")
    return value.rstrip("/")


def _vertex_location(env: Mapping[str, str]) -> str:
    value = _text(env, "VERTEX_LOCATION", default=DEFAULT_VERTEX_LOCATION)
    # A Google Cloud region ("us-central1", "europe-west4") or "global": it becomes part of a host name.
    if not re.fullmatch(r"[a-z][a-z0-9-]{1,40}", value):
        raise ConfigurationError("VERTEX_LOCATION", f'must be a region such as "us-central1", got {value[:40]!r}')
    return value


def _gcs_uri(env: Mapping[str, str], name: str) -> str | None:
    value = _text(env, name)
    if not value:
        return None
    if not re.fullmatch(r"gs://[a-z0-9][a-z0-9._-]{1,220}(/[^\x00-\x1f]*)?", value):
        raise ConfigurationError(name, f'must be a Cloud Storage URI such as "gs://bucket/prefix/", got {value[:60]!r}')
    return value


def _text(env: Mapping[str, str], name: str, *, default: str = "", required: bool = False) -> str:
    value = env.get(name, "").strip()
    if not value:
        if required:
            raise ConfigurationError(name, "is not set")
        return default
    return value


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], *, default: str) -> str:
    raw = _text(env, name, default=default).lower()
    if raw not in choices:
        raise ConfigurationError(name, f"must be one of {', '.join(choices)}, got {raw[:40]!r}")
    return raw


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = _text(env, name).lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(name, f"must be true or false, got {raw!r}")


def _integer(env: Mapping[str, str], name: str, *, default: int | None, minimum: int) -> int | None:
    raw = _text(env, name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(name, f"must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigurationError(name, f"must be at least {minimum}, got {value}")
    return value


def _number(env: Mapping[str, str], name: str, *, default: float, minimum: float) -> float:
    raw = _text(env, name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(name, f"must be a number, got {raw!r}") from None
    if not value >= minimum or value != value or value == float("inf"):
        raise ConfigurationError(name, f"must be a finite number of at least {minimum}, got {raw!r}")
    return value


def _seconds_list(env: Mapping[str, str], name: str, *, default: tuple[float, ...]) -> tuple[float, ...]:
    raw = _text(env, name)
    if not raw:
        return default
    values = []
    for part in raw.split(","):
        try:
            value = float(part)
        except ValueError:
            value = float("nan")
        if not 0 <= value <= 3600:
            raise ConfigurationError(name, f"must be comma-separated seconds from 0 to 3600, got {part.strip()!r}")
        values.append(value)
    if len(values) > MAX_CREATE_RETRIES:
        raise ConfigurationError(name, f"must list at most {MAX_CREATE_RETRIES} waits, got {len(values)}")
    return tuple(values)


def container_setting(env: Mapping[str, str], name: str, default: str) -> str:
    """A container name from setting `name` (or `default` when unset), checked against the service's rules."""
    value = _text(env, name, default=default)
    # Blob container naming rules: 3-63 chars, lowercase letters, digits and single hyphens.
    ok = 3 <= len(value) <= 63 and value[0].isalnum() and value[-1].isalnum() and "--" not in value
    if not ok or any(not (c.islower() or c.isdigit() or c == "-") for c in value):
        raise ConfigurationError(
            name, f"must be a valid container name (3-63 lowercase letters, digits, hyphens), got {value!r}"
        )
    return value


@dataclass(frozen=True)
class RequestTrigger:
    """How the blob trigger for dropped requests is bound: its source, its container, and what was wrong with the
    settings (a bad value is replaced by the default so indexing still succeeds, and readiness reports it)."""

    source: str
    container: str
    problems: tuple[ConfigurationError, ...] = ()


def request_trigger(env: Mapping[str, str] | None = None) -> RequestTrigger:
    """The blob trigger's source and container from VIDEO_REQUEST_TRIGGER_SOURCE and VIDEO_REQUEST_CONTAINER."""
    env = os.environ if env is None else env
    problems = []
    raw_source = _text(env, "VIDEO_REQUEST_TRIGGER_SOURCE", default=REQUEST_TRIGGER_SOURCES[0])
    source = next((s for s in REQUEST_TRIGGER_SOURCES if s.lower() == raw_source.lower()), None)
    if source is None:
        allowed = " or ".join(REQUEST_TRIGGER_SOURCES)
        # A typo is worth echoing; a long value may be something pasted into the wrong setting, so only its length is.
        got = repr(raw_source) if len(raw_source) <= 30 else f"a {len(raw_source)}-character value"
        problems.append(ConfigurationError("VIDEO_REQUEST_TRIGGER_SOURCE", f"must be {allowed}, got {got}"))
        source = REQUEST_TRIGGER_SOURCES[0]
    try:
        container = container_setting(env, "VIDEO_REQUEST_CONTAINER", DEFAULT_REQUEST_CONTAINER)
    except ConfigurationError as error:
        problems.append(error)
        container = DEFAULT_REQUEST_CONTAINER
    return RequestTrigger(source, container, tuple(problems))


def task_hub_name(env: Mapping[str, str] | None = None) -> str:
    """TASKHUB_NAME, which host.json hands to Durable Functions as `%TASKHUB_NAME%`: required, and a valid hub name."""
    env = os.environ if env is None else env
    value = _text(env, "TASKHUB_NAME")
    if not value:
        raise ConfigurationError("TASKHUB_NAME", "is not set; host.json names the Durable task hub %TASKHUB_NAME%")
    if not _TASK_HUB_NAME.fullmatch(value):
        raise ConfigurationError(
            "TASKHUB_NAME", f"must start with a letter and hold only letters and digits, 3-45 in all; got {value!r}"
        )
    return value


def _table(env: Mapping[str, str], name: str, default: str) -> str:
    value = _text(env, name, default=default)
    # Table naming rules: 3-63 ASCII letters and digits, starting with a letter; "tables" is reserved.
    ok = 3 <= len(value) <= 63 and value.isascii() and value.isalnum() and value[0].isalpha()
    if not ok or value.lower() == "tables":
        raise ConfigurationError(
            name, f"must be a valid table name (3-63 letters and digits, starting with a letter), got {value!r}"
        )
    return value
