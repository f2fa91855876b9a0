"""Where each provider API lives: base URLs for Azure, OpenAI-style hosts and gateways, and safe path segments."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from soraflow.errors import ConfigurationError, FieldError, RequestValidationError, shown_url

AZURE_VIDEOS_PATH = "/openai/v1/videos"
OPENAI_VIDEOS_PATH = "/v1/videos"
JOBS_GENERATIONS_PATH = "/openai/v1/video/generations"
JOBS_API_VERSION = "preview"

# Hosts that serve the OpenAI path layout (no /openai prefix); everything else gets Azure's layout.
_OPENAI_STYLE_HOSTS = frozenset({"api.openai.com"})

# Provider ids are opaque but well-behaved (video_…, task_…, gen_…): printable ASCII without separators.
_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:~\-]{1,256}$")


@dataclass(frozen=True)
class Endpoint:
    """A base URL plus the query parameters every call to it carries (e.g. `api-version`)."""

    base_url: str
    params: dict[str, str] = field(default_factory=dict)

    def url(self, *segments: str) -> str:
        """The base URL with already-validated path segments appended."""
        return "/".join([self.base_url, *segments]) if segments else self.base_url


def videos_endpoint(endpoint: str, path: str | None = None) -> Endpoint:
    """The Sora 2 / OpenAI-compatible `/videos` collection URL for an endpoint and an optional custom path."""
    origin, base_path, params = _split(endpoint)
    if path:
        custom_path, custom_params = _custom_path(path)
        return Endpoint(origin + base_path + custom_path, {**params, **custom_params})
    host = urlsplit(endpoint).hostname or ""
    if base_path.endswith("/videos"):
        full = base_path
    elif base_path.endswith("/v1"):
        full = base_path + "/videos"
    elif base_path.endswith("/openai"):
        full = base_path + "/v1/videos"
    elif host.lower() in _OPENAI_STYLE_HOSTS:
        full = base_path + OPENAI_VIDEOS_PATH
    else:
        full = base_path + AZURE_VIDEOS_PATH
    return Endpoint(origin + full, params)


def jobs_endpoint(endpoint: str, path: str | None = None) -> Endpoint:
    """The Sora 1 `video/generations` root URL (jobs live under `/jobs`, content under `/{generation}/content`)."""
    origin, base_path, params = _split(endpoint)
    params = {"api-version": JOBS_API_VERSION, **params}
    if path:
        custom_path, custom_params = _custom_path(path)
        full = base_path + custom_path
        params.update(custom_params)
    elif base_path.endswith("/video/generations"):
        full = base_path
    elif base_path.endswith("/video/generations/jobs"):
        full = base_path.removesuffix("/jobs")
    elif base_path.endswith("/v1"):
        full = base_path + "/video/generations"
    elif base_path.endswith("/openai"):
        full = base_path + "/v1/video/generations"
    else:
        full = base_path + JOBS_GENERATIONS_PATH
    return Endpoint(origin + full.removesuffix("/jobs"), params)


def path_segment(value: object, name: str) -> str:
    """A provider id checked and percent-encoded for use as one URL path segment (no traversal, no injection)."""
    if not isinstance(value, str) or not _ID_PATTERN.match(value) or set(value) == {"."}:
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        raise RequestValidationError(
            FieldError(name, f"must be a provider id (1-256 letters, digits, '._:~-'), got {shown}")
        )
    return quote(value, safe="")


def _split(endpoint: str) -> tuple[str, str, dict[str, str]]:
    parts = urlsplit(endpoint.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError("SORA_ENDPOINT", f"must be an http(s) URL, got {shown_url(endpoint)}")
    if parts.username or parts.password:
        raise ConfigurationError("SORA_ENDPOINT", "must not carry credentials in the URL; use SORA_API_KEY")
    origin = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    return origin, parts.path.rstrip("/"), dict(parse_qsl(parts.query, keep_blank_values=True))


def _custom_path(path: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(path.strip())
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or ".." in parts.path.split("/"):
        raise ConfigurationError(
            "SORA_VIDEOS_PATH", f"must be a path starting with '/', like /openai/v1/videos, got {shown_url(path)}"
        )
    return parts.path.rstrip("/"), dict(parse_qsl(parts.query, keep_blank_values=True))
