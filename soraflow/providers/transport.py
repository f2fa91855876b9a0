"""The HTTP layer both provider clients share: auth, timeouts, bounded reads, retries of safe calls, typed errors."""

from __future__ import annotations

import contextlib
import http.client
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urljoin, urlsplit

from soraflow.providers.auth import Auth
from soraflow.providers.endpoint import Endpoint
from soraflow.providers.errors import (
    ProviderDownloadIncomplete,
    ProviderError,
    ProviderInvalidResponse,
    ProviderUnavailable,
    error_from_response,
    redact,
    retry_advice,
)
from soraflow.providers.job import invalid_response
from soraflow.providers.retry import NO_RETRY, RetryPolicy, parse_retry_after

# requests (with urllib3) is imported where a request is made: importing the app never needs it.
if TYPE_CHECKING:
    import requests
    import urllib3.exceptions

USER_AGENT = "soraflow/0.1 (+https://github.com/; python-requests/{requests_version})"

# A job or list answer is a few KB; anything past this is not a provider answer we should hold in memory.
MAX_JSON_BYTES = 16 * 1024 * 1024
MAX_ERROR_BYTES = 64 * 1024
# Sora outputs are tens of MB; the cap only stops a runaway stream from filling the blob store.
MAX_DOWNLOAD_BYTES = 8 * 1024**3
MAX_REDIRECTS = 5
DEFAULT_CHUNK_SIZE = 1024 * 1024
# One socket read: the unit in which bytes are counted against a limit, so memory stays at one chunk plus this.
READ_SIZE = 64 * 1024
# Activities run a handful at a time per worker; beyond this many idle connections, extra ones are closed after use.
POOL_SIZE = 32

T = TypeVar("T")


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait to connect (urllib3 also bounds each send of a request body by it), and between bytes read."""

    connect: float = 10.0
    read: float = 60.0


@dataclass(frozen=True)
class Reply:
    """A successful JSON answer: the parsed body (None when empty) and the response headers."""

    status: int
    body: Any
    headers: Mapping[str, str]


class Download:
    """A provider download being streamed: its content type, its announced length, and its bytes in chunks."""

    def __init__(self, response: requests.Response, *, api: str, operation: str, max_bytes: int, secrets: tuple):
        self._response = response
        self._api = api
        self._operation = operation
        self._max_bytes = max_bytes
        self._secrets = secrets
        self._started = False
        self.content_type: str | None = response.headers.get("content-type")
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        # With a content-encoding the announced length is of the encoded bytes; we count decoded ones.
        self._decoded = encoding not in ("", "identity")
        self.length: int | None = None if self._decoded else _content_length(response.headers)
        self.bytes_read = 0
        # urllib3 2.x raises when the connection ends short of Content-Length; say so rather than rely on a default.
        response.raw.enforce_content_length = True

    def iter_bytes(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        """The body in chunks of at most `chunk_size`; raises if it ends short of the announced length."""
        import urllib3.exceptions

        if self._started:
            raise RuntimeError("a Download can be read only once")
        self._started = True
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        # Network reads are counted as they arrive (so an error reports what really came), then regrouped into
        # chunks of chunk_size: memory stays at one chunk plus one read.
        pending = bytearray()
        try:
            for piece in self._response.raw.stream(READ_SIZE, decode_content=self._decoded):
                self.bytes_read += len(piece)
                if self.bytes_read > self._max_bytes:
                    raise self._incomplete(f"it ran past the {self._max_bytes}-byte limit", retryable=False)
                pending += piece
                while len(pending) >= chunk_size:
                    chunk = bytes(pending[:chunk_size])
                    del pending[:chunk_size]
                    yield chunk
        except urllib3.exceptions.HTTPError as exc:
            if _ended_short(exc):
                raise self._incomplete("the connection closed early") from None
            raise ProviderUnavailable(
                self._message(f"the stream broke after {self.bytes_read} bytes ({_describe(exc)})", True),
                operation=self._operation,
                outcome_unknown=False,
            ) from None
        if pending:
            yield bytes(pending)

    def _incomplete(self, problem: str, *, retryable: bool = True) -> ProviderDownloadIncomplete:
        return ProviderDownloadIncomplete(
            self._message(problem, retryable), operation=self._operation, retryable=retryable
        )

    def _message(self, problem: str, retryable: bool) -> str:
        expected = f" of {self.length}" if self.length is not None else ""
        text = (
            f"Sora {self._api} API {self._operation} download is incomplete: {problem} "
            f"({self.bytes_read}{expected} bytes received). {retry_advice(retryable)}"
        )
        return redact(text, self._secrets)


class Transport:
    """One configured connection to a provider API: base URL, auth, timeouts and retry policy, reused for every call."""

    def __init__(
        self,
        endpoint: Endpoint,
        auth: Auth | None,
        *,
        api: str,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        session: requests.Session | None = None,
    ):
        self.endpoint = endpoint
        self.api = api
        self._auth = auth
        self._origin = _origin(endpoint.base_url)
        self._retry = retry or RetryPolicy()
        timeouts = timeouts or Timeouts()
        self._timeout = (timeouts.connect, timeouts.read)
        self._session = session or _provider_session()

    def close(self) -> None:
        self._session.close()

    def call_json(
        self,
        method: str,
        *segments: str,
        operation: str,
        idempotent: bool,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> Reply:
        """Send one JSON call; safe (idempotent) calls are retried on 429/5xx/connection errors, others never."""

        def attempt() -> Reply:
            response = self._open(
                method,
                self.endpoint.url(*segments),
                operation=operation,
                idempotent=idempotent,
                params=params,
                json_body=json_body,
                data=data,
                files=files,
                accept="application/json",
            )
            try:
                raw = self._read_limited(response, MAX_JSON_BYTES, operation=operation, idempotent=idempotent)
            finally:
                response.close()
            if raw is None:
                raise invalid_response(self.api, operation, f"the body is larger than {MAX_JSON_BYTES} bytes")
            return Reply(response.status_code, self._parse_json(raw, operation), response.headers)

        return self._with_retries(attempt, operation=operation, idempotent=idempotent)

    @contextlib.contextmanager
    def open_stream(
        self,
        *segments: str,
        operation: str,
        params: Mapping[str, Any] | None = None,
        max_bytes: int = MAX_DOWNLOAD_BYTES,
    ) -> Iterator[Download]:
        """Open a download (retrying until its headers arrive) and yield it; the body is streamed, never buffered."""

        def attempt() -> requests.Response:
            return self._open(
                "GET",
                self.endpoint.url(*segments),
                operation=operation,
                idempotent=True,
                params=params,
                accept="*/*",
            )

        response = self._with_retries(attempt, operation=operation, idempotent=True)
        try:
            yield Download(response, api=self.api, operation=operation, max_bytes=max_bytes, secrets=self._secrets())
        finally:
            response.close()

    # ---- internals ---------------------------------------------------------------------------------------

    def _with_retries(self, attempt: Callable[[], T], *, operation: str, idempotent: bool) -> T:
        policy = self._retry if idempotent else NO_RETRY
        tries = 0
        waited = 0.0
        refreshed_auth = False
        while True:
            tries += 1
            try:
                return attempt()
            except ProviderError as error:
                # A 401 means the request was refused before any work: one retry with a fresh token is safe even
                # for create (tokens can be revoked or rotated before their announced expiry).
                if error.http_status == 401 and not refreshed_auth and self._auth and self._auth.invalidate():
                    refreshed_auth = True
                    tries -= 1
                    continue
                if not error.retryable or tries >= policy.attempts:
                    raise _note_attempts(error, tries) from None
                delay = policy.delay(tries, error.retry_after)
                if delay > policy.max_wait or waited + delay > policy.budget:
                    raise _note_attempts(error, tries) from None
                policy.sleep(delay)
                waited += delay

    def _open(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        idempotent: bool,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        accept: str,
    ) -> requests.Response:
        """Send a request and return the streaming 2xx response; anything else becomes a typed ProviderError."""
        import requests

        query = {**self.endpoint.params, **{k: v for k, v in (params or {}).items() if v is not None}}
        target = url
        # Redirects are followed here rather than by requests: its own following strips only `Authorization` on a
        # change of host (never `api-key`) and reads each intermediate body whole.
        for _hop in range(MAX_REDIRECTS + 1):
            same_origin = _origin(target) == self._origin
            headers = {"Accept": accept, "Accept-Encoding": "identity"}
            if self._auth is not None and same_origin:
                # Credentials only ever go to the configured provider, never to a host it redirects us to.
                headers.update(self._auth.headers())
            try:
                response = self._session.request(
                    method,
                    target,
                    params=query if same_origin else None,
                    json=json_body,
                    data=data,
                    files=files,
                    headers=headers,
                    timeout=self._timeout,
                    stream=True,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                raise self._unreachable(exc, operation=operation, idempotent=idempotent) from None
            location = self._session.get_redirect_target(response) if method == "GET" else None
            if location:
                response.close()
                target = urljoin(response.url, location)
                scheme = urlsplit(target).scheme.lower()
                if scheme not in ("http", "https"):
                    raise invalid_response(self.api, operation, f"redirect to a non-HTTP location {scheme!r}")
                query = {}
                continue
            if 200 <= response.status_code < 300:
                return response
            raise self._error(response, operation=operation, idempotent=idempotent)
        raise invalid_response(self.api, operation, f"more than {MAX_REDIRECTS} redirects")

    def _error(self, response: requests.Response, *, operation: str, idempotent: bool) -> ProviderError:
        try:
            body = self._read_limited(response, MAX_ERROR_BYTES, operation=operation, idempotent=idempotent) or b""
        except ProviderError:
            body = b""
        finally:
            response.close()
        headers = response.headers
        return error_from_response(
            response.status_code,
            body,
            api=self.api,
            operation=operation,
            retry_after=parse_retry_after(headers),
            request_id=headers.get("x-request-id") or headers.get("apim-request-id"),
            idempotent=idempotent,
            secrets=self._secrets(),
        )

    def _read_limited(
        self, response: requests.Response, limit: int, *, operation: str, idempotent: bool
    ) -> bytes | None:
        """The whole (small) body, or None when it is longer than `limit`; never reads past the limit."""
        import urllib3.exceptions

        parts: list[bytes] = []
        size = 0
        try:
            for chunk in response.raw.stream(READ_SIZE, decode_content=True):
                size += len(chunk)
                if size > limit:
                    return None
                parts.append(chunk)
        except urllib3.exceptions.HTTPError as exc:
            raise self._unreachable(exc, operation=operation, idempotent=idempotent) from None
        return b"".join(parts)

    def _parse_json(self, raw: bytes, operation: str) -> Any:
        if not raw.strip():
            return None
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            snippet = redact(raw[:120].decode("utf-8", errors="replace"), self._secrets())
            raise invalid_response(self.api, operation, f"the body is not JSON (starts {snippet!r})") from None

    def _unreachable(self, exc: Exception, *, operation: str, idempotent: bool) -> ProviderError:
        # Connect failures mean nothing was sent; after that, a create may have reached the provider.
        outcome_unknown = not idempotent and not _never_sent(exc)
        # requests raises its could-not-build-this-request errors (InvalidURL, InvalidSchema, InvalidHeader) as
        # ValueErrors: nothing went out, and sending it again cannot help.
        if isinstance(exc, ValueError):
            return ProviderInvalidResponse(
                f"Sora {self.api} API {operation} could not be sent ({type(exc).__name__}): {exc}. "
                + retry_advice(False),
                operation=operation,
            )
        message = f"Sora {self.api} API {operation} could not reach the provider ({_describe(exc)})."
        if outcome_unknown:
            message += " The provider may still have started the job: look it up before creating another."
        message += " " + retry_advice(True)
        message = redact(message, self._secrets())
        return ProviderUnavailable(message, operation=operation, outcome_unknown=outcome_unknown)

    def _secrets(self) -> tuple[str, ...]:
        return self._auth.secrets() if self._auth is not None else ()


def _provider_session() -> requests.Session:
    """A session with one pool per provider host and no retries of its own: `Transport` decides what is retried."""
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    adapter = HTTPAdapter(pool_maxsize=POOL_SIZE, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = USER_AGENT.format(requests_version=requests.__version__)
    return session


def _origin(url: str) -> str:
    """scheme://host:port, with the scheme's default port made explicit so that `:443` and no port compare equal."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    port = port or {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


def _never_sent(exc: Exception) -> bool:
    """True when the request failed before it could reach the provider (refused, unresolvable, connect timeout)."""
    import requests
    import urllib3.exceptions

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError)


def _ended_short(exc: urllib3.exceptions.HTTPError) -> bool:
    """True when urllib3 reports a body that ended before its Content-Length (it wraps the IncompleteRead)."""
    import urllib3.exceptions

    return isinstance(exc, urllib3.exceptions.ProtocolError) and any(
        isinstance(arg, http.client.IncompleteRead) for arg in exc.args
    )


def _describe(exc: Exception) -> str:
    """The exception's class and what caused it, without urllib3's "Max retries exceeded" wrapper (we retry)."""
    cause = exc.args[0] if exc.args else exc
    return f"{type(exc).__name__}: {getattr(cause, 'reason', None) or cause}"


def _content_length(headers: Mapping[str, str]) -> int | None:
    raw = headers.get("content-length")
    if raw is None or not raw.strip().isdigit():
        return None
    return int(raw)


def _note_attempts(error: ProviderError, tries: int) -> ProviderError:
    if tries > 1:
        error.message = f"{error.message} (gave up after {tries} attempts)"
        error.args = (error.message,)
    return error
