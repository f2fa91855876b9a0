"""The queue contract: submit, status over time with queue positions and logs, result, cancel, 404s and 401s."""

from __future__ import annotations

import httpx

from tests.emulators.fal.conftest import FAL_EMULATOR_KEY, VEO_FAST, Harness

# At time scale 1 a 4 s Veo render takes 40 s: 4 s starting (IN_QUEUE, position 0), then 36 s IN_PROGRESS.
RENDER_4S = 40.0
STARTUP_4S = 4.0


def test_submit_answers_the_urls_on_owner_and_app_and_a_queue_position(fal: Harness):
    response = fal.http.post(f"/{VEO_FAST}", json={"prompt": "a paper boat", "duration": "4s"})
    assert response.status_code == 200, response.text
    body = response.json()
    request_id = body["request_id"]
    base = f"{fal.url}/fal-ai/veo3.1/requests/{request_id}"
    assert body == {
        "request_id": request_id,
        "gateway_request_id": request_id,
        "response_url": f"{base}/response",
        "status_url": f"{base}/status",
        "cancel_url": f"{base}/cancel",
        "queue_position": 0,
    }
    assert response.headers["x-fal-request-id"] == request_id


def test_statuses_move_from_queue_to_progress_to_completed_with_positions(fal: Harness):
    fal.reset(time_scale=1.0, max_concurrent_jobs=1)
    first, second, third = (fal.submit(duration="4s") for _ in range(3))
    assert [s["queue_position"] for s in (first, second, third)] == [0, 0, 1]

    starting = fal.status(first)
    assert (starting.status_code, starting.json()["status"], starting.json()["queue_position"]) == (202, "IN_QUEUE", 0)
    waiting = fal.status(third).json()
    assert (waiting["status"], waiting["queue_position"]) == ("IN_QUEUE", 1)

    fal.advance(STARTUP_4S + 1)
    running = fal.status(first)
    assert (running.status_code, running.json()["status"]) == (202, "IN_PROGRESS")
    assert running.json()["logs"], "a running request has logged its start"
    assert "queue_position" not in running.json()

    fal.advance(RENDER_4S - STARTUP_4S)  # 41 s in: the first ended at 40, the second starts until 44
    done = fal.status(first)
    assert (done.status_code, done.json()["status"]) == (200, "COMPLETED")
    assert done.json()["metrics"]["inference_time"] > 0
    assert "error" not in done.json()
    assert fal.status(second).json()["status"] == "IN_QUEUE", "the runner went to the next in line"
    assert fal.status(third).json()["queue_position"] == 0


def test_logs_are_sent_only_when_asked_for_in_any_boolean_spelling(fal: Harness):
    submitted = fal.submit(duration="4s")
    fal.finish()
    for spelling in ("true", "1"):
        logs = fal.status(submitted, logs=spelling).json()["logs"]
        assert [entry["level"] for entry in logs] == ["INFO"] * len(logs) and len(logs) >= 5
        assert set(logs[0]) == {"message", "level", "source", "timestamp"}
    for spelling in ("false", "0"):
        assert fal.status(submitted, logs=spelling).json()["logs"] is None
    bad = fal.status(submitted, logs="maybe")
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "logs"]


def test_the_result_is_the_bare_model_output_at_both_result_urls(fal: Harness):
    submitted = fal.submit(duration="4s")
    early = fal.http.get(submitted["response_url"])
    assert (early.status_code, early.json()) == (400, {"detail": "Request is still in progress"})
    fal.wait_completed(submitted)
    bare = fal.http.get(submitted["response_url"].removesuffix("/response"))
    with_suffix = fal.http.get(submitted["response_url"])
    assert bare.status_code == with_suffix.status_code == 200
    assert bare.json() == with_suffix.json()
    video = bare.json()["video"]
    assert (video["content_type"], video["file_name"]) == ("video/mp4", "output.mp4")
    download = httpx.get(video["url"], verify=fal.tls)  # the CDN needs no key
    assert download.status_code == 200
    assert len(download.content) == video["file_size"] == int(download.headers["content-length"])


def test_unknown_ids_and_endpoints_are_404s_that_say_what_to_use(fal: Harness):
    missing = "00000000-0000-0000-0000-000000000000"
    for url in (f"/fal-ai/veo3.1/requests/{missing}/status", f"/fal-ai/veo3.1/requests/{missing}"):
        response = fal.http.get(url)
        assert response.status_code == 404
        assert response.json()["error_type"] == "not_found"
    assert fal.http.put(f"/fal-ai/veo3.1/requests/{missing}/cancel").json() == {"status": "NOT_FOUND"}

    submitted = fal.submit(duration="4s")
    full_path = fal.http.get(f"/{VEO_FAST}/requests/{submitted['request_id']}/status")
    assert full_path.status_code == 404
    assert "/fal-ai/veo3.1/requests/" in full_path.json()["detail"], "the answer names the owner/app URL"

    unknown = fal.http.post("/fal-ai/no-such-model", json={"prompt": "x"})
    assert unknown.status_code == 404
    assert "fal-ai/veo3.1/fast" in unknown.json()["detail"], "the answer lists the endpoints served"


def test_a_missing_or_wrong_key_is_a_401_and_changes_nothing(fal: Harness):
    for headers in ({}, {"Authorization": "Key wrong"}, {"Authorization": f"Bearer {FAL_EMULATOR_KEY}"}):
        response = httpx.post(f"{fal.url}/{VEO_FAST}", json={"prompt": "x"}, headers=headers, verify=fal.tls)
        assert response.status_code == 401, headers
        assert "Key" in response.json()["detail"] or "key" in response.json()["detail"]
    assert [e["status"] for e in fal.requests(operation="submit")] == [401, 401, 401]
    assert all(e["job_id"] is None for e in fal.requests(operation="submit"))


def test_cancelling_a_queued_request_takes_it_out_of_the_queue(fal: Harness):
    fal.reset(time_scale=1.0, max_concurrent_jobs=1)
    _running, queued, behind = (fal.submit(duration="4s") for _ in range(3))
    assert fal.status(behind).json()["queue_position"] == 1
    answer = fal.http.put(queued["cancel_url"])
    assert (answer.status_code, answer.json()) == (202, {"status": "CANCELLATION_REQUESTED"})
    assert fal.status(behind).json()["queue_position"] == 0, "the cancelled request no longer waits ahead"
    cancelled = fal.status(queued)
    assert (cancelled.status_code, cancelled.json()["error_type"]) == (200, "client_cancelled")
    result = fal.http.get(queued["response_url"])
    assert (result.status_code, result.json()["error_type"]) == (499, "client_cancelled")
    assert fal.http.put(queued["cancel_url"]).json() == {"status": "ALREADY_COMPLETED"}


def test_cancelling_a_running_request_is_accepted_but_it_completes(fal: Harness):
    fal.reset(time_scale=1.0)
    submitted = fal.submit(duration="4s")
    fal.advance(STARTUP_4S + 1)
    assert fal.status(submitted).json()["status"] == "IN_PROGRESS"
    assert fal.http.put(submitted["cancel_url"]).status_code == 202
    fal.advance(RENDER_4S)
    assert "error" not in fal.status(submitted).json()
    assert fal.http.get(submitted["response_url"]).json()["video"]["url"]
    answer = fal.http.put(submitted["cancel_url"])
    assert (answer.status_code, answer.json()) == (400, {"status": "ALREADY_COMPLETED"})


def test_a_full_queue_refuses_with_429_when_the_client_set_fal_max_queue_length(fal: Harness):
    fal.reset(time_scale=1.0, max_concurrent_jobs=1)
    fal.submit(duration="4s")
    fal.submit(duration="4s")  # waits
    refused = fal.http.post(f"/{VEO_FAST}", params={"fal_max_queue_length": "1"}, json={"prompt": "x"})
    assert refused.status_code == 429
    assert refused.headers["X-Fal-Error-Type"] == refused.json()["error_type"] == "queue_full"
    accepted = fal.http.post(f"/{VEO_FAST}", params={"fal_max_queue_length": "2"}, json={"prompt": "x"})
    assert accepted.status_code == 200
    assert len([e for e in fal.requests(operation="submit") if e["job_id"]]) == 3


def test_a_start_timeout_ends_a_request_that_waited_too_long_with_a_user_504(fal: Harness):
    fal.reset(time_scale=1.0, max_concurrent_jobs=1)
    fal.submit(duration="4s")
    response = fal.http.post(f"/{VEO_FAST}", json={"prompt": "x"}, headers={"X-Fal-Request-Timeout": "10"})
    late = response.json()
    fal.advance(11)
    status = fal.status(late).json()
    assert (status["status"], status["error_type"]) == ("COMPLETED", "request_timeout")
    result = fal.http.get(late["response_url"])
    assert result.status_code == 504
    assert result.headers["X-Fal-Request-Timeout-Type"] == "user"
