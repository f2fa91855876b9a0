"""Orchestrations replayed by the local host through the SDK's handle, started with the SDK's own client."""

from __future__ import annotations

from pathlib import Path

from tests.host.conftest import DEFAULT_KEY, RunningHost, wait_until

APP = "durable_features"


def start(host: RunningHost, name: str, payload=None, instance_id: str | None = None) -> str:
    """Start `name` through the app's HTTP starter (client.start_new + create_check_status_response)."""
    path = f"/api/start/{name}" + (f"/{instance_id}" if instance_id else "")
    response = host.request("POST", path, params={"code": DEFAULT_KEY}, json=payload)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def raise_event(host: RunningHost, instance_id: str, event: str, value) -> None:
    response = host.request("POST", f"/api/raise/{instance_id}/{event}", params={"code": DEFAULT_KEY}, json=value)
    assert response.status_code == 202, response.text


def history(host: RunningHost, instance_id: str) -> list[dict]:
    status = host.status(instance_id, showHistory="true", showHistoryOutput="true")
    return status["historyEvents"]


def test_function_chaining_returns_every_result(module_host: RunningHost):
    response = module_host.request("POST", "/api/start/sequence", params={"code": DEFAULT_KEY}, json="Ada")
    payload = response.json()
    assert response.headers["location"] == payload["statusQueryGetUri"]
    assert response.headers["retry-after"] == "10"
    done = module_host.wait_for(payload["id"])
    assert done["runtimeStatus"] == "Completed"
    assert done["output"] == ["Hello Tokyo!", "Hello Ada!", "Hello 0!", "Hello 1!", "Hello 2!"]


def test_check_status_urls_from_the_sdk_work(module_host: RunningHost):
    payload = module_host.request("POST", "/api/start/sequence", params={"code": DEFAULT_KEY}, json="Bo").json()
    module_host.wait_for(payload["id"])
    status = module_host.client.get(payload["statusQueryGetUri"])
    assert status.status_code == 200
    assert status.json()["output"][1] == "Hello Bo!"
    assert "code=" in payload["statusQueryGetUri"]


def test_wait_for_completion_returns_the_output(module_host: RunningHost):
    response = module_host.request("POST", "/api/run/sequence", params={"code": DEFAULT_KEY}, json="Cy")
    assert response.status_code == 200
    assert response.json()[1] == "Hello Cy!"


def test_a_retry_exhausted_reports_the_last_error_after_max_attempts(module_host: RunningHost, tmp_path: Path):
    instance_id = start(module_host, "retry_exhausted", str(tmp_path))
    done = module_host.wait_for(instance_id)
    assert done["runtimeStatus"] == "Completed"
    assert "this activity always fails" in done["output"]["caught"]
    assert (tmp_path / "always_fails.log").read_text().count("attempt") == 3
    fired = [e for e in history(module_host, instance_id) if e["EventType"] == "TimerFired"]
    assert len(fired) == 3  # one per failure, including the SDK's extra timer after the last


def test_retries_among_sibling_tasks_keep_sequence_numbers_in_step(module_host: RunningHost, tmp_path: Path):
    instance_id = start(module_host, "retry_among_siblings", str(tmp_path))
    done = module_host.wait_for(instance_id)
    assert done["runtimeStatus"] == "Completed", done
    assert done["output"] == [
        "Hello one!",
        "a ok on attempt 3",
        "Hello two!",
        "b ok on attempt 3",
        "Hello after!",
        "child ok on attempt 2",
    ]


def test_sub_orchestrations_complete_fail_and_keep_given_ids(module_host: RunningHost):
    instance_id = start(module_host, "parent")
    done = module_host.wait_for(instance_id)
    assert done["runtimeStatus"] == "Completed", done
    assert [child[1] for child in done["output"]["children"]] == ["Hello child0!", "Hello child1!"]
    assert done["output"]["named"][1] == "Hello named!"
    assert "orchestrator broke: boom" in done["output"]["failure"]
    assert module_host.status(f"{instance_id}-named")["runtimeStatus"] == "Completed"


def test_an_orchestrator_exception_fails_the_instance_with_its_message(module_host: RunningHost):
    instance_id = start(module_host, "failing", "on purpose")
    done = module_host.wait_for(instance_id)
    assert done["runtimeStatus"] == "Failed"
    assert "orchestrator broke: on purpose" in done["output"]


def test_timer_racing_an_event_event_wins_and_cancels_the_timer(module_host: RunningHost):
    instance_id = start(module_host, "approval", 60)
    module_host.wait_for(instance_id, {"Running"})
    raise_event(module_host, instance_id, "Approval", {"user": "ada"})
    done = module_host.wait_for(instance_id)
    assert done["output"] == {"outcome": "approved", "by": {"user": "ada"}}
    assert not [e for e in history(module_host, instance_id) if e["EventType"] == "TimerFired"]


def test_timer_racing_an_event_timer_wins(module_host: RunningHost):
    instance_id = start(module_host, "approval", 1)
    done = module_host.wait_for(instance_id)
    assert done["output"] == {"outcome": "timed out"}
    response = module_host.request("POST", f"/api/raise/{instance_id}/Approval", params={"code": DEFAULT_KEY}, json=1)
    assert response.status_code == 400  # the SDK raises on the host's 410 Gone


def test_an_event_raised_before_the_wait_is_kept_for_it(module_host: RunningHost):
    instance_id = start(module_host, "early_event")
    raise_event(module_host, instance_id, "Go", "early bird")
    assert module_host.wait_for(instance_id)["output"] == "early bird"


def test_continue_as_new_restarts_with_the_new_input_and_keeps_later_events(module_host: RunningHost):
    instance_id = start(module_host, "generations")
    for value in ("first", "second", "third"):
        raise_event(module_host, instance_id, "Next", value)
    done = module_host.wait_for(instance_id)
    assert done["output"] == {"generation": 3, "events": ["first", "second", "third"]}
    events = history(module_host, instance_id)
    assert events[0]["EventType"] == "ExecutionStarted"
    assert '"generation": 3' in events[0]["Input"]  # history was reset: only the last generation remains
    assert not [e for e in events if e["EventType"] == "EventRaised"]  # the last generation waited for nothing


def test_custom_status_is_visible_while_running(module_host: RunningHost):
    instance_id = start(module_host, "custom_status")
    status = wait_until(lambda: (s := module_host.status(instance_id)) and s["customStatus"] and s, message="status")
    assert status["customStatus"] == {"stage": "waiting", "instance": instance_id}
    raise_event(module_host, instance_id, "Continue", "go")
    done = module_host.wait_for(instance_id)
    assert done["customStatus"] == {"stage": "done"}


def test_is_replaying_lets_a_side_effect_happen_once_per_step(module_host: RunningHost, tmp_path: Path):
    log_file = tmp_path / "side-effects.log"
    instance_id = start(module_host, "replay_aware", str(log_file))
    module_host.wait_for(instance_id)
    assert log_file.read_text().splitlines() == ["step 0", "step 1", "step 2"]


def test_a_non_deterministic_orchestrator_is_failed_with_a_clear_message(module_host: RunningHost, tmp_path: Path):
    instance_id = start(module_host, "nondeterministic", str(tmp_path / "flag"))
    done = module_host.wait_for(instance_id)
    assert done["runtimeStatus"] == "Failed"
    assert "Non-deterministic workflow detected" in done["output"]
    assert "'create_flag'" in done["output"] and "'say_hello'" in done["output"]


def test_long_timers_are_split_into_intervals(module_host: RunningHost):
    instance_id = start(module_host, "long_wait", 3)
    done = module_host.wait_for(instance_id)
    assert done["output"] == "woke up"
    fired = [e for e in history(module_host, instance_id) if e["EventType"] == "TimerFired"]
    assert len(fired) >= 2  # maximumShortTimerDuration 2 s, interval 1 s in this app's host.json


def test_durable_http_calls_reach_the_target(module_host: RunningHost):
    instance_id = start(module_host, "durable_http", f"{module_host.url}/api/ping")
    done = module_host.wait_for(instance_id)
    assert done["runtimeStatus"] == "Completed", done
    assert done["output"]["statusCode"] == 200
    assert '"pong": "hello over http"' in done["output"]["content"]


def test_activities_run_in_a_pool_sized_by_host_json(module_host: RunningHost):
    instance_id = start(module_host, "crowded")
    assert module_host.wait_for(instance_id)["output"] == 4  # maxConcurrentActivityFunctions in host.json


def test_calling_an_unknown_activity_fails_that_task_with_a_clear_message(module_host: RunningHost):
    instance_id = start(module_host, "calls_missing")
    output = module_host.wait_for(instance_id)["output"]
    assert "The function 'no_such_activity' doesn't exist" in output
