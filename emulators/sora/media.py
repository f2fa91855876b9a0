"""Real media for finished jobs: H.264 + AAC MP4s, WebP thumbnails and JPEG spritesheets, cached on disk.

Videos are rendered by the ffmpeg of the `imageio-ffmpeg` wheel (testsrc2 pattern + a sine tone, or silent) at
exactly the requested size and duration, and cached by (size, seconds, flavour) so repeated tests
reuse them. Everything is made lazily, the first time a job's content is downloaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

# Bump when the rendering recipe changes so stale cache entries are not served.
RECIPE = "r1"
FRAME_RATE = 30
FLAVOURS = 4
SPRITE_COLUMNS = 5
SPRITE_ROWS = 2
SPRITE_TILE_WIDTH = 256

CONTENT_TYPES = {"video": "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}


class MediaError(RuntimeError):
    """ffmpeg could not make an asset."""


@dataclass(frozen=True)
class MediaSource:
    """What a job's video looks like: a generated pattern of this size and duration, or an imported file."""

    width: int
    height: int
    seconds: int
    flavour: int = 0
    path: str | None = None
    audio: bool = True
    frame_rate: int = FRAME_RATE

    def key(self) -> str:
        """The cache key of this source's assets (an import's key changes when its file does)."""
        if self.path is None:
            # The defaults add nothing, so the keys of existing cache entries stay as they were.
            rate = "" if self.frame_rate == FRAME_RATE else f"-{self.frame_rate}fps"
            silent = "" if self.audio else "-silent"
            return f"{RECIPE}-{self.width}x{self.height}-{self.seconds}s-f{self.flavour}{rate}{silent}"
        stat = os.stat(self.path)
        digest = hashlib.sha256(f"{self.path}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
        return f"{RECIPE}-import-{digest}-{self.width}x{self.height}"


def default_cache_dir() -> Path:
    """Where media is cached unless --media-cache says otherwise."""
    return Path(tempfile.gettempdir()) / "soraflow-sora-emulator-media"


def ffmpeg_executable() -> str:
    """The ffmpeg binary shipped in the imageio-ffmpeg wheel."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


class MediaLibrary:
    """Makes and caches the downloadable assets of jobs."""

    def __init__(self, cache_dir: Path, *, ffmpeg: str | None = None, parallel: int = 2):
        self.cache_dir = cache_dir
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self._ffmpeg = ffmpeg
        self._locks: dict[str, asyncio.Lock] = {}
        self._slots = asyncio.Semaphore(parallel)

    @property
    def ffmpeg(self) -> str:
        """The ffmpeg executable, looked up on first use."""
        if self._ffmpeg is None:
            self._ffmpeg = ffmpeg_executable()
        return self._ffmpeg

    async def asset(self, source: MediaSource, variant: str) -> Path:
        """The file for one variant (`video`, `thumbnail`, `spritesheet`) of a source, made if needed."""
        if variant == "video":
            return await self.video(source)
        if variant not in CONTENT_TYPES:
            raise ValueError(f"unknown variant {variant!r}")
        # The video first, outside the image's slot: both take one of the ffmpeg slots.
        video = await self.video(source)
        if variant == "thumbnail":
            return await self.cached(
                f"thumbnail-{source.key()}.webp", lambda out: self._make_thumbnail(source, video, out)
            )
        return await self.cached(
            f"spritesheet-{source.key()}.jpg", lambda out: self._make_spritesheet(source, video, out)
        )

    async def video(self, source: MediaSource) -> Path:
        """The MP4 of a source: the imported file itself, or a cached render."""
        if source.path is not None:
            return Path(source.path)
        return await self.cached(f"video-{source.key()}.mp4", lambda out: self._render_video(source, out))

    async def cached(self, name: str, make) -> Path:
        """The cached file `name`, made once by `make(partial_path)` (per process, under a lock) if absent."""
        target = self.cache_dir / name
        if target.exists():
            return target
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            if target.exists():
                return target
            # Written beside the target and renamed, so a reader (or another emulator sharing the cache)
            # never sees a half-written file.
            partial = self.cache_dir / f".{name}.{os.getpid()}.partial"
            try:
                async with self._slots:
                    await make(partial)
                os.replace(partial, target)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    partial.unlink()
        return target

    async def _render_video(self, source: MediaSource, out: Path) -> None:
        size = f"{source.width}x{source.height}"
        tone = 440 + 110 * source.flavour
        argv = [
            self.ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={source.frame_rate}:duration={source.seconds}",
        ]  # fmt: skip
        if source.audio:
            argv += ["-f", "lavfi", "-i", f"sine=frequency={tone}:sample_rate=48000:duration={source.seconds}"]
        if source.flavour:
            # A different hue per flavour, so a remix or a second variant is visibly another video.
            argv += ["-vf", f"hue=h={90 * source.flavour}"]
        argv += ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "28", "-pix_fmt", "yuv420p"]
        argv += ["-c:a", "aac", "-b:a", "64k", "-ac", "2"] if source.audio else ["-an"]
        argv += ["-movflags", "+faststart", "-f", "mp4", str(out)]
        await self._run(argv)

    async def _frames(
        self, source: MediaSource, video: Path, width: int, height: int, count: int, *, at: float | None
    ) -> list[Image.Image]:
        argv = [self.ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin"]
        if at is not None:
            argv += ["-ss", f"{at:.3f}"]
        argv += ["-i", str(video)]
        rate = f"fps={count}/{max(source.seconds, 1)}," if at is None else ""
        argv += ["-vf", f"{rate}scale={width}:{height}", "-frames:v", str(count)]
        argv += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
        raw = await self._run(argv)
        frame_bytes = width * height * 3
        frames = [
            Image.frombytes("RGB", (width, height), raw[i : i + frame_bytes])
            for i in range(0, len(raw) - frame_bytes + 1, frame_bytes)
        ]
        if not frames:
            raise MediaError(f"ffmpeg produced no frames from {video}")
        return frames

    async def _make_thumbnail(self, source: MediaSource, video: Path, out: Path) -> None:
        (frame,) = await self._frames(source, video, source.width, source.height, 1, at=source.seconds / 2)
        frame.save(out, format="WEBP", quality=80)

    async def _make_spritesheet(self, source: MediaSource, video: Path, out: Path) -> None:
        tile_w = SPRITE_TILE_WIDTH
        tile_h = max(2, round(tile_w * source.height / source.width / 2) * 2)
        frames = await self._frames(source, video, tile_w, tile_h, SPRITE_COLUMNS * SPRITE_ROWS, at=None)
        sheet = Image.new("RGB", (tile_w * SPRITE_COLUMNS, tile_h * SPRITE_ROWS))
        for index, frame in enumerate(frames[: SPRITE_COLUMNS * SPRITE_ROWS]):
            row, column = divmod(index, SPRITE_COLUMNS)
            sheet.paste(frame, (column * tile_w, row * tile_h))
        sheet.save(out, format="JPEG", quality=80)

    async def _run(self, argv: list[str]) -> bytes:
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        stdout, stderr = await process.communicate()
        if process.returncode != 0:
            tail = stderr.decode(errors="replace").strip()[-2000:]
            raise MediaError(f"ffmpeg exited with {process.returncode}: {tail}")
        return stdout
