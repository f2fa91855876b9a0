"""The README's first command: `./dev.sh run` (python -m emulators.stack) generates a video end to end, and
stops every process it started when it is stopped (SIGTERM, Ctrl-C) or killed."""

import contextlib
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from emulators import processes
from tests.media import probe

READY = "Press Ctrl-C to stop."
# Generous for a loaded 2-core machine: the host drains for up to 5 s, the stack SIGKILLs stragglers after 6 s.
GONE_WITHIN_SECONDS = 30


def run_stack(tmp_path, *args: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "emulators.stack", "--work", str(tmp_path), "--time-scale", "0.02",
            "--port", str(processes.free_port()), *args]  # fmt: skip
    return subprocess.run(argv, cwd=processes.REPO_ROOT, capture_output=True, text=True, timeout=240, check=False)


def test_the_run_command_lands_a_video_and_says_where(tmp_path):
    result = run_stack(tmp_path, "--remix", "now at night")

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    # At least one live stage is shown before the end (which ones depends on how fast the emulator renders).
    live = ("queued", "waiting_for_capacity", "submitting", "generating", "downloading")
    assert any(f"  {stage}" in out.split("completed", 1)[0] for stage in live), out
    assert "completed" in out
    run_id = out.split("Submitted run ", 1)[1].split(":", 1)[0]
    assert f"videos/runs/{run_id}/video.mp4" in out
    assert f"videos/runs/{run_id}/remix/video.mp4" in out
    assert f"videos/runs/{run_id}/run.json" in out
    copies = tmp_path / "out" / run_id
    media = probe(copies / "video.mp4")
    assert (media.video_codec, media.width, media.height, media.audio_codec) == ("h264", 1280, 720, "aac")
    assert (copies / "remix" / "video.mp4").stat().st_size > 0
    assert (copies / "run.json").read_text().count('"completed"') >= 1
    assert "Stopped the stack" in out


def test_the_run_command_makes_a_fal_video_on_the_fal_emulator(tmp_path):
    result = run_stack(tmp_path, "--model", "fal-ai/veo3.1/fast", "--seconds", "4", "--size", "1280x720")

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Starting the fal emulator" in out and "completed" in out
    run_id = out.split("Submitted run ", 1)[1].split(":", 1)[0]
    media = probe(tmp_path / "out" / run_id / "video.mp4")
    assert (media.width, media.height, media.audio_codec) == (1280, 720, "aac")
    assert abs(media.duration - 4) < 0.3


def test_the_run_command_makes_a_vertex_video_with_tokens_from_the_emulators_service_account(tmp_path):
    result = run_stack(tmp_path, "--model", "veo-3.1-fast-generate-001", "--seconds", "6", "--size", "720x1280")

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Starting the Vertex AI emulator" in out and "completed" in out
    run_id = out.split("Submitted run ", 1)[1].split(":", 1)[0]
    media = probe(tmp_path / "out" / run_id / "video.mp4")
    assert (media.width, media.height, media.audio_codec) == (720, 1280, "aac")
    assert abs(media.duration - 6) < 0.3
    assert "vertex.log" in out.rsplit("Stopped the stack", 1)[1]


def test_a_refused_request_is_reported_and_fails_the_command(tmp_path):
    result = run_stack(tmp_path, "--seconds", "5")  # Sora 2 takes 4, 8 or 12

    assert result.returncode == 1
    assert "the app refused the request (400)" in result.stdout
    assert "seconds" in result.stdout


@contextlib.contextmanager
def kept_running_stack(tmp_path: Path):
    """`python -m emulators.stack --keep-running` in a session of its own, once it says the stack is up: the stack,
    its output file and every process it started. Whatever is still running afterwards is killed."""
    output = tmp_path / "stack.out"
    argv = [sys.executable, "-m", "emulators.stack", "--keep-running", "--work", str(tmp_path / "work"),
            "--time-scale", "0.02", "--port", str(processes.free_port())]  # fmt: skip
    with output.open("wb") as sink:
        stack = subprocess.Popen(argv, cwd=processes.REPO_ROOT, stdout=sink, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    children: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 240
        while READY not in output.read_text(errors="replace"):
            assert stack.poll() is None, f"the stack exited with {stack.returncode}:\n{output.read_text()}"
            assert time.monotonic() < deadline, f"the stack never said it was up:\n{output.read_text()}"
            time.sleep(0.2)
        children = started_processes(stack)
        yield stack, output, children
    finally:
        stack.kill()
        stack.wait(timeout=30)
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()


def started_processes(stack: subprocess.Popen) -> list[psutil.Process]:
    """Every process the stack started, however deep (each server runs in a session of its own)."""
    children = psutil.Process(stack.pid).children(recursive=True)
    commands = " ".join(" ".join(child.cmdline()) for child in children)
    for server in ("azurite", "emulators.sora", "emulators.functions"):
        assert server in commands, f"no {server} among the stack's processes: {commands}"
    return children


def listening_ports(children: list[psutil.Process]) -> set[int]:
    ports = {
        connection.laddr.port
        for child in children
        for connection in child.net_connections(kind="inet")
        if connection.status == psutil.CONN_LISTEN
    }
    # Azurite's blob, queue and table; the Sora emulator; the host's public and internal RPC listeners.
    assert len(ports) >= 6, ports
    return ports


def alive(child: psutil.Process) -> bool:
    """Still running (a zombie that only waits to be reaped by init is gone: it holds no port, runs nothing)."""
    try:
        return child.is_running() and child.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_until_gone(children: list[psutil.Process], output: Path) -> None:
    deadline = time.monotonic() + GONE_WITHIN_SECONDS
    while any(alive(child) for child in children):
        left = [" ".join(child.cmdline()) for child in children if alive(child)]
        assert time.monotonic() < deadline, f"still running: {left}\n{output.read_text(errors='replace')}"
        time.sleep(0.1)


def free(port: int) -> bool:
    """A server could listen on 127.0.0.1:port now (SO_REUSEADDR, as servers bind: TIME_WAIT does not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe_socket:
        probe_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe_socket.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_stops_every_process_the_run_command_started_and_frees_its_ports(tmp_path, sig):
    with kept_running_stack(tmp_path) as (stack, output, children):
        ports = listening_ports(children)

        stack.send_signal(sig)

        assert stack.wait(timeout=GONE_WITHIN_SECONDS) == 130
        wait_until_gone(children, output)
        assert [port for port in ports if not free(port)] == []
        assert "Stopped the stack" in output.read_text()


def test_when_the_run_command_is_killed_the_servers_it_started_stop_too(tmp_path):
    with kept_running_stack(tmp_path) as (stack, output, children):
        ports = listening_ports(children)

        stack.kill()  # SIGKILL: no cleanup of its own runs; the kernel tells each child its parent died
        stack.wait(timeout=GONE_WITHIN_SECONDS)

        wait_until_gone(children, output)
        assert [port for port in ports if not free(port)] == []
