"""Media checks shared by tests: encode a test image, and ask ffmpeg what a media file holds."""

from __future__ import annotations

import io
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
from PIL import Image


def image_bytes(width: int, height: int, *, fmt: str = "PNG", colour=(30, 160, 90)) -> bytes:
    """An encoded solid-colour image."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format=fmt)
    return buffer.getvalue()


@dataclass(frozen=True)
class Probe:
    """What ffmpeg says a media file holds."""

    duration: float
    video_codec: str | None
    width: int | None
    height: int | None
    audio_codec: str | None


def probe(path: Path) -> Probe:
    """Parse `ffmpeg -i` (it prints the streams to stderr and exits non-zero for want of an output)."""
    result = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True, check=False
    )
    text = result.stderr
    duration = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", text)
    video = re.search(r"Stream #\S+.*?: Video: (\w+).*?, (\d{2,5})x(\d{2,5})", text)
    audio = re.search(r"Stream #\S+.*?: Audio: (\w+)", text)
    assert duration is not None, text
    hours, minutes, seconds = duration.groups()
    return Probe(
        duration=int(hours) * 3600 + int(minutes) * 60 + float(seconds),
        video_codec=video.group(1) if video else None,
        width=int(video.group(2)) if video else None,
        height=int(video.group(3)) if video else None,
        audio_codec=audio.group(1) if audio else None,
    )
