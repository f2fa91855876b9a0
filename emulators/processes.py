"""Start and stop the local servers (Azurite, the Sora emulator, the Functions host) on loopback.

Shared by the test fixtures, the benchmarks and the README's run command, so every one of them starts
the same servers the same way: free ports on 127.0.0.1, a readiness probe, and a clean stop, also when
whoever started them is killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Azurite's well-known development account (public, documented by Microsoft; not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, *, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    """Block until something accepts TCP connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with code {process.returncode} before listening on port {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout:.0f}s")


@dataclass
class Server:
    """A child process serving on loopback, stopped by `stop()` (or on leaving a `with` block)."""

    name: str
    process: subprocess.Popen
    port: int
    log_path: Path | None = None
    extra: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, *, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL the whole process group: a crash, not a shutdown."""
        self.stop(sig=signal.SIGKILL)

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's prctl, loaded in the parent: a preexec_fn must not load libraries between fork and exec."""
    if not sys.platform.startswith("linux"):
        return None
    return ctypes.CDLL(None, use_errno=True).prctl


def _stop_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that has the kernel send the child SIGTERM when its parent dies, even by SIGKILL (Linux).

    The child is in a session of its own (so that a terminal's Ctrl-C reaches only the launcher, which then stops
    its children in order), so nothing else would stop it when the launcher dies. PR_SET_PDEATHSIG fires when
    the *thread* that forked exits, not the process: spawn from a thread that lives as long as the servers (the
    launchers and the test fixtures spawn from the main thread). SIGTERM, not SIGKILL, so each server still
    stops cleanly: the Functions host drains its work into SQLite, Azurite saves its data.
    """
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def stop_with_parent() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died between fork and prctl: nobody is left to signal us
            os._exit(1)

    return stop_with_parent


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    port: int,
    log_path: Path | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60.0,
) -> Server:
    """Start `argv` in its own process group, stopped when this process dies, and wait until it listens on `port`."""
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    process = subprocess.Popen(
        list(argv),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        cwd=str(cwd or REPO_ROOT),
        start_new_session=True,
        preexec_fn=_stop_with_parent(),  # threads are safe here: it only calls prctl and getppid
    )
    server = Server(name=name, process=process, port=port, log_path=log_path)
    try:
        wait_for_port(port, timeout=timeout, process=process)
    except BaseException as exc:  # a Ctrl-C while waiting must not leave the child behind either
        server.stop()
        if not isinstance(exc, Exception):
            raise
        raise RuntimeError(f"{name} did not start: {exc}\n{server.log_tail()}") from exc
    return server


def azurite_executable() -> str:
    local = REPO_ROOT / "node_modules" / ".bin" / "azurite"
    if local.exists():
        return str(local)
    found = shutil.which("azurite")
    if found:
        return found
    raise FileNotFoundError("Azurite is not installed: run `npm ci` in the repository root")


def start_azurite(data_dir: Path, *, log_path: Path | None = None) -> Server:
    """Start Azurite (blob, queue, table) on free loopback ports with its data under `data_dir`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    blob, queue, table = free_port(), free_port(), free_port()
    argv = [
        azurite_executable(),
        "--silent",
        "--skipApiVersionCheck",
        "--loose",
        # Telemetry sends from Azurite's SIGTERM handler: without a network that held every stop for 6-15 s.
        "--disableTelemetry",
        "--location", str(data_dir),
        "--blobHost", "127.0.0.1", "--blobPort", str(blob),
        "--queueHost", "127.0.0.1", "--queuePort", str(queue),
        "--tableHost", "127.0.0.1", "--tablePort", str(table),
    ]  # fmt: skip
    server = spawn("azurite", argv, port=blob, log_path=log_path)
    for port in (queue, table):
        wait_for_port(port, process=server.process)
    server.extra.update(blob_port=blob, queue_port=queue, table_port=table)
    server.extra["connection_string"] = azurite_connection_string(blob, queue, table)
    return server


def azurite_connection_string(blob_port: int, queue_port: int, table_port: int) -> str:
    return (
        "DefaultEndpointsProtocol=http;"
        f"AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{blob_port}/{AZURITE_ACCOUNT};"
        f"QueueEndpoint=http://127.0.0.1:{queue_port}/{AZURITE_ACCOUNT};"
        f"TableEndpoint=http://127.0.0.1:{table_port}/{AZURITE_ACCOUNT};"
    )


def start_sora_emulator(
    *, port: int | None = None, args: Sequence[str] = (), log_path: Path | None = None, env: dict | None = None
) -> Server:
    """Start `python -m emulators.sora` on loopback."""
    port = port or free_port()
    argv = [sys.executable, "-m", "emulators.sora", "--host", "127.0.0.1", "--port", str(port), *args]
    return spawn("sora-emulator", argv, port=port, log_path=log_path, env=env)


def soraflow_settings(connection_string: str, sora_url: str, sora_key: str, **overrides: str) -> dict[str, str]:
    """The app settings that point soraflow at this Azurite and this Sora emulator (overrides win)."""
    return {
        "AzureWebJobsStorage": connection_string,
        "VIDEO_STORAGE": connection_string,
        "SORA_ENDPOINT": sora_url,
        "SORA_API_KEY": sora_key,
        "SORA_API": "videos",
        "SORA_MODEL": "sora-2",
        "TASKHUB_NAME": "soraflow",
        "VIDEO_OUTPUT_CONTAINER": "videos",
        "VIDEO_REQUEST_CONTAINER": "video-requests",
        **overrides,
    }


def start_soraflow_host(
    work: Path,
    settings: dict[str, str],
    *,
    port: int | None = None,
    blob_poll_seconds: float = 1.0,
    enable_auth: bool = False,
) -> Server:
    """soraflow's function_app.py on the local Functions host, its state, keys and log under `work`.

    Keys are checked only with `enable_auth`, as `func start` checks them only with `--enableAuth`.
    """
    port = port or free_port()
    argv = [
        sys.executable, "-m", "emulators.functions",
        "--app-dir", str(REPO_ROOT),
        "--port", str(port),
        "--state", str(work / "durable.sqlite3"),
        "--keys-file", str(work / "keys.json"),
        "--blob-poll-seconds", str(blob_poll_seconds),
        *(["--enable-auth"] if enable_auth else []),
    ]  # fmt: skip
    return spawn("functions-host", argv, port=port, log_path=work / "host.log", env=settings, timeout=60)


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    try:
        yield server
    finally:
        server.stop()
