"""A real HTTP endpoint on loopback that receives callbacks: it answers each POST with the next scripted status."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class CallbackReceiver:
    """Keeps every (body, headers) POSTed to it; use as a context manager, or call `close()`."""

    def __init__(self, statuses: list[int] | None = None, *, path: str = "/hook?token=receiver-secret"):
        self.statuses = list(statuses or [])
        self.received: list[tuple[bytes, dict]] = []
        self.path = path
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.received.append((body, dict(self.headers)))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"

    def wait_for(self, count: int = 1, timeout: float = 20.0) -> list[tuple[bytes, dict]]:
        """What arrived once `count` deliveries did (or the timeout passed)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.received

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> CallbackReceiver:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
