"""soraflow_client.Client over real HTTP against a scripted app: what it sends, how it waits, what it raises."""

from __future__ import annotations

import itertools
import json
import socket

import pytest

from soraflow_client import ApiError, AppUnreachable, Client
from soraflow_client.client import POLL_FIRST_SECONDS, POLL_MAX_SECONDS, RETRY_AFTER_MAX_SECONDS
from tests.client.conftest import run

PROBLEM = {
    "type": "https://soraflow.dev/problems/invalid_request",
    "title": "Bad Request",
    "status": 400,
    "detail": "seconds: must be one of 4, 8, 12; got '5'",
    "code": "invalid_request",
    "errors": [{"field": "seconds", "message": "must be one of 4, 8, 12; got '5'"}],
}


def recording_client(api, **kwargs) -> tuple[Client, list[float]]:
    slept: list[float] = []
    return Client(api.url, "the-key", sleep=slept.append, **kwargs), slept


def test_create_posts_the_fields_with_the_key_and_a_fresh_idempotency_key(api):
    api.answer("POST", "/api/videos", 202, run("queued"))
    client, _ = recording_client(api)

    created = client.create("a kite", model="sora-2", size="1280x720", seconds=4, remix="at night",
                            metadata={"user": "ada"})  # fmt: skip
    client.create("a kite")

    assert created["id"] == "run-abc"
    first, second = api.seen("POST", "/api/videos")
    assert json.loads(first.body) == {"prompt": "a kite", "model": "sora-2", "size": "1280x720", "seconds": "4",
                                      "remix": {"prompt": "at night"}, "metadata": {"user": "ada"}}  # fmt: skip
    assert first.headers["x-functions-key"] == "the-key"
    assert first.headers["idempotency-key"] != second.headers["idempotency-key"]


def test_a_create_retried_after_a_503_sends_the_same_idempotency_key(api):
    api.answer("POST", "/api/videos", 503, {"detail": "storage is busy", "code": "storage_unavailable"},
               {"Retry-After": "2"})  # fmt: skip
    api.answer("POST", "/api/videos", 202, run("queued"))
    client, slept = recording_client(api)

    assert client.create("a kite")["status"] == "queued"

    keys = [seen.headers["idempotency-key"] for seen in api.seen("POST", "/api/videos")]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert slept == [2.0]


def test_a_create_refused_with_a_400_is_not_retried(api):
    api.answer("POST", "/api/videos", 400, PROBLEM)
    client, slept = recording_client(api)

    with pytest.raises(ApiError) as raised:
        client.create("a kite", seconds=5)

    assert len(api.seen("POST", "/api/videos")) == 1 and slept == []
    error = raised.value
    assert (error.status, error.code, error.detail) == (400, "invalid_request", PROBLEM["detail"])
    assert [(e.field, e.message) for e in error.errors] == [("seconds", "must be one of 4, 8, 12; got '5'")]


def test_an_image_is_sent_as_the_multipart_input_reference_with_the_fields_as_form_values(api, tmp_path):
    image = tmp_path / "kite.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    api.answer("POST", "/api/videos", 202, run("queued"))
    client, _ = recording_client(api)

    client.create("the kite climbs", seconds="8", image=image, remix="higher")

    sent = api.seen("POST", "/api/videos")[0]
    assert sent.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="input_reference"; filename="kite.png"' in sent.body
    assert b"\x89PNG" in sent.body
    assert b'name="seconds"\r\n\r\n8\r\n' in sent.body
    assert b'name="remix"\r\n\r\n{"prompt": "higher"}\r\n' in sent.body


def test_the_hosts_bare_401_is_raised_naming_the_key(api):
    api.answer("GET", "/api/videos/run-abc", 401, b"")
    client, _ = recording_client(api)

    with pytest.raises(ApiError) as raised:
        client.get("run-abc")

    assert raised.value.status == 401
    assert "key" in raised.value.detail and raised.value.errors[0].field == "key"


def test_a_url_with_a_trailing_api_path_addresses_the_same_app(api):
    api.answer("GET", "/api/models", 200, {"object": "list", "data": []})

    assert Client(api.url + "/api/").models() == {"object": "list", "data": []}


def test_an_app_that_does_not_listen_is_raised_as_unreachable():
    with pytest.raises(AppUnreachable, match="connection refused"):
        Client(f"http://127.0.0.1:{free_closed_port()}").get("run-abc")


def test_a_run_id_with_a_slash_is_refused_before_any_request(api):
    with pytest.raises(ValueError, match="not a run id"):
        Client(api.url).get("run-abc/cancel")
    assert api.requests == []


def test_wait_reports_each_change_once_and_returns_the_final_run(api):
    for answer in (run("queued"), run("generating", 10), run("generating", 10), run("generating", 50),
                   run("completed", 100)):  # fmt: skip
        api.answer("GET", "/api/videos/run-abc", 200, answer)
    client, _ = recording_client(api)
    reported: list[tuple] = []

    final = client.wait("run-abc", on_progress=lambda r: reported.append((r["status"], r["progress"])))

    assert final["status"] == "completed"
    assert reported == [("queued", 0), ("generating", 10), ("generating", 50), ("completed", 100)]
    assert len(api.seen("GET", "/api/videos/run-abc")) == 5


def test_wait_sleeps_what_retry_after_says_and_backs_off_while_nothing_changes(api):
    api.answer("GET", "/api/videos/run-abc", 200, run("generating", 10), {"Retry-After": "3"})
    for _ in range(9):
        api.answer("GET", "/api/videos/run-abc", 200, run("generating", 20))
    api.answer("GET", "/api/videos/run-abc", 200, run("generating", 20), {"Retry-After": "86400"})
    api.answer("GET", "/api/videos/run-abc", 200, run("failed", 20, error={"code": "x", "message": "y"}))
    client, slept = recording_client(api)

    assert client.wait("run-abc")["status"] == "failed"

    assert slept[0] == 3.0
    backoff = slept[1:10]
    assert backoff[0] == POLL_FIRST_SECONDS
    assert all(later >= earlier for earlier, later in itertools.pairwise(backoff))
    assert max(backoff) == POLL_MAX_SECONDS
    assert slept[10] == RETRY_AFTER_MAX_SECONDS


def test_wait_rides_out_a_503_with_its_retry_after_and_raises_a_404(api):
    api.answer("GET", "/api/videos/run-abc", 503, {"detail": "busy", "code": "busy"}, {"Retry-After": "1"})
    api.answer("GET", "/api/videos/run-abc", 200, run("completed", 100))
    api.answer("GET", "/api/videos/run-gone", 404, {"detail": "no run run-gone", "code": "run_not_found",
                                                    "errors": [{"field": "id", "message": "no such run"}]})  # fmt: skip
    client, slept = recording_client(api)

    assert client.wait("run-abc")["status"] == "completed"
    assert slept == [1.0]
    with pytest.raises(ApiError) as raised:
        client.wait("run-gone")
    assert (raised.value.status, raised.value.code) == (404, "run_not_found")


def test_list_follows_continuations_and_stops_at_the_limit(api):
    api.answer("GET", "/api/videos", 200, {"data": [run("completed", run_id="run-1"), run("failed", run_id="run-2")],
                                           "has_more": True, "continuation": "page-2"})  # fmt: skip
    api.answer("GET", "/api/videos", 200, {"data": [run("completed", run_id="run-3"), run("queued", run_id="run-4")],
                                           "has_more": True, "continuation": "page-3"})  # fmt: skip
    client, _ = recording_client(api)

    ids = [r["id"] for r in client.list(status="completed", limit=3, page_size=2)]

    assert ids == ["run-1", "run-2", "run-3"]
    first, second = api.seen("GET", "/api/videos")
    assert first.query == {"limit": ["2"], "status": ["completed"]}
    assert second.query == {"limit": ["2"], "status": ["completed"], "continuation": ["page-2"]}


def test_download_streams_the_redirect_target_without_sending_the_function_key_to_storage(api, tmp_path):
    video = b"\0\0\0\x18ftypmp42" + b"x" * 3_000_000
    api.answer("GET", "/storage/videos/runs/run-abc/video.mp4", 200, video)
    location = f"{api.url}/storage/videos/runs/run-abc/video.mp4?sig=abc"
    api.answer("GET", "/api/videos/run-abc/content", 302, None, {"Location": location})
    client, _ = recording_client(api)

    saved = client.download("run-abc", to=tmp_path)
    named = client.download("run-abc", variant="video", index=0, source="remix", to=tmp_path / "sub" / "my.mp4")

    assert saved == tmp_path / "run-abc-video.mp4" and saved.read_bytes() == video
    assert named.read_bytes() == video
    content = api.seen("GET", "/api/videos/run-abc/content")
    assert content[1].query == {"variant": ["video"], "index": ["0"], "source": ["remix"]}
    assert all(
        "x-functions-key" not in seen.headers for seen in api.seen("GET", "/storage/videos/runs/run-abc/video.mp4")
    )
    assert not list(tmp_path.rglob("*.part"))


def test_a_download_of_a_missing_output_raises_the_problem_and_leaves_no_file(api, tmp_path):
    missing = {"detail": "run run-abc has no generation thumbnail at index 3", "code": "output_not_found",
               "errors": [{"field": "variant", "message": "no such output"}]}  # fmt: skip
    api.answer("GET", "/api/videos/run-abc/content", 404, missing)
    client, _ = recording_client(api)

    with pytest.raises(ApiError, match="no generation thumbnail"):
        client.download("run-abc", variant="thumbnail", index=3, to=tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_cancel_and_delete_address_the_run(api):
    api.answer("POST", "/api/videos/run-abc/cancel", 202, run("generating", 40))
    api.answer("DELETE", "/api/videos/run-abc", 204, None)
    client, _ = recording_client(api)

    assert client.cancel("run-abc")["status"] == "generating"
    assert client.delete("run-abc") is None
    assert [(r.method, r.path) for r in api.requests] == [("POST", "/api/videos/run-abc/cancel"),
                                                          ("DELETE", "/api/videos/run-abc")]  # fmt: skip


def test_remix_posts_the_prompt_with_its_own_idempotency_key(api):
    api.answer("POST", "/api/videos/run-abc/remix", 202, run("queued", run_id="run-new"))
    client, _ = recording_client(api)

    assert client.remix("run-abc", "now at night", metadata={"k": "v"})["id"] == "run-new"

    sent = api.seen("POST", "/api/videos/run-abc/remix")[0]
    assert json.loads(sent.body) == {"prompt": "now at night", "metadata": {"k": "v"}}
    assert sent.headers["idempotency-key"]


def free_closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
