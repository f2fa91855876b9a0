"""Scripted faults, the request log and the admin API, with the Sora emulator's shapes and fal's error bodies."""

from __future__ import annotations

import httpx
import pytest

from tests.emulators.fal.conftest import VEO_FAST, Harness


@pytest.mark.parametrize(("status", "error_type"), [(429, "rate_limited"), (503, "runner_scheduling_failure")])
def test_a_status_fault_answers_fal_s_request_error_then_stops(fal: Harness, status: int, error_type: str):
    fal.add_fault(api="queue", operation="submit", kind="status", status=status, retry_after=1)
    refused = fal.http.post(f"/{VEO_FAST}", json={"prompt": "x"})
    assert refused.status_code == status
    assert refused.json()["error_type"] == refused.headers["X-Fal-Error-Type"] == error_type
    assert refused.headers["Retry-After"] == "1"
    assert "x-fal-request-id" in refused.headers, "fal's own errors carry a request id; fal-client does not retry them"
    fal.submit()
    log = fal.requests(operation="submit")
    assert [(e["status"], e["fault"], e["job_id"] is None) for e in log] == [
        (status, "status", True),
        (200, None, False),
    ]


def test_an_ingress_fault_answers_like_nginx_without_a_request_id(fal: Harness):
    fal.add_fault(operation="status", kind="status", status=502, code="ingress")
    submitted = fal.submit()
    answer = fal.status(submitted)
    assert answer.status_code == 502
    assert "nginx" in answer.text and "x-fal-request-id" not in answer.headers


def test_a_gateway_timeout_fault_is_a_user_start_timeout(fal: Harness):
    fal.add_fault(operation="result", kind="status", status=504)
    submitted = fal.submit(duration="4s")
    fal.wait_completed(submitted)
    answer = fal.http.get(submitted["response_url"])
    assert (answer.status_code, answer.headers["X-Fal-Request-Timeout-Type"]) == (504, "user")


def test_a_submit_dropped_after_it_was_queued_leaves_a_request_the_client_never_heard_of(fal: Harness):
    fal.add_fault(operation="submit", kind="drop", phase="after")
    with pytest.raises(httpx.HTTPError):
        fal.http.post(f"/{VEO_FAST}", json={"prompt": "x"})
    [submit] = fal.requests(operation="submit")
    assert (submit["status"], submit["fault"]) == (None, "drop")
    assert submit["job_id"] is not None
    assert fal.admin("GET", "status").json()["active_jobs"] + fal.admin("GET", "status").json()["queued_jobs"] == 1


def test_a_truncated_download_stops_short_of_content_length(fal: Harness):
    submitted = fal.submit(duration="4s")
    fal.wait_completed(submitted)
    video = fal.http.get(submitted["response_url"]).json()["video"]
    fal.add_fault(api="cdn", operation="media", kind="truncate", bytes=1000)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(video["url"], verify=fal.tls)
    assert len(httpx.get(video["url"], verify=fal.tls).content) == video["file_size"]
    assert [e["fault"] for e in fal.requests(operation="media")] == ["truncate", None]


def test_a_stalled_request_never_completes_and_holds_its_runner(fal: Harness):
    fal.reset(max_concurrent_jobs=1)
    fal.add_fault(operation="submit", kind="stall")
    stalled = fal.submit(duration="4s")
    behind = fal.submit(duration="4s")
    fal.advance(10_000)
    assert fal.status(stalled).json()["status"] == "IN_PROGRESS"
    assert fal.status(behind).json()["queue_position"] == 0
    assert fal.status(behind).json()["status"] == "IN_QUEUE"


def test_fault_specs_use_fal_s_apis_and_operations(fal: Harness):
    refused = fal.admin("POST", "faults", {"api": "videos", "kind": "status", "status": 500})
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "api", "the admin API answers as the Sora emulator's does"
    refused = fal.admin("POST", "faults", {"operation": "status", "kind": "truncate"})
    assert "media" in refused.json()["error"]["message"]


def test_the_request_log_filters_by_operation_and_request(fal: Harness):
    first, second = fal.submit(), fal.submit()
    fal.status(first)
    fal.status(second)
    fal.http.put(second["cancel_url"])
    entries = fal.requests(job_id=second["request_id"])
    assert [(e["api"], e["operation"]) for e in entries] == [
        ("queue", "submit"),
        ("queue", "status"),
        ("queue", "cancel"),
    ]
    unknown = fal.http.get("/no/such/path")  # every path is some endpoint's submit URL: GET is not allowed on it
    assert (unknown.status_code, unknown.json()) == (405, {"detail": "Method Not Allowed"})
    assert (fal.requests()[-1]["operation"], fal.requests()[-1]["status"]) == (None, 405)


def test_media_expires_after_the_retention_and_results_after_thirty_days(fal: Harness):
    submitted = fal.submit(duration="4s")
    fal.wait_completed(submitted)
    url = fal.http.get(submitted["response_url"]).json()["video"]["url"]
    assert httpx.get(url, verify=fal.tls).status_code == 200
    fal.advance(7 * 86400 * fal.scale)
    assert httpx.get(url, verify=fal.tls).status_code == 404
    assert fal.http.get(submitted["response_url"]).status_code == 200, "the JSON result outlives the file"
    fal.advance(23 * 86400 * fal.scale)
    assert fal.status(submitted).status_code == 404


def test_the_lifecycle_header_sets_a_request_s_media_lifetime(fal: Harness):
    header = "X-Fal-Object-Lifecycle-Preference"
    headers = {header: '{"expiration_duration_seconds": 3600}'}
    submitted = fal.http.post(f"/{VEO_FAST}", json={"prompt": "x", "duration": "4s"}, headers=headers).json()
    fal.wait_completed(submitted)
    url = fal.http.get(submitted["response_url"]).json()["video"]["url"]
    fal.advance(3600 * fal.scale)
    assert httpx.get(url, verify=fal.tls).status_code == 404
    bad = fal.http.post(f"/{VEO_FAST}", json={"prompt": "x"}, headers={header: "forever"})
    assert bad.status_code == 400 and "expiration_duration_seconds" in bad.json()["detail"]


def test_reset_and_status_show_the_settings(fal: Harness):
    state = fal.reset(time_scale=0.5, max_concurrent_jobs=3)
    assert (state["reset"], state["time_scale"], state["max_concurrent_jobs"]) == (True, 0.5, 3)
    assert state["api_key_required"] is True
    assert fal.admin("GET", "status").json()["jwks_path"] == "/.well-known/jwks.json"
