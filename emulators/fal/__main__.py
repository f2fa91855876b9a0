"""`python -m emulators.fal --host 127.0.0.1 --port PORT [--time-scale F] [--api-key KEY] [--tls-cert C ...]`."""

from __future__ import annotations

import argparse
import ssl
import sys
from pathlib import Path

from aiohttp import web

from emulators.fal.emulator import Options
from emulators.fal.queue import MEDIA_RETENTION_SECONDS
from emulators.fal.server import create_app
from emulators.sora.__main__ import _positive_float, _positive_int
from emulators.sora.media import default_cache_dir


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m emulators.fal", description="A local fal.ai queue server.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8920, help="port to listen on (default 8920)")
    parser.add_argument(
        "--time-scale", type=_positive_float, default=1.0, help="multiplies render, retention and retry times (1.0)"
    )
    parser.add_argument("--api-key", default=None, help="require this key (Authorization: Key <key>)")
    parser.add_argument(
        "--max-concurrent-jobs", type=_positive_int, default=2, help="runners; more requests wait IN_QUEUE (2)"
    )
    parser.add_argument(
        "--media-cache", type=Path, default=None, help=f"generated media cache (default {default_cache_dir()})"
    )
    parser.add_argument(
        "--media-retention",
        type=_positive_float,
        default=MEDIA_RETENTION_SECONDS,
        help="seconds output files stay downloadable, before the time scale (default 604800: 7 days)",
    )
    parser.add_argument("--tls-cert", type=Path, default=None, help="serve https with this PEM certificate")
    parser.add_argument("--tls-key", type=Path, default=None, help="the certificate's PEM private key")
    parser.add_argument(
        "--validation-errors",
        choices=("result", "submit"),
        default="result",
        help="when invalid input is reported: at the result, as fal's queue does (default), or as a 422 on submit",
    )
    parser.add_argument(
        "--webhook-key", type=Path, default=None, help="Ed25519 PEM key signing webhooks (made there if missing)"
    )
    parser.add_argument(
        "--webhook-user-id", default="emulator-user", help="X-Fal-Webhook-User-Id (default emulator-user)"
    )
    parser.add_argument(
        "--jwks-path", default="/.well-known/jwks.json", help="where the webhook key set is served (default fal's)"
    )
    args = parser.parse_args(argv)
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    if not args.jwks_path.startswith("/") or args.jwks_path.startswith("/_emulator/"):
        parser.error(f"--jwks-path must be an absolute path outside /_emulator/, got {args.jwks_path!r}")
    return args


def main(argv: list[str] | None = None) -> None:
    """Run the emulator until SIGINT/SIGTERM."""
    args = parse_args(argv)
    options = Options(
        media_cache=(args.media_cache or default_cache_dir()).resolve(),
        api_key=args.api_key,
        time_scale=args.time_scale,
        max_concurrent_jobs=args.max_concurrent_jobs,
        media_retention=args.media_retention,
        webhook_key=args.webhook_key,
        webhook_user_id=args.webhook_user_id,
        jwks_path=args.jwks_path,
        validation_errors=args.validation_errors,
    )
    context = None
    if args.tls_cert is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    scheme = "https" if context else "http"
    key = "required" if options.api_key else "not required"
    print(
        f"fal emulator on {scheme}://{args.host}:{args.port} (time scale {options.time_scale:g}, "
        f"{options.max_concurrent_jobs} runners, key {key}, media cache {options.media_cache})",
        flush=True,
    )
    # Stop within seconds on SIGTERM even while a scripted slow fault holds a request (as the Sora emulator).
    web.run_app(
        create_app(options),
        host=args.host,
        port=args.port,
        ssl_context=context,
        access_log=None,
        print=None,
        shutdown_timeout=2.0,
    )


if __name__ == "__main__":
    sys.exit(main())
