"""The whole app over HTTP: soraflow's function_app.py on the local Functions host, with Azurite and the Sora emulator.

`soraflow_app` starts one stack per test module (the module may set `APP_ENV` to change settings, e.g. the jobs
API, and `ENABLE_AUTH = True` to have the host check keys, as `func start --enableAuth` and Azure do); tests talk to
it through `SoraflowClient`, which always sends the function key, and read the truth from Azurite and the emulator's
request log.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from azure.storage.blob import BlobServiceClient

from emulators import processes

FUNCTION_KEY = "e2e-function-key"
MASTER_KEY = "e2e-master-key"
EMULATOR_KEY = "e2e-emulator-key"
CALLBACK_SECRET = "e2e-callback-secret"
# Renders take (20 s + 5 s per video second) x scale: 0.4 s for a 4 s video.
TIME_SCALE = 0.01
FINAL = {"completed", "failed", "cancelled"}


@dataclass
class SoraflowClient:
    """The app's HTTP API with the function key, plus the emulator and Azurite behind it."""

    url: str
    sora_url: str
    connection_string: str
    host: processes.Server
    http: httpx.Client = field(
        default_factory=lambda: httpx.Client(timeout=60, headers={"x-functions-key": FUNCTION_KEY})
    )

    def post_video(self, body: dict | None = None, **kwargs) -> httpx.Response:
        if body is not None:
            kwargs["json"] = body
        return self.http.post(f"{self.url}/api/videos", **kwargs)

    def start(self, **body) -> dict:
        response = self.post_video({"prompt": "A red panda making latte art in a cafe", **body})
        assert response.status_code == 202, response.text
        return response.json()

    def get(self, run_id: str) -> httpx.Response:
        return self.http.get(f"{self.url}/api/videos/{run_id}")

    def wait(self, run_id: str, statuses=FINAL, timeout: float = 90) -> dict:
        """Poll the run resource until its status is one of `statuses`."""
        deadline = time.monotonic() + timeout
        run = None
        while time.monotonic() < deadline:
            response = self.get(run_id)
            if response.status_code == 200:
                run = response.json()
                if run["status"] in statuses:
                    return run
            time.sleep(0.1)
        raise AssertionError(f"run {run_id} never reached {statuses}; last {run}\n{self.host.log_tail(60)}")

    def run(self, **body) -> dict:
        return self.wait(self.start(**body)["id"])

    def sora_requests(self, **filters) -> list[dict]:
        response = httpx.get(f"{self.sora_url}/_emulator/requests", params=filters, timeout=30)
        response.raise_for_status()
        return response.json()["requests"]

    def sora_admin(self, method: str, path: str, body: object = None) -> httpx.Response:
        return httpx.request(method, f"{self.sora_url}/_emulator/{path}", json=body, timeout=30)

    def blobs(self, container: str = "videos"):
        return BlobServiceClient.from_connection_string(self.connection_string).get_container_client(container)

    def download_blob(self, name: str, target: Path, container: str = "videos") -> Path:
        target.write_bytes(self.blobs(container).download_blob(name).readall())
        return target


def start_stack(
    work: Path, connection_string: str, *, app_env: dict | None = None, enable_auth: bool = False
) -> tuple[processes.Server, ...]:
    sora = processes.start_sora_emulator(
        args=["--time-scale", str(TIME_SCALE), "--api-key", EMULATOR_KEY, "--media-cache", str(work / "media")],
        log_path=work / "sora.log",
    )
    test_settings = {
        "TASKHUB_NAME": "soraflowe2e",
        "CALLBACK_SECRET": CALLBACK_SECRET,
        "FUNCTIONS_DEFAULT_KEY": FUNCTION_KEY,
        "FUNCTIONS_MASTER_KEY": MASTER_KEY,
        # Renders here take under a second: look sooner than the production policy's 3 s first wait.
        "POLL_INITIAL_SECONDS": "0.5",
        "POLL_FLOOR_SECONDS": "0.25",
    }
    settings = processes.soraflow_settings(
        connection_string, sora.url, EMULATOR_KEY, **{**test_settings, **(app_env or {})}
    )
    host = processes.start_soraflow_host(work, settings, blob_poll_seconds=0.5, enable_auth=enable_auth)
    return sora, host


@pytest.fixture(scope="module")
def soraflow_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, azurite_connection_string: str
) -> Iterator[SoraflowClient]:
    """soraflow on the local host for this module (settings overridden by the module's APP_ENV, keys checked when
    it sets ENABLE_AUTH = True)."""
    work = tmp_path_factory.mktemp("e2e")
    app_env = getattr(request.module, "APP_ENV", None)
    enable_auth = getattr(request.module, "ENABLE_AUTH", False)
    sora, host = start_stack(work, azurite_connection_string, app_env=app_env, enable_auth=enable_auth)
    client = SoraflowClient(host.url, sora.url, azurite_connection_string, host)
    yield client
    client.http.close()
    host.stop()
    sora.stop()
