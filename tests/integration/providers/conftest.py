"""Fixtures for the provider-client tests: clients wired to the Sora emulator, and a scriptable fake provider.

The fake provider is a tiny HTTP server on loopback for what the emulator must never do (answer malformed JSON,
redirect elsewhere, hang): the emulator covers every behaviour of the real services.
"""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import BinaryIO

import pytest
from PIL import Image

from emulators import processes
from soraflow.config import Settings
from soraflow.providers import RetryPolicy, Timeouts, build_provider
from soraflow.providers.transport import DEFAULT_CHUNK_SIZE, Download
from tests.conftest import SORA_EMULATOR_KEY

# Fast, bounded retries: the behaviour under test is whether and how often the client retries, not how long.
FAST_RETRY = RetryPolicy(attempts=3, backoff_base=0.01, backoff_cap=0.05, max_wait=3.0, budget=10.0)


def settings_for(url: str, *, api: str = "videos", key: str | None = SORA_EMULATOR_KEY, **extra: str) -> Settings:
    env = {"SORA_ENDPOINT": url, "SORA_API": api, **extra}
    if key is not None:
        env["SORA_API_KEY"] = key
    return Settings.from_env(env)


def emulator_admin(server: processes.Server, path: str, body: dict | None = None) -> dict:
    """Call the emulator's admin API (`/_emulator/...`): GET without a body, POST with one."""
    data = None if body is None else json.dumps(body).encode()
    method = "GET" if data is None else "POST"
    request = urllib.request.Request(f"{server.url}/_emulator/{path}", data=data, method=method)
    request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def logged(server: processes.Server, **filters: str) -> list[dict]:
    """The emulator's request log entries matching every filter (e.g. operation="create")."""
    entries = emulator_admin(server, "requests")["requests"]
    return [e for e in entries if all(e.get(k) == v for k, v in filters.items())]


def advance(server: processes.Server, seconds: float) -> None:
    """Jump the emulator's clock forward: renders finish (or expire) without the test waiting for them."""
    emulator_admin(server, "time/advance", {"seconds": seconds})


def add_fault(server: processes.Server, **spec) -> None:
    """Script a fault for the next matching emulator calls."""
    emulator_admin(server, "faults", spec)


def image_bytes(width: int, height: int, *, colour=(40, 120, 200), kind: str = "PNG") -> bytes:
    """An in-memory image (a reference frame) of exactly this size."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, kind)
    return buffer.getvalue()


def copy_download(download: Download, target: BinaryIO, chunk_size: int = DEFAULT_CHUNK_SIZE) -> int:
    """Stream a whole download into a binary file object, chunk by chunk; returns the bytes read."""
    for chunk in download.iter_bytes(chunk_size):
        target.write(chunk)
    return download.bytes_read


def wait_until_terminal(client, job_id: str, *, timeout: float = 30.0):
    """Poll as the orchestration will: honour the provider's hint, stop at a terminal status."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.get_job(job_id)
        if job.terminal:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job.provider_status} after {timeout}s")
        time.sleep(min(0.5, (job.poll_after_ms or 100) / 1000))


class TokenIssuer:
    """Stands in for Azure's identity service (which cannot run here): `get_token` hands out scripted tokens."""

    def __init__(self, *tokens: str, lifetime: float = 3600.0):
        self.tokens = list(tokens)
        self.lifetime = lifetime
        self.calls: list[tuple] = []

    def get_token(self, *scopes, **kwargs):
        self.calls.append(scopes)
        token = self.tokens[min(len(self.calls), len(self.tokens)) - 1]
        return SimpleNamespace(token=token, expires_on=int(time.time() + self.lifetime))


@pytest.fixture
def videos_client(sora_emulator: processes.Server):
    client = build_provider(settings_for(sora_emulator.url), retry=FAST_RETRY)
    yield client
    client.close()


@pytest.fixture
def jobs_client(sora_emulator: processes.Server):
    client = build_provider(settings_for(sora_emulator.url, api="jobs"), retry=FAST_RETRY)
    yield client
    client.close()


# ---- a scriptable fake provider for malformed and hostile answers ----------------------------------------------


@dataclass
class Scripted:
    """One canned answer: status, headers, body; `send_bytes` cuts the body short; `delay` stalls first."""

    status: int = 200
    body: bytes | str | dict | list | None = b""
    headers: dict[str, str] = field(default_factory=dict)
    send_bytes: int | None = None
    delay: float = 0.0

    def raw(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # Clients that hang up mid-answer are the point of several tests, not an error worth printing.
        pass


class FakeProvider:
    """Answers each (method, path) with its scripted responses in turn (the last one repeats); 404 otherwise."""

    def __init__(self) -> None:
        self.scripts: dict[tuple[str, str], list[Scripted]] = {}
        self.seen: list[Seen] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                fake.seen.append(Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                queue = fake.scripts.get((self.command, path))
                answer = (queue.pop(0) if len(queue) > 1 else queue[0]) if queue else Scripted(404, {"error": {}})
                if answer.delay:
                    time.sleep(answer.delay)
                raw = answer.raw()
                self.send_response(answer.status)
                headers = {"content-type": "application/json", "content-length": str(len(raw)), **answer.headers}
                for name, value in headers.items():
                    if value is not None:
                        self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw if answer.send_bytes is None else raw[: answer.send_bytes])
                self.wfile.flush()
                if answer.send_bytes is not None or headers["content-length"] is None:
                    self.close_connection = True

            do_GET = do_POST = do_DELETE = _answer

        self.server = _QuietServer(("127.0.0.1", processes.free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def script(self, method: str, path: str, *answers: Scripted) -> None:
        self.scripts[(method, path)] = list(answers)

    def requests_to(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path.split("?", 1)[0] == path]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    yield fake
    fake.stop()


@pytest.fixture
def fake_videos(fake_provider: FakeProvider):
    client = build_provider(
        settings_for(fake_provider.url, key="fake-provider-key-0123456789"),
        retry=FAST_RETRY,
        timeouts=Timeouts(connect=2.0, read=1.0, write=2.0, pool=2.0),
    )
    yield client
    client.close()
