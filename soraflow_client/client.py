"""`Client`: soraflow's HTTP API as Python calls — create, read, list, wait, download, cancel, delete, remix, models.

Every error answer of the API (problem+json) is raised as one `ApiError`; an app that cannot be reached as
`AppUnreachable`. Creates carry an Idempotency-Key, so the client's own retries never start (or pay for) a run twice.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, TypedDict
from urllib.parse import urlsplit

import requests

DEFAULT_URL = "http://127.0.0.1:7071"
FINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
# A create is retried this often after a lost connection or a 502/503/504, always with the same Idempotency-Key.
CREATE_ATTEMPTS = 3
# wait(): without a Retry-After, look again after 0.5 s, then 1.5x longer each time nothing changed, at most 5 s.
POLL_FIRST_SECONDS = 0.5
POLL_GROWTH = 1.5
POLL_MAX_SECONDS = 5.0
# A Retry-After is honoured up to this long; a larger one (or a malformed one) is capped, never slept for hours.
RETRY_AFTER_MAX_SECONDS = 60.0
# wait() rides out this many 429/502/503/504 answers in a row (the app restarting, storage busy) before raising.
TRANSIENT_ANSWERS_TOLERATED = 5
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
DOWNLOAD_CHUNK_BYTES = 1024 * 1024


class Run(TypedDict, total=False):
    """The run resource (GET /api/videos/{id}); every key is present, null when it does not apply."""

    id: str
    status: str
    progress: int
    queue_position: int | None
    request: dict[str, Any]
    provider: dict[str, Any] | None
    outputs: list[dict[str, Any]]
    error: dict[str, Any] | None
    remix_error: dict[str, Any] | None
    delete_error: dict[str, Any] | None
    cost: dict[str, Any] | None
    created_at: str
    updated_at: str | None
    completed_at: str | None
    note: str


@dataclass(frozen=True)
class FieldError:
    """One entry of a problem's `errors`: the request field that is wrong, and what is wrong with it."""

    field: str
    message: str


@dataclass
class ApiError(Exception):
    """The app answered with an error: its HTTP `status`, the problem's `code` and `detail`, and the field errors."""

    status: int
    code: str
    detail: str
    errors: list[FieldError] = field(default_factory=list)
    retry_after: float | None = None

    def __str__(self) -> str:
        return f"{self.detail} (HTTP {self.status}, {self.code})"

    @classmethod
    def from_response(cls, response: requests.Response) -> ApiError:
        """The problem+json body as an error; any other body (the host's bare 401, a proxy's 502) in words."""
        body: Any = None
        with contextlib.suppress(ValueError):
            body = response.json()
        retry_after = retry_after_seconds(response)
        if isinstance(body, dict) and "detail" in body:
            errors = [
                FieldError(str(item.get("field", "")), str(item.get("message", "")))
                for item in body.get("errors") or []
                if isinstance(item, dict)
            ]
            code = str(body.get("code") or body.get("type") or "error").rsplit("/", 1)[-1]
            return cls(response.status_code, code, str(body["detail"]), errors, retry_after)
        if response.status_code == 401:
            detail = "the app refused the key: pass the function key (--key or SORAFLOW_KEY; Client(key=...))"
            return cls(401, "unauthorized", detail, [FieldError("key", "missing or wrong")], retry_after)
        text = response.text.strip()[:300]
        reason = response.reason or "error"
        detail = f"HTTP {response.status_code} {reason}" + (f": {text}" if text else "")
        return cls(response.status_code, "http_error", detail, [], retry_after)


class AppUnreachable(Exception):
    """No answer from the app at all: nothing listens at the URL, the name does not resolve, or it timed out."""

    def __init__(self, url: str, cause: Exception):
        super().__init__(f"cannot reach soraflow at {url}: {unreachable_reason(cause)}")
        self.url = url


def unreachable_reason(cause: Exception) -> str:
    """Why a request got no answer, in words (urllib3's own message nests three exceptions deep)."""
    if isinstance(cause, requests.Timeout):
        return "no answer in time"
    text = str(cause)
    for known in ("Connection refused", "Name or service not known", "nodename nor servname", "Connection reset"):
        if known in text:
            return known.lower()
    return text[:300]


def retry_after_seconds(response: requests.Response) -> float | None:
    """The response's Retry-After in seconds (the delay form), capped; None when absent or not a number."""
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        return None  # the HTTP-date form: the API only sends seconds
    return min(max(seconds, 0.0), RETRY_AFTER_MAX_SECONDS)


def app_root(url: str) -> str:
    """The app's root URL from what a person types: with or without a trailing `/` or `/api`."""
    url = url.strip().rstrip("/")
    if url.endswith("/api"):
        url = url[: -len("/api")]
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"the soraflow URL must start with http:// or https://; got {url!r}")
    return url


class Client:
    """soraflow's HTTP API at `base_url` (the app's root, e.g. http://127.0.0.1:7071), with function key `key`."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        key: str | None = None,
        *,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = app_root(base_url)
        self.api = f"{self.base_url}/api"
        self.timeout = timeout
        self._sleep = sleep  # wait() and create() retries sleep through this (tests record the delays)
        self._http = requests.Session()
        if key:
            self._http.headers["x-functions-key"] = key

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- runs ---

    def create(
        self,
        prompt: str,
        *,
        model: str | None = None,
        size: str | None = None,
        seconds: str | int | None = None,
        variants: int | None = None,
        image: str | Path | bytes | None = None,
        remix: str | None = None,
        metadata: Mapping[str, str] | None = None,
        callback_url: str | None = None,
        input_reference: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Run:
        """Start a run (202); `image` is a reference file (path or bytes) sent as multipart `input_reference`."""
        fields: dict[str, Any] = {"prompt": prompt}
        optional = {"model": model, "size": size, "seconds": None if seconds is None else str(seconds),
                    "variants": variants, "callback_url": callback_url, "metadata": dict(metadata or {}) or None,
                    "remix": {"prompt": remix} if remix else None,
                    "input_reference": dict(input_reference) if input_reference else None}  # fmt: skip
        fields.update({name: value for name, value in optional.items() if value is not None})
        key = idempotency_key or f"soraflow-client-{uuid.uuid4()}"
        if image is None:
            send = {"json": fields}
        else:
            data = image if isinstance(image, bytes) else Path(image).read_bytes()
            name = "reference" if isinstance(image, bytes) else Path(image).name
            form = {k: json.dumps(v) if isinstance(v, dict) else str(v) for k, v in fields.items()}
            send = {"data": form, "files": {"input_reference": (name, data)}}
        return self._post_start(f"{self.api}/videos", key, send)

    def remix(
        self,
        run_id: str,
        prompt: str,
        *,
        metadata: Mapping[str, str] | None = None,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> Run:
        """Start a new run remixing completed run `run_id` with `prompt`."""
        body: dict[str, Any] = {"prompt": prompt}
        if metadata:
            body["metadata"] = dict(metadata)
        if callback_url:
            body["callback_url"] = callback_url
        key = idempotency_key or f"soraflow-client-{uuid.uuid4()}"
        return self._post_start(f"{self.api}/videos/{run_path(run_id)}/remix", key, {"json": body})

    def get(self, run_id: str) -> Run:
        """The run resource."""
        return self._request("GET", f"/videos/{run_path(run_id)}").json()

    def list(self, *, status: str | None = None, limit: int | None = None, page_size: int = 20) -> Iterator[Run]:
        """Runs newest first, `status` only if given, at most `limit` of them, fetched `page_size` at a time."""
        params: dict[str, Any] = {"limit": min(page_size, limit) if limit else page_size}
        if status:
            params["status"] = status
        yielded = 0
        while True:
            page = self._request("GET", "/videos", params=params).json()
            for run in page.get("data") or []:
                if limit is not None and yielded >= limit:
                    return
                yield run
                yielded += 1
            if not page.get("has_more") or not page.get("continuation") or (limit is not None and yielded >= limit):
                return
            params["continuation"] = page["continuation"]

    def wait(
        self,
        run_id: str,
        *,
        on_progress: Callable[[Run], None] | None = None,
        timeout: float | None = None,
    ) -> Run:
        """Poll the run until it is completed, failed or cancelled and return it; `on_progress(run)` on each change.

        Honours the API's Retry-After; without one, backs off from 0.5 s to 5 s while nothing changes. Raises
        TimeoutError after `timeout` seconds (the run goes on).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        delay, shown, transient = POLL_FIRST_SECONDS, None, 0
        while True:
            try:
                response = self._request("GET", f"/videos/{run_path(run_id)}")
            except ApiError as error:
                transient += 1
                if error.status not in TRANSIENT_STATUSES or transient > TRANSIENT_ANSWERS_TOLERATED:
                    raise
                self._sleep(error.retry_after if error.retry_after is not None else delay)
                continue
            transient = 0
            run = response.json()
            seen = progress_signature(run)
            if seen != shown:
                shown, delay = seen, POLL_FIRST_SECONDS
                if on_progress is not None:
                    on_progress(run)
            else:
                delay = min(delay * POLL_GROWTH, POLL_MAX_SECONDS)
            if run.get("status") in FINAL_STATUSES:
                return run
            pause = retry_after_seconds(response)
            pause = delay if pause is None else pause
            if deadline is not None and time.monotonic() + pause > deadline:
                raise TimeoutError(f"run {run_id} is still {run.get('status')} after {timeout:g} s")
            self._sleep(pause)

    def cancel(self, run_id: str) -> Run:
        """Ask a live run to stop (202); it ends `cancelled` and its provider job is deleted."""
        return self._request("POST", f"/videos/{run_path(run_id)}/cancel").json()

    def delete(self, run_id: str) -> None:
        """Delete a finished run's outputs and history."""
        self._request("DELETE", f"/videos/{run_path(run_id)}")

    def download(
        self,
        run_id: str,
        *,
        variant: str = "video",
        index: int = 0,
        source: str = "generation",
        to: str | Path = ".",
    ) -> Path:
        """Stream one output to `to` (a file, or a folder to put `<run>-<name>` in) and return the file's path."""
        params = {"variant": variant, "index": index, "source": source}
        redirect = self._request("GET", f"/videos/{run_path(run_id)}/content", params=params, allow_redirects=False)
        location = redirect.headers.get("Location")
        if redirect.status_code not in (301, 302, 303, 307, 308) or not location:
            raise ApiError(redirect.status_code, "unexpected_answer", "the content route answered without a redirect")
        target = Path(to)
        if target.is_dir() or str(to).endswith(("/", "\\")):
            name = PurePosixPath(urlsplit(location).path).name or f"{variant}.bin"
            target = target / (f"{run_id}-{'remix-' if source == 'remix' else ''}{name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        # A plain request: the short-lived URL is the credential, and the function key must not go to storage.
        try:
            with requests.get(location, stream=True, timeout=self.timeout) as response:
                if response.status_code >= 400:
                    raise ApiError.from_response(response)
                with partial.open("wb") as sink:
                    for chunk in response.iter_content(DOWNLOAD_CHUNK_BYTES):
                        sink.write(chunk)
        except requests.RequestException as error:
            partial.unlink(missing_ok=True)
            raise AppUnreachable(urlsplit(location)._replace(query="").geturl(), error) from error
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(target)
        return target

    # --- models ---

    def models(self) -> dict[str, Any]:
        """GET /api/models: `default_model`, `providers` and `data`, one entry per model with what it supports."""
        return self._request("GET", "/models").json()

    # --- transport ---

    def _post_start(self, url: str, key: str, send: dict) -> Run:
        """POST a start with its Idempotency-Key, retried on a lost connection or a 502/503/504 with the same key."""
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                return self._request("POST", url, headers={"Idempotency-Key": key}, **send).json()
            except AppUnreachable:
                if attempt == CREATE_ATTEMPTS:
                    raise
                self._sleep(float(attempt))
            except ApiError as error:
                if error.status not in (502, 503, 504) or attempt == CREATE_ATTEMPTS:
                    raise
                self._sleep(error.retry_after if error.retry_after is not None else float(attempt))
        raise AssertionError("unreachable")  # the loop returns or raises

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = path if path.startswith("http") else self.api + path
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = self._http.request(method, url, **kwargs)
        except requests.RequestException as error:
            raise AppUnreachable(self.base_url, error) from error
        if response.status_code >= 400:
            raise ApiError.from_response(response)
        return response


def run_path(run_id: str) -> str:
    """A run id as one path segment: an id with a slash (or empty) would address another route."""
    if not run_id or "/" in run_id or "?" in run_id or "#" in run_id:
        raise ValueError(f"not a run id: {run_id!r}")
    return run_id


def progress_signature(run: Mapping[str, Any]) -> tuple:
    """What a progress display shows of a run: a change in any of these is a change worth reporting."""
    provider = run.get("provider") or {}
    return (run.get("status"), run.get("progress"), provider.get("status"), provider.get("progress"),
            run.get("queue_position"))  # fmt: skip
