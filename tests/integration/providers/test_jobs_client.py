"""The Sora 1 jobs API client against the Sora emulator over real HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from soraflow.providers import (
    InputReference,
    JobsClient,
    JobStatus,
    ProviderBadRequest,
    ProviderExpired,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderUnsupported,
)
from tests.integration.providers.conftest import (
    add_fault,
    advance,
    copy_download,
    emulator_admin,
    image_bytes,
    logged,
    wait_until_terminal,
)


def create(client: JobsClient, prompt: str = "A rocket landing on mars", **overrides):
    options = {"model": "sora", "width": 480, "height": 480, "n_seconds": 1, "n_variants": 1, **overrides}
    return client.create(prompt, **options)


def test_create_returns_a_queued_job_and_polls_to_success_with_every_generation(jobs_client: JobsClient, sora_emulator):
    created = create(jobs_client, n_variants=2)
    assert created.api == "jobs" and created.id.startswith("task_")
    assert created.status is JobStatus.QUEUED and created.provider_status == "queued"
    job = wait_until_terminal(jobs_client, created.id)
    assert job.status is JobStatus.SUCCEEDED and job.provider_status == "succeeded"
    assert job.completed_at is not None and job.expires_at is not None
    videos = [o for o in job.outputs if o.kind == "video"]
    assert [o.index for o in videos] == [0, 1] and len({o.source_id for o in videos}) == 2
    assert all(o.source_id.startswith("gen_") for o in videos)
    assert job.extra["n_variants"] == 2 and job.extra["width"] == 480
    [call] = logged(sora_emulator, operation="create")
    assert call["status"] == 201 and "api-version=preview" in call["query"]


@pytest.mark.parametrize(
    ("provider_status", "fraction"),
    [("preprocessing", 0.15), ("running", 0.5), ("processing", 0.9)],
)
def test_in_flight_statuses_are_running(jobs_client: JobsClient, sora_emulator, provider_status, fraction):
    # At time scale 1 a 4 s job renders for 40 emulator seconds: the test's own latency is negligible.
    emulator_admin(sora_emulator, "reset", {"time_scale": 1.0})
    created = create(jobs_client, n_seconds=4)
    advance(sora_emulator, 40 * fraction)
    job = jobs_client.get(created.id)
    assert job.provider_status == provider_status and job.status is JobStatus.RUNNING


def test_multipart_create_makes_the_image_the_first_frame(jobs_client: JobsClient, sora_emulator):
    reference = InputReference(image_bytes(720, 720), "first.png", "image/png")
    job = create(jobs_client, width=720, height=720, input_reference=reference)
    assert job.status is JobStatus.QUEUED
    advance(sora_emulator, 60)
    assert jobs_client.get(job.id).status is JobStatus.SUCCEEDED


def test_flagged_image_fails_the_job_for_input_moderation(jobs_client: JobsClient, sora_emulator):
    reference = InputReference(image_bytes(480, 480, colour=(250, 5, 250)), "face.webp", "image/webp")
    job = create(jobs_client, input_reference=reference)
    advance(sora_emulator, 60)
    job = jobs_client.get(job.id)
    assert job.status is JobStatus.FAILED
    assert job.error.code == "input_moderation" and job.error.content_policy


@pytest.mark.parametrize(
    ("token", "code", "content_policy"),
    [
        ("[input-moderation]", "input_moderation", True),
        ("[moderation]", "output_moderation", True),
        ("[internal-error]", "internal_error", False),
    ],
)
def test_failure_reasons_are_mapped(jobs_client: JobsClient, sora_emulator, token, code, content_policy):
    job = create(jobs_client, prompt=f"{token} a scene")
    advance(sora_emulator, 60)
    job = jobs_client.get(job.id)
    assert job.status is JobStatus.FAILED and job.error.code == code
    assert job.error.content_policy is content_policy
    assert job.outputs == ()


def test_variants_beyond_the_resolution_limit_are_a_bad_request(jobs_client: JobsClient):
    with pytest.raises(ProviderBadRequest) as info:
        create(jobs_client, width=1920, height=1080, n_variants=2)
    assert "n_variants" in info.value.message


@pytest.mark.parametrize("variant", ["video", "thumbnail"])
def test_each_generations_content_streams_to_a_file(jobs_client: JobsClient, sora_emulator, tmp_path: Path, variant):
    job = create(jobs_client, n_variants=2)
    advance(sora_emulator, 60)
    job = jobs_client.get(job.id)
    for output in (o for o in job.outputs if o.kind == variant):
        target = tmp_path / f"{output.index}.{variant}"
        with jobs_client.open_output(output) as download, target.open("wb") as sink:
            copy_download(download, sink)
        assert target.stat().st_size == download.length > 0
        head = target.read_bytes()[:12]
        assert head[4:8] == b"ftyp" if variant == "video" else head[8:12] == b"WEBP"
    assert [e["status"] for e in logged(sora_emulator, operation="content")] == [200, 200]


def test_list_pages_and_filters_by_status(jobs_client: JobsClient, sora_emulator):
    emulator_admin(sora_emulator, "reset", {"max_concurrent_jobs": 10})
    created = [create(jobs_client, prompt=f"Scene {n}").id for n in range(3)]
    first = jobs_client.list(limit=2)
    assert [j.id for j in first.jobs] == created[:0:-1] and first.has_more
    rest = jobs_client.list(limit=2, after=first.last_id)
    assert [j.id for j in rest.jobs] == created[:1] and not rest.has_more
    assert [j.id for j in jobs_client.iter_jobs(page_size=1)] == created[::-1]
    assert jobs_client.list(statuses=["succeeded"]).jobs == ()
    advance(sora_emulator, 60)
    assert {j.id for j in jobs_client.list(statuses=["succeeded", "failed"]).jobs} == set(created)


def test_delete_removes_the_job(jobs_client: JobsClient, sora_emulator):
    job = create(jobs_client)
    advance(sora_emulator, 60)
    assert jobs_client.delete(job.id) is True
    with pytest.raises(ProviderNotFound):
        jobs_client.get(job.id)
    assert [e["status"] for e in logged(sora_emulator, operation="delete")] == [204]


def test_unknown_job_is_not_found(jobs_client: JobsClient):
    with pytest.raises(ProviderNotFound):
        jobs_client.get("task_unknown")


def test_expired_job_and_its_content_are_expired_errors(jobs_client: JobsClient, sora_emulator):
    job = create(jobs_client)
    advance(sora_emulator, 60)
    [video, _thumbnail] = jobs_client.get(job.id).outputs
    advance(sora_emulator, 3 * 86_400)
    with pytest.raises(ProviderExpired) as gone:
        jobs_client.get(job.id)
    assert gone.value.provider_code == "job_expired"
    with pytest.raises(ProviderExpired) as content, jobs_client.open_output(video):
        pass
    assert content.value.http_status == 410


def test_concurrency_limit_is_a_rate_limit_and_create_is_sent_once(jobs_client: JobsClient, sora_emulator):
    create(jobs_client)
    create(jobs_client)
    with pytest.raises(ProviderRateLimited) as info:
        create(jobs_client)
    assert info.value.retry_after is not None
    assert [e["status"] for e in logged(sora_emulator, operation="create")] == [201, 201, 429]


def test_get_is_retried_through_a_scripted_503(jobs_client: JobsClient, sora_emulator):
    job = create(jobs_client)
    add_fault(sora_emulator, api="jobs", operation="retrieve", kind="status", status=503, count=1)
    assert jobs_client.get(job.id).id == job.id
    assert [e["status"] for e in logged(sora_emulator, operation="retrieve")] == [503, 200]


def test_remix_is_unsupported_and_sends_nothing(jobs_client: JobsClient, sora_emulator):
    job = create(jobs_client)
    with pytest.raises(ProviderUnsupported, match="SORA_API=jobs"):
        jobs_client.remix_job(job.id, "again")
    assert logged(sora_emulator, operation="remix") == []
