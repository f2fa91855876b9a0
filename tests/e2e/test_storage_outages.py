"""A paid video is never lost to an outage of ours: storage down while a finished video is being stored is waited
out on durable timers, and only a provider copy that expired ends the run, which then deletes nothing.

The scenarios live in benchmarks/reliability_scenarios.py (the reliability report replays them); outcomes are read
from the Sora emulator's request log and Azurite's blobs, and a stored MP4 is compared with the provider's copy.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from benchmarks import reliability_scenarios as scenarios
from benchmarks.reliability_scenarios import Stack

pytestmark = pytest.mark.slow

BY_NAME = {scenario.name: scenario for scenario in scenarios.FAULTS}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack with its own Azurite (to stop) and short durable store retries."""
    stack = Stack.start(tmp_path_factory.mktemp("outages"), app_env=scenarios.STACK_ENV["own"])
    yield stack
    stack.stop()


def test_storage_down_through_several_store_attempts_then_back_completes_with_one_job_and_intact_bytes(stack):
    outcome = BY_NAME["storage-down-while-storing"].play(stack)
    assert outcome.status == "completed", (outcome.runs, stack.host.log_tail(60))
    assert len(outcome.jobs_created) == 1
    videos = [call for call in outcome.requests if scenarios.is_video_download(call)]
    assert len(videos) > scenarios.STORE_ATTEMPTS_WHILE_DOWN, "the video was fetched again by each durable attempt"
    assert outcome.calls("delete") == []
    assert outcome.videos_intact, outcome.videos
    assert outcome.notes == [], "no output blob was ever visible with a size other than its final one"


def test_storage_down_past_the_providers_expiry_fails_expired_and_never_deletes_the_providers_copy(stack):
    outcome = BY_NAME["storage-down-past-expiry"].play(stack)
    assert outcome.status == "failed (expired)", (outcome.runs, stack.host.log_tail(60))
    (run,) = outcome.runs
    assert "expires" in run["error"]["message"]
    assert len(outcome.jobs_created) == 1
    assert outcome.calls("delete") == [], "the provider's copy is left to expire, never deleted early"
    manifest = json.loads(stack.container().download_blob(f"runs/{run['id']}/run.json").readall())
    assert manifest["status"] == "failed" and manifest["error"]["code"] == "expired"
