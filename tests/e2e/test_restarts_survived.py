"""Restarts survived: the host killed with SIGKILL at each stage of a run, and Azurite stopped mid-run, on a stack
of this module's own; every run completes with exactly one provider job and its outputs intact.

The scenarios live in benchmarks/reliability_scenarios.py (the reliability report replays the same ones); outcomes
are read from the Sora emulator's request log and Azurite's blobs, and every stored MP4 is decoded to its end and
compared byte for byte with the provider's copy.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchmarks import reliability_scenarios as scenarios
from benchmarks.reliability_scenarios import Outcome, Stack

pytestmark = pytest.mark.slow

BY_NAME = {scenario.name: scenario for scenario in (*scenarios.FAULTS, *scenarios.RESTARTS)}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack with its own Azurite, so a test may stop and start it."""
    stack = Stack.start(tmp_path_factory.mktemp("restarts"))
    yield stack
    stack.stop()


def survive(stack: Stack, name: str) -> Outcome:
    """Play the scenario: every run completes, one job each, every output whole, nothing ever partial."""
    scenario = BY_NAME[name]
    outcome = scenario.play(stack)
    assert outcome.statuses == ["completed"] * len(outcome.runs), (outcome.runs, stack.host.log_tail(60))
    assert len(outcome.jobs_created) == scenario.expect_jobs, outcome.requests
    assert outcome.videos_intact, outcome.videos
    assert len(outcome.videos) == sum(1 + bool(run["request"].get("remix")) for run in outcome.runs)
    assert outcome.notes == []
    for run in outcome.runs:
        kinds = {(o["source"], o["kind"]) for o in run["outputs"]}
        assert {("generation", "video"), ("generation", "thumbnail"), ("generation", "spritesheet")} <= kinds
        assert "run.json" in outcome.blobs[run["id"]]
    return outcome


def record(stack: Stack, outcome: Outcome, name: str = "provider-job.json") -> dict:
    return scenarios.recorded_job(stack, outcome.runs[0]["id"], name)


def test_killed_while_the_provider_holds_the_create_the_run_adopts_the_job_it_made(stack):
    outcome = survive(stack, "kill-during-create")

    [create] = outcome.calls("create")
    assert create["fault"] == "slow" and create["job_id"] == outcome.jobs_created[0]
    assert record(stack, outcome)["adopted"] is True, "the answer died with the host: the job was found, not remade"


def test_killed_while_polling_the_run_polls_the_same_job_to_the_end(stack):
    outcome = survive(stack, "kill-while-polling")

    [job_id] = outcome.jobs_created
    polled = {call["job_id"] for call in outcome.calls("retrieve")}
    assert polled == {job_id}
    assert record(stack, outcome)["adopted"] is False


def test_killed_mid_download_the_run_downloads_again_and_stores_it_whole(stack):
    outcome = survive(stack, "kill-mid-download")

    held = [call for call in outcome.calls("content") if call["fault"] == "slow"]
    assert len(held) == 1
    assert len(outcome.calls("content")) == 4, "only the download cut by the crash was fetched again"


def test_killed_while_remixing_the_run_keeps_one_generation_and_one_remix(stack):
    outcome = survive(stack, "kill-during-remix")

    assert len(outcome.calls("create")) == 1
    assert len(outcome.calls("remix")) == 1
    assert record(stack, outcome, "provider-remix-job.json")["job_id"] == outcome.calls("remix")[0]["job_id"]
    assert any(name.startswith("remix/video") for name in outcome.blobs[outcome.runs[0]["id"]])


def test_killed_while_a_run_waits_for_capacity_all_runs_complete_with_one_job_each(stack):
    outcome = survive(stack, "kill-waiting-for-capacity")

    assert len({run["provider"]["job_id"] for run in outcome.runs}) == 3
    assert 429 not in [call["status"] for call in outcome.calls("create")], "the gate never let a third job in"


def test_azurite_down_mid_run_the_run_completes_once_it_is_back(stack):
    outcome = survive(stack, "azurite-outage")

    stored = outcome.blobs[outcome.runs[0]["id"]]
    # What was written before the outage is still there after it.
    assert {"provider-job-intent.json", "provider-job.json", "video.mp4", "run.json"} <= set(stored)
    assert len(outcome.calls("create")) == 1
