"""Many runs against a provider that takes two jobs at a time: every run completes, each with exactly one paid job."""

from concurrent.futures import ThreadPoolExecutor

import pytest

# One short wait, repeated: a run refused for capacity (429) keeps waiting rather than failing after the list.
APP_ENV = {"CREATE_RETRY_SECONDS": "0.5", "POLL_INITIAL_SECONDS": "0.5", "POLL_FLOOR_SECONDS": "0.25"}
RUNS = 6


@pytest.fixture(autouse=True)
def fresh_emulator(soraflow_app):
    """Each test starts with no jobs, faults or log entries at the emulator."""
    assert soraflow_app.sora_admin("POST", "reset").status_code == 200


def successful_creates(app) -> list[dict]:
    return [r for r in app.sora_requests(operation="create") if r["status"] is not None and r["status"] < 300]


def test_six_runs_at_once_all_complete_with_exactly_six_creates(soraflow_app):
    prompts = [f"a paper crane number {n} unfolding" for n in range(RUNS)]
    with ThreadPoolExecutor(RUNS) as pool:
        started = list(pool.map(lambda prompt: soraflow_app.start(prompt=prompt), prompts))
        runs = list(pool.map(lambda run: soraflow_app.wait(run["id"], timeout=120), started))

    assert [run["status"] for run in runs] == ["completed"] * RUNS, [(r["id"], r["status"], r["error"]) for r in runs]
    assert len({run["id"] for run in runs}) == RUNS
    creates = successful_creates(soraflow_app)
    assert len(creates) == RUNS
    assert sorted(r["job_id"] for r in creates) == sorted(run["provider"]["job_id"] for run in runs)
    for prompt, run in zip(prompts, runs, strict=True):
        assert run["request"]["prompt"] == prompt
        blob = soraflow_app.blobs().get_blob_client(f"runs/{run['id']}/video.mp4").get_blob_properties()
        assert blob.size > 0
    refused = [r for r in soraflow_app.sora_requests(operation="create") if r["status"] == 429]
    assert all(r["job_id"] is None for r in refused), "a refused create made no job"


def test_429s_at_create_are_waited_out_past_the_configured_waits(soraflow_app):
    # Three refusals against a single configured wait: capacity refusals repeat the wait instead of failing.
    fault = {"operation": "create", "kind": "status", "status": 429, "count": 3, "retry_after": 0}
    assert soraflow_app.sora_admin("POST", "faults", fault).status_code in (200, 201)

    run = soraflow_app.run(prompt="a queue of snails")

    assert run["status"] == "completed", run
    assert [r["status"] for r in soraflow_app.sora_requests(operation="create")] == [429, 429, 429, 200]


def test_a_run_waits_for_capacity_while_the_provider_is_full_then_completes(soraflow_app):
    # Two renders that never finish hold both of the provider's slots until their runs are cancelled.
    fault = {"operation": "create", "kind": "stall", "count": 2}
    assert soraflow_app.sora_admin("POST", "faults", fault).status_code in (200, 201)
    stuck = [soraflow_app.start(prompt=f"a stuck render {n}")["id"] for n in range(2)]
    for run_id in stuck:
        soraflow_app.wait(run_id, statuses={"generating"})

    waiting = soraflow_app.start(prompt="a patient heron")
    seen = soraflow_app.wait(waiting["id"], statuses={"waiting_for_capacity", "completed", "failed"})
    assert seen["status"] == "waiting_for_capacity", seen
    assert len(successful_creates(soraflow_app)) == 2
    for run_id in stuck:
        response = soraflow_app.http.post(f"{soraflow_app.url}/api/videos/{run_id}/cancel")
        assert response.status_code == 202, response.text

    run = soraflow_app.wait(waiting["id"], timeout=60)

    assert run["status"] == "completed", run
    assert [soraflow_app.wait(run_id)["status"] for run_id in stuck] == ["cancelled", "cancelled"]
    deleted = {r["job_id"] for r in soraflow_app.sora_requests(operation="delete") if r["status"] < 300}
    assert {c["job_id"] for c in successful_creates(soraflow_app)[:2]} <= deleted
    assert len(successful_creates(soraflow_app)) == 3
