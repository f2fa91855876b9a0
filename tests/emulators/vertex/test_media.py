"""Videos are real MP4s (H.264, 24 fps) of the requested aspect ratio and duration, with AAC audio unless turned off."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import imageio_ffmpeg
import pytest

from tests.emulators.vertex.conftest import Harness, inline_video, save
from tests.media import probe


@pytest.mark.parametrize(
    ("aspect", "seconds", "size"), [("16:9", 4, (1280, 720)), ("9:16", 4, (720, 1280)), ("16:9", 6, (1280, 720))]
)
def test_video_has_the_requested_shape_and_duration_with_audio(
    vertex: Harness, tmp_path: Path, aspect: str, seconds: int, size: tuple[int, int]
):
    operation = vertex.finished(vertex.create(aspectRatio=aspect, resolution="720p", durationSeconds=seconds))
    info = probe(save(tmp_path, "video.mp4", inline_video(operation)))
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert (info.width, info.height) == size
    assert info.duration == pytest.approx(seconds, abs=0.1)


def test_generate_audio_false_gives_a_video_without_an_audio_track(vertex: Harness, tmp_path: Path):
    operation = vertex.finished(vertex.create(generateAudio=False))
    info = probe(save(tmp_path, "silent.mp4", inline_video(operation)))
    assert (info.video_codec, info.audio_codec) == ("h264", None)
    assert info.duration == pytest.approx(4, abs=0.1)


def test_videos_run_at_veo_24_frames_a_second(vertex: Harness, tmp_path: Path):
    path = save(tmp_path, "video.mp4", inline_video(vertex.finished(vertex.create())))
    text = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True, check=False
    ).stderr
    assert re.search(r"Video: .*\b24 fps\b", text), text


def test_the_same_seed_gives_the_same_video_and_another_seed_another(vertex: Harness):
    first = inline_video(vertex.finished(vertex.create(seed=7)))
    again = inline_video(vertex.finished(vertex.create(seed=7)))
    other = inline_video(vertex.finished(vertex.create(seed=8)))
    assert first == again
    assert first != other
