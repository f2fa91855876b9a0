"""The Vertex emulator for these tests (one per session, fast renders) and a harness for its API and admin API."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from emulators import processes

TOKEN = "test-vertex-token"
PROJECT = "soraflow-test"
LOCATION = "us-central1"
FAST = "veo-3.1-fast-generate-001"
STANDARD = "veo-3.1-generate-001"
# Renders of S seconds take (15 + 5 S) x scale (fast) or (30 + 10 S) x scale: at 0.02 a 4 s fast render is 0.7 s.
# Tests that need an operation to stay running reset to scale 1 and move the clock by hand instead.
SESSION_SCALE = 0.02
LONGEST_RENDER = 30 + 10 * 8


def model_path(action: str, *, model: str = FAST, project: str = PROJECT, version: str = "v1") -> str:
    """The URL path of a model action (`predictLongRunning`, `fetchPredictOperation`)."""
    return f"/{version}/projects/{project}/locations/{LOCATION}/publishers/google/models/{model}:{action}"


def error_of(response: httpx.Response, code: int) -> dict:
    """The Google error body of a failed call, after checking its HTTP and canonical status agree."""
    assert response.status_code == code, response.text
    error = response.json()["error"]
    assert error["code"] == code
    return error


def field_of(error: dict) -> str:
    """The field a 400's google.rpc.BadRequest names."""
    [detail] = [d for d in error["details"] if d["@type"] == "type.googleapis.com/google.rpc.BadRequest"]
    [violation] = detail["fieldViolations"]
    return violation["field"]


@dataclass
class Harness:
    """The emulator under test: `http` sends the Bearer token; the admin helpers call `/_emulator/`."""

    url: str
    http: httpx.Client
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

    def predict(
        self, prompt: str = "a paper boat on a blue table", *, model: str = FAST, **parameters
    ) -> httpx.Response:
        body = {"instances": [{"prompt": prompt}], "parameters": {"durationSeconds": 4, **parameters}}
        return self.http.post(model_path("predictLongRunning", model=model), json=body)

    def create(self, prompt: str = "a paper boat on a blue table", *, model: str = FAST, **parameters) -> str:
        """Start an operation (4 s unless `durationSeconds` says otherwise); its full name."""
        response = self.predict(prompt, model=model, **parameters)
        assert response.status_code == 200, response.text
        return response.json()["name"]

    def fetch_response(self, name: str) -> httpx.Response:
        model = name.split("/models/")[1].split("/")[0]
        return self.http.post(model_path("fetchPredictOperation", model=model), json={"operationName": name})

    def fetch(self, name: str) -> dict:
        response = self.fetch_response(name)
        assert response.status_code == 200, response.text
        return response.json()

    def finish_renders(self) -> None:
        """Jump past any render that can be running."""
        self.advance((LONGEST_RENDER + 10) * self.scale)

    def finished(self, name: str) -> dict:
        self.finish_renders()
        operation = self.fetch(name)
        assert operation["done"] is True, operation
        return operation


def inline_video(operation: dict, index: int = 0) -> bytes:
    """The bytes of an inline video of a done operation."""
    return base64.b64decode(operation["response"]["videos"][index]["bytesBase64Encoded"])


def save(tmp_path: Path, name: str, body: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(body)
    return path


@pytest.fixture(scope="session")
def vertex_emulator_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[processes.Server]:
    """One Vertex emulator for the session: scale 0.02, TOKEN and PROJECT required, the default media cache.

    The media cache is the emulator's default one, shared by runs, so repeated runs render nothing new.
    """
    root = tmp_path_factory.mktemp("vertex")
    server = processes.start_vertex_emulator(
        args=["--time-scale", str(SESSION_SCALE), "--api-key", TOKEN, "--project", PROJECT],
        log_path=root / "vertex.log",
    )
    yield server
    server.stop()


@pytest.fixture
def vertex(vertex_emulator_server: processes.Server) -> Iterator[Harness]:
    """The session emulator, reset, with a client that sends the right token."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=vertex_emulator_server.url, headers=headers, timeout=30) as http:
        harness = Harness(vertex_emulator_server.url, http)
        harness.reset()
        yield harness
