"""The official `openai` SDK pointed at the emulator (OpenAI-style `/v1` and Azure `/openai/v1` base URLs)."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from PIL import Image

from emulators import processes
from tests.conftest import SORA_EMULATOR_KEY
from tests.emulators.sora.conftest import Harness
from tests.media import image_bytes, probe

# Every `client.videos` method is marked deprecated (the Sora API shuts down in 2026); the calls still work.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(params=["/v1", "/openai/v1"], ids=["openai", "azure"])
def client(request, sora: Harness, sora_emulator: processes.Server) -> Iterator[openai.OpenAI]:
    # No SDK retries: a test must see exactly what the emulator answered.
    with openai.OpenAI(api_key=SORA_EMULATOR_KEY, base_url=sora_emulator.url + request.param, max_retries=0) as sdk:
        yield sdk


def test_create_retrieve_and_download_every_variant(client: openai.OpenAI, sora: Harness, tmp_path: Path):
    video = client.videos.create(prompt="a red panda making latte art", size="1280x720", seconds="4")
    assert (video.status, video.size, video.seconds, video.model) == ("queued", "1280x720", "4", "sora-2")
    sora.finish_renders()
    done = client.videos.retrieve(video.id)
    assert (done.status, done.progress) == ("completed", 100)
    assert done.expires_at is not None and done.completed_at is not None
    client.videos.download_content(video.id, variant="video").write_to_file(tmp_path / "video.mp4")
    info = probe(tmp_path / "video.mp4")
    assert (info.video_codec, info.audio_codec, info.width, info.height) == ("h264", "aac", 1280, 720)
    thumbnail = client.videos.download_content(video.id, variant="thumbnail")
    assert Image.open(io.BytesIO(thumbnail.content)).format == "WEBP"
    spritesheet = client.videos.download_content(video.id, variant="spritesheet")
    assert Image.open(io.BytesIO(spritesheet.content)).format == "JPEG"
    assert client.videos.download_content(video.id).content == (tmp_path / "video.mp4").read_bytes()


def test_create_with_an_input_reference_file(client: openai.OpenAI, sora: Harness, tmp_path: Path):
    reference = tmp_path / "horses-720x1280.jpg"
    reference.write_bytes(image_bytes(720, 1280, fmt="JPEG"))
    with reference.open("rb") as file:
        video = client.videos.create(prompt="the horses jump", input_reference=file)
    assert video.status == "queued"
    [create] = sora.requests(operation="create")
    assert create["job_id"] == video.id


def test_a_mismatched_reference_is_a_bad_request_error(client: openai.OpenAI):
    with pytest.raises(openai.BadRequestError) as info:
        client.videos.create(prompt="x", input_reference=("ref.png", image_bytes(640, 480), "image/png"))
    assert info.value.status_code == 400
    assert info.value.body["param"] == "input_reference"


def test_poll_follows_the_hint_until_completed(client: openai.OpenAI):
    video = client.videos.create(prompt="waves at sunset")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        done = client.videos.poll(video.id)
    assert (done.status, done.progress) == ("completed", 100)


def test_list_paginates_and_delete_removes(client: openai.OpenAI, sora: Harness):
    sora.reset(max_concurrent_jobs=10)
    ids = [client.videos.create(prompt=f"clip {n}").id for n in range(3)]
    page = client.videos.list(limit=2)
    assert [v.id for v in page.data] == ids[::-1][:2]
    assert page.has_more is True
    assert [v.id for v in client.videos.list(limit=1)] == ids[::-1], "auto-pagination walks every page"
    assert [v.id for v in client.videos.list(order="asc")] == ids
    deleted = client.videos.delete(ids[0])
    assert (deleted.id, deleted.deleted, deleted.object) == (ids[0], True, "video.deleted")
    assert [v.id for v in client.videos.list()] == ids[:0:-1]


def test_remix_makes_a_new_video(client: openai.OpenAI, sora: Harness):
    video = client.videos.create(prompt="a cat on a motorcycle")
    sora.finish_renders()
    remix = client.videos.remix(video.id, prompt="the same cat, in the rain")
    assert remix.id != video.id
    assert (remix.remixed_from_video_id, remix.prompt) == (video.id, "the same cat, in the rain")


def test_sdk_errors_map_to_the_sdks_exception_types(client: openai.OpenAI, sora: Harness):
    sora.reset(time_scale=1.0)
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve("video_does_not_exist")
    client.videos.create(prompt="one")
    client.videos.create(prompt="two")
    with pytest.raises(openai.RateLimitError) as info:
        client.videos.create(prompt="three")
    assert int(info.value.response.headers["Retry-After"]) >= 1
    assert info.value.code == "rate_limit_exceeded"


def test_a_wrong_key_is_an_authentication_error(sora_emulator: processes.Server):
    with (
        openai.OpenAI(api_key="wrong", base_url=sora_emulator.url + "/v1", max_retries=0) as sdk,
        pytest.raises(openai.AuthenticationError),
    ):
        sdk.videos.list()


def test_sdk_retries_honour_a_scripted_503(sora: Harness, sora_emulator: processes.Server):
    sora.add_fault(operation="retrieve", kind="status", status=503, count=1, retry_after=0)
    video = sora.create_video()
    with openai.OpenAI(api_key=SORA_EMULATOR_KEY, base_url=sora_emulator.url + "/v1", max_retries=2) as sdk:
        assert sdk.videos.retrieve(video["id"]).id == video["id"]
    assert [e["status"] for e in sora.requests(operation="retrieve")] == [503, 200]
