"""The provider quota gate over the whole app: at most two runs in the provider, in order, no slot ever leaked.

The truth comes from the Sora emulator's request log (creates, their times, 429s) and the gate entity's own state
read through the Durable HTTP API, not from what the runs say about themselves.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from soraflow.quota import quota_key
from tests.e2e.conftest import EMULATOR_KEY, MASTER_KEY, TIME_SCALE, SoraflowClient, start_stack

LEASE_SECONDS = 3
APP_ENV = {"SORA_QUOTA_LEASE_SECONDS": str(LEASE_SECONDS)}
LIMIT = 2  # SORA_MAX_CONCURRENT_JOBS is left at its default


def render_seconds(video_seconds: int) -> float:
    """How long the emulator renders a video (its documented formula, time-scaled)."""
    return (20 + 5 * video_seconds) * TIME_SCALE


def gate_state(app) -> dict:
    """The gate entity's state, read through the Durable HTTP API (empty before its first operation)."""
    key = quota_key(app.sora_url, "videos")
    response = app.http.get(
        f"{app.url}/runtime/webhooks/durabletask/entities/provider_quota/{key}", params={"code": MASTER_KEY}
    )
    if response.status_code == 404:
        return {"holders": {}, "waiters": []}
    response.raise_for_status()
    return response.json()


def wait_until(condition, *, timeout: float = 30, message: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {message}")


@pytest.fixture
def impatient_app(tmp_path, azurite_connection_string):
    """A second stack whose runs give up after three seconds, with the default two-minute leases."""
    sora, host = start_stack(tmp_path, azurite_connection_string, app_env={"RUN_TIMEOUT_MINUTES": "0.05"})
    client = SoraflowClient(host.url, sora.url, azurite_connection_string, host)
    yield client
    client.http.close()
    host.kill()  # its state is thrown away with tmp_path: no need to wait for a graceful stop
    sora.kill()


@pytest.fixture
def patient_app(tmp_path, azurite_connection_string):
    """A second stack with the default two-minute leases, so a waiting run's fallback look is 30 s away."""
    sora, host = start_stack(tmp_path, azurite_connection_string)
    client = SoraflowClient(host.url, sora.url, azurite_connection_string, host)
    yield client
    client.http.close()
    host.kill()
    sora.kill()


def history(app, run_id: str) -> list[dict]:
    """The run's durable history (this execution), through the Durable HTTP API."""
    response = app.http.get(f"{app.url}/runtime/webhooks/durabletask/instances/{run_id}",
                            params={"code": MASTER_KEY, "showHistory": "true"})  # fmt: skip
    response.raise_for_status()
    return response.json()["historyEvents"]


@pytest.fixture(autouse=True)
def idle_gate(soraflow_app):
    """Each test starts with a fresh emulator and a gate nobody holds or waits at (leases left over expire)."""
    assert soraflow_app.sora_admin("POST", "reset").status_code == 200
    wait_until(lambda: not any(gate_state(soraflow_app)[k] for k in ("holders", "waiters")),
               timeout=LEASE_SECONDS * 4, message="an idle gate")  # fmt: skip
    yield


def provider_jobs(app) -> list[dict]:
    """Every job the provider accepted (creates and remixes), oldest first."""
    accepted = [r for r in app.sora_requests() if r["operation"] in ("create", "remix") and r["status"] == 200]
    return sorted(accepted, key=lambda r: r["time"])


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals open at one instant (an end and a start at one instant do not overlap)."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    peak = current = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


def start_stalled_holders(app, count: int) -> list[dict]:
    """Runs whose provider jobs never finish, so they hold their slots until cancelled or terminated."""
    added = app.sora_admin("POST", "faults", {"operation": "create", "kind": "stall", "count": count})
    assert added.status_code == 201, added.text
    runs = [app.start(prompt=f"a lighthouse that never finishes {i}") for i in range(count)]
    for run in runs:
        wait_until(lambda run=run: (app.get(run["id"]).json()["provider"] or {}).get("job_id"),
                   message=f"a provider job for {run['id']}")  # fmt: skip
    return runs


def queue_position(app, run_id: str) -> int | None:
    run = app.get(run_id).json()
    return run["queue_position"] if run["status"] == "waiting_for_capacity" else None


def test_runs_started_together_are_let_into_the_provider_two_at_a_time(soraflow_app):
    # The emulator would take ten jobs at once here: only the gate keeps the provider at its limit of two.
    assert soraflow_app.sora_admin("POST", "reset", {"max_concurrent_jobs": 10}).status_code == 200
    bodies = [{"prompt": f"a paper boat, take {i}"} for i in range(3)]
    bodies.append({"prompt": "a paper boat, to remix", "remix": {"prompt": "the same boat, at night"}})
    with ThreadPoolExecutor(len(bodies)) as pool:
        started = list(pool.map(lambda body: soraflow_app.start(**body), bodies))
    finished = [soraflow_app.wait(run["id"], timeout=120) for run in started]

    assert [run["status"] for run in finished] == ["completed"] * len(bodies), finished
    jobs = provider_jobs(soraflow_app)
    assert len(jobs) == len(bodies) + 1  # one job per run, plus the remix: nothing created twice
    assert [r for r in soraflow_app.sora_requests() if r["status"] == 429] == []
    intervals = [(job["time"], job["time"] + render_seconds(4)) for job in jobs]
    assert most_at_once(intervals) == LIMIT
    assert gate_state(soraflow_app)["holders"] == {}


def test_a_waiting_run_shows_its_place_in_line_and_leaves_the_line_when_cancelled(soraflow_app):
    holders = start_stalled_holders(soraflow_app, LIMIT)
    first = soraflow_app.start(prompt="first in line")
    wait_until(lambda: queue_position(soraflow_app, first["id"]) == 1, message="the first waiter at position 1")
    second = soraflow_app.start(prompt="second in line")
    wait_until(lambda: queue_position(soraflow_app, second["id"]) == 2, message="the second waiter at position 2")

    cancel = soraflow_app.http.post(f"{soraflow_app.url}/api/videos/{first['id']}/cancel")
    assert cancel.status_code == 202, cancel.text
    assert soraflow_app.wait(first["id"])["status"] == "cancelled"
    wait_until(lambda: queue_position(soraflow_app, second["id"]) == 1, message="the second waiter moving up")
    state = gate_state(soraflow_app)
    assert set(state["holders"]) == {run["id"] for run in holders}  # the cancelled waiter freed no one's slot
    assert [run_id for run_id, _ in state["waiters"]] == [second["id"]]

    soraflow_app.http.post(f"{soraflow_app.url}/api/videos/{holders[0]['id']}/cancel")
    assert soraflow_app.wait(second["id"])["status"] == "completed"
    soraflow_app.http.post(f"{soraflow_app.url}/api/videos/{holders[1]['id']}/cancel")
    assert {soraflow_app.wait(run["id"])["status"] for run in holders} == {"cancelled"}

    created = {job["job_id"] for job in provider_jobs(soraflow_app)}
    assert len(created) == LIMIT + 1  # the holders and the second waiter; the cancelled waiter created nothing
    assert [r for r in soraflow_app.sora_requests() if r["status"] == 429] == []
    wait_until(lambda: gate_state(soraflow_app)["holders"] == {}, message="every slot given back")


def test_a_terminated_runs_slot_expires_with_its_lease_and_the_next_run_gets_in(soraflow_app):
    holders = start_stalled_holders(soraflow_app, LIMIT)
    waiting = soraflow_app.start(prompt="waiting behind a run that will be terminated")
    wait_until(lambda: queue_position(soraflow_app, waiting["id"]) == 1, message="the waiter at position 1")

    dead = holders[0]
    terminated = soraflow_app.http.post(
        f"{soraflow_app.url}/runtime/webhooks/durabletask/instances/{dead['id']}/terminate",
        params={"code": MASTER_KEY, "reason": "operator"},
    )
    assert terminated.status_code == 202, terminated.text
    # Terminated runs delete nothing: here the provider's copy goes away on its own, as a finished job would.
    job_id = soraflow_app.get(dead["id"]).json()["provider"]["job_id"]
    deleted = httpx.delete(f"{soraflow_app.sora_url}/v1/videos/{job_id}", headers={"api-key": EMULATOR_KEY})
    assert deleted.status_code == 200, deleted.text

    assert soraflow_app.wait(waiting["id"], timeout=LEASE_SECONDS * 10)["status"] == "completed"
    assert dead["id"] not in gate_state(soraflow_app)["holders"]
    soraflow_app.http.post(f"{soraflow_app.url}/api/videos/{holders[1]['id']}/cancel")
    assert soraflow_app.wait(holders[1]["id"])["status"] == "cancelled"
    assert [r for r in soraflow_app.sora_requests() if r["status"] == 429] == []


def test_runs_that_fail_give_their_slots_back(soraflow_app):
    failing = [
        soraflow_app.start(prompt="refused at create [input-moderation]"),
        soraflow_app.start(prompt="refused while rendering [moderation]"),
        soraflow_app.start(prompt="fails inside the provider [internal-error]"),
    ]
    assert {soraflow_app.wait(run["id"])["status"] for run in failing} == {"failed"}
    wait_until(lambda: gate_state(soraflow_app)["holders"] == {}, message="the failed runs' slots given back")
    after = soraflow_app.run(prompt="a run after three failures")
    assert after["status"] == "completed"


def signal_gate(app, operation: str, payload: dict) -> None:
    """Send the gate entity an operation through the Durable HTTP API, as any client of the task hub could."""
    key = quota_key(app.sora_url, "videos")
    response = app.http.post(f"{app.url}/runtime/webhooks/durabletask/entities/provider_quota/{key}",
                             params={"code": MASTER_KEY, "op": operation}, json=payload)  # fmt: skip
    assert response.status_code == 202, response.text


def test_a_run_that_times_out_waiting_leaves_the_line_and_creates_nothing(impatient_app):
    # Two slots taken by runs the test plays itself, with the default two-minute leases.
    outsiders = ["run-outsider-1", "run-outsider-2"]
    limits = {"concurrent": LIMIT, "per_minute": None, "lease_seconds": 120}
    for run_id in outsiders:
        signal_gate(impatient_app, "acquire", {"run_id": run_id, "now": time.time(), "limits": limits})
    wait_until(lambda: set(gate_state(impatient_app)["holders"]) == set(outsiders), message="the outsiders' slots")

    ended = impatient_app.run(prompt="waiting until the deadline")

    assert ended["status"] == "failed", ended
    assert ended["error"]["code"] == "timeout"
    assert "no provider capacity" in ended["error"]["message"]
    wait_until(lambda: gate_state(impatient_app)["waiters"] == [], timeout=10, message="the place in line given back")
    assert set(gate_state(impatient_app)["holders"]) == set(outsiders)  # it gave back nothing it did not hold
    assert provider_jobs(impatient_app) == []


def test_runs_that_time_out_in_the_provider_give_back_their_slots(impatient_app):
    holders = start_stalled_holders(impatient_app, LIMIT)
    ended = [impatient_app.wait(run["id"]) for run in holders]

    assert [run["status"] for run in ended] == ["failed"] * LIMIT, ended
    assert {run["error"]["code"] for run in ended} == {"timeout"}
    # Leases here last two minutes: an empty gate within seconds means each run gave its slot back.
    wait_until(lambda: gate_state(impatient_app)["holders"] == {}, timeout=10, message="the slots given back")
    assert len(provider_jobs(impatient_app)) == LIMIT


def test_the_run_that_frees_a_slot_wakes_the_next_in_line_without_its_fallback_timer(patient_app):
    holders = start_stalled_holders(patient_app, LIMIT)
    waiting = patient_app.start(prompt="woken, not polling")
    wait_until(lambda: queue_position(patient_app, waiting["id"]) == 1, message="the waiter at position 1")

    assert patient_app.http.post(f"{patient_app.url}/api/videos/{holders[0]['id']}/cancel").status_code == 202
    assert patient_app.wait(waiting["id"])["status"] == "completed"

    events = history(patient_app, waiting["id"])
    woken = [i for i, e in enumerate(events) if e["EventType"] == "EventRaised" and e["Name"] == "capacity_granted"]
    timers = [i for i, e in enumerate(events) if e["EventType"] == "TimerFired"]
    assert woken, "the waiter was woken by the capacity_granted event"
    assert not timers or timers[0] > woken[0], "no fallback timer fired while it waited in line (30 s each)"
    released = history(patient_app, holders[0]["id"])
    assert [e for e in released if e.get("FunctionName") == "wake_waiting_runs" and e["EventType"] == "TaskCompleted"]
    patient_app.http.post(f"{patient_app.url}/api/videos/{holders[1]['id']}/cancel")
    assert patient_app.wait(holders[1]["id"])["status"] == "cancelled"
    assert [r for r in patient_app.sora_requests() if r["status"] == 429] == []
