"""The fal emulator under test: one https instance for the session, reset before each test, and its admin API."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from emulators import processes

FAL_EMULATOR_KEY = "test-fal-key"
# Renders take (20 s + 5 s x seconds) x scale: a 4 s Veo video 0.8 s. Tests that need a request to stay
# queued or running reset to scale 1 and move the clock by hand, so a loaded machine cannot race them.
SESSION_SCALE = 0.02
VEO_FAST = "fal-ai/veo3.1/fast"


@pytest.fixture(scope="session")
def fal_emulator_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[processes.Server]:
    """One fal emulator over https for the session: fast renders, a required key, a private media cache."""
    root = tmp_path_factory.mktemp("fal")
    args = ["--time-scale", str(SESSION_SCALE), "--api-key", FAL_EMULATOR_KEY, "--media-cache", str(root / "media")]
    server = processes.start_fal_emulator(args=args, log_path=root / "fal.log", tls_dir=root / "tls")
    yield server
    server.stop()


@dataclass
class Harness:
    """The emulator under test: `http` sends the key; the admin helpers call `/_emulator/`."""

    url: str
    http: httpx.Client
    ca_file: str
    tls: ssl.SSLContext
    scale: float = SESSION_SCALE

    def admin(self, method: str, path: str, body: object = None) -> httpx.Response:
        return self.http.request(method, f"/_emulator/{path}", json=body)

    def reset(self, **overrides) -> dict:
        response = self.admin("POST", "reset", overrides)
        assert response.status_code == 200, response.text
        self.scale = response.json()["time_scale"]
        return response.json()

    def add_fault(self, **spec) -> dict:
        response = self.admin("POST", "faults", spec)
        assert response.status_code == 201, response.text
        return response.json()

    def requests(self, **filters) -> list[dict]:
        response = self.http.get("/_emulator/requests", params=filters)
        assert response.status_code == 200, response.text
        return response.json()["requests"]

    def advance(self, seconds: float) -> None:
        response = self.admin("POST", "time/advance", {"seconds": seconds})
        assert response.status_code == 200, response.text

    def submit(self, endpoint: str = VEO_FAST, **body) -> dict:
        response = self.http.post(f"/{endpoint}", json={"prompt": "a paper boat on a blue table", **body})
        assert response.status_code == 200, response.text
        return response.json()

    def status(self, submitted: dict, *, logs: str = "true") -> httpx.Response:
        return self.http.get(submitted["status_url"], params={"logs": logs})

    def finish(self) -> None:
        """Jump past every render that can be running (the longest, 10 s at 1080p, takes 70 s x scale)."""
        self.advance(100 * self.scale)

    def wait_completed(self, submitted: dict, *, timeout: float = 30.0) -> dict:
        """Poll (advancing the clock) until the request is COMPLETED; its status body."""
        for _ in range(int(timeout / 0.05)):
            response = self.status(submitted)
            if response.json()["status"] == "COMPLETED":
                assert response.status_code == 200
                return response.json()
            self.finish()
        raise AssertionError(f"{submitted['request_id']} never completed")


@pytest.fixture
def fal(fal_emulator_server: processes.Server) -> Iterator[Harness]:
    """The session emulator, reset, with a client that sends `Authorization: Key ...` and trusts its certificate."""
    ca_file = fal_emulator_server.extra["ca_file"]
    tls = ssl.create_default_context(cafile=ca_file)
    headers = {"Authorization": f"Key {FAL_EMULATOR_KEY}"}
    with httpx.Client(base_url=fal_emulator_server.extra["url"], headers=headers, verify=tls, timeout=30) as http:
        harness = Harness(fal_emulator_server.extra["url"], http, ca_file, tls)
        harness.reset()
        yield harness
