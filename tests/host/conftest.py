"""Start the local Functions host (`python -m emulators.functions`) as a real subprocess for a test app.

Each scenario has its own small app under tests/host/apps/<name>/. The host's state and keys live in the
test's temporary folder, and the keys are fixed through the FUNCTIONS_DEFAULT_KEY / FUNCTIONS_MASTER_KEY
settings so tests can present them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from emulators import processes

APPS = Path(__file__).resolve().parent / "apps"
DEFAULT_KEY = "test-default-key"
MASTER_KEY = "test-master-key"
TERMINAL = {"Completed", "Failed", "Terminated", "Canceled"}


@dataclass
class RunningHost:
    """A host process serving one test app, with helpers to call it and to restart or kill it."""

    app_dir: Path
    work_dir: Path
    port: int
    env: dict[str, str]
    args: list[str]
    server: processes.Server | None = None
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.work_dir / "host.log"

    def start(self) -> RunningHost:
        argv = [
            sys.executable, "-m", "emulators.functions",
            "--app-dir", str(self.app_dir),
            "--port", str(self.port),
            "--state", str(self.work_dir / "durable.sqlite3"),
            "--keys-file", str(self.work_dir / "keys.json"),
            *self.args,
        ]  # fmt: skip
        self.server = processes.spawn(
            "functions-host", argv, port=self.port, log_path=self.log_path, env=self.env, timeout=60
        )
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def kill(self) -> None:
        """SIGKILL: a crash, not a shutdown."""
        if self.server is not None:
            self.server.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        return self.client.request(method, f"{self.url}{path}", **kwargs)

    def webhook(self, method: str, path: str, **kwargs) -> httpx.Response:
        """Call the Durable HTTP API under /runtime/webhooks/durabletask with the master key."""
        params = {"code": MASTER_KEY, **(kwargs.pop("params", None) or {})}
        return self.request(method, f"/runtime/webhooks/durabletask/{path}", params=params, **kwargs)

    def status(self, instance_id: str, **params) -> dict | None:
        response = self.webhook("GET", f"instances/{instance_id}", params=params)
        return None if response.status_code == 404 else response.json()

    def wait_for(self, instance_id: str, statuses=TERMINAL, timeout: float = 30.0) -> dict:
        """Poll until the instance reaches one of `statuses`; fail with the host log if it does not."""
        deadline = time.monotonic() + timeout
        status = None
        while time.monotonic() < deadline:
            status = self.status(instance_id)
            if status and status["runtimeStatus"] in statuses:
                return status
            time.sleep(0.05)
        raise AssertionError(f"{instance_id} never reached {statuses}; last {status}\n{self.log()[-4000:]}")


def wait_until(condition: Callable[[], object], timeout: float = 20.0, message: str = "condition") -> object:
    """Poll `condition` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {message}")


@pytest.fixture
def start_host(tmp_path: Path) -> Iterator[Callable[..., RunningHost]]:
    """`start_host("app_name", env={...}, args=[...])` → a RunningHost; stopped after the test."""
    started: list[RunningHost] = []

    def start(app: str | Path, *, env: dict | None = None, args: list[str] | None = None) -> RunningHost:
        app_dir = app if isinstance(app, Path) else APPS / app
        work_dir = tmp_path / f"host{len(started)}"
        work_dir.mkdir()
        host_env = {"FUNCTIONS_DEFAULT_KEY": DEFAULT_KEY, "FUNCTIONS_MASTER_KEY": MASTER_KEY, **(env or {})}
        host = RunningHost(app_dir, work_dir, processes.free_port(), host_env, list(args or []))
        started.append(host)
        return host.start()

    yield start
    for host in started:
        host.stop()
        host.client.close()


@pytest.fixture(scope="module")
def module_host(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[RunningHost]:
    """One host per test module, for the app named by the module's `APP` (and `HOST_ENV`, `HOST_ARGS`)."""
    app = request.module.APP
    work_dir = tmp_path_factory.mktemp("host")
    env = {"FUNCTIONS_DEFAULT_KEY": DEFAULT_KEY, "FUNCTIONS_MASTER_KEY": MASTER_KEY}
    env.update(getattr(request.module, "HOST_ENV", {}))
    host = RunningHost(APPS / app, work_dir, processes.free_port(), env, list(getattr(request.module, "HOST_ARGS", [])))
    host.start()
    yield host
    host.stop()
    host.client.close()
