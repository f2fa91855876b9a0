"""The videos API client (Sora 2) against the Sora emulator over real HTTP: every operation, every variant."""

from __future__ import annotations

from pathlib import Path

import pytest

from soraflow.providers import (
    InputReference,
    JobStatus,
    ProviderBadRequest,
    ProviderContentPolicy,
    ProviderExpired,
    ProviderNotFound,
    VideosClient,
)
from tests.integration.providers.conftest import (
    advance,
    copy_download,
    emulator_admin,
    image_bytes,
    logged,
    wait_until_terminal,
)

# Magic numbers of what each variant must be: MP4 (`ftyp` box), WebP (RIFF....WEBP), JPEG (FF D8 FF).
SIGNATURES = {
    "video": lambda head: head[4:8] == b"ftyp",
    "thumbnail": lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP",
    "spritesheet": lambda head: head[:3] == b"\xff\xd8\xff",
}


def create_finished(client: VideosClient, server, prompt: str = "A paper boat on a blue table") -> str:
    job = client.create(prompt, model="sora-2", size="1280x720", seconds="4")
    advance(server, 120)
    return job.id


def test_create_sends_seconds_as_a_string_even_when_given_an_integer(videos_client: VideosClient, sora_emulator):
    # The emulator, like the service, answers 400 invalid_type to `"seconds": 4`.
    job = videos_client.create("A red panda making latte art", model="sora-2", size="1280x720", seconds=4)
    assert job.api == "videos" and job.id.startswith("video_")
    assert job.status in (JobStatus.QUEUED, JobStatus.RUNNING)
    assert job.extra["seconds"] == "4" and job.extra["size"] == "1280x720"
    [create] = logged(sora_emulator, operation="create")
    assert create["status"] == 200 and create["job_id"] == job.id


def test_a_job_is_polled_to_success_with_the_providers_hint(videos_client: VideosClient, sora_emulator):
    created = videos_client.create("Ocean waves at sunset", model="sora-2", size="720x1280", seconds=4)
    job = videos_client.get(created.id)
    assert job.poll_after_ms is not None and job.poll_after_ms > 0
    job = wait_until_terminal(videos_client, created.id)
    assert job.status is JobStatus.SUCCEEDED and job.provider_status == "completed"
    assert job.progress == 100
    assert job.completed_at is not None and job.expires_at is not None and job.expires_at > job.created_at
    assert [o.kind for o in job.outputs] == ["video", "thumbnail", "spritesheet"]
    assert job.error is None


def test_multipart_create_with_a_matching_reference_image(videos_client: VideosClient, sora_emulator):
    reference = InputReference(image_bytes(1280, 720), "frame.png", "image/png")
    job = videos_client.create("Animate it", model="sora-2", size="1280x720", seconds=8, input_reference=reference)
    assert job.status in (JobStatus.QUEUED, JobStatus.RUNNING)
    assert job.extra["seconds"] == "8"
    assert len(logged(sora_emulator, operation="create")) == 1


def test_reference_image_of_the_wrong_size_is_a_bad_request_in_the_providers_words(videos_client: VideosClient):
    reference = InputReference(image_bytes(640, 480, kind="JPEG"), "frame.jpg", "image/jpeg")
    with pytest.raises(ProviderBadRequest) as info:
        videos_client.create("Animate", model="sora-2", size="1280x720", seconds=4, input_reference=reference)
    assert "Inpaint image must match the requested width and height" in info.value.message
    assert info.value.http_status == 400 and not info.value.retryable


def test_flagged_reference_image_is_a_content_policy_refusal(videos_client: VideosClient):
    reference = InputReference(image_bytes(720, 1280, colour=(255, 0, 255)), "face.png", "image/png")
    with pytest.raises(ProviderContentPolicy) as info:
        videos_client.create("Animate", model="sora-2", size="720x1280", seconds=4, input_reference=reference)
    assert info.value.provider_code == "moderation_blocked"
    assert "blocked by our moderation system" in info.value.message


def test_refused_prompt_is_a_content_policy_error_at_create(videos_client: VideosClient):
    with pytest.raises(ProviderContentPolicy) as info:
        videos_client.create("[input-moderation] a scene", model="sora-2", size="1280x720", seconds=4)
    assert not info.value.retryable


def test_output_moderation_fails_the_job_with_a_content_policy_error(videos_client: VideosClient, sora_emulator):
    job = videos_client.create("[moderation] a scene", model="sora-2", size="1280x720", seconds=4)
    advance(sora_emulator, 120)
    job = videos_client.get(job.id)
    assert job.status is JobStatus.FAILED
    assert job.error.code == "moderation_blocked" and job.error.content_policy
    assert job.outputs == ()


def test_internal_failure_keeps_the_providers_code_and_is_not_content_policy(videos_client, sora_emulator):
    job = videos_client.create("[internal-error] a scene", model="sora-2", size="1280x720", seconds=4)
    advance(sora_emulator, 120)
    job = videos_client.get(job.id)
    assert job.status is JobStatus.FAILED
    assert (job.error.code, job.error.content_policy) == ("internal_error", False)


def test_unsupported_size_is_rejected_by_the_provider_naming_the_values(videos_client: VideosClient):
    with pytest.raises(ProviderBadRequest) as info:
        videos_client.create("A cat", model="sora-2", size="999x999", seconds=4)
    assert info.value.provider_code == "invalid_value"
    assert "999x999" in info.value.message


def test_list_pages_with_the_cursor_across_every_page(videos_client: VideosClient, sora_emulator):
    emulator_admin(sora_emulator, "reset", {"max_concurrent_jobs": 10})
    created = [videos_client.create(f"Scene {n}", model="sora-2", size="1280x720", seconds=4).id for n in range(5)]
    first = videos_client.list(limit=2, order="asc")
    assert [j.id for j in first.jobs] == created[:2] and first.has_more and first.last_id == created[1]
    second = videos_client.list(limit=2, order="asc", after=first.last_id)
    assert [j.id for j in second.jobs] == created[2:4] and second.has_more
    third = videos_client.list(limit=2, order="asc", after=second.last_id)
    assert [j.id for j in third.jobs] == created[4:] and not third.has_more
    assert [j.id for j in videos_client.iter_jobs(page_size=2)] == created[::-1]
    assert len(logged(sora_emulator, operation="list")) == 6


def test_delete_removes_the_video(videos_client: VideosClient, sora_emulator):
    video_id = create_finished(videos_client, sora_emulator)
    assert videos_client.delete(video_id) is True
    with pytest.raises(ProviderNotFound) as info:
        videos_client.get(video_id)
    assert info.value.http_status == 404


def test_unknown_video_is_not_found(videos_client: VideosClient, sora_emulator):
    with pytest.raises(ProviderNotFound) as info:
        videos_client.get("video_doesnotexist")
    assert "video_doesnotexist" in info.value.message
    assert len(logged(sora_emulator, operation="retrieve")) == 1  # a 404 is final: not retried


@pytest.mark.parametrize("variant", ["video", "thumbnail", "spritesheet"])
def test_every_variant_streams_to_a_file_of_the_announced_size(
    videos_client: VideosClient, sora_emulator, tmp_path: Path, variant: str
):
    video_id = create_finished(videos_client, sora_emulator)
    target = tmp_path / f"out.{variant}"
    with videos_client.open_content(video_id, variant) as download, target.open("wb") as sink:
        written = copy_download(download, sink, chunk_size=64 * 1024)
    assert download.length is not None and download.length > 0
    assert written == download.length == target.stat().st_size
    assert SIGNATURES[variant](target.read_bytes()[:16])
    expected_type = {"video": "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}[variant]
    assert download.content_type.startswith(expected_type)


def test_content_before_completion_is_a_bad_request(videos_client: VideosClient):
    job = videos_client.create("A cat", model="sora-2", size="1280x720", seconds=4)
    with pytest.raises(ProviderBadRequest) as info, videos_client.open_content(job.id):
        pass
    assert info.value.provider_code == "video_not_ready"


def test_remix_starts_a_new_video_that_remembers_its_source(videos_client: VideosClient, sora_emulator):
    original = create_finished(videos_client, sora_emulator)
    remix = videos_client.remix(original, "The same boat, at night")
    assert remix.id != original and remix.remixed_from == original
    advance(sora_emulator, 120)
    finished = videos_client.get(remix.id)
    assert finished.status is JobStatus.SUCCEEDED and finished.remixed_from == original
    [call] = logged(sora_emulator, operation="remix")
    assert call["status"] == 200


def test_remix_of_an_unfinished_video_is_refused(videos_client: VideosClient):
    job = videos_client.create("A cat", model="sora-2", size="1280x720", seconds=4)
    with pytest.raises(ProviderBadRequest):
        videos_client.remix(job.id, "Another cat")


def test_expired_video_reports_expired_and_its_content_is_gone(videos_client: VideosClient, sora_emulator):
    video_id = create_finished(videos_client, sora_emulator)
    advance(sora_emulator, 3 * 86_400)
    job = videos_client.get(video_id)
    assert job.status is JobStatus.EXPIRED and job.terminal
    with pytest.raises(ProviderExpired) as info, videos_client.open_content(video_id):
        pass
    assert info.value.http_status == 410 and not info.value.retryable
