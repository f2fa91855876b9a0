"""The Vertex AI Veo client against the real Vertex emulator over HTTP, authenticated by google-auth's real refresh
flow (a service-account key whose token endpoint is served on loopback)."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators import processes
from soraflow.config import Settings
from soraflow.providers import (
    InputReference,
    JobSpec,
    ProviderAuthenticationError,
    ProviderDownloadIncomplete,
    ProviderRateLimited,
)
from soraflow.providers.status import JobStatus
from soraflow.providers.vertex import VertexClient, build_vertex_client
from tests.google_token_server import GoogleTokenServer
from tests.integration.providers.conftest import FAST_RETRY, advance, emulator_admin, logged
from tests.media import image_bytes, probe

PROJECT = "soraflow-test"
TOKEN = "vertex-test-token-0123456789"


@pytest.fixture(scope="module")
def token_server() -> Iterator[GoogleTokenServer]:
    with GoogleTokenServer(TOKEN) as server:
        yield server


@pytest.fixture(scope="module")
def vertex_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[processes.Server]:
    log = tmp_path_factory.mktemp("vertex") / "emulator.log"
    args = ["--time-scale", "0.02", "--api-key", TOKEN, "--project", PROJECT]
    with processes.running(processes.start_vertex_emulator(args=args, log_path=log)) as server:
        yield server


@pytest.fixture
def vertex(vertex_server: processes.Server) -> processes.Server:
    emulator_admin(vertex_server, "reset", {})
    return vertex_server


def make_client(server: processes.Server, tokens: GoogleTokenServer, **extra: str) -> VertexClient:
    env = {
        "VERTEX_PROJECT": PROJECT,
        "VERTEX_ENDPOINT": server.url,
        "VERTEX_CREDENTIALS": json.dumps(tokens.service_account_info()),
        **extra,
    }
    return build_vertex_client(Settings.from_env(env), retry=FAST_RETRY)


def finished(client: VertexClient, server: processes.Server, job_id: str):
    advance(server, 600)
    job = client.get_job(job_id)
    assert job.status is JobStatus.SUCCEEDED, job
    return job


def store(client: VertexClient, output, path: Path, *, chunk_size: int = 1024 * 1024) -> Path:
    with client.open_output(output) as download, path.open("wb") as file:
        for chunk in download.iter_bytes(chunk_size):
            file.write(chunk)
    return path


def spec(prompt: str = "a paper boat on a blue table", **overrides) -> JobSpec:
    fields = {"prompt": prompt, "model": "veo-3.1-fast-generate-001", "width": 720, "height": 1280, "seconds": 4}
    return JobSpec(**{**fields, **overrides})


def test_text_to_video_streams_an_inline_mp4_of_the_requested_size_and_duration(vertex, token_server, tmp_path):
    client = make_client(vertex, token_server)
    job = client.create_job(spec())
    assert job.status is JobStatus.RUNNING and job.id.startswith(f"projects/{PROJECT}/")
    done = finished(client, vertex, job.id)
    assert [(o.kind, o.index, o.source_id) for o in done.outputs] == [("video", 0, job.id)]
    assert "AAAA" not in json.dumps(done.to_dict())  # no video bytes in what goes into history
    media = probe(store(client, done.outputs[0], tmp_path / "video.mp4"))
    assert (media.width, media.height, round(media.duration)) == (720, 1280, 4)
    assert media.audio_codec == "aac"
    assert len(logged(vertex, operation="create")) == 1


def test_image_to_video_sends_the_first_frame_and_silent_option(vertex, token_server, tmp_path):
    client = make_client(vertex, token_server)
    image = InputReference(image_bytes(1280, 720), "reference.png", "image/png")
    job = client.create_job(
        spec(width=1280, height=720, seconds=6, input_reference=image, options={"generate_audio": False})
    )
    done = finished(client, vertex, job.id)
    media = probe(store(client, done.outputs[0], tmp_path / "video.mp4"))
    assert (media.width, media.height, round(media.duration), media.audio_codec) == (1280, 720, 6, None)


def test_samples_become_one_output_each(vertex, token_server, tmp_path):
    client = make_client(vertex, token_server)
    done = finished(client, vertex, client.create_job(spec(variants=2)).id)
    assert [o.index for o in done.outputs] == [0, 1]
    first = store(client, done.outputs[0], tmp_path / "0.mp4").read_bytes()
    second = store(client, done.outputs[1], tmp_path / "1.mp4").read_bytes()
    assert first != second and probe(tmp_path / "1.mp4").width == 720


def test_gcs_output_is_streamed_from_cloud_storage(vertex, token_server, tmp_path):
    client = make_client(vertex, token_server, VERTEX_OUTPUT_GCS_URI="gs://soraflow-out/runs")
    done = finished(client, vertex, client.create_job(spec()).id)
    assert done.outputs[0].source_id.startswith("gs://soraflow-out/runs/")
    media = probe(store(client, done.outputs[0], tmp_path / "video.mp4"))
    assert (media.width, media.height) == (720, 1280)
    assert len(logged(vertex, api="storage", operation="content")) == 1


def test_filtered_samples_fail_as_content_policy_with_the_reasons(vertex, token_server):
    client = make_client(vertex, token_server)
    done = client.get_job(client.create_job(spec("a boat [moderation]")).id)
    advance(vertex, 600)
    done = client.get_job(done.id)
    assert done.status is JobStatus.FAILED and done.error.content_policy
    assert "not been charged" in done.error.message


def test_operation_error_keeps_google_code_and_message(vertex, token_server):
    client = make_client(vertex, token_server)
    job = client.create_job(spec("a boat [internal-error]"))
    advance(vertex, 600)
    failed = client.get_job(job.id)
    assert failed.status is JobStatus.FAILED
    assert (failed.error.code, failed.error.content_policy) == ("internal", False)


def test_resource_exhausted_create_is_rate_limited_and_creates_nothing(vertex, token_server):
    client = make_client(vertex, token_server)
    emulator_admin(vertex, "faults", {"api": "vertex", "operation": "create", "kind": "status", "status": 429})
    with pytest.raises(ProviderRateLimited) as raised:
        client.create_job(spec())
    assert raised.value.provider_code == "RESOURCE_EXHAUSTED" and "Vertex AI create failed" in raised.value.message
    assert [entry["status"] for entry in logged(vertex, operation="create")] == [429]


def test_server_errors_on_polling_are_retried(vertex, token_server):
    client = make_client(vertex, token_server)
    job = client.create_job(spec())
    emulator_admin(
        vertex, "faults", {"api": "vertex", "operation": "retrieve", "kind": "status", "status": 503, "count": 2}
    )
    advance(vertex, 600)
    assert client.get_job(job.id).status is JobStatus.SUCCEEDED
    assert [e["status"] for e in logged(vertex, operation="retrieve")] == [503, 503, 200]


def test_a_dropped_cloud_storage_download_is_incomplete_and_retryable(vertex, token_server, tmp_path):
    client = make_client(vertex, token_server, VERTEX_OUTPUT_GCS_URI="gs://soraflow-out/runs")
    done = finished(client, vertex, client.create_job(spec()).id)
    fault = {"api": "storage", "operation": "content", "kind": "drop", "bytes": 65536}
    emulator_admin(vertex, "faults", fault)
    with pytest.raises(ProviderDownloadIncomplete) as raised:
        store(client, done.outputs[0], tmp_path / "video.mp4")
    assert raised.value.retryable and raised.value.message.startswith("Vertex AI content download is incomplete")
    assert probe(store(client, done.outputs[0], tmp_path / "again.mp4")).width == 720


def test_inline_decode_holds_far_less_than_the_video(vertex, token_server, tmp_path):
    client = make_client(vertex, token_server)
    done = finished(client, vertex, client.create_job(spec(width=1920, height=1080, seconds=8)).id)
    size = 0
    tracemalloc.start()
    try:
        with client.open_output(done.outputs[0]) as download:
            for chunk in download.iter_bytes(64 * 1024):
                size += len(chunk)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"inline decode: video {size} bytes, peak traced memory {peak} bytes")
    assert size > 1_000_000
    assert peak < size / 4


def test_a_refused_token_is_refreshed_once_then_the_error_names_vertex(vertex, tmp_path):
    with GoogleTokenServer("a-token-the-emulator-refuses", rotate=True) as wrong_tokens:
        client = make_client(vertex, wrong_tokens)
        with pytest.raises(ProviderAuthenticationError) as raised:
            client.create_job(spec())
        assert len(wrong_tokens.grants) == 2
    assert raised.value.http_status == 401 and raised.value.message.startswith("Vertex AI create failed")
    assert [entry["status"] for entry in logged(vertex, operation="create")] == [401, 401]


def test_a_prompt_refused_by_responsible_ai_fails_as_content_policy(vertex, token_server):
    client = make_client(vertex, token_server)
    job = client.create_job(spec("a boat [input-moderation]"))
    advance(vertex, 600)
    failed = client.get_job(job.id)
    assert failed.status is JobStatus.FAILED
    assert (failed.error.code, failed.error.content_policy) == ("content_policy", True)
