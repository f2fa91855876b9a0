"""Real MP4s of the requested aspect, resolution and duration, with audio only where the model makes it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.emulators.fal.conftest import VEO_FAST, Harness
from tests.emulators.fal.test_validation import data_uri
from tests.media import probe


def download(fal: Harness, endpoint: str, body: dict, tmp_path: Path) -> Path:
    submitted = fal.submit(endpoint, **body)
    fal.wait_completed(submitted)
    video = fal.http.get(submitted["response_url"]).json()["video"]
    path = tmp_path / video["file_name"]
    path.write_bytes(httpx.get(video["url"], verify=fal.tls).content)
    assert path.stat().st_size == video["file_size"]
    return path


@pytest.mark.parametrize(
    ("endpoint", "body", "size", "seconds", "audio"),
    [
        (VEO_FAST, {"duration": "4s"}, (1280, 720), 4, True),
        (VEO_FAST, {"duration": "4s", "aspect_ratio": "9:16", "generate_audio": False}, (720, 1280), 4, False),
        ("fal-ai/minimax/hailuo-02/standard/text-to-video", {}, (1366, 768), 6, False),
    ],
)
def test_the_video_has_the_requested_frame_duration_and_audio(fal, tmp_path, endpoint, body, size, seconds, audio):
    media = probe(download(fal, endpoint, body, tmp_path))
    assert (media.width, media.height) == size
    assert media.video_codec == "h264"
    assert abs(media.duration - seconds) < 0.2
    assert (media.audio_codec is not None) == audio


def test_auto_aspect_follows_the_input_image(fal: Harness, tmp_path: Path):
    body = {"image_url": data_uri(90, 160), "resolution": "512P"}
    media = probe(download(fal, "fal-ai/minimax/hailuo-02/standard/image-to-video", body, tmp_path))
    assert (media.width, media.height) == (512, 910)


def test_a_silent_video_asked_for_many_times_at_once_is_made_once_and_whole(tmp_path):
    """A webhook and a result call once rendered one silent file together and served it half-written."""
    import asyncio

    from emulators.fal.emulator import FalEmulator, Options
    from emulators.fal.models import Generation

    emulator = FalEmulator(Options(media_cache=tmp_path / "media"))
    generation = Generation(width=640, height=360, seconds=2, audio=False)

    async def at_once() -> list[Path]:
        return await asyncio.gather(*(emulator.video_file(generation) for _ in range(6)))

    paths = asyncio.run(at_once())
    assert len(set(paths)) == 1
    media = probe(paths[0])
    assert (media.width, media.height, media.audio_codec) == (640, 360, None)
    assert media.duration == pytest.approx(2, abs=0.3)
    assert not list((tmp_path / "media").glob(".*partial"))
