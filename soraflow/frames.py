"""Extract one frame of a stored video as PNG (the seeds' iteration loop: a frame of one clip anchors the next)."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

from soraflow.errors import FieldError, RequestValidationError, SoraflowError

FFMPEG_TIMEOUT_SECONDS = 60


class FrameExtractionError(SoraflowError):
    """ffmpeg could not produce a frame from the video."""

    code = "frame_extraction_failed"


def ffmpeg_executable() -> str:
    """The ffmpeg shipped in the imageio-ffmpeg wheel (imported lazily: it is only needed here)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def extract_frame(video_chunks: Iterable[bytes], at_seconds: float) -> bytes:
    """The frame shown at `at_seconds` (or the last frame, if the video is shorter), as PNG bytes."""
    if not 0 <= at_seconds <= 3600:
        raise RequestValidationError(FieldError("input_reference.at_seconds", f"must be 0-3600; got {at_seconds}"))
    with tempfile.TemporaryDirectory(prefix="soraflow-frame-") as folder:
        video = Path(folder) / "source.mp4"
        with video.open("wb") as sink:
            for chunk in video_chunks:
                sink.write(chunk)
        frame = _run_ffmpeg(["-ss", f"{at_seconds:.3f}", "-i", str(video)])
        if not frame:
            # Seeking past the end yields nothing: take the last frame instead of failing the run.
            frame = _run_ffmpeg(["-sseof", "-0.5", "-i", str(video)])
        if not frame:
            raise FrameExtractionError(f"no frame could be read at {at_seconds} s from the source video")
        return frame


def _run_ffmpeg(input_args: list[str]) -> bytes:
    argv = [ffmpeg_executable(), "-hide_banner", "-loglevel", "error", *input_args]
    argv += ["-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "pipe:1"]
    try:
        result = subprocess.run(argv, capture_output=True, timeout=FFMPEG_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise FrameExtractionError("ffmpeg took too long to extract a frame", retryable=True) from None
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["unknown error"]
        raise FrameExtractionError(f"ffmpeg could not read the source video: {message[0][:200]}")
    return result.stdout
