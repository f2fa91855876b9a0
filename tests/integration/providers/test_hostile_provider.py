"""Malformed, oversized and hostile provider answers over real HTTP (a fake provider on loopback) never crash."""

from __future__ import annotations

import io

import pytest

from emulators import processes
from soraflow.providers import (
    JobStatus,
    ProviderAuthenticationError,
    ProviderDownloadIncomplete,
    ProviderInvalidResponse,
    ProviderServerError,
    ProviderUnavailable,
    Timeouts,
    build_provider,
)
from soraflow.providers import transport as transport_module
from tests.integration.providers.conftest import FAST_RETRY, FakeProvider, Scripted, copy_download, settings_for

KEY = "fake-provider-key-0123456789"
VIDEOS = "/openai/v1/videos"
VIDEO = {"id": "video_1", "object": "video", "status": "queued", "progress": 0, "created_at": 1760000000}


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (Scripted(200, "<html><body>Welcome to nginx</body></html>"), "not JSON"),
        (Scripted(200, b"\xff\xfe\xfa"), "not JSON"),
        (Scripted(200, '{"id": "video_1", "status": '), "not JSON"),
        (Scripted(200, b""), "expected a JSON object, got NoneType"),
        (Scripted(200, [VIDEO]), "expected a JSON object, got list"),
        (Scripted(200, "42"), "expected a JSON object, got int"),
        (Scripted(200, {"status": "queued"}), "field 'id'"),
        (Scripted(200, {"id": "video_1"}), "field 'status'"),
        (Scripted(200, {"id": ["video_1"], "status": "queued"}), "field 'id'"),
        (Scripted(200, {"id": "video_1", "status": 3}), "field 'status'"),
        (Scripted(200, "[" * 100_000 + "]" * 100_000), "not JSON"),
    ],
)
def test_malformed_job_answers_are_invalid_response_errors(fake_provider: FakeProvider, fake_videos, answer, problem):
    fake_provider.script("GET", f"{VIDEOS}/video_1", answer)
    with pytest.raises(ProviderInvalidResponse) as info:
        fake_videos.get("video_1")
    assert problem in info.value.message
    assert not info.value.retryable
    assert len(fake_provider.requests_to("GET", f"{VIDEOS}/video_1")) == 1


def test_unknown_status_and_fields_are_carried(fake_provider: FakeProvider, fake_videos):
    fake_provider.script("GET", f"{VIDEOS}/video_1", Scripted(200, {**VIDEO, "status": "upscaling", "shiny": True}))
    job = fake_videos.get("video_1")
    assert job.status is JobStatus.RUNNING and job.provider_status == "upscaling"
    assert job.extra["shiny"] is True


def test_oversized_json_answer_is_refused_without_reading_it_all(fake_provider, fake_videos, monkeypatch):
    monkeypatch.setattr(transport_module, "MAX_JSON_BYTES", 1024)
    fake_provider.script("GET", f"{VIDEOS}/video_1", Scripted(200, {**VIDEO, "padding": "x" * 10_000}))
    with pytest.raises(ProviderInvalidResponse, match="larger than 1024 bytes"):
        fake_videos.get("video_1")


def test_malformed_list_answer_is_invalid(fake_provider: FakeProvider, fake_videos):
    fake_provider.script("GET", VIDEOS, Scripted(200, {"object": "list", "data": "nothing"}))
    with pytest.raises(ProviderInvalidResponse, match="'data' must be a list"):
        fake_videos.list()


def test_a_cursor_that_never_moves_ends_the_iteration(fake_provider: FakeProvider, fake_videos):
    page = {"object": "list", "data": [VIDEO], "has_more": True, "last_id": "video_1"}
    fake_provider.script("GET", VIDEOS, Scripted(200, page))
    assert [job.id for job in fake_videos.iter_jobs(page_size=1)] == ["video_1", "video_1"]
    assert len(fake_provider.requests_to("GET", VIDEOS)) == 2


def test_api_key_echoed_in_an_error_is_redacted(fake_provider: FakeProvider, fake_videos):
    body = {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "auth", "code": "invalid_api_key"}}
    fake_provider.script("GET", f"{VIDEOS}/video_1", Scripted(401, body))
    with pytest.raises(ProviderAuthenticationError) as info:
        fake_videos.get("video_1")
    assert KEY not in str(info.value) and KEY not in repr(info.value.to_dict())
    assert "[redacted]" in info.value.message


def test_api_key_echoed_in_a_malformed_body_is_redacted(fake_provider: FakeProvider, fake_videos):
    fake_provider.script("GET", f"{VIDEOS}/video_1", Scripted(200, f"debug: api-key={KEY}"))
    with pytest.raises(ProviderInvalidResponse) as info:
        fake_videos.get("video_1")
    assert KEY not in info.value.message


def test_html_error_page_from_a_gateway_is_quoted_briefly(fake_provider: FakeProvider, fake_videos):
    fake_provider.script("GET", f"{VIDEOS}/video_1", Scripted(502, "<html>502 Bad Gateway</html>" + " " * 10_000))
    with pytest.raises(ProviderServerError) as info:
        fake_videos.get("video_1")
    assert "502 Bad Gateway" in info.value.message
    assert len(fake_provider.requests_to("GET", f"{VIDEOS}/video_1")) == FAST_RETRY.attempts


def test_connection_refused_is_retryable_unavailable_and_create_knows_nothing_was_sent():
    client = build_provider(settings_for(f"http://127.0.0.1:{processes.free_port()}", key=KEY), retry=FAST_RETRY)
    try:
        with pytest.raises(ProviderUnavailable) as got:
            client.get("video_1")
        assert got.value.retryable and "gave up after 3 attempts" in got.value.message
        with pytest.raises(ProviderUnavailable) as created:
            client.create("a cat", model="sora-2", size="1280x720", seconds=4)
        assert not created.value.outcome_unknown
    finally:
        client.close()


def test_create_that_times_out_is_sent_once_and_may_have_started_a_job(fake_provider: FakeProvider, fake_videos):
    fake_provider.script("POST", VIDEOS, Scripted(200, VIDEO, delay=2.5))
    with pytest.raises(ProviderUnavailable) as info:
        fake_videos.create("a cat", model="sora-2", size="1280x720", seconds=4)
    assert info.value.outcome_unknown and info.value.retryable
    assert "look it up before creating another" in info.value.message
    assert len(fake_provider.requests_to("POST", VIDEOS)) == 1


def test_credentials_never_follow_a_redirect_to_another_host(fake_provider: FakeProvider):
    elsewhere = FakeProvider()
    try:
        elsewhere.script("GET", "/cdn/video.mp4", Scripted(200, b"\x00" * 1000, {"content-type": "video/mp4"}))
        fake_provider.script(
            "GET",
            f"{VIDEOS}/video_1/content",
            Scripted(302, b"", {"location": f"{elsewhere.url}/cdn/video.mp4?sig=abc"}),
        )
        client = build_provider(settings_for(fake_provider.url, key=KEY), retry=FAST_RETRY)
        with client.open_content("video_1") as download:
            assert copy_download(download, io.BytesIO()) == 1000
        client.close()
        assert fake_provider.requests_to("GET", f"{VIDEOS}/video_1/content")[0].headers["api-key"] == KEY
        [fetched] = elsewhere.requests_to("GET", "/cdn/video.mp4")
        assert "api-key" not in fetched.headers and "authorization" not in fetched.headers
        assert "sig=abc" in fetched.path and "variant" not in fetched.path
    finally:
        elsewhere.stop()


def test_redirect_loops_end(fake_provider: FakeProvider, fake_videos):
    path = f"{VIDEOS}/video_1/content"
    fake_provider.script("GET", path, Scripted(302, b"", {"location": path}))
    with pytest.raises(ProviderInvalidResponse, match="more than 5 redirects"), fake_videos.open_content("video_1"):
        pass


def test_download_beyond_its_limit_stops(fake_provider: FakeProvider, fake_videos):
    fake_provider.script("GET", f"{VIDEOS}/video_1/content", Scripted(200, b"\x01" * 50_000))
    with (
        fake_videos.open_content("video_1", max_bytes=10_000) as download,
        pytest.raises(ProviderDownloadIncomplete, match="limit") as info,
    ):
        copy_download(download, io.BytesIO(), chunk_size=4096)
    assert not info.value.retryable


def test_download_without_content_length_streams_to_the_end(fake_provider: FakeProvider, fake_videos):
    body = bytes(range(256)) * 400
    fake_provider.script("GET", f"{VIDEOS}/video_1/content", Scripted(200, body, {"content-length": None}))
    with fake_videos.open_content("video_1") as download:
        assert download.length is None
        sink = io.BytesIO()
        assert copy_download(download, sink) == len(body)
    assert sink.getvalue() == body


def test_download_cut_short_of_its_content_length_is_incomplete(fake_provider: FakeProvider, fake_videos):
    fake_provider.script("GET", f"{VIDEOS}/video_1/content", Scripted(200, b"\x02" * 80_000, send_bytes=30_000))
    with fake_videos.open_content("video_1") as download:
        assert download.length == 80_000
        with pytest.raises(ProviderDownloadIncomplete) as info:
            copy_download(download, io.BytesIO())
    assert info.value.retryable
    assert "of 80000 bytes" in info.value.message


def test_chunks_are_regrouped_to_the_requested_size(fake_provider: FakeProvider, fake_videos):
    body = bytes(range(256)) * 1000
    fake_provider.script("GET", f"{VIDEOS}/video_1/content", Scripted(200, body))
    with fake_videos.open_content("video_1") as download:
        chunks = list(download.iter_bytes(10_000))
    assert b"".join(chunks) == body
    assert {len(c) for c in chunks[:-1]} == {10_000} and 0 < len(chunks[-1]) <= 10_000


def test_a_download_is_read_once(fake_provider: FakeProvider, fake_videos):
    fake_provider.script("GET", f"{VIDEOS}/video_1/content", Scripted(200, b"abc"))
    with fake_videos.open_content("video_1") as download:
        assert b"".join(download.iter_bytes()) == b"abc"
        with pytest.raises(RuntimeError):
            list(download.iter_bytes())


def test_custom_gateway_path_and_query_are_used(fake_provider: FakeProvider):
    fake_provider.script("GET", "/gw/sora/videos/video_1", Scripted(200, VIDEO))
    client = build_provider(
        settings_for(fake_provider.url, key=KEY, SORA_VIDEOS_PATH="/gw/sora/videos?tenant=blue"),
        retry=FAST_RETRY,
        timeouts=Timeouts(read=2.0),
    )
    try:
        assert client.get("video_1").id == "video_1"
    finally:
        client.close()
    [seen] = fake_provider.requests_to("GET", "/gw/sora/videos/video_1")
    assert seen.path.endswith("?tenant=blue")
