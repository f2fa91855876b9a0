"""`python -m emulators.sora` stops on SIGTERM and SIGINT within seconds, even with a request held open by a fault."""

from __future__ import annotations

import signal
import socket
import subprocess
import time

import httpx
import pytest

from emulators import processes

# aiohttp would wait 60 s for the held request; the emulator gives in-flight requests 2 s.
GONE_WITHIN_SECONDS = 20


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def hold_a_request_open(url: str) -> socket.socket:
    """Script a 600 s delay on listing, send one list call and leave it waiting; return once the emulator has it."""
    fault = httpx.post(f"{url}/_emulator/faults", json={"operation": "list", "kind": "slow", "seconds": 600})
    assert fault.status_code in (200, 201), fault.text
    held = socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])))
    held.sendall(b"GET /v1/videos HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    deadline = time.monotonic() + 10
    while not httpx.get(f"{url}/_emulator/requests", params={"operation": "list"}).json()["requests"]:
        assert time.monotonic() < deadline, "the held request never reached the emulator"
        time.sleep(0.05)
    return held


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_ends_the_emulator_within_seconds_despite_a_request_in_flight(tmp_path, sig):
    server = processes.start_sora_emulator(args=["--media-cache", str(tmp_path / "media")])
    try:
        held = hold_a_request_open(server.url)

        server.process.send_signal(sig)

        try:
            server.process.wait(timeout=GONE_WITHIN_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the emulator was still running {GONE_WITHIN_SECONDS} s after {sig.name}")
        assert server.process.returncode is not None
        assert port_is_free(server.port)
        held.close()
    finally:
        server.kill()
