"""The fal client against the real fal emulator over HTTP: submit, status with queue position, result, the CDN
download with its size check, cancel, webhooks, and the faults a queue API throws (429, 5xx, dropped downloads)."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from emulators import processes
from soraflow.providers.endpoint import Endpoint
from soraflow.providers.errors import (
    ProviderAuthenticationError,
    ProviderDownloadIncomplete,
    ProviderRateLimited,
    ProviderUnavailable,
    ProviderUnsupported,
)
from soraflow.providers.fal import FalClient, FalKeyAuth, FalWebhookVerifier, fal_job_id
from soraflow.providers.job import InputReference, JobOutput, JobSpec
from soraflow.providers.status import JobStatus
from soraflow.providers.transport import Transport
from tests.callback_receiver import CallbackReceiver
from tests.integration.providers.conftest import FAST_RETRY, FakeProvider, Scripted, copy_download
from tests.media import image_bytes, probe

FAL_KEY = "integration-fal-key-0123456789"
SCALE = 0.02


@pytest.fixture(scope="module")
def fal_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[processes.Server]:
    root = tmp_path_factory.mktemp("fal")
    args = ["--time-scale", str(SCALE), "--api-key", FAL_KEY, "--media-cache", str(root / "media")]
    server = processes.start_fal_emulator(args=args, log_path=root / "fal.log")
    yield server
    server.stop()


@pytest.fixture
def fal(fal_emulator: processes.Server) -> Iterator[FalClient]:
    admin(fal_emulator, "POST", "reset", {"time_scale": SCALE, "max_concurrent_jobs": 2})
    client = FalClient(Transport(Endpoint(fal_emulator.url), FalKeyAuth(FAL_KEY), api="fal", retry=FAST_RETRY))
    yield client
    client.close()


def admin(server: processes.Server, method: str, path: str, body: object = None) -> dict:
    response = httpx.request(method, f"{server.url}/_emulator/{path}", json=body, timeout=10)
    assert response.status_code < 300, response.text
    return response.json()


def logged(server: processes.Server, **filters) -> list[dict]:
    return admin(server, "GET", "requests?" + "&".join(f"{k}={v}" for k, v in filters.items()))["requests"]


def spec(model: str = "fal-ai/veo3.1/fast", size: str = "1280x720", seconds: str = "4", **kw) -> JobSpec:
    width, height = (int(n) for n in size.split("x"))
    return JobSpec("a paper boat on a blue table", model, width, height, seconds, **kw)


def until_terminal(client: FalClient, job_id: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        job = client.get_job(job_id)
        if job.terminal:
            return job
        assert time.monotonic() < deadline, f"{job_id} still {job.provider_status}"
        time.sleep(0.05)


def stored(client: FalClient, job, tmp_path: Path) -> tuple[Path, int]:
    target = tmp_path / "video.mp4"
    with client.open_output(job.outputs[0]) as download, target.open("wb") as sink:
        count = copy_download(download, sink)
        assert download.length == count
    return target, count


def test_a_text_to_video_request_completes_and_its_video_streams_at_the_requested_shape(fal, tmp_path):
    job = fal.create_job(spec(size="720x1280", seconds="4"))
    assert job.status is JobStatus.QUEUED and job.id.startswith("fal-ai/veo3.1/fast::")
    done = until_terminal(fal, job.id)
    assert done.status is JobStatus.SUCCEEDED
    video, _ = stored(fal, done, tmp_path)
    shape = probe(video)
    assert (shape.width, shape.height) == (720, 1280)
    assert shape.duration == pytest.approx(4, abs=0.3)
    assert shape.audio_codec is not None  # Veo's generate_audio defaults to true


def test_generate_audio_false_makes_a_silent_video(fal, tmp_path):
    done = until_terminal(fal, fal.create_job(spec(options={"generate_audio": False})).id)
    assert probe(stored(fal, done, tmp_path)[0]).audio_codec is None


def test_a_reference_goes_to_kling_image_to_video_as_a_data_uri(fal, fal_emulator, tmp_path):
    image = InputReference(image_bytes(1080, 1920), "reference.png", "image/png")
    job = fal.create_job(spec("fal-ai/kling-video/v2.5-turbo/pro", "1080x1920", "5", input_reference=image))
    assert job.id.startswith("fal-ai/kling-video/v2.5-turbo/pro/image-to-video::")
    shape = probe(stored(fal, until_terminal(fal, job.id), tmp_path)[0])
    assert (shape.width, shape.height) == (1080, 1920) and shape.audio_codec is None
    (submit,) = logged(fal_emulator, operation="submit")
    assert submit["path"] == "/fal-ai/kling-video/v2.5-turbo/pro/image-to-video"


def test_a_request_waiting_for_a_runner_reports_its_queue_position(fal, fal_emulator):
    admin(fal_emulator, "POST", "reset", {"time_scale": 1.0, "max_concurrent_jobs": 1})
    jobs = [fal.create_job(spec()) for _ in range(3)]
    admin(fal_emulator, "POST", "time/advance", {"seconds": 5})  # the first one is past its start-up
    states = [fal.get_job(job.id) for job in jobs]
    assert states[0].status is JobStatus.RUNNING
    assert [s.extra.get("queue_position") for s in states[1:]] == [0, 1]
    assert all(s.status is JobStatus.QUEUED for s in states[1:])


def test_cancel_removes_a_queued_request_and_it_ends_cancelled(fal, fal_emulator):
    admin(fal_emulator, "POST", "reset", {"time_scale": 1.0, "max_concurrent_jobs": 1})
    fal.create_job(spec())
    queued = fal.create_job(spec())
    assert fal.delete_job(queued.id) is True
    assert fal.get_job(queued.id).status is JobStatus.CANCELLED
    (cancel,) = logged(fal_emulator, operation="cancel")
    assert cancel["method"] == "PUT"


def test_cancel_of_a_completed_request_reports_nothing_cancelled(fal):
    done = until_terminal(fal, fal.create_job(spec()).id)
    assert fal.delete_job(done.id) is False


def test_a_wrong_key_is_refused_as_an_authentication_error(fal_emulator):
    client = FalClient(Transport(Endpoint(fal_emulator.url), FalKeyAuth("wrong-key-0123456789"), api="fal"))
    with pytest.raises(ProviderAuthenticationError):
        client.create_job(spec())
    client.close()


def test_a_429_on_submit_is_a_rate_limit_and_queues_nothing(fal, fal_emulator):
    admin(fal_emulator, "POST", "faults", {"operation": "submit", "kind": "status", "status": 429})
    with pytest.raises(ProviderRateLimited):
        fal.create_job(spec())
    assert len(logged(fal_emulator, operation="submit")) == 1  # a create is never retried blindly
    assert admin(fal_emulator, "GET", "status")["queued_jobs"] == 0


def test_a_5xx_on_status_is_retried_and_the_poll_succeeds(fal, fal_emulator):
    job = fal.create_job(spec())
    admin(fal_emulator, "POST", "faults", {"operation": "status", "kind": "status", "status": 503, "count": 2})
    assert fal.get_job(job.id).status in (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED)
    assert len(logged(fal_emulator, operation="status")) == 3


def test_a_submit_whose_answer_is_dropped_reports_that_the_job_may_exist(fal, fal_emulator):
    admin(fal_emulator, "POST", "faults", {"operation": "submit", "kind": "drop", "phase": "after"})
    with pytest.raises(ProviderUnavailable) as lost:
        fal.create_job(spec())
    assert lost.value.outcome_unknown
    assert len(logged(fal_emulator, operation="submit")) == 1


def test_a_download_dropped_mid_body_is_incomplete_and_retryable(fal, fal_emulator, tmp_path):
    done = until_terminal(fal, fal.create_job(spec()).id)
    admin(fal_emulator, "POST", "faults", {"operation": "media", "kind": "truncate", "bytes": 1000})
    with pytest.raises(ProviderDownloadIncomplete) as cut:
        stored(fal, done, tmp_path)
    assert cut.value.retryable
    assert stored(fal, done, tmp_path)[1] > 1000  # the next attempt gets it whole


def test_remix_and_listing_are_unsupported(fal):
    with pytest.raises(ProviderUnsupported):
        fal.remix_job(fal_job_id("fal-ai/veo3.1", "x"), "again")
    with pytest.raises(ProviderUnsupported):
        fal.list_jobs()


def test_the_webhook_fal_sends_verifies_against_its_jwks(fal, fal_emulator):
    with CallbackReceiver(path="/api/webhooks/fal?run=run-1") as receiver:
        job = fal.create_job(spec(webhook_url=receiver.url))
        body, headers = receiver.wait_for(1, timeout=30)[0]
    verified = FalWebhookVerifier(f"{fal_emulator.url}/.well-known/jwks.json").verify(headers, body)
    assert job.id.endswith("::" + verified.request_id) and verified.status == "OK"
    (webhook,) = admin(fal_emulator, "GET", "webhooks")["webhooks"]
    assert webhook["url"] == receiver.url  # fal keeps the webhook's own query (the run id)


def test_the_cdn_download_never_carries_the_fal_key(tmp_path):
    queue, cdn = FakeProvider(), FakeProvider()
    try:
        video = io.BytesIO(b"\x00" * 4096).getvalue()
        result = {"video": {"url": f"{cdn.url}/files/t/output.mp4", "file_size": len(video)}}
        queue.script("GET", "/fal-ai/veo3.1/requests/req-1", Scripted(200, result))
        cdn.script("GET", "/files/t/output.mp4", Scripted(200, video, {"content-type": "video/mp4"}))
        client = FalClient(Transport(Endpoint(queue.url), FalKeyAuth(FAL_KEY), api="fal"))
        job_id = fal_job_id("fal-ai/veo3.1", "req-1")
        with client.open_output(JobOutput("fal", "video", 0, job_id)) as download:
            assert copy_download(download, io.BytesIO()) == len(video)
        assert queue.seen[0].headers["authorization"] == f"Key {FAL_KEY}"
        assert "authorization" not in cdn.seen[0].headers
    finally:
        queue.stop()
        cdn.stop()


def test_a_cdn_length_that_differs_from_file_size_is_refused(tmp_path):
    queue, cdn = FakeProvider(), FakeProvider()
    try:
        result = {"video": {"url": f"{cdn.url}/v.mp4", "file_size": 5000}}
        queue.script("GET", "/fal-ai/veo3.1/requests/req-1", Scripted(200, result))
        cdn.script("GET", "/v.mp4", Scripted(200, b"\x00" * 4096, {"content-type": "video/mp4"}))
        client = FalClient(Transport(Endpoint(queue.url), FalKeyAuth(FAL_KEY), api="fal"))
        output = JobOutput("fal", "video", 0, fal_job_id("fal-ai/veo3.1", "req-1"))
        with pytest.raises(ProviderDownloadIncomplete, match="5000"), client.open_output(output):
            pass
    finally:
        queue.stop()
        cdn.stop()
