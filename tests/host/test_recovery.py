"""Killing the host (SIGKILL) mid-activity or mid-timer loses nothing: a restart finishes every instance; SIGTERM and
SIGINT stop it cleanly within seconds."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.host.conftest import wait_until


def start(host, name: str, payload) -> str:
    return host.webhook("POST", f"orchestrators/{name}", json=payload).json()["id"]


def test_kill_during_an_activity_runs_it_again_and_completes(start_host, tmp_path: Path):
    host = start_host("recovery")
    instance_id = start(host, "interrupted_activity", str(tmp_path))
    wait_until(lambda: (tmp_path / "run-1").exists(), message="the activity to start")
    host.kill()
    (tmp_path / "release").write_text("go")
    host.start()
    done = host.wait_for(instance_id)
    assert done["output"] == ["held step finished on run 2", "quick step saw: held step finished on run 2"]
    assert "Resuming 1 orchestration instance(s)" not in host.log()  # only the activity row was pending
    assert sorted(p.name for p in tmp_path.glob("run-*")) == ["run-1", "run-2"]  # at-least-once, as in Azure


def test_kill_during_a_timer_fires_it_after_restart(start_host):
    host = start_host("recovery")
    instance_id = start(host, "interrupted_timer", 1.5)
    host.wait_for(instance_id, {"Running"})  # the episode that scheduled the timer is committed
    host.kill()
    time.sleep(2)  # the timer falls due while the host is down
    host.start()
    assert host.wait_for(instance_id)["output"] == "quick step saw: after the timer"


def test_kill_before_a_timer_is_due_still_fires_it_on_time(start_host):
    host = start_host("recovery")
    # Due long after the restart, even on a loaded machine (a 2 s timer once fell due while the host restarted).
    instance_id = start(host, "interrupted_timer", 8)
    host.wait_for(instance_id, {"Running"})
    host.kill()
    host.start()
    assert host.status(instance_id)["runtimeStatus"] == "Running"
    assert host.wait_for(instance_id)["output"] == "quick step saw: after the timer"


def test_sigterm_lets_a_running_activity_finish_and_records_it(start_host, tmp_path: Path):
    host = start_host("recovery")
    instance_id = start(host, "interrupted_activity", str(tmp_path))
    wait_until(lambda: (tmp_path / "run-1").exists(), message="the activity to start")
    releaser = threading.Timer(0.3, lambda: (tmp_path / "release").write_text("go"))
    releaser.start()
    host.stop()  # SIGTERM: stop accepting work, let the running activity finish within the grace period
    releaser.join()
    log = host.log()
    assert "Shutdown requested" in log and "Host stopped" in log
    assert "Executed 'Functions.held_step' (Succeeded" in log
    host.start()
    done = host.wait_for(instance_id)
    assert done["output"][0] == "held step finished on run 1"
    assert sorted(p.name for p in tmp_path.glob("run-*")) == ["run-1"]  # finished before exit: not run again


def test_sigint_shuts_down_cleanly(start_host):
    host = start_host("recovery")
    host.server.stop(sig=signal.SIGINT)
    assert host.server.process.returncode == 0
    assert "Host stopped" in host.log()


def test_sigterm_does_not_wait_for_a_long_request_in_flight(start_host):
    host = start_host("durable_features")
    held = socket.create_connection(("127.0.0.1", host.port))  # waits up to 20 s for an instance that never ends
    held.sendall(b"POST /api/run/waits_forever HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
    wait_until(lambda: "Executing 'Functions.run_and_wait'" in host.log(), message="the long request to start")

    host.server.process.send_signal(signal.SIGTERM)

    try:
        host.server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("the host was still running 10 s after SIGTERM, behind one request")
    assert "Host stopped" in host.log()
    held.close()
