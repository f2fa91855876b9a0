"""Outputs are real media: H.264 + AAC MP4s of exactly the requested size and duration, WebP thumbnails, JPEG
spritesheets, streamed with exact headers."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from tests.emulators.sora.conftest import JOBS, PREVIEW, Harness
from tests.media import probe


def download(sora: Harness, path: str, params: dict | None = None) -> tuple[bytes, dict]:
    with sora.http.stream("GET", path, params=params) as response:
        assert response.status_code == 200, response.read()
        body = b"".join(response.iter_raw())
        return body, dict(response.headers)


def save(tmp_path: Path, name: str, body: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(body)
    return path


@pytest.mark.parametrize(("size", "seconds"), [("720x1280", "4"), ("1280x720", "8")])
def test_video_is_h264_with_aac_audio_at_the_requested_size_and_duration(
    sora: Harness, tmp_path: Path, size: str, seconds: str
):
    video = sora.create_video(size=size, seconds=seconds)
    sora.finish_renders()
    body, headers = download(sora, f"/v1/videos/{video['id']}/content")
    assert headers["content-type"] == "video/mp4"
    assert int(headers["content-length"]) == len(body)
    info = probe(save(tmp_path, "video.mp4", body))
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert f"{info.width}x{info.height}" == size
    assert info.duration == pytest.approx(int(seconds), abs=0.05)


def test_thumbnail_is_a_webp_still_of_the_video_size(sora: Harness):
    video = sora.create_video()
    sora.finish_renders()
    body, headers = download(sora, f"/v1/videos/{video['id']}/content", {"variant": "thumbnail"})
    assert headers["content-type"] == "image/webp"
    assert int(headers["content-length"]) == len(body)
    image = Image.open(io.BytesIO(body))
    assert (image.format, image.size) == ("WEBP", (720, 1280))


def test_spritesheet_is_a_jpeg_grid_of_frames(sora: Harness):
    video = sora.create_video()
    sora.finish_renders()
    body, headers = download(sora, f"/v1/videos/{video['id']}/content", {"variant": "spritesheet"})
    assert headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(body))
    assert image.format == "JPEG"
    width, height = image.size
    # Five columns of 256 px tiles, two rows of portrait (9:16) tiles.
    assert (width, height) == (5 * 256, 2 * 456)
    tiles = [image.crop((c * 256, 0, (c + 1) * 256, 456)).tobytes() for c in range(5)]
    assert len(set(tiles)) == 5, "every tile shows a different moment"


def test_downloads_are_the_same_bytes_each_time(sora: Harness):
    video = sora.create_video()
    sora.finish_renders()
    first, _ = download(sora, f"/openai/v1/videos/{video['id']}/content", {"variant": "video"})
    second, _ = download(sora, f"/v1/videos/{video['id']}/content")
    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()


def test_a_remix_is_another_video_of_the_same_shape(sora: Harness, tmp_path: Path):
    original = sora.create_video()
    sora.finish_renders()
    remix = sora.http.post(f"/v1/videos/{original['id']}/remix", json={"prompt": "at night"}).json()
    sora.finish_renders()
    before, _ = download(sora, f"/v1/videos/{original['id']}/content")
    after, _ = download(sora, f"/v1/videos/{remix['id']}/content")
    assert before != after
    info = probe(save(tmp_path, "remix.mp4", after))
    assert (info.video_codec, info.audio_codec, info.width, info.height) == ("h264", "aac", 720, 1280)
    assert info.duration == pytest.approx(4, abs=0.05)


def test_each_jobs_api_variant_is_its_own_video_at_the_requested_size(sora: Harness, tmp_path: Path):
    job = sora.create_job(width=854, height=480, n_seconds=3, n_variants=2)
    sora.finish_renders()
    generations = sora.job(job["id"])["generations"]
    bodies = []
    for index, generation in enumerate(generations):
        body, headers = download(sora, f"{JOBS}/{generation['id']}/content/video", PREVIEW)
        assert headers["content-type"] == "video/mp4"
        info = probe(save(tmp_path, f"{index}.mp4", body))
        assert (info.video_codec, info.audio_codec, info.width, info.height) == ("h264", "aac", 854, 480)
        assert info.duration == pytest.approx(3, abs=0.05)
        bodies.append(body)
    assert bodies[0] != bodies[1]
    thumbnail, headers = download(sora, f"{JOBS}/{generations[0]['id']}/content/thumbnail", PREVIEW)
    assert headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(thumbnail)).size == (854, 480)


def test_media_is_cached_by_size_and_duration(sora: Harness, sora_emulator):
    video = sora.create_video()
    sora.finish_renders()
    download(sora, f"/v1/videos/{video['id']}/content")
    cache = Path(sora.admin("GET", "status").json()["media_cache"])
    cached = sorted(p.name for p in cache.glob("video-*-720x1280-4s-f0.mp4"))
    assert len(cached) == 1
    mtime = (cache / cached[0]).stat().st_mtime_ns
    again = sora.create_video()
    sora.finish_renders()
    download(sora, f"/v1/videos/{again['id']}/content")
    assert (cache / cached[0]).stat().st_mtime_ns == mtime
    assert not list(cache.glob(".*.partial"))
