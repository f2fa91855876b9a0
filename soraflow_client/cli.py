"""The `soraflow` command: generate a video and watch it come, and read, download, cancel, delete or remix runs.

Exit codes: 0 done (a run completed), 1 the run failed or was cancelled, 2 bad usage or the app refused the request
(4xx), 3 the app cannot be reached (or answered 5xx), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from soraflow_client.client import DEFAULT_URL, ApiError, AppUnreachable, Client, Run

EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="soraflow", description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("SORAFLOW_URL") or DEFAULT_URL,
                        help=f"the app's root URL (SORAFLOW_URL; default {DEFAULT_URL})")  # fmt: skip
    parser.add_argument("--key", default=os.environ.get("SORAFLOW_KEY"), help="the function key (SORAFLOW_KEY)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    generate = commands.add_parser("generate", help="start a run (and with --wait, watch it to the end)")
    generate.add_argument("prompt")
    generate.add_argument("--model", help="any model `soraflow models` lists (default: the app's default model)")
    generate.add_argument("--size", help="WxH, e.g. 1280x720 (the model's sizes: `soraflow models`)")
    generate.add_argument("--seconds", help="the video's length (the model's durations: `soraflow models`)")
    generate.add_argument("--variants", type=int, help="videos at once (models with max_variants > 1)")
    generate.add_argument("--image", type=Path, help="a JPEG/PNG/WebP reference image (image-to-video)")
    generate.add_argument("--remix", metavar="PROMPT", help="remix the first video with this prompt afterwards")
    generate.add_argument("--metadata", action="append", default=[], metavar="K=V", help="a metadata pair (repeat)")
    add_wait_arguments(generate)

    wait = commands.add_parser("wait", help="watch a run to the end (after Ctrl-C, or a generate without --wait)")
    wait.add_argument("id")
    add_wait_arguments(wait, implied=True)

    status = commands.add_parser("status", help="show one run")
    status.add_argument("id")
    status.add_argument("--json", action="store_true", help="print the run resource as JSON")

    listing = commands.add_parser("list", help="list runs, newest first")
    listing.add_argument("--status", help="only runs in this status (e.g. completed, failed, generating)")
    listing.add_argument("--limit", type=int, default=20, help="at most this many runs (default 20)")
    listing.add_argument("--json", action="store_true", help="print the runs as a JSON array")

    download = commands.add_parser("download", help="download one output of a finished run")
    download.add_argument("id")
    download.add_argument("--variant", choices=("video", "thumbnail", "spritesheet"), default="video")
    download.add_argument("--index", type=int, default=0, help="which video of a multi-variant run (default 0)")
    download.add_argument("--source", choices=("generation", "remix"), default="generation")
    download.add_argument("--out", type=Path, default=Path("."), help="a file or a folder (default: here)")

    cancel = commands.add_parser("cancel", help="stop a live run (its provider job is deleted)")
    cancel.add_argument("id")
    delete = commands.add_parser("delete", help="delete a finished run's outputs and history")
    delete.add_argument("id")

    remix = commands.add_parser("remix", help="start a new run remixing a completed one")
    remix.add_argument("id")
    remix.add_argument("prompt")
    remix.add_argument("--metadata", action="append", default=[], metavar="K=V", help="a metadata pair (repeat)")
    add_wait_arguments(remix)

    models = commands.add_parser("models", help="the models the app offers, with their sizes and durations")
    models.add_argument("--json", action="store_true", help="print GET /api/models as JSON")
    return parser


def add_wait_arguments(parser: argparse.ArgumentParser, *, implied: bool = False) -> None:
    if not implied:
        parser.add_argument("--wait", action="store_true", help="watch the run until it ends")
    parser.add_argument("--out", type=Path, help="when the run completes, download its outputs into this folder")
    parser.add_argument("--json", action="store_true", help="print only the (final) run resource as JSON")


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        metadata = parse_metadata(getattr(args, "metadata", []))
        client = Client(args.url, args.key)
    except ValueError as error:
        parser.error(str(error))
    with client:
        try:
            return COMMANDS[args.command](client, args, metadata, out, err)
        except ApiError as error:
            print(f"error: {error.detail}", file=err)
            for item in error.errors:
                if item.field and item.message not in error.detail:
                    print(f"  {item.field}: {item.message}", file=err)
            return EXIT_USAGE if error.status < 500 else EXIT_UNREACHABLE
        except AppUnreachable as error:
            print(f"error: {error} (is the app running? `./dev.sh run --keep-running` starts one)", file=err)
            return EXIT_UNREACHABLE


def parse_metadata(pairs: list[str]) -> dict[str, str]:
    metadata = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"--metadata takes K=V; got {pair!r}")
        metadata[name] = value
    return metadata


# --- commands ---


def generate(client: Client, args: argparse.Namespace, metadata: dict, out: TextIO, err: TextIO) -> int:
    if args.image is not None and not args.image.is_file():
        raise ApiError(400, "invalid_request", f"--image: no file {args.image}")
    run = client.create(args.prompt, model=args.model, size=args.size, seconds=args.seconds, variants=args.variants,
                        image=args.image, remix=args.remix, metadata=metadata)  # fmt: skip
    return follow_started(client, run, args, out, err)


def remix(client: Client, args: argparse.Namespace, metadata: dict, out: TextIO, err: TextIO) -> int:
    return follow_started(client, client.remix(args.id, args.prompt, metadata=metadata), args, out, err)


def follow_started(client: Client, run: Run, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """After a 202: print the run, or with --wait (or --out) watch it to the end."""
    if not (args.wait or args.out):
        if args.json:
            print(json.dumps(run, indent=2), file=out)
        else:
            cost = (run.get("cost") or {}).get("estimated_usd")
            print(f"Started run {run['id']} ({run['status']}, est. ${cost}). Follow it: soraflow wait {run['id']}",
                  file=out)  # fmt: skip
        return EXIT_OK
    if not args.json:
        request = run.get("request") or {}
        cost = (run.get("cost") or {}).get("estimated_usd")
        print(f"Run {run['id']}: {request.get('model')}, {request.get('seconds')} s, {request.get('size')}, "
              f"est. ${cost}", file=out)  # fmt: skip
    return follow(client, run["id"], args, out, err)


def wait(client: Client, args: argparse.Namespace, metadata: dict, out: TextIO, err: TextIO) -> int:
    return follow(client, args.id, args, out, err)


def follow(client: Client, run_id: str, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Wait for the run with a progress display, then report it (and download with --out)."""
    try:
        if args.json:
            run = client.wait(run_id)
        else:
            with ProgressDisplay(run_id, err) as show:
                run = client.wait(run_id, on_progress=show)
    except KeyboardInterrupt:
        print(f"\nStopped waiting; run {run_id} goes on (it was not cancelled).\n"
              f"  follow it again: soraflow wait {run_id}\n  cancel it:       soraflow cancel {run_id}",
              file=err)  # fmt: skip
        return EXIT_INTERRUPTED
    saved = download_outputs(client, run, args.out) if args.out and run["status"] == "completed" else []
    if args.json:
        print(json.dumps(run, indent=2), file=out)
    else:
        report(run, saved, out)
    return EXIT_OK if run["status"] == "completed" else EXIT_RUN_FAILED


def download_outputs(client: Client, run: Run, folder: Path) -> list[Path]:
    return [
        client.download(run["id"], variant=o["kind"], index=int(o.get("index") or 0), source=o["source"], to=folder)
        for o in run.get("outputs") or []
    ]


def report(run: Run, saved: list[Path], out: TextIO) -> None:
    if run["status"] != "completed":
        error = run.get("error") or {}
        print(f"Run {run['id']} {run['status']}: {error.get('message') or 'no reason given'} "
              f"({error.get('code')})", file=out)  # fmt: skip
        return
    print(f"Run {run['id']} completed.", file=out)
    if run.get("remix_error"):
        print(f"  the remix failed: {run['remix_error'].get('message')}", file=out)
    for path in saved:
        print(f"  saved {path}", file=out)
    if not saved:
        for output in run.get("outputs") or []:
            print(f"  {output['source']:<10} {output['kind']:<11} {output.get('url')}", file=out)


def status(client: Client, args: argparse.Namespace, metadata: dict, out: TextIO, err: TextIO) -> int:
    run = client.get(args.id)
    if args.json:
        print(json.dumps(run, indent=2), file=out)
        return EXIT_OK
    request = run.get("request") or {}
    lines = [
        ("id", run["id"]),
        ("status", run["status"]),
        ("progress", f"{run['progress']}%"),
        ("model", request.get("model")),
        ("prompt", request.get("prompt")),
        ("cost", f"${(run.get('cost') or {}).get('estimated_usd')}"),
        ("created", run.get("created_at")),
    ]
    if run.get("queue_position") is not None:
        lines.append(("queue", run["queue_position"]))
    if run.get("error"):
        lines.append(("error", f"{run['error'].get('message')} ({run['error'].get('code')})"))
    for output in run.get("outputs") or []:
        lines.append((f"{output['source']} {output['kind']}", output.get("url")))
    for name, value in lines:
        print(f"{name:<22} {value}", file=out)
    return EXIT_OK


def list_runs(client: Client, args: argparse.Namespace, metadata: dict, out: TextIO, err: TextIO) -> int:
    if args.limit < 1:
        raise ApiError(400, "invalid_request", "--limit must be at least 1")
    runs = list(client.list(status=args.status, limit=args.limit, page_size=min(args.limit, 100)))
    if args.json:
        print(json.dumps(runs, indent=2), file=out)
        return EXIT_OK
    table = Table("id", "status", "progress", "model", "cost", "created", "prompt")
    for run in runs:
        request = run.get("request") or {}
        table.add_row(run["id"], run["status"], f"{run['progress']}%", str(request.get("model")),
                      f"${(run.get('cost') or {}).get('estimated_usd')}", str(run.get("created_at")),
                      shorten(str(request.get("prompt")), 50))  # fmt: skip
    Console(file=out, width=160 if not out.isatty() else None).print(table)
    return EXIT_OK


def download(client: Client, args: argparse.Namespace, metadata: dict, out: TextIO, err: TextIO) -> int:
    path = client.download(args.id, variant=args.variant, index=args.index, source=args.source, to=args.out)
    print(f"saved {path} ({path.stat().st_size:,} bytes)", file=out)
    return EXIT_OK


def cancel(client: Client, args: argparse.Namespace, metadata: dict, out: TextIO, err: TextIO) -> int:
    run = client.cancel(args.id)
    print(f"Cancelling run {run['id']} (it was {run['status']}); `soraflow wait {run['id']}` shows when it ended.",
          file=out)  # fmt: skip
    return EXIT_OK


def delete(client: Client, args: argparse.Namespace, metadata: dict, out: TextIO, err: TextIO) -> int:
    client.delete(args.id)
    print(f"Deleted run {args.id}.", file=out)
    return EXIT_OK


def models(client: Client, args: argparse.Namespace, metadata: dict, out: TextIO, err: TextIO) -> int:
    listing = client.models()
    if args.json:
        print(json.dumps(listing, indent=2), file=out)
        return EXIT_OK
    table = Table("model", "provider", "sizes", "seconds", "image", "remix", "audio", "$/s")
    for model in listing.get("data") or []:
        default = " (default)" if model["model"] == listing.get("default_model") else ""
        rates = {rate for rate in (model.get("price") or {}).get("usd_per_second", {}).values() if rate is not None}
        price = "?" if not rates else "-".join(dict.fromkeys(f"{rate:g}" for rate in (min(rates), max(rates))))
        table.add_row(
            model["model"] + default,
            model["provider"],
            choices(model["sizes"]),
            choices(model["seconds"]),
            yes(model.get("reference_image")),
            yes(model.get("remix")),
            yes(model.get("audio")),
            price,
        )
    Console(file=out, width=200 if not out.isatty() else None).print(table)
    return EXIT_OK


COMMANDS: dict[str, Callable[..., int]] = {
    "generate": generate, "wait": wait, "status": status, "list": list_runs, "download": download,
    "cancel": cancel, "delete": delete, "remix": remix, "models": models,
}  # fmt: skip


# --- progress ---


class ProgressDisplay:
    """Show a run's changes: a live rich bar on a terminal, else one plain line per change."""

    def __init__(self, run_id: str, stream: TextIO):
        self.run_id, self.stream = run_id, stream
        self.started = time.monotonic()
        self.console = Console(file=stream)
        self.bar: Progress | None = None
        self.task = None

    def __enter__(self) -> Callable[[Run], None]:
        if self.console.is_terminal:
            self.bar = Progress(
                TextColumn("[bold]{task.fields[stage]:<20}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TextColumn("{task.fields[detail]}"),
                TimeElapsedColumn(),
                console=self.console,
            )
            self.bar.start()
            self.task = self.bar.add_task(self.run_id, total=100, stage="queued", detail="")
        return self.show

    def __exit__(self, *exc_info: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def show(self, run: Run) -> None:
        detail = progress_detail(run)
        if self.bar is not None:
            self.bar.update(self.task, completed=run.get("progress") or 0, stage=run.get("status"), detail=detail)
            return
        elapsed = time.monotonic() - self.started
        line = f"{run.get('status'):<22} {run.get('progress') or 0:>3}%  {detail}".rstrip()
        print(f"{line}  [{elapsed:.1f} s]", file=self.stream, flush=True)


def progress_detail(run: Run) -> str:
    """The provider's own status and progress, and the queue position, as one short text."""
    parts = []
    provider = run.get("provider") or {}
    if provider.get("status"):
        shown = f"provider {provider['status']}"
        if provider.get("progress") is not None:
            shown += f" {provider['progress']}%"
        parts.append(shown)
    if run.get("queue_position") is not None:
        parts.append(f"queue position {run['queue_position']}")
    return ", ".join(parts)


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def choices(value: Any) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)


def yes(value: Any) -> str:
    return "yes" if value else "-"
