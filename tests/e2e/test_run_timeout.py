"""A run whose provider job never finishes ends at its deadline: failed with `timeout`, the provider job deleted."""

import json

import httpx
import pytest

from tests.e2e.conftest import EMULATOR_KEY

# Three seconds: long enough to create and poll a job, short enough to wait out in a test.
APP_ENV = {"RUN_TIMEOUT_MINUTES": "0.05", "POLL_INITIAL_SECONDS": "0.5", "POLL_FLOOR_SECONDS": "0.25"}


@pytest.fixture(autouse=True)
def fresh_emulator(soraflow_app):
    """Each test starts with no jobs, faults or log entries at the emulator."""
    assert soraflow_app.sora_admin("POST", "reset").status_code == 200


def test_a_stalled_job_times_out_and_is_deleted_at_the_provider(soraflow_app):
    stall = {"operation": "create", "kind": "stall"}
    assert soraflow_app.sora_admin("POST", "faults", stall).status_code in (200, 201)

    run = soraflow_app.run(prompt="a clock with no hands")

    assert run["status"] == "failed", run
    assert run["error"]["code"] == "timeout"
    assert "0.05 minutes" in run["error"]["message"]
    assert run["outputs"] == []
    job_id = run["provider"]["job_id"]
    assert run["provider"]["progress"] <= 50
    deletes = soraflow_app.sora_requests(operation="delete", job_id=job_id)
    assert [r["status"] for r in deletes] == [200]
    gone = httpx.get(f"{soraflow_app.sora_url}/v1/videos/{job_id}", headers={"api-key": EMULATOR_KEY})
    assert gone.status_code == 404
    assert soraflow_app.sora_requests(operation="content") == []
    manifest = json.loads(soraflow_app.blobs().download_blob(f"runs/{run['id']}/run.json").readall())
    assert (manifest["status"], manifest["error"]["code"]) == ("failed", "timeout")


def test_a_job_that_finishes_before_the_deadline_is_not_cut_short(soraflow_app):
    run = soraflow_app.run(prompt="a quick sketch of a bird")

    assert run["status"] == "completed", run
    assert soraflow_app.sora_requests(operation="delete") == []
