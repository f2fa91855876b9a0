"""Authentication: the key as an `api-key` header or a bearer token; 401 otherwise; any key without --api-key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from emulators import processes
from tests.conftest import SORA_EMULATOR_KEY
from tests.emulators.sora.conftest import JOBS, PREVIEW, Harness
from tests.emulators.sora.test_videos_api import error_of

CALLS = [("GET", "/v1/videos"), ("GET", "/openai/v1/videos"), ("GET", f"{JOBS}/jobs?api-version=preview")]


@pytest.mark.parametrize(("method", "path"), CALLS)
def test_no_key_is_401_missing_api_key(sora_emulator: processes.Server, method: str, path: str):
    response = httpx.request(method, sora_emulator.url + path)
    assert error_of(response, 401)["code"] == "missing_api_key"


@pytest.mark.parametrize(
    "headers",
    [
        {"api-key": "wrong-key"},
        {"Authorization": "Bearer wrong-key"},
        {"Authorization": f"Basic {SORA_EMULATOR_KEY}"},
        {"api-key": ""},
        {"Authorization": "Bearer"},
    ],
)
@pytest.mark.parametrize(("method", "path"), CALLS)
def test_a_wrong_key_is_401(sora_emulator: processes.Server, headers: dict, method: str, path: str):
    response = httpx.request(method, sora_emulator.url + path, headers=headers)
    error = error_of(response, 401)
    assert error["code"] in ("invalid_api_key", "missing_api_key")
    assert "wrong-key" not in error["message"], "the offered key is masked"


@pytest.mark.parametrize(
    "headers",
    [
        {"api-key": SORA_EMULATOR_KEY},
        {"Authorization": f"Bearer {SORA_EMULATOR_KEY}"},
        {"authorization": f"bearer {SORA_EMULATOR_KEY}"},
        {"api-key": "wrong", "Authorization": f"Bearer {SORA_EMULATOR_KEY}"},
    ],
)
def test_the_key_is_accepted_as_api_key_or_bearer(sora_emulator: processes.Server, headers: dict):
    for _, path in CALLS:
        assert httpx.get(sora_emulator.url + path, headers=headers).status_code == 200


def test_a_401_creates_nothing(sora: Harness, sora_emulator: processes.Server):
    response = httpx.post(f"{sora_emulator.url}/v1/videos", json={"prompt": "x"}, headers={"api-key": "nope"})
    assert response.status_code == 401
    assert sora.http.get("/v1/videos").json()["data"] == []
    assert [e["status"] for e in sora.requests(operation="create")] == [401]


@pytest.fixture(scope="module")
def open_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[processes.Server]:
    """An emulator started without --api-key (and a limit of one job)."""
    root = tmp_path_factory.mktemp("sora-open")
    server = processes.start_sora_emulator(
        args=["--time-scale", "0.02", "--max-concurrent-jobs", "1", "--media-cache", str(root / "media")],
        log_path=root / "sora.log",
    )
    yield server
    server.stop()


@pytest.mark.parametrize("headers", [{}, {"api-key": "anything"}, {"Authorization": "Bearer whatever"}])
def test_without_api_key_option_any_or_no_key_is_accepted(open_emulator: processes.Server, headers: dict):
    httpx.post(f"{open_emulator.url}/_emulator/reset", json={"time_scale": 1.0})
    response = httpx.post(f"{open_emulator.url}/v1/videos", json={"prompt": "x"}, headers=headers)
    assert response.status_code == 200, response.text
    body = {"prompt": "x", "model": "sora", "width": 480, "height": 480}
    limited = httpx.post(f"{open_emulator.url}{JOBS}/jobs", params=PREVIEW, json=body, headers=headers)
    assert error_of(limited, 429)["code"] == "rate_limit_exceeded", "--max-concurrent-jobs 1"
    status = httpx.get(f"{open_emulator.url}/_emulator/status").json()
    assert (status["api_key_required"], status["max_concurrent_jobs"]) == (False, 1)


@pytest.mark.parametrize(
    "args", [["--time-scale", "0"], ["--max-concurrent-jobs", "0"], ["--port", "http"], ["--unknown"]]
)
def test_bad_command_lines_exit_with_an_error(args: list[str]):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "emulators.sora", *args],
        capture_output=True,
        text=True,
        cwd=Path(processes.REPO_ROOT),
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "error" in result.stderr
