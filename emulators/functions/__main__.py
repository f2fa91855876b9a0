"""`python -m emulators.functions [--port 7071] [--app-dir DIR]`: run a v2-model Python app like `func start`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from pathlib import Path

from emulators.functions.application import AppLoadError, load_app, load_local_settings
from emulators.functions.host import Host, HostOptions


class _UtcFormatter(logging.Formatter):
    converter = time.gmtime

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", self.converter(record.created)) + f".{int(record.msecs):03d}Z"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m emulators.functions",
        description="Run an Azure Functions Python v2 app (with Durable Functions) locally, without Core Tools.",
    )
    parser.add_argument("--port", type=int, default=None, help="HTTP port on 127.0.0.1 (default: 7071)")
    parser.add_argument("--app-dir", type=Path, default=Path.cwd(), help="folder with function_app.py (default: cwd)")
    parser.add_argument(
        "--state",
        type=Path,
        default=None,
        help="durable state file (default: APP_DIR/.soraflow/durable.sqlite3)",
    )
    parser.add_argument("--keys-file", type=Path, default=None, help="keys file (default: APP_DIR/.soraflow/keys.json)")
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument(
        "--enable-auth",
        action="store_true",
        help="check function, host and system keys as Azure does (Core Tools' --enableAuth; default: not checked)",
    )
    # Keys used to be checked by default and --no-auth turned them off; not checking is the default now.
    auth.add_argument("--no-auth", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--rpc-port", type=int, default=0, help="port of the internal Durable RPC listener (default: free)"
    )
    parser.add_argument(
        "--blob-poll-seconds", type=float, default=1.0, help="blob container scan interval (default: 1)"
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default: INFO)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_UtcFormatter("[%(asctime)s] %(message)s"))
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler], force=True)
    # The Storage SDK logs every request at INFO; Core Tools does not show them either.
    logging.getLogger("azure").setLevel(logging.WARNING)
    app_dir = args.app_dir.resolve()
    state = (args.state or app_dir / ".soraflow" / "durable.sqlite3").resolve()
    keys_file = (args.keys_file or app_dir / ".soraflow" / "keys.json").resolve()
    try:
        local_settings = load_local_settings(app_dir)
        port = args.port or int((local_settings.get("Host") or {}).get("LocalHttpPort") or 7071)
        app = load_app(app_dir)
    except AppLoadError as exc:
        logging.getLogger("host").error("Cannot start the host: %s", exc)
        return 1
    options = HostOptions(
        port=port,
        state_path=state,
        keys_path=keys_file,
        auth=args.enable_auth,
        rpc_port=args.rpc_port,
        blob_poll_seconds=args.blob_poll_seconds,
    )
    os.environ.setdefault("WEBSITE_HOSTNAME", f"127.0.0.1:{port}")
    try:
        asyncio.run(Host(app, options).serve_forever())
    except (OSError, ValueError) as exc:
        logging.getLogger("host").error("Cannot start the host: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    code = main()
    logging.shutdown()
    # Worker threads may still be inside user code after the grace period; they must not keep the process
    # alive (their unfinished work is still in SQLite and runs again on the next start).
    os._exit(code)
