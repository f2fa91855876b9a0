"""The official google-genai SDK in Vertex mode, pointed at the emulator with `http_options`, generates videos."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from google import genai
from google.genai import errors, types
from google.oauth2.credentials import Credentials

from emulators import processes
from tests.emulators.vertex.conftest import FAST, LOCATION, PROJECT, TOKEN, Harness, save
from tests.media import probe

POLL_SECONDS = 0.1
POLL_LIMIT = 300


def client_for(url: str, *, token: str = TOKEN, **http_options) -> genai.Client:
    """A Vertex-mode client with a static OAuth token, as an app with a service account would hold."""
    return genai.Client(
        vertexai=True,
        project=PROJECT,
        location=LOCATION,
        credentials=Credentials(token=token),
        http_options=types.HttpOptions(base_url=url, **http_options),
    )


@pytest.fixture
def client(vertex: Harness) -> genai.Client:
    return client_for(vertex.url)


def poll(client: genai.Client, operation: types.GenerateVideosOperation) -> types.GenerateVideosOperation:
    for _ in range(POLL_LIMIT):
        if operation.done:
            return operation
        time.sleep(POLL_SECONDS)
        operation = client.operations.get(operation)
    raise AssertionError(f"{operation.name} was not done after {POLL_LIMIT} polls")


def generate(
    client: genai.Client, prompt: str = "a paper boat on a blue table", **config
) -> types.GenerateVideosOperation:
    return client.models.generate_videos(
        model=FAST,
        source=types.GenerateVideosSource(prompt=prompt),
        config=types.GenerateVideosConfig(duration_seconds=4, **config),
    )


def test_generate_videos_and_operations_get_reach_a_done_operation_with_a_real_mp4(
    vertex: Harness, client: genai.Client, tmp_path: Path
):
    operation = generate(client, aspect_ratio="9:16", resolution="720p", generate_audio=True)
    assert operation.name.startswith(f"projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/{FAST}/")
    assert not operation.done
    operation = poll(client, operation)
    assert operation.error is None
    [generated] = operation.response.generated_videos
    assert generated.video.mime_type == "video/mp4"
    info = probe(save(tmp_path, "sdk.mp4", generated.video.video_bytes))
    assert (info.video_codec, info.width, info.height, round(info.duration), info.audio_codec) == (
        "h264", 720, 1280, 4, "aac",
    )  # fmt: skip
    [create] = vertex.requests(operation="create")
    assert create["path"].startswith("/v1beta1/projects/")  # the SDK's default API version
    assert {e["job_id"] for e in vertex.requests(operation="retrieve")} == {create["job_id"]}


def test_output_gcs_uri_gives_gs_uris_of_objects_the_emulator_serves(vertex: Harness, client: genai.Client):
    operation = poll(client, generate(client, output_gcs_uri="gs://my-bucket/renders", number_of_videos=2))
    uris = [video.video.uri for video in operation.response.generated_videos]
    assert len(uris) == 2 and all(uri.startswith("gs://my-bucket/renders/") for uri in uris)
    assert [uri.rsplit("/", 1)[1] for uri in uris] == ["sample_0.mp4", "sample_1.mp4"]
    assert all(video.video.video_bytes is None for video in operation.response.generated_videos)


def test_a_filtered_video_shows_as_rai_media_filtered_count_and_reasons(client: genai.Client):
    operation = poll(client, generate(client, "a paper boat [moderation]"))
    assert operation.response.rai_media_filtered_count == 1
    assert "Responsible AI" in operation.response.rai_media_filtered_reasons[0]
    assert not operation.response.generated_videos


def test_a_failed_operation_carries_the_rpc_status(client: genai.Client):
    operation = poll(client, generate(client, "a paper boat [input-moderation]"))
    assert operation.error["code"] == 3
    assert "Responsible AI" in operation.error["message"]


def test_an_invalid_parameter_is_a_client_error_naming_it(client: genai.Client):
    with pytest.raises(errors.ClientError) as raised:
        generate(client, number_of_videos=5)
    assert raised.value.code == 400
    assert raised.value.status == "INVALID_ARGUMENT"
    assert "parameters.sampleCount" in raised.value.message


def test_an_unknown_model_is_a_not_found_client_error(client: genai.Client):
    with pytest.raises(errors.ClientError) as raised:
        client.models.generate_videos(model="veo-2.0-generate-001", source=types.GenerateVideosSource(prompt="x"))
    assert (raised.value.code, raised.value.status) == (404, "NOT_FOUND")


def test_a_wrong_token_is_an_unauthenticated_client_error(vertex: Harness):
    with pytest.raises(errors.ClientError) as raised:
        generate(client_for(vertex.url, token="not-the-token"))
    assert (raised.value.code, raised.value.status) == (401, "UNAUTHENTICATED")
    assert vertex.admin("GET", "status").json()["active_jobs"] == 0


def test_the_sdk_retry_options_ride_out_a_503_and_create_one_operation(vertex: Harness):
    vertex.add_fault(operation="create", kind="status", status=503)
    retrying = client_for(
        vertex.url, retry_options=types.HttpRetryOptions(attempts=3, initial_delay=0.05, max_delay=0.1)
    )
    poll(retrying, generate(retrying))
    creates = vertex.requests(operation="create")
    assert [(e["status"], e["fault"]) for e in creates] == [(503, "status"), (200, None)]
    assert len({e["job_id"] for e in creates if e["job_id"]}) == 1


def test_the_async_client_works_too(client: genai.Client):
    async def run() -> types.GenerateVideosOperation:
        operation = await client.aio.models.generate_videos(
            model=FAST, source=types.GenerateVideosSource(prompt="a kite"), config={"duration_seconds": 4}
        )
        for _ in range(POLL_LIMIT):
            if operation.done:
                return operation
            await asyncio.sleep(POLL_SECONDS)
            operation = await client.aio.operations.get(operation)
        raise AssertionError("not done")

    operation = asyncio.run(run())
    assert operation.response.generated_videos[0].video.video_bytes[4:8] == b"ftyp"


def test_without_api_key_any_token_is_accepted(tmp_path: Path):
    with processes.start_vertex_emulator(args=["--time-scale", "0.02"], log_path=tmp_path / "vertex.log") as server:
        operation = generate(client_for(server.url, token="whatever-adc-gives"))
        assert operation.name.startswith(f"projects/{PROJECT}/locations/{LOCATION}/")
        assert not operation.done
