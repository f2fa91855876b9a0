import json

import pytest

from soraflow.providers.errors import (
    ProviderInvalidResponse,
)
from soraflow.providers.job import EXTRA_LIMIT_BYTES, JobOutput, JobSpec, ProviderJob, prompt_digest
from soraflow.providers.jobs import first_frame_item, parse_generation_job
from soraflow.providers.status import JobStatus
from soraflow.providers.videos import parse_video, parse_video_list

VIDEO = {
    "id": "video_123",
    "object": "video",
    "model": "sora-2",
    "status": "in_progress",
    "progress": 42,
    "created_at": 1760627796,
    "completed_at": None,
    "expires_at": None,
    "prompt": "A cat on a motorcycle",
    "size": "1280x720",
    "seconds": "8",
    "remixed_from_video_id": None,
    "error": None,
}

SORA1_SUCCEEDED = {
    "object": "video.generation.job",
    "id": "task_01jy98zkvpfb7909522ysd150a",
    "status": "succeeded",
    "created_at": 1750510587,
    "finished_at": 1750510621,
    "expires_at": 1750597021,
    "generations": [
        {"object": "video.generation", "id": "gen_a", "job_id": "task_01", "width": 1080, "height": 1080},
        {"object": "video.generation", "id": "gen_b", "job_id": "task_01", "width": 1080, "height": 1080},
    ],
    "prompt": "A rocket landing on mars",
    "model": "my-sora-model",
    "n_variants": 2,
    "n_seconds": 5,
    "height": 1080,
    "width": 1080,
    "failure_reason": None,
}


def test_in_progress_video_is_normalised_and_keeps_raw_status_and_progress():
    job = parse_video(VIDEO, headers={"openai-poll-after-ms": "2000"})
    assert job.api == "videos"
    assert job.id == "video_123"
    assert job.status is JobStatus.RUNNING
    assert job.provider_status == "in_progress"
    assert job.progress == 42
    assert job.created_at == 1760627796
    assert job.poll_after_ms == 2000
    assert job.outputs == ()
    assert not job.terminal


def test_completed_video_offers_all_three_variants_only_the_mp4_required():
    job = parse_video({**VIDEO, "status": "completed", "progress": 100, "expires_at": 1760714196})
    assert job.status is JobStatus.SUCCEEDED
    assert [(o.kind, o.index, o.source_id, o.required) for o in job.outputs] == [
        ("video", 0, "video_123", True),
        ("thumbnail", 0, "video_123", False),
        ("spritesheet", 0, "video_123", False),
    ]
    assert job.expires_at == 1760714196


def test_remix_lineage_is_kept():
    assert parse_video({**VIDEO, "remixed_from_video_id": "video_0"}).remixed_from == "video_0"


def test_known_but_unmodelled_fields_and_unknown_fields_ride_in_extra_but_never_the_prompt():
    job = parse_video({**VIDEO, "quality": "standard", "brand_new": {"a": 1}})
    expected = {"model": "sora-2", "size": "1280x720", "seconds": "8", "quality": "standard", "brand_new": {"a": 1}}
    assert job.extra == expected
    assert "prompt" not in job.extra


def test_extra_stays_small_whatever_the_provider_sends():
    job = parse_video({**VIDEO, "huge": "x" * 100_000, "many": list(range(10_000)), "small": 1})
    assert "huge" not in job.extra and "many" not in job.extra
    assert job.extra["small"] == 1
    assert len(json.dumps(job.extra)) <= EXTRA_LIMIT_BYTES


def test_failed_video_keeps_the_providers_error_and_maps_moderation():
    job = parse_video(
        {**VIDEO, "status": "failed", "error": {"code": "moderation_blocked", "message": "Blocked by moderation."}}
    )
    assert job.status is JobStatus.FAILED
    assert job.error.code == "moderation_blocked" and job.error.content_policy
    assert "Blocked by moderation" in job.error.message


def test_expired_video_is_terminal():
    job = parse_video({**VIDEO, "status": "expired"})
    assert job.status is JobStatus.EXPIRED and job.terminal


def test_unknown_status_is_carried_not_fatal():
    job = parse_video({**VIDEO, "status": "upscaling"})
    assert job.status is JobStatus.RUNNING
    assert job.provider_status == "upscaling"
    assert job.error is None


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("progress", "50", None),
        ("progress", True, None),
        ("progress", 150, 100),
        ("progress", -3, 0),
        ("progress", 33.7, 33),
        ("progress", float("nan"), None),
        ("progress", 10**400, None),
        ("created_at", "yesterday", None),
        ("created_at", -1, None),
        ("created_at", 1.5e9, 1500000000),
    ],
)
def test_wrong_types_in_optional_fields_are_treated_as_absent(field, value, expected):
    assert getattr(parse_video({**VIDEO, field: value}), field) == expected


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "video_123",
        42,
        {},
        {"status": "queued"},
        {"id": "video_1"},
        {"id": 7, "status": "queued"},
        {"id": "", "status": "queued"},
        {"id": "video_1", "status": None},
        {"id": "video_1", "status": ["queued"]},
        {"id": "video_1", "status": {"state": "queued"}},
    ],
)
def test_malformed_video_bodies_are_invalid_responses_never_key_errors(body):
    with pytest.raises(ProviderInvalidResponse) as info:
        parse_video(body)
    assert "malformed response" in info.value.message
    assert not info.value.retryable


def test_error_given_as_string_or_junk():
    assert parse_video({**VIDEO, "status": "failed", "error": "kaput"}).error.message == "kaput"
    assert parse_video({**VIDEO, "status": "failed", "error": 12}).error is None
    odd = parse_video({**VIDEO, "status": "failed", "error": {"code": 5, "message": ["x"]}}).error
    assert odd.code == "job_failed"


def test_list_page_with_cursor():
    page = parse_video_list(
        {"object": "list", "data": [VIDEO, {**VIDEO, "id": "video_456"}], "has_more": True, "last_id": "video_456"}
    )
    assert [j.id for j in page.jobs] == ["video_123", "video_456"]
    assert page.has_more and page.last_id == "video_456" and page.first_id == "video_123"


def test_list_page_without_cursor_fields_uses_the_items():
    page = parse_video_list({"data": [VIDEO], "has_more": True})
    assert page.last_id == "video_123" and page.has_more


def test_empty_list_has_no_more():
    page = parse_video_list({"data": [], "has_more": True})
    assert page.jobs == () and not page.has_more


@pytest.mark.parametrize("body", [{"data": None}, {"data": {}}, {}, [], {"data": [{"id": "v"}]}])
def test_malformed_list_bodies_are_invalid(body):
    with pytest.raises(ProviderInvalidResponse):
        parse_video_list(body)


def test_sora1_succeeded_job_lists_each_generation_video_and_optional_thumbnail():
    job = parse_generation_job(SORA1_SUCCEEDED)
    assert job.api == "jobs" and job.status is JobStatus.SUCCEEDED
    assert job.completed_at == 1750510621 and job.expires_at == 1750597021
    assert [(o.kind, o.index, o.source_id, o.required) for o in job.outputs] == [
        ("video", 0, "gen_a", True),
        ("thumbnail", 0, "gen_a", False),
        ("video", 1, "gen_b", True),
        ("thumbnail", 1, "gen_b", False),
    ]
    assert job.extra["n_variants"] == 2
    assert "prompt" not in job.extra and "generations" not in job.extra


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("queued", JobStatus.QUEUED),
        ("preprocessing", JobStatus.RUNNING),
        ("running", JobStatus.RUNNING),
        ("processing", JobStatus.RUNNING),
        ("cancelled", JobStatus.CANCELLED),
    ],
)
def test_sora1_in_flight_statuses(raw, expected):
    job = parse_generation_job({**SORA1_SUCCEEDED, "status": raw, "generations": []})
    assert job.status is expected and job.outputs == ()


@pytest.mark.parametrize(
    ("reason", "content_policy", "words"),
    [
        ("input_moderation", True, "content moderation"),
        ("output_moderation", True, "content moderation"),
        ("internal_error", False, "internal error"),
        ("brand_new_reason", False, "brand_new_reason"),
    ],
)
def test_sora1_failure_reason_is_mapped(reason, content_policy, words):
    job = parse_generation_job({**SORA1_SUCCEEDED, "status": "failed", "generations": [], "failure_reason": reason})
    assert job.error.code == reason
    assert job.error.content_policy is content_policy
    assert words in job.error.message


def test_sora1_cancelled_job_is_terminal_and_cancelled():
    job = parse_generation_job({**SORA1_SUCCEEDED, "status": "cancelled", "generations": []})
    assert job.status is JobStatus.CANCELLED and job.terminal


@pytest.mark.parametrize("generations", [None, [], "gen_a", [None], [{"id": ""}], [{"no": "id"}], [{"id": 3}]])
def test_sora1_succeeded_job_with_malformed_generations_is_invalid(generations):
    with pytest.raises(ProviderInvalidResponse):
        parse_generation_job({**SORA1_SUCCEEDED, "generations": generations})


def test_round_trip_through_json_for_durable_history():
    for job in (
        parse_video({**VIDEO, "status": "completed"}, headers={"openai-poll-after-ms": "1500"}),
        parse_video({**VIDEO, "status": "failed", "error": {"code": "moderation_blocked", "message": "no"}}),
        parse_generation_job(SORA1_SUCCEEDED),
    ):
        data = json.loads(json.dumps(job.to_dict()))
        assert ProviderJob.from_dict(data) == job


def test_output_round_trip():
    output = JobOutput(api="jobs", kind="thumbnail", index=3, source_id="gen_x", required=False)
    assert JobOutput.from_dict(json.loads(json.dumps(output.to_dict()))) == output


def test_spec_size_and_repr_hides_the_prompt():
    spec = JobSpec(prompt="secret plans", model="sora-2", width=1280, height=720, seconds=8)
    assert spec.size == "1280x720"
    assert "secret plans" not in repr(spec)


def test_first_frame_inpaint_item_covers_the_whole_frame():
    assert first_frame_item("ref.png") == {
        "frame_index": 0,
        "type": "image",
        "file_name": "ref.png",
        "crop_bounds": {"left_fraction": 0.0, "top_fraction": 0.0, "right_fraction": 1.0, "bottom_fraction": 1.0},
    }


def test_prompt_is_kept_only_as_a_fingerprint_matching_the_callers():
    job = parse_video(VIDEO)
    assert job.prompt_digest == prompt_digest("A cat on a motorcycle") != prompt_digest("A cat on a motorcycle!")
    assert len(job.prompt_digest) == 32
    assert "A cat on a motorcycle" not in json.dumps(job.to_dict())
    assert parse_video({**VIDEO, "prompt": None}).prompt_digest is None
    assert parse_generation_job(SORA1_SUCCEEDED).prompt_digest == prompt_digest("A rocket landing on mars")
