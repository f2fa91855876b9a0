"""Move a large generated video from the Sora emulator into Azurite three ways; compare throughput and peak memory.

- streaming: the provider client's `open_content` piped into `BlobStore.upload_stream` (staged blocks, committed
  only when the byte count matches; a few blocks in memory at most);
- sdk: the same download handed to the storage SDK's own streaming `upload_blob(iterator, length=n)`, with the same
  block size and concurrency (the SDK stages and commits the blocks itself);
- naive: the whole body read into memory, then one `upload_blob` call with the SDK's defaults (what most samples do).

The video (an H.264 + AAC MP4 of at least --size-mb MB, 1920x1080 by default) is generated once with the ffmpeg from
imageio-ffmpeg and cached. Azurite and the emulator are started on free loopback ports, the video is registered with
the emulator's admin API, and each transfer runs in a fresh subprocess so its peak RSS is its own. Every blob is
read back from Azurite and checked against the source's size and SHA-256.

    .venv/bin/python -m benchmarks.download_to_blob [--size-mb 220] [--repeat 1] [--block-mb 4] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from emulators.processes import REPO_ROOT

MB = 1_000_000
MIN_SECONDS = 12
MAX_VIDEO_MBITS = 200  # above this the clip gets longer instead of denser, so x264 stays within sane levels
EMULATOR_KEY = "benchmark-key"
APPROACHES = ("streaming", "sdk", "naive")


@dataclass(frozen=True)
class Source:
    """The generated video: where it is, its size, hash and duration."""

    path: Path
    bytes: int
    sha256: str
    seconds: int
    resolution: str


def generate_video(cache_dir: Path, size_mb: int, resolution: str = "1920x1080") -> Source:
    """A real MP4 of at least `size_mb` MB (constant bitrate, noise so it cannot compress), made once and cached."""
    import imageio_ffmpeg

    seconds = max(MIN_SECONDS, math.ceil(size_mb * 8 / MAX_VIDEO_MBITS))
    mbits = math.ceil(size_mb * 8 / seconds)
    path = cache_dir / f"video-{resolution}-{seconds}s-{mbits}M.mp4"
    digest_path = path.with_suffix(".sha256")
    if path.exists() and digest_path.exists() and path.stat().st_size >= size_mb * MB:
        return Source(path, path.stat().st_size, digest_path.read_text().strip(), seconds, resolution)
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.mp4")
    print(f"generating a {size_mb} MB {resolution} video ({seconds} s at {mbits} Mbit/s) in {cache_dir} ...")
    started = time.perf_counter()
    # CBR with filler (nal-hrd=cbr) makes the size predictable; noise keeps it from being trivially compressible.
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={resolution}:rate=30,noise=alls=40:allf=t",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", str(seconds),
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-b:v", f"{mbits}M", "-minrate", f"{mbits}M", "-maxrate", f"{mbits}M", "-bufsize", f"{mbits}M",
            "-x264-params", "nal-hrd=cbr",
            "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart",
            str(partial),
        ],
        check=True,
    )  # fmt: skip
    size = partial.stat().st_size
    if size < size_mb * MB:
        raise RuntimeError(f"ffmpeg produced {size / MB:.1f} MB, less than the {size_mb} MB asked for")
    digest = file_sha256(partial)
    partial.replace(path)
    digest_path.write_text(digest + "\n")
    print(f"generated {size / MB:.1f} MB in {time.perf_counter() - started:.1f} s")
    return Source(path, size, digest, seconds, resolution)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(4 * 1024 * 1024):
            h.update(chunk)
    return h.hexdigest()


def import_video(emulator_url: str, source: Source) -> str:
    """Register the file with the emulator as a completed video; returns its id."""
    body = json.dumps({"path": str(source.path), "size": source.resolution, "seconds": str(source.seconds)})
    request = urllib.request.Request(f"{emulator_url}/_emulator/videos/import", data=body.encode(), method="POST")
    request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["id"]


def run_transfer(
    approach: str,
    *,
    video_id: str,
    emulator_url: str,
    api_key: str,
    storage: str,
    container: str,
    blob: str,
    block_mb: int = 4,
    concurrency: int = 2,
) -> dict:
    """One transfer in a fresh interpreter; returns what it measured."""
    argv = [
        sys.executable, "-m", "benchmarks.download_to_blob", "--child", approach,
        "--video-id", video_id, "--emulator-url", emulator_url, "--container", container, "--blob", blob,
        "--block-mb", str(block_mb), "--concurrency", str(concurrency),
    ]  # fmt: skip
    # Secrets go through the environment, never the command line (visible in `ps`).
    env = {**_clean_env(), "VIDEO_STORAGE": storage, "SORA_API_KEY": api_key}
    result = subprocess.run(argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise RuntimeError(f"{approach} transfer failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.upper().startswith(("VIDEO_STORAGE", "SORA_"))}


def child(args: argparse.Namespace) -> None:
    """Inside the subprocess: set everything up, then time only the transfer and report peak RSS."""
    from azure.storage.blob import BlobServiceClient, ContentSettings

    from soraflow.config import Settings
    from soraflow.providers import build_provider
    from soraflow.storage import BlobStore, resolve_connection

    settings = Settings(sora_endpoint=args.emulator_url, sora_api="videos", sora_api_key=os.environ["SORA_API_KEY"])
    provider = build_provider(settings)
    connection = resolve_connection()
    store = BlobStore(
        connection, args.container, block_size=args.block_mb * 1024 * 1024, max_concurrency=args.concurrency
    )
    store.container_client()  # connect and create the container outside the timed part
    block = args.block_mb * 1024 * 1024
    if args.child == "naive":
        # The naive side uses the SDK the way most samples do: from the connection string, default settings.
        service = BlobServiceClient.from_connection_string(os.environ["VIDEO_STORAGE"])
    else:
        # The SDK's streaming upload with the store's own block size, so only who stages the blocks differs.
        service = BlobServiceClient.from_connection_string(
            os.environ["VIDEO_STORAGE"], max_single_put_size=block, max_block_size=block
        )
    target = service.get_blob_client(args.container, args.blob)
    baseline = current_rss()

    started = time.perf_counter()
    if args.child == "streaming":
        with provider.open_content(args.video_id) as download:
            stored = store.upload_stream(
                args.blob, download.iter_bytes(), content_type=download.content_type or "video/mp4",
                expected_size=download.length,
            )  # fmt: skip
        size = stored.bytes
    elif args.child == "sdk":
        with provider.open_content(args.video_id) as download:
            target.upload_blob(
                download.iter_bytes(block), length=download.length, overwrite=True,
                max_concurrency=args.concurrency, content_settings=ContentSettings(content_type="video/mp4"),
            )  # fmt: skip
            size = download.bytes_read
    else:
        with provider.open_content(args.video_id) as download:
            body = b"".join(download.iter_bytes())
        target.upload_blob(body, overwrite=True, content_settings=ContentSettings(content_type="video/mp4"))
        size = len(body)
    seconds = time.perf_counter() - started

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
    print(json.dumps({"bytes": size, "seconds": seconds, "peak_rss": peak, "baseline_rss": baseline}))


def current_rss() -> int:
    """This process's resident set in bytes (Linux), read without psutil: importing psutil alone costs 4 MB of it."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def verify(store, blob: str, source: Source) -> None:
    """The blob in Azurite has exactly the source's bytes."""
    h = hashlib.sha256()
    reader = store.open_read(blob)
    for chunk in reader:
        h.update(chunk)
    if reader.blob.bytes != source.bytes or h.hexdigest() != source.sha256:
        raise AssertionError(f"{blob}: {reader.blob.bytes} bytes, sha256 {h.hexdigest()[:12]}… does not match source")


def print_table(rows: list[dict]) -> None:
    header = (
        f"{'approach':<10} {'run':>3} {'MB':>8} {'seconds':>8} {'MB/s':>8} {'peak RSS MB':>12} {'over baseline MB':>17}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['approach']:<10} {row['run']:>3} {row['bytes'] / MB:>8.1f} {row['seconds']:>8.2f} "
            f"{row['bytes'] / MB / row['seconds']:>8.1f} {row['peak_rss'] / MB:>12.0f} "
            f"{(row['peak_rss'] - row['baseline_rss']) / MB:>17.0f}"
        )
    runs = {approach: [r for r in rows if r["approach"] == approach] for approach in APPROACHES}
    if all(len(r) > 1 for r in runs.values()):
        for approach, selected in runs.items():
            print(
                f"{approach:<10} {'med':>3} {selected[0]['bytes'] / MB:>8.1f} "
                f"{statistics.median(r['seconds'] for r in selected):>8.2f} "
                f"{statistics.median(r['bytes'] / MB / r['seconds'] for r in selected):>8.1f} "
                f"{statistics.median(r['peak_rss'] for r in selected) / MB:>12.0f} "
                f"{statistics.median(r['peak_rss'] - r['baseline_rss'] for r in selected) / MB:>17.0f}"
            )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        child(args)
        return
    if args.size_mb < 1 or args.repeat < 1:
        raise SystemExit("--size-mb and --repeat must be at least 1")
    if not re.fullmatch(r"[1-9][0-9]{1,3}x[1-9][0-9]{1,3}", args.resolution):
        raise SystemExit(f"--resolution must look like 1920x1080, got {args.resolution!r}")

    from emulators import processes
    from soraflow.storage import BlobStore, resolve_connection

    source = generate_video(args.cache_dir, args.size_mb, args.resolution)
    with tempfile.TemporaryDirectory(prefix="soraflow-bench-") as work:
        root = Path(work)
        azurite = processes.start_azurite(root / "azurite", log_path=root / "azurite.log")
        emulator = processes.start_sora_emulator(
            args=["--api-key", EMULATOR_KEY, "--media-cache", str(root / "media")], log_path=root / "sora.log"
        )
        store = None
        try:
            storage = azurite.extra["connection_string"]
            video_id = import_video(emulator.url, source)
            container = f"bench{uuid.uuid4().hex[:12]}"
            store = BlobStore(resolve_connection(env={"VIDEO_STORAGE": storage}), container)
            print(
                f"source {source.bytes / MB:.1f} MB ({source.path.name}); emulator video {video_id}; "
                f"streaming with {args.block_mb} MiB blocks, {args.concurrency} in flight; download via the "
                f"provider client (soraflow.providers)"
            )
            rows = []
            for run in range(1, args.repeat + 1):
                for approach in APPROACHES:
                    blob = f"runs/bench-{approach}-{run}/video.mp4"
                    measured = run_transfer(
                        approach, video_id=video_id, emulator_url=emulator.url, api_key=EMULATOR_KEY, storage=storage,
                        container=container, blob=blob, block_mb=args.block_mb, concurrency=args.concurrency,
                    )  # fmt: skip
                    verify(store, blob, source)
                    store.delete(blob)  # keep Azurite's disk use to one video at a time
                    rows.append({"approach": approach, "run": run, **measured})
            print()
            print_table(rows)
            print("\nevery blob matched the source's size and SHA-256")
        finally:
            if store is not None:
                store.close()  # Azurite waits for open keep-alive connections before it exits
            emulator.stop()
            azurite.stop()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.download_to_blob", description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=220, help="size of the generated video in MB (default 220)")
    parser.add_argument("--resolution", default="1920x1080", help="video size WxH (default 1920x1080)")
    parser.add_argument("--repeat", type=int, default=1, help="transfers per approach (default 1)")
    parser.add_argument("--block-mb", type=int, default=4, help="streaming block size in MiB (default 4)")
    parser.add_argument("--concurrency", type=int, default=2, help="streaming blocks in flight (default 2)")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "soraflow-benchmarks",
        help="where the generated video is kept between runs",
    )
    # Internal: the subprocess that performs one transfer.
    parser.add_argument("--child", choices=APPROACHES, help=argparse.SUPPRESS)
    parser.add_argument("--video-id", help=argparse.SUPPRESS)
    parser.add_argument("--emulator-url", help=argparse.SUPPRESS)
    parser.add_argument("--container", help=argparse.SUPPRESS)
    parser.add_argument("--blob", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    main()
