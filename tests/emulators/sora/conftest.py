"""Helpers for the Sora emulator's tests: an HTTP client with the key, the admin API, and an ffmpeg probe."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from emulators import processes
from tests.conftest import SORA_EMULATOR_KEY

JOBS = "/openai/v1/video/generations"
PREVIEW = {"api-version": "preview"}
# The session emulator runs at --time-scale 0.02: a render of S seconds takes (20 + 5 S) x 0.02 s.
# Tests that need a job to stay active across several calls reset to scale 1 (renders of 40 s and
# more) and move the clock by hand, so a loaded machine cannot finish a render behind their back.
SESSION_SCALE = 0.02


@dataclass
class Harness:
    """The emulator under test: `http` sends the API key; the admin helpers call `/_emulator/`."""

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

    def create_video(self, **body) -> dict:
        response = self.http.post("/v1/videos", json={"prompt": "a paper boat on a blue table", **body})
        assert response.status_code == 200, response.text
        return response.json()

    def video(self, video_id: str) -> dict:
        response = self.http.get(f"/v1/videos/{video_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def create_job(self, **body) -> dict:
        payload = {"prompt": "a rocket landing on mars", "model": "sora", "width": 480, "height": 480, **body}
        response = self.http.post(f"{JOBS}/jobs", params=PREVIEW, json=payload)
        assert response.status_code == 201, response.text
        return response.json()

    def job(self, job_id: str) -> dict:
        response = self.http.get(f"{JOBS}/jobs/{job_id}", params=PREVIEW)
        assert response.status_code == 200, response.text
        return response.json()

    def finish_renders(self) -> None:
        """Jump past any render that can be running (the longest, of 20 s, takes 120 s x scale)."""
        self.advance(130 * self.scale)


@pytest.fixture
def sora(sora_emulator: processes.Server) -> Iterator[Harness]:
    """The session emulator, reset, with a client that sends the right key."""
    with httpx.Client(base_url=sora_emulator.url, headers={"api-key": SORA_EMULATOR_KEY}, timeout=30) as http:
        yield Harness(sora_emulator.url, http)
