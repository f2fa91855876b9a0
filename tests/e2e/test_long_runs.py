"""A long render keeps the run's history bounded: after RUN_POLLS_PER_EXECUTION polls the run continues as new."""

import json
import time

import httpx

from tests.e2e.conftest import MASTER_KEY
from tests.media import probe

APP_ENV = {"RUN_POLLS_PER_EXECUTION": "2"}


def durable_status(app, run_id: str) -> dict:
    """The host's durable status of the run's instance, with the current execution's history."""
    response = httpx.get(
        f"{app.url}/runtime/webhooks/durabletask/instances/{run_id}",
        params={"showHistory": "true", "code": MASTER_KEY},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()


def history(app, run_id: str) -> list[dict]:
    return durable_status(app, run_id)["historyEvents"]


def polls_in_history(app, run_id: str) -> int:
    return sum(1 for e in history(app, run_id) if e["EventType"] == "TaskScheduled" and e.get("Name") ==
               "get_provider_job")  # fmt: skip


def provider_polls(app, job_id: str) -> int:
    return len([r for r in app.sora_requests(operation="retrieve", job_id=job_id) if r["status"] == 200])


def test_a_long_render_continues_as_new_and_completes_with_one_job(soraflow_app, tmp_path):
    soraflow_app.sora_admin("POST", "reset", {"time_scale": 0.1})  # a 12 s video now renders for 8 s
    try:
        run = soraflow_app.run(prompt="a glacier calving into the sea", seconds=12)
        assert run["status"] == "completed", run
        job_id = run["provider"]["job_id"]
        polls = provider_polls(soraflow_app, job_id)
        assert polls > 2, "the render was too short to need a second execution"
        assert polls_in_history(soraflow_app, run["id"]) < polls  # older executions' polls left the history
        creates = [r for r in soraflow_app.sora_requests(operation="create") if r["status"] and r["status"] < 300]
        assert len(creates) == 1
    finally:
        soraflow_app.sora_admin("POST", "reset", {})
    video = next(o for o in run["outputs"] if o["kind"] == "video")
    assert abs(probe(soraflow_app.download_blob(video["blob"], tmp_path / "v.mp4")).duration - 12) < 0.2


def test_history_holds_only_the_latest_polls_and_cancel_reaches_a_continued_run(soraflow_app):
    soraflow_app.sora_admin("POST", "faults", {"kind": "stall", "operation": "create", "count": 1})
    run = soraflow_app.start(prompt="an hourglass that never empties")
    job_id = soraflow_app.wait(run["id"], statuses={"generating"})["provider"]["job_id"]
    deadline = time.monotonic() + 60
    while provider_polls(soraflow_app, job_id) < 5 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert provider_polls(soraflow_app, job_id) >= 5
    assert polls_in_history(soraflow_app, run["id"]) <= 2  # earlier executions' polls are gone from history

    response = soraflow_app.http.post(f"{soraflow_app.url}/api/videos/{run['id']}/cancel")
    assert response.status_code == 202
    cancelled = soraflow_app.wait(run["id"])
    assert cancelled["status"] == "cancelled"
    creates = [r for r in soraflow_app.sora_requests(operation="create") if r["status"] and r["status"] < 300]
    assert [r["job_id"] for r in creates].count(job_id) == 1
    assert job_id in {r["job_id"] for r in soraflow_app.sora_requests(operation="delete") if r["status"] < 300}


def watch_capacity_executions(app, run_id: str, count: int, timeout: float = 60) -> dict[str, int]:
    """Watch the run's durable status until `count` executions that a continue-as-new started at the capacity step
    have been seen; each one's start time mapped to the most quota checks (entity calls) its history ever held.

    The run's input starts at step `reference`; only `continue_as_new` from the wait for capacity hands a new
    execution the input with `state.step == "capacity"`.
    """
    deadline = time.monotonic() + timeout
    checks_held: dict[str, int] = {}
    while len(checks_held) < count:
        assert time.monotonic() < deadline, f"saw {len(checks_held)} continued executions of {run_id}, not {count}"
        status = durable_status(app, run_id)
        events = status["historyEvents"]
        started = [e["Timestamp"] for e in events if e["EventType"] == "ExecutionStarted"]
        run_input = status["input"]
        if isinstance(run_input, str):  # the Python SDK hands the host its input as JSON text in a JSON string
            run_input = json.loads(run_input)
        if run_input["state"]["step"] == "capacity" and started:  # between executions the history is empty
            checks = sum(1 for e in events if e["EventType"] == "EventSent")
            checks_held[started[0]] = max(checks, checks_held.get(started[0], 0))
        time.sleep(0.1)
    return checks_held


def test_a_long_wait_in_line_continues_as_new_and_keeps_its_place(soraflow_app):
    soraflow_app.sora_admin("POST", "reset", {})  # this test counts every create the emulator sees
    soraflow_app.sora_admin("POST", "faults", {"kind": "stall", "operation": "create", "count": 2})
    blockers = [soraflow_app.start(prompt=f"a stalled render {n}")["id"] for n in range(2)]
    for run_id in blockers:
        soraflow_app.wait(run_id, statuses={"generating"})
    waiting = soraflow_app.start(prompt="a patient run")["id"]
    assert soraflow_app.wait(waiting, statuses={"waiting_for_capacity"})["queue_position"] == 1
    # A second continued execution means the original and the first continued one made RUN_POLLS_PER_EXECUTION (2)
    # checks each, while no execution's history ever held more than its own 2. A run in line asks the gate again
    # only on its fallback timer (a third of the 120 s lease: 30 s) when no wake-up comes, so this takes ~90 s.
    checks_held = watch_capacity_executions(soraflow_app, waiting, count=2, timeout=180)
    assert 1 <= max(checks_held.values()) <= 2, checks_held
    still = soraflow_app.get(waiting).json()
    assert (still["status"], still["queue_position"]) == ("waiting_for_capacity", 1)

    for run_id in blockers:
        assert soraflow_app.http.post(f"{soraflow_app.url}/api/videos/{run_id}/cancel").status_code == 202
    done = soraflow_app.wait(waiting)
    assert done["status"] == "completed", done
    creates = [r for r in soraflow_app.sora_requests(operation="create") if r["status"] and r["status"] < 300]
    assert len({r["job_id"] for r in creates}) == 3
