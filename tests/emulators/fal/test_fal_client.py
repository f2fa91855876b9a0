"""The official fal-client 1.0.3, its queue host pointed at the emulator: submit, status with logs, result, cancel."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from emulators import processes
from tests.emulators.fal.conftest import FAL_EMULATOR_KEY, Harness


def run_sdk(fal_emulator_server: processes.Server, scenario: str) -> dict:
    """One scenario of tests/emulators/fal/sdk_scenarios.py in a child (fal-client reads its host at import)."""
    env = {
        **os.environ,
        "FAL_QUEUE_RUN_HOST": fal_emulator_server.extra["queue_host"],
        "FAL_KEY": FAL_EMULATOR_KEY,
        "SSL_CERT_FILE": fal_emulator_server.extra["ca_file"],
    }
    argv = [sys.executable, "-m", "tests.emulators.fal.sdk_scenarios", scenario]
    done = subprocess.run(argv, env=env, cwd=processes.REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_fal_client_submits_polls_with_logs_and_gets_the_result(fal: Harness, fal_emulator_server):
    seen = run_sdk(fal_emulator_server, "submit_and_result")
    types = [s["type"] for s in seen["statuses"]]
    assert types[0] == "Queued" and types[-1] == "Completed"
    assert "InProgress" in types
    assert seen["statuses"][-1]["logs"] >= 5, "with_logs=True brought the runner's logs"
    assert seen["result"]["video"]["content_type"] == "video/mp4"
    [submit] = fal.requests(operation="submit")
    assert submit["job_id"] == seen["request_id"], "exactly one submit"
    assert {e["query"] for e in fal.requests(operation="status")} == {"logs=true", "logs=false"}


def test_fal_client_cancels_a_queued_request(fal: Harness, fal_emulator_server):
    fal.reset(time_scale=1.0, max_concurrent_jobs=1)
    fal.submit(duration="4s")  # holds the only runner
    seen = run_sdk(fal_emulator_server, "cancel_queued")
    assert seen["before"] == {"type": "Queued", "position": 0}
    assert seen["after"]["type"] == "Completed"
    assert seen["result_error"] == {"status_code": 499, "error_type": "client_cancelled"}
    assert seen["second_cancel"] == 400
    assert [e["status"] for e in fal.requests(operation="cancel")] == [202, 400]


def test_fal_client_raises_the_model_s_422_detail_for_invalid_input(fal: Harness, fal_emulator_server):
    seen = run_sdk(fal_emulator_server, "invalid_input")
    assert seen["status_code"] == 422
    assert seen["message"][0]["loc"] == ["body", "duration"]
