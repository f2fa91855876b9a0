"""A scripted HTTP server on loopback standing in for the app: the client's tests run over real HTTP with it.

Each test queues the answers the "app" gives (`api.answer(method, path, status, body, headers)`, used in order, the
last one repeated) and reads back every request the client sent (`api.requests`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class ScriptedApi:
    url: str
    answers: dict[tuple[str, str], list[tuple[int, object, dict]]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)

    def answer(self, method: str, path: str, status: int = 200, body: object = None, headers: dict | None = None):
        self.answers.setdefault((method, path), []).append((status, body, headers or {}))

    def seen(self, method: str, path: str) -> list[Seen]:
        return [r for r in self.requests if r.method == method and r.path == path]


def handler_for(api: ScriptedApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def handle_one(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            api.requests.append(Seen(self.command, parts.path, parse_qs(parts.query), headers, body))
            queue = api.answers.get((self.command, parts.path))
            if not queue:
                status, payload, extra = 404, {"detail": f"nothing scripted for {parts.path}", "code": "x"}, {}
            else:
                status, payload, extra = queue.pop(0) if len(queue) > 1 else queue[0]
            data = payload if isinstance(payload, bytes) else b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            if not isinstance(payload, bytes) and payload is not None:
                media = "application/problem+json" if status >= 400 else "application/json"
                self.send_header("Content-Type", media)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = handle_one

    return Handler


@pytest.fixture
def api() -> Iterator[ScriptedApi]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), None)
    scripted = ScriptedApi(f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = handler_for(scripted)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield scripted
    server.shutdown()
    server.server_close()


def run(status: str, progress: int = 0, run_id: str = "run-abc", **extra) -> dict:
    """A run resource as the app answers it."""
    return {"id": run_id, "status": status, "progress": progress, "queue_position": None, "request": {},
            "provider": None, "outputs": [], "error": None, "cost": {"estimated_usd": 0.4}, **extra}  # fmt: skip
