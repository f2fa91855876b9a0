"""`python -m emulators.vertex --host 127.0.0.1 --port PORT [--time-scale F] [--api-key TOKEN] [--project ID] ...`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aiohttp import web

from emulators.vertex.emulator import DEFAULT_MAX_CONCURRENT_JOBS, Options, default_cache_dir
from emulators.vertex.oauth import DEFAULT_TOKEN, ServiceAccount
from emulators.vertex.server import create_app


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
    parser = argparse.ArgumentParser(prog="python -m emulators.vertex", description="A local Vertex AI Veo server.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8920, help="port to listen on (default 8920)")
    parser.add_argument(
        "--time-scale", type=_positive_float, default=1.0, help="multiplies render and retention times (default 1.0)"
    )
    parser.add_argument(
        "--api-key", default=None, help="require this Bearer token (default: any non-empty token is accepted)"
    )
    parser.add_argument("--project", default=None, help="the only project the token may use; others get 403")
    parser.add_argument(
        "--max-concurrent-jobs",
        type=_positive_int,
        default=DEFAULT_MAX_CONCURRENT_JOBS,
        help=f"running operations before creates get 429 (default {DEFAULT_MAX_CONCURRENT_JOBS})",
    )
    parser.add_argument(
        "--service-account-key",
        type=Path,
        default=None,
        help="write a service-account key file here whose token_uri is this emulator's POST /token (which grants "
        "the --api-key token), for an app that authenticates with google-auth",
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
        project=args.project,
        time_scale=args.time_scale,
        max_concurrent_jobs=args.max_concurrent_jobs,
    )
    service_account = None
    if args.service_account_key is not None:
        service_account = ServiceAccount(
            project=options.project or "soraflow-local",
            token_uri=f"http://{args.host}:{args.port}/token",
            access_token=options.api_key or DEFAULT_TOKEN,
        )
        service_account.write_key_file(args.service_account_key)
    token = "must equal --api-key" if options.api_key else "any"
    print(
        f"Vertex AI Veo emulator on http://{args.host}:{args.port} (time scale {options.time_scale:g}, "
        f"max {options.max_concurrent_jobs} concurrent jobs, token {token}, project {options.project or 'any'}, "
        f"media cache {options.media_cache})",
        flush=True,
    )
    # In-flight requests (a scripted slow fault holds one for minutes) get 2 s on shutdown, not aiohttp's 60.
    web.run_app(
        create_app(options, service_account),
        host=args.host,
        port=args.port,
        access_log=None,
        print=None,
        shutdown_timeout=2.0,
    )


if __name__ == "__main__":
    sys.exit(main())
