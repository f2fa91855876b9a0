"""Faults survived: the provider refusing, losing answers, cutting downloads and stalling, each run ending right.

Every scenario lives in benchmarks/reliability_scenarios.py (the reliability report replays the same ones); these
tests hold each outcome, read from the Sora emulator's request log and Azurite's blobs, to what must come of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from benchmarks import reliability_scenarios as scenarios
from benchmarks.reliability_scenarios import Outcome, Scenario, Stack

pytestmark = pytest.mark.slow

BY_NAME = {scenario.name: scenario for scenario in scenarios.FAULTS}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, azurite_connection_string: str) -> Iterator[Stack]:
    stack = Stack.start(tmp_path_factory.mktemp("faults"), connection_string=azurite_connection_string)
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def short_timeout_stack(tmp_path_factory: pytest.TempPathFactory, azurite_connection_string: str) -> Iterator[Stack]:
    stack = Stack.start(
        tmp_path_factory.mktemp("timeout"),
        connection_string=azurite_connection_string,
        app_env=scenarios.STACK_ENV["short-timeout"],
    )
    yield stack
    stack.stop()


def survive(stack: Stack, name: str) -> Outcome:
    """Play the scenario and check what every scenario owes: its terminal state, its job count, nothing partial."""
    scenario: Scenario = BY_NAME[name]
    outcome = scenario.play(stack)
    assert outcome.status == scenario.expect_status, (outcome.runs, stack.host.log_tail(60))
    assert len(outcome.jobs_created) == scenario.expect_jobs, outcome.requests
    assert outcome.notes == [], "no output blob was ever visible with a size other than its final one"
    for run in outcome.runs:
        manifest = json.loads(stack.container().download_blob(f"runs/{run['id']}/run.json").readall())
        assert manifest["status"] == run["status"]
        stored = outcome.blobs[run["id"]]
        for output in run["outputs"]:
            name = output["blob"].removeprefix(f"runs/{run['id']}/")
            assert stored.get(name) == output["bytes"], f"{name} in Azurite is not what the run reports"
    if scenario.expect_status == "completed":
        assert outcome.videos_intact, outcome.videos
    return outcome


def statuses(outcome: Outcome, operation: str) -> list[int | None]:
    return [call["status"] for call in outcome.calls(operation)]


def record(stack: Stack, outcome: Outcome, name: str = "provider-job.json") -> dict:
    return scenarios.recorded_job(stack, outcome.runs[0]["id"], name)


def test_a_create_refused_with_429_then_503_is_retried_until_one_job_is_made(stack):
    outcome = survive(stack, "create-refused")

    assert statuses(outcome, "create") == [429, 503, 200]
    assert record(stack, outcome)["adopted"] is False
    assert outcome.runs[0]["provider"]["job_id"] == outcome.jobs_created[0]


def test_a_job_made_before_a_503_answer_is_adopted_not_paid_for_twice(stack):
    outcome = survive(stack, "create-503-after")

    assert statuses(outcome, "create") == [503], "the create is never sent again"
    assert record(stack, outcome) | {"recorded_at": 0} == {
        "job_id": outcome.jobs_created[0], "api": "videos", "kind": "generation", "adopted": True, "recorded_at": 0,
    }  # fmt: skip
    assert outcome.runs[0]["provider"]["job_id"] == outcome.jobs_created[0]


def test_a_job_whose_create_answer_was_dropped_is_adopted(stack):
    outcome = survive(stack, "create-dropped-after")

    assert [(c["status"], c["fault"]) for c in outcome.calls("create")] == [(None, "drop")]
    assert record(stack, outcome)["adopted"] is True
    assert outcome.calls("list"), "the job was found by listing the provider's recent jobs"


def test_a_remix_whose_answer_was_dropped_is_adopted(stack):
    outcome = survive(stack, "remix-dropped-after")

    assert statuses(outcome, "create") == [200]
    assert [(c["status"], c["fault"]) for c in outcome.calls("remix")] == [(None, "drop")]
    assert record(stack, outcome, "provider-remix-job.json")["adopted"] is True
    sources = {(o["source"], o["kind"]) for o in outcome.runs[0]["outputs"]}
    assert {("generation", "video"), ("remix", "video")} <= sources
    assert len(outcome.videos) == 2


def test_polls_and_downloads_refused_with_429_and_503_are_retried(stack):
    outcome = survive(stack, "polls-downloads-refused")

    assert statuses(outcome, "retrieve")[:2] == [429, 503]
    assert statuses(outcome, "retrieve")[-1] == 200
    assert 429 in statuses(outcome, "content") and 503 in statuses(outcome, "content")
    assert statuses(outcome, "create") == [200]


def test_downloads_cut_mid_body_are_retried_and_never_stored_partial(stack):
    outcome = survive(stack, "downloads-cut")

    faults = [call["fault"] for call in outcome.calls("content")]
    assert sorted(f for f in faults if f) == ["drop", "drop", "truncate"]
    assert len(faults) == 6, "each of the three cut downloads was fetched once more"
    assert {o["kind"] for o in outcome.runs[0]["outputs"]} == {"video", "thumbnail", "spritesheet"}


def test_a_job_stuck_in_progress_ends_the_run_timeout_and_is_deleted(short_timeout_stack):
    outcome = survive(short_timeout_stack, "job-stalls")

    run = outcome.runs[0]
    assert run["error"]["code"] == "timeout"
    assert run["outputs"] == []
    [job_id] = outcome.jobs_created
    assert [(c["job_id"], c["status"]) for c in outcome.calls("delete")] == [(job_id, 200)]
    assert short_timeout_stack.emulator("GET", "status")["active_jobs"] == 0, "the stalled job holds no slot"
    assert not any(scenarios.is_output(name) for name in outcome.blobs[run["id"]])
