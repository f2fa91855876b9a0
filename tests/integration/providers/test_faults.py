"""Retries and failures under the emulator's scripted faults, proven from its request log.

Safe calls (get, list, delete, content) are retried within a bounded budget honouring Retry-After; create and
remix are sent exactly once whatever happens, so a client call is never more than one paid job.
"""

from __future__ import annotations

import io

import pytest

from soraflow.providers import (
    ProviderDownloadIncomplete,
    ProviderError,
    ProviderRateLimited,
    ProviderServerError,
    ProviderUnavailable,
    RetryPolicy,
    Timeouts,
    VideosClient,
    build_provider,
)
from tests.integration.providers.conftest import FAST_RETRY, add_fault, advance, copy_download, logged, settings_for


def finished_video(client: VideosClient, server) -> str:
    job = client.create("A lighthouse in a storm", model="sora-2", size="1280x720", seconds=4)
    advance(server, 120)
    return job.id


def statuses(server, operation: str) -> list[int]:
    return [entry["status"] for entry in logged(server, operation=operation)]


# ---- create and remix: never retried -------------------------------------------------------------------------


def test_concurrency_limit_is_a_rate_limit_with_retry_after_and_the_create_is_not_repeated(
    videos_client: VideosClient, sora_emulator
):
    for n in range(2):
        videos_client.create(f"Scene {n}", model="sora-2", size="1280x720", seconds=4)
    with pytest.raises(ProviderRateLimited) as info:
        videos_client.create("One too many", model="sora-2", size="1280x720", seconds=4)
    assert info.value.retryable and info.value.http_status == 429
    assert info.value.retry_after is not None and info.value.retry_after > 0
    assert not info.value.outcome_unknown
    assert statuses(sora_emulator, "create") == [200, 200, 429]
    assert len(videos_client.list().jobs) == 2


@pytest.mark.parametrize("status", [429, 503])
def test_create_refused_by_a_scripted_fault_is_sent_exactly_once(videos_client: VideosClient, sora_emulator, status):
    add_fault(sora_emulator, api="videos", operation="create", kind="status", status=status, count=3, retry_after=1)
    with pytest.raises(ProviderError) as info:
        videos_client.create("A cat", model="sora-2", size="1280x720", seconds=4)
    assert info.value.retryable and info.value.http_status == status
    assert not info.value.outcome_unknown
    assert statuses(sora_emulator, "create") == [status]
    assert videos_client.list().jobs == ()


def test_create_failing_with_500_warns_that_the_job_may_exist(videos_client: VideosClient, sora_emulator):
    add_fault(sora_emulator, api="videos", operation="create", kind="status", status=500)
    with pytest.raises(ProviderServerError) as info:
        videos_client.create("A cat", model="sora-2", size="1280x720", seconds=4)
    assert info.value.outcome_unknown
    assert statuses(sora_emulator, "create") == [500]


def test_create_whose_answer_is_lost_is_flagged_and_the_job_can_be_found(videos_client: VideosClient, sora_emulator):
    # The provider accepted the job, then the connection dropped before its answer reached us.
    add_fault(sora_emulator, api="videos", operation="create", kind="drop", phase="after")
    with pytest.raises(ProviderUnavailable) as info:
        videos_client.create("Found again later", model="sora-2", size="1280x720", seconds=4)
    assert info.value.outcome_unknown and info.value.retryable
    assert len(logged(sora_emulator, operation="create")) == 1
    [job] = videos_client.list_jobs().jobs
    assert job.id == logged(sora_emulator, operation="create")[0]["job_id"]


def test_remix_refused_by_a_fault_is_sent_exactly_once(videos_client: VideosClient, sora_emulator):
    video_id = finished_video(videos_client, sora_emulator)
    add_fault(sora_emulator, api="videos", operation="remix", kind="status", status=503, count=2)
    with pytest.raises(ProviderServerError):
        videos_client.remix(video_id, "At night")
    assert statuses(sora_emulator, "remix") == [503]


# ---- safe calls: retried with backoff, bounded -------------------------------------------------------------------


def test_get_is_retried_through_scripted_503s(videos_client: VideosClient, sora_emulator):
    video_id = finished_video(videos_client, sora_emulator)
    add_fault(sora_emulator, api="videos", operation="retrieve", kind="status", status=503, count=2)
    assert videos_client.get(video_id).id == video_id
    assert statuses(sora_emulator, "retrieve") == [503, 503, 200]


def test_get_gives_up_when_the_retry_budget_is_spent(videos_client: VideosClient, sora_emulator):
    video_id = finished_video(videos_client, sora_emulator)
    add_fault(sora_emulator, api="videos", operation="retrieve", kind="status", status=503, count=10)
    with pytest.raises(ProviderServerError) as info:
        videos_client.get(video_id)
    assert info.value.retryable and "gave up after 3 attempts" in info.value.message
    assert statuses(sora_emulator, "retrieve") == [503, 503, 503]


@pytest.mark.parametrize("operation", ["list", "delete"])
def test_list_and_delete_are_retried(videos_client: VideosClient, sora_emulator, operation):
    video_id = finished_video(videos_client, sora_emulator)
    add_fault(sora_emulator, api="videos", operation=operation, kind="status", status=500, count=1)
    if operation == "list":
        assert [j.id for j in videos_client.list().jobs] == [video_id]
    else:
        assert videos_client.delete(video_id) is True
    assert statuses(sora_emulator, operation) == [500, 200]


def test_retry_after_from_the_provider_sets_the_wait(sora_emulator):
    waits: list[float] = []
    policy = RetryPolicy(attempts=3, backoff_base=0.01, max_wait=5.0, sleep=waits.append)
    client = build_provider(settings_for(sora_emulator.url), retry=policy)
    try:
        add_fault(sora_emulator, api="videos", operation="list", kind="status", status=429, count=1, retry_after=2)
        client.list()
    finally:
        client.close()
    assert waits == [2.0]
    assert statuses(sora_emulator, "list") == [429, 200]


def test_a_wait_longer_than_the_client_may_hold_is_handed_to_the_caller(sora_emulator):
    waits: list[float] = []
    policy = RetryPolicy(attempts=5, max_wait=5.0, sleep=waits.append)
    client = build_provider(settings_for(sora_emulator.url), retry=policy)
    try:
        add_fault(sora_emulator, api="videos", operation="list", kind="status", status=429, count=1, retry_after=60)
        with pytest.raises(ProviderRateLimited) as info:
            client.list()
    finally:
        client.close()
    assert info.value.retry_after == 60.0 and waits == []
    assert statuses(sora_emulator, "list") == [429]


def test_a_slow_answer_times_out_and_is_retried(sora_emulator):
    client = build_provider(settings_for(sora_emulator.url), retry=FAST_RETRY, timeouts=Timeouts(connect=2.0, read=0.3))
    try:
        add_fault(sora_emulator, api="videos", operation="list", kind="slow", seconds=1.0, count=1)
        assert client.list().jobs == ()
    finally:
        client.close()
    assert len(logged(sora_emulator, operation="list")) == 2


# ---- downloads ----------------------------------------------------------------------------------------------------


def test_content_is_retried_through_a_scripted_503(videos_client: VideosClient, sora_emulator):
    video_id = finished_video(videos_client, sora_emulator)
    add_fault(sora_emulator, api="videos", operation="content", kind="status", status=503, count=1)
    with videos_client.open_content(video_id, "thumbnail") as download:
        assert copy_download(download, io.BytesIO()) == download.length
    assert statuses(sora_emulator, "content") == [503, 200]


def test_a_connection_dropped_mid_download_is_a_retryable_error(videos_client: VideosClient, sora_emulator):
    video_id = finished_video(videos_client, sora_emulator)
    add_fault(sora_emulator, api="videos", operation="content", kind="drop", bytes=100_000)
    with videos_client.open_content(video_id) as download:
        sink = io.BytesIO()
        with pytest.raises((ProviderUnavailable, ProviderDownloadIncomplete)) as info:
            copy_download(download, sink)
    assert info.value.retryable
    assert download.bytes_read < download.length
    with videos_client.open_content(video_id) as again:
        assert copy_download(again, io.BytesIO()) == again.length == download.length


def test_a_truncated_body_is_detected_against_its_announced_length(videos_client: VideosClient, sora_emulator):
    video_id = finished_video(videos_client, sora_emulator)
    add_fault(sora_emulator, api="videos", operation="content", kind="truncate", bytes=50_000)
    with videos_client.open_content(video_id) as download, pytest.raises(ProviderDownloadIncomplete) as info:
        copy_download(download, io.BytesIO())
    assert info.value.retryable
    assert download.bytes_read == 50_000 < download.length
    assert f"of {download.length} bytes" in info.value.message
