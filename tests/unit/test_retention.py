"""How long storing a finished video may be retried: until shortly before the provider's copy expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from soraflow.retention import next_store_wait, store_deadline

SUCCEEDED = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_the_deadline_is_five_minutes_before_the_providers_expiry():
    expires = SUCCEEDED + timedelta(hours=24)
    assert store_deadline({"expires_at": expires.timestamp()}, SUCCEEDED) == expires - timedelta(minutes=5)


def test_a_short_retention_keeps_a_tenth_of_it_as_the_margin():
    expires = SUCCEEDED + timedelta(seconds=30)
    assert store_deadline({"expires_at": expires.timestamp()}, SUCCEEDED) == expires - timedelta(seconds=3)


def test_without_an_expiry_the_copy_is_assumed_kept_24_hours_after_the_job_was_made():
    created = SUCCEEDED - timedelta(minutes=10)
    deadline = store_deadline({"created_at": created.timestamp(), "expires_at": None}, SUCCEEDED)
    assert deadline == created + timedelta(hours=24) - timedelta(minutes=5)
    assert store_deadline({}, SUCCEEDED) == SUCCEEDED + timedelta(hours=24) - timedelta(minutes=5)


def test_without_an_expiry_a_providers_declared_retention_is_used():
    week = 7 * 24 * 3600
    assert store_deadline({"retention_seconds": week}, SUCCEEDED) == SUCCEEDED + timedelta(days=7, minutes=-5)
    expires = SUCCEEDED + timedelta(hours=1)
    assert store_deadline({"expires_at": expires.timestamp(), "retention_seconds": week}, SUCCEEDED) == (
        expires - timedelta(minutes=5)
    )  # a reported expiry wins over the declared retention
    for value in ("week", True, -5, 0, [1]):
        assert store_deadline({"retention_seconds": value}, SUCCEEDED) == SUCCEEDED + timedelta(hours=24, minutes=-5)


def test_fal_and_vertex_jobs_declare_their_documented_retention():
    from soraflow.providers.fal import parse_status
    from soraflow.providers.vertex import parse_operation

    fal = parse_status("fal-ai/veo3.1::req-1", {"status": "COMPLETED"})
    veo = parse_operation(
        {"name": "projects/p/locations/us-central1/publishers/google/models/m/operations/op-1", "done": True,
         "response": {"videos": [{"bytesBase64Encoded": "AAAA", "mimeType": "video/mp4"}]}},
        operation="get",
    )  # fmt: skip
    assert (fal.retention_seconds, veo.retention_seconds) == (7 * 24 * 3600, 2 * 24 * 3600)
    assert fal.to_dict()["retention_seconds"] == 7 * 24 * 3600


def test_an_expiry_already_past_gives_a_deadline_that_is_already_past():
    expires = SUCCEEDED - timedelta(seconds=1)
    assert store_deadline({"expires_at": expires.timestamp()}, SUCCEEDED) <= SUCCEEDED


def test_hostile_expiry_values_fall_back_to_the_default_retention():
    for value in ("tomorrow", True, -5, 0, None, [1]):
        assert store_deadline({"expires_at": value}, SUCCEEDED) == SUCCEEDED + timedelta(hours=24, minutes=-5)


def test_a_naive_orchestration_clock_is_read_as_utc():
    expires = SUCCEEDED + timedelta(hours=1)
    naive = SUCCEEDED.replace(tzinfo=None)
    assert store_deadline({"expires_at": expires.timestamp()}, naive) == expires - timedelta(minutes=5)


def test_store_waits_follow_the_schedule_and_repeat_its_last_wait():
    schedule = (3.0, 6.0, 12.0)
    assert [next_store_wait(attempt, schedule) for attempt in range(1, 6)] == [3, 6, 12, 12, 12]


def test_a_zero_wait_is_raised_to_a_floor_so_an_outage_never_becomes_a_busy_loop():
    assert next_store_wait(1, (0.0,)) == 0.25
