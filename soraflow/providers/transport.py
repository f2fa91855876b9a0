"""The HTTP layer both provider clients share: auth, timeouts, bounded reads, retries of safe calls, typed errors."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

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

USER_AGENT = "soraflow/0.1 (+https://github.com/; python-httpx)"

# A job or list answer is a few KB; anything past this is not a provider answer we should hold in memory.
MAX_JSON_BYTES = 16 * 1024 * 1024
MAX_ERROR_BYTES = 64 * 1024
# Sora outputs are tens of MB; the cap only stops a runaway stream from filling the blob store.
MAX_DOWNLOAD_BYTES = 8 * 1024**3
MAX_REDIRECTS = 5
DEFAULT_CHUNK_SIZE = 1024 * 1024

T = TypeVar("T")


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait to connect, and between bytes when reading or writing."""

    connect: float = 10.0
    read: float = 60.0
    write: float = 60.0
    pool: float = 10.0

    def to_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


@dataclass(frozen=True)
class Reply:
    """A successful JSON answer: the parsed body (None when empty) and the response headers."""

    status: int
    body: Any
    headers: Mapping[str, str]


class Download:
    """A provider download being streamed: its content type, its announced length, and its bytes in chunks."""

    def __init__(self, response: httpx.Response, *, api: str, operation: str, max_bytes: int, secrets: tuple):
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

    def iter_bytes(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        """The body in chunks of at most `chunk_size`; raises if it ends short of the announced length."""
        if self._started:
            raise RuntimeError("a Download can be read only once")
        self._started = True
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        # Network reads are counted as they arrive (so an error reports what really came), then regrouped into
        # chunks of chunk_size: memory stays at one chunk plus one read.
        source = self._response.iter_bytes() if self._decoded else self._response.iter_raw()
        pending = bytearray()
        try:
            for piece in source:
                self.bytes_read += len(piece)
                if self.bytes_read > self._max_bytes:
                    raise self._incomplete(f"it ran past the {self._max_bytes}-byte limit", retryable=False)
                pending += piece
                while len(pending) >= chunk_size:
                    chunk = bytes(pending[:chunk_size])
                    del pending[:chunk_size]
                    yield chunk
        except httpx.RemoteProtocolError as exc:
            # h11 raises this when the connection closes before Content-Length bytes arrived.
            raise self._incomplete(f"the connection closed early ({exc})") from None
        except httpx.TransportError as exc:
            raise ProviderUnavailable(
                self._message(f"the stream broke after {self.bytes_read} bytes ({type(exc).__name__})", True),
                operation=self._operation,
                outcome_unknown=False,
            ) from None
        if self.length is not None and self.bytes_read != self.length:
            raise self._incomplete(f"{self.bytes_read} bytes arrived of the {self.length} announced")
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
        client: httpx.Client | None = None,
    ):
        self.endpoint = endpoint
        self.api = api
        self._auth = auth
        self._origin = _origin(httpx.URL(endpoint.base_url))
        self._retry = retry or RetryPolicy()
        timeouts = timeouts or Timeouts()
        self._client = client or httpx.Client(
            timeout=timeouts.to_httpx(),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=8),
        )

    def close(self) -> None:
        self._client.close()

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

        def attempt() -> httpx.Response:
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
    ) -> httpx.Response:
        """Send a request and return the streaming 2xx response; anything else becomes a typed ProviderError."""
        query = {**self.endpoint.params, **{k: v for k, v in (params or {}).items() if v is not None}}
        target = httpx.URL(url)
        for _hop in range(MAX_REDIRECTS + 1):
            same_origin = _origin(target) == self._origin
            headers = {"Accept": accept, "Accept-Encoding": "identity"}
            if self._auth is not None and same_origin:
                # Credentials only ever go to the configured provider, never to a host it redirects us to.
                headers.update(self._auth.headers())
            try:
                request = self._client.build_request(
                    method,
                    target,
                    params=query if same_origin else None,
                    json=json_body,
                    data=data,
                    files=files,
                    headers=headers,
                )
                response = self._client.send(request, stream=True)
            except httpx.TransportError as exc:
                raise self._unreachable(exc, operation=operation, idempotent=idempotent) from None
            location = response.headers.get("location")
            if method == "GET" and response.status_code in (301, 302, 303, 307, 308) and location:
                response.close()
                target = response.url.join(location)
                if target.scheme not in ("http", "https"):
                    raise invalid_response(self.api, operation, f"redirect to a non-HTTP location {target.scheme!r}")
                query = {}
                continue
            if 200 <= response.status_code < 300:
                return response
            raise self._error(response, operation=operation, idempotent=idempotent)
        raise invalid_response(self.api, operation, f"more than {MAX_REDIRECTS} redirects")

    def _error(self, response: httpx.Response, *, operation: str, idempotent: bool) -> ProviderError:
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

    def _read_limited(self, response: httpx.Response, limit: int, *, operation: str, idempotent: bool) -> bytes | None:
        """The whole (small) body, or None when it is longer than `limit`; never reads past the limit."""
        parts: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    return None
                parts.append(chunk)
        except httpx.TransportError as exc:
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

    def _unreachable(self, exc: httpx.TransportError, *, operation: str, idempotent: bool) -> ProviderError:
        # Connect failures mean nothing was sent; after that, a create may have reached the provider.
        not_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        outcome_unknown = not idempotent and not not_sent
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
            return ProviderInvalidResponse(
                f"Sora {self.api} API {operation} could not be sent ({type(exc).__name__}): {exc}. "
                + retry_advice(False),
                operation=operation,
            )
        message = f"Sora {self.api} API {operation} could not reach the provider ({type(exc).__name__}: {exc})."
        if outcome_unknown:
            message += " The provider may still have started the job: look it up before creating another."
        message += " " + retry_advice(True)
        message = redact(message, self._secrets())
        return ProviderUnavailable(message, operation=operation, outcome_unknown=outcome_unknown)

    def _secrets(self) -> tuple[str, ...]:
        return self._auth.secrets() if self._auth is not None else ()


def _origin(url: httpx.URL) -> str:
    port = f":{url.port}" if url.port is not None else ""
    return f"{url.scheme}://{url.host}{port}".lower()


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
