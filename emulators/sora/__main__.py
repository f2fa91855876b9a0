"""`python -m emulators.sora --host 127.0.0.1 --port PORT [--time-scale F] [--api-key KEY] ...`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aiohttp import web

from emulators.sora.emulator import Options
from emulators.sora.media import default_cache_dir
from emulators.sora.server import create_app


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m emulators.sora", description="A local Sora server (both APIs).")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8910, help="port to listen on (default 8910)")
    parser.add_argument(
        "--time-scale", type=_positive_float, default=1.0, help="multiplies render and retention times (default 1.0)"
    )
    parser.add_argument("--api-key", default=None, help="require this key (api-key header or Bearer token)")
    parser.add_argument(
        "--max-concurrent-jobs", type=_positive_int, default=2, help="active jobs before creates get 429 (default 2)"
    )
    parser.add_argument(
        "--media-cache", type=Path, default=None, help=f"generated media cache (default {default_cache_dir()})"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the emulator until SIGINT/SIGTERM."""
    args = parse_args(argv)
    options = Options(
        media_cache=(args.media_cache or default_cache_dir()).resolve(),
        api_key=args.api_key,
        time_scale=args.time_scale,
        max_concurrent_jobs=args.max_concurrent_jobs,
    )
    key = "required" if options.api_key else "not required"
    print(
        f"Sora emulator on http://{args.host}:{args.port} (time scale {options.time_scale:g}, "
        f"max {options.max_concurrent_jobs} concurrent jobs, api key {key}, media cache {options.media_cache})",
        flush=True,
    )
    # run_app stops on SIGINT and SIGTERM; in-flight requests (a scripted slow fault holds one for minutes) get 2 s,
    # not aiohttp's default 60, so that whoever stops the emulator sees it gone within seconds.
    web.run_app(create_app(options), host=args.host, port=args.port, access_log=None, print=None, shutdown_timeout=2.0)


if __name__ == "__main__":
    sys.exit(main())
