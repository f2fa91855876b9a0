"""Runs that end badly end honestly: the run says why (keeping the provider's code) and the manifest records it."""

import json
import time

import pytest

# Two short waits between create attempts, so the retry tests take well under a second of backoff; renders take a
# fraction of a second, so the first status call need not wait the default 3 s.
APP_ENV = {"CREATE_RETRY_SECONDS": "0.2,0.3", "POLL_INITIAL_SECONDS": "0.5", "POLL_FLOOR_SECONDS": "0.25"}


@pytest.fixture(autouse=True)
def fresh_emulator(soraflow_app):
    """Each test starts with no jobs, faults or log entries at the emulator."""
    assert soraflow_app.sora_admin("POST", "reset").status_code == 200


def manifest(app, run_id: str) -> dict:
    return json.loads(app.blobs().download_blob(f"runs/{run_id}/run.json").readall())


def successful_creates(app) -> list[dict]:
    return [r for r in app.sora_requests(operation="create") if r["status"] is not None and r["status"] < 300]


def add_fault(app, **fault) -> None:
    response = app.sora_admin("POST", "faults", fault)
    assert response.status_code in (200, 201), response.text


def test_a_render_refused_by_the_content_policy_fails_with_content_policy(soraflow_app):
    run = soraflow_app.run(prompt="a street parade [moderation]")

    assert run["status"] == "failed", run
    assert run["error"]["code"] == "content_policy"
    assert run["error"]["provider_code"] == "moderation_blocked"
    assert run["error"]["retryable"] is False
    assert run["outputs"] == []
    record = manifest(soraflow_app, run["id"])
    assert record["status"] == "failed"
    assert record["error"]["code"] == "content_policy"
    assert record["error"]["provider_code"] == "moderation_blocked"
    assert not list(soraflow_app.blobs().list_blobs(name_starts_with=f"runs/{run['id']}/video"))


def test_a_prompt_refused_at_create_fails_with_content_policy_and_no_job(soraflow_app):
    run = soraflow_app.run(prompt="a portrait [input-moderation]")

    assert run["status"] == "failed", run
    assert run["error"]["code"] == "content_policy"
    assert run["error"]["provider_code"] == "moderation_blocked"
    assert successful_creates(soraflow_app) == []
    creates = soraflow_app.sora_requests(operation="create")
    assert [r["status"] for r in creates] == [400], "a refusal is final: no retry of the same prompt"
    assert manifest(soraflow_app, run["id"])["error"]["code"] == "content_policy"


def test_a_provider_400_at_create_fails_the_run_with_the_providers_code(soraflow_app):
    add_fault(soraflow_app, operation="create", kind="status", status=400, code="invalid_value",
              message="Invalid value for 'size'.")  # fmt: skip

    run = soraflow_app.run(prompt="a glass of water on a table")

    assert run["status"] == "failed", run
    assert run["error"]["provider_code"] == "invalid_value"
    assert run["error"]["retryable"] is False
    assert "size" in run["error"]["message"]
    assert [r["status"] for r in soraflow_app.sora_requests(operation="create")] == [400]
    assert manifest(soraflow_app, run["id"])["error"]["provider_code"] == "invalid_value"


def test_503s_at_create_are_retried_on_timers_until_one_job_is_created(soraflow_app, tmp_path):
    add_fault(soraflow_app, operation="create", kind="status", status=503, count=2, retry_after=0)

    run = soraflow_app.run(prompt="a kettle coming to the boil")

    assert run["status"] == "completed", run
    creates = soraflow_app.sora_requests(operation="create")
    assert [r["status"] for r in creates] == [503, 503, 200]
    assert [r["fault"] is not None for r in creates] == [True, True, False]
    assert {o["kind"] for o in run["outputs"]} == {"video", "thumbnail", "spritesheet"}


def test_503s_at_create_fail_the_run_once_every_configured_wait_is_spent(soraflow_app):
    add_fault(soraflow_app, operation="create", kind="status", status=503, count=3)

    run = soraflow_app.run(prompt="a lamp that will not switch on")

    assert run["status"] == "failed", run
    assert run["error"]["code"] == "provider_server_error"
    assert run["error"]["provider_code"] == "service_unavailable"
    assert run["error"]["retryable"] is True
    assert [r["status"] for r in soraflow_app.sora_requests(operation="create")] == [503, 503, 503]
    assert manifest(soraflow_app, run["id"])["error"]["provider_code"] == "service_unavailable"


def test_a_job_that_expires_before_it_is_stored_fails_with_expired(soraflow_app):
    # Slow renders (40 s) so the job cannot finish before the clock jumps past its 24 h retention.
    soraflow_app.sora_admin("POST", "reset", {"time_scale": 1.0})
    started = soraflow_app.start(prompt="an hourglass running out")
    deadline = time.monotonic() + 30
    while not successful_creates(soraflow_app):
        assert time.monotonic() < deadline, "the run never created its job"
        time.sleep(0.05)
    advanced = soraflow_app.sora_admin("POST", "time/advance", {"seconds": 24 * 3600 + 120})
    assert advanced.status_code == 200, advanced.text

    run = soraflow_app.wait(started["id"], timeout=60)

    assert run["status"] == "failed", run
    assert run["error"]["code"] == "expired"
    assert run["outputs"] == []
    assert soraflow_app.sora_requests(operation="content") == []
    assert manifest(soraflow_app, run["id"])["error"]["code"] == "expired"


def test_an_output_that_expires_during_the_download_fails_with_expired(soraflow_app):
    # The first download is held for 3 s; the clock jumps past expiry meanwhile, so it answers 410.
    add_fault(soraflow_app, operation="content", kind="slow", seconds=3)
    started = soraflow_app.start(prompt="a snowman in the sun")
    soraflow_app.wait(started["id"], statuses={"downloading", "completed", "failed"})
    soraflow_app.sora_admin("POST", "time/advance", {"seconds": 24 * 3600})

    run = soraflow_app.wait(started["id"], timeout=90)

    assert run["status"] == "failed", run
    assert run["error"]["code"] == "expired"
    assert run["error"]["provider_code"] == "video_expired"
    expired = [(r["path"], r["query"]) for r in soraflow_app.sora_requests(operation="content") if r["status"] == 410]
    assert expired, "the held download found its video expired"
    assert len(expired) == len(set(expired)), "an expired output is final: it is not asked for again"


def test_downloads_failing_past_the_clients_retries_run_again_on_a_timer(soraflow_app):
    # Twelve 503s: each of the three parallel downloads spends the client's four attempts on them and fails as
    # retryable; the orchestration waits, runs the three again, and they succeed.
    add_fault(soraflow_app, operation="content", kind="status", status=503, count=12, retry_after=0)

    run = soraflow_app.run(prompt="a harbour at dawn")

    assert run["status"] == "completed", run
    assert {o["kind"] for o in run["outputs"]} == {"video", "thumbnail", "spritesheet"}
    statuses = [r["status"] for r in soraflow_app.sora_requests(operation="content")]
    assert statuses == [503] * 12 + [200] * 3
