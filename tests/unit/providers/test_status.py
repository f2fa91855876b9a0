import pytest

from soraflow.providers.status import JOBS_STATUSES, TERMINAL_STATUSES, VIDEOS_STATUSES, JobStatus, map_status


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("queued", JobStatus.QUEUED),
        ("in_progress", JobStatus.RUNNING),
        ("completed", JobStatus.SUCCEEDED),
        ("failed", JobStatus.FAILED),
        ("expired", JobStatus.EXPIRED),
    ],
)
def test_every_videos_status_maps(raw, expected):
    assert map_status("videos", raw) is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("queued", JobStatus.QUEUED),
        ("preprocessing", JobStatus.RUNNING),
        ("running", JobStatus.RUNNING),
        ("processing", JobStatus.RUNNING),
        ("succeeded", JobStatus.SUCCEEDED),
        ("failed", JobStatus.FAILED),
        ("cancelled", JobStatus.CANCELLED),
    ],
)
def test_every_jobs_status_maps(raw, expected):
    assert map_status("jobs", raw) is expected


def test_the_tables_cover_both_apis_documented_vocabularies():
    assert {"queued", "in_progress", "completed", "failed"} <= set(VIDEOS_STATUSES)
    documented = {"queued", "preprocessing", "running", "processing", "succeeded", "failed", "cancelled"}
    assert documented <= set(JOBS_STATUSES)


@pytest.mark.parametrize("raw", ["warming_up", "moderating", "", "   ", "🚀", "x" * 10_000])
def test_unknown_status_means_still_running(raw):
    assert map_status("videos", raw) is JobStatus.RUNNING
    assert map_status("jobs", raw) is JobStatus.RUNNING


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Completed", JobStatus.SUCCEEDED),
        (" IN_PROGRESS ", JobStatus.RUNNING),
        ("in-progress", JobStatus.RUNNING),
        ("canceled", JobStatus.CANCELLED),
        ("pending", JobStatus.QUEUED),
        ("error", JobStatus.FAILED),
    ],
)
def test_case_spelling_and_gateway_synonyms_are_understood(raw, expected):
    assert map_status("videos", raw) is expected


def test_unknown_api_still_maps_common_words():
    assert map_status("veo", "succeeded") is JobStatus.SUCCEEDED
    assert map_status("veo", "mystery") is JobStatus.RUNNING


def test_terminal_set_is_exactly_the_four_endings():
    assert {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.EXPIRED} == TERMINAL_STATUSES
    assert [s for s in JobStatus if s.terminal] == [
        JobStatus.SUCCEEDED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
        JobStatus.EXPIRED,
    ]
    assert not JobStatus.QUEUED.terminal
    assert not JobStatus.RUNNING.terminal


def test_status_values_are_plain_strings_for_json():
    assert JobStatus.SUCCEEDED == "succeeded"
    assert JobStatus("expired") is JobStatus.EXPIRED
