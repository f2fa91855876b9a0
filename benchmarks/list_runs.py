"""`GET /api/videos` with 1,000 runs: one run-index page against the old full scan, in time and storage calls per page.

- run index: the real handler (`triggers/videos_api.py`) reading `soraflow/run_index.py`'s table on Azurite;
- old full scan (reconstructed): what the handler before the run index cost on the Azure Storage backend of Durable
  Functions. It read every instance (the extension pages instance queries at 100), built, filtered and sorted every
  run to cut out one page, then read each run on the page once more for its input. Here those reads are made
  against an instances table on the same Azurite holding the same 1,000 runs; the Durable extension itself does
  not run, so its own overhead is not in the baseline's figures.

Both walk every page (`limit` 20, the API's default, and 100, its largest) and count the HTTP calls to storage.

    .venv/bin/python -m benchmarks.list_runs [--runs 1000] [--limit 20 --limit 100]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from emulators.processes import running, start_azurite

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
STATUSES = ("completed", "completed", "failed", "generating", "completed", "cancelled", "queued")
# The Durable extension's page size for instance queries on the Azure Storage backend.
INSTANCE_QUERY_PAGE = 100


class CallCounter:
    """A raw_response_hook: counts every HTTP response the storage SDK receives."""

    def __init__(self):
        self.calls = 0

    def __call__(self, response) -> None:
        self.calls += 1


def run_resource(n: int) -> dict:
    """A finished-looking run resource (the shape the run view builds), run n created n seconds after START."""
    created = START + timedelta(seconds=n)
    status = STATUSES[n % len(STATUSES)]
    run_id = f"run-{n:024d}"
    outputs = [
        {"kind": kind, "source": "generation", "index": 0, "blob": f"videos/runs/{run_id}/{name}",
         "content_type": content_type, "bytes": size}
        for kind, name, content_type, size in (("video", "video.mp4", "video/mp4", 4_800_000),
                                               ("thumbnail", "thumbnail.webp", "image/webp", 24_000))
    ] if status == "completed" else []  # fmt: skip
    return {
        "id": run_id,
        "status": status,
        "progress": 100 if status == "completed" else 40,
        "queue_position": None,
        "request": {
            "prompt": f"a paper boat on a rainy street, take {n}",
            "model": "sora-2",
            "size": "1280x720",
            "seconds": 4,
            "metadata": {"customer": f"c{n % 17}"},
        },
        "provider": {"api": "videos", "job_id": f"video_{n:08d}", "status": status, "progress": 100},
        "outputs": outputs,
        "error": None,
        "cost": {"estimated_usd": 0.4, "seconds": 4},
        "created_at": created.isoformat(),
        "updated_at": (created + timedelta(seconds=70)).isoformat(),
        "completed_at": (created + timedelta(seconds=70)).isoformat() if status == "completed" else None,
    }


def instance_row(run: dict) -> dict:
    """The run as the Durable Azure Storage backend keeps an instance: status columns, the input, a custom status."""
    return {
        "PartitionKey": run["id"],
        "RowKey": "",
        "Name": "video_run_orchestrator",
        "RuntimeStatus": "Completed" if run["status"] in ("completed", "failed", "cancelled") else "Running",
        "CreatedTime": run["created_at"],
        "LastUpdatedTime": run["updated_at"],
        "Input": json.dumps({"request": run["request"], "cost": run["cost"], "created_at": run["created_at"]}),
        "CustomStatus": json.dumps({k: v for k, v in run.items() if k not in ("request", "cost")}),
    }


def old_full_scan_page(instances, *, limit: int, after: tuple[str, str] | None) -> tuple[list[dict], tuple | None]:
    """One page the way the handler before the run index made it: every instance read, then one read per run shown."""
    runs = []
    for page in instances.list_entities(results_per_page=INSTANCE_QUERY_PAGE).by_page():
        for row in page:
            runs.append(json.loads(row["CustomStatus"]))
    runs.sort(key=lambda r: (r["created_at"], r["id"]), reverse=True)
    if after is not None:
        runs = [r for r in runs if (r["created_at"], r["id"]) < after]
    shown, more = runs[:limit], len(runs) > limit
    # The list API leaves inputs out, so each run on the page was read again for its request and cost.
    with ThreadPoolExecutor(max_workers=8) as pool:
        inputs = list(pool.map(lambda run: json.loads(instances.get_entity(run["id"], "")["Input"]), shown))
    shown = [{**run, "request": i["request"], "cost": i["cost"]} for run, i in zip(shown, inputs, strict=True)]
    return shown, (shown[-1]["created_at"], shown[-1]["id"]) if more else None


def walk_old(instances, counter: CallCounter, limit: int) -> list[tuple[float, int, list[str]]]:
    """Every page the old way: (seconds, storage calls, run ids) per page."""
    pages, after = [], None
    while True:
        counter.calls = 0
        started = time.perf_counter()
        runs, after = old_full_scan_page(instances, limit=limit, after=after)
        pages.append((time.perf_counter() - started, counter.calls, [run["id"] for run in runs]))
        if after is None:
            return pages


def walk_index(handler, counter: CallCounter, limit: int) -> list[tuple[float, int, list[str]]]:
    """Every page through the real GET /api/videos handler: (seconds, storage calls, run ids) per page."""
    import azure.functions as func

    pages, token = [], None
    while True:
        params = {"limit": str(limit), **({"continuation": token} if token else {})}
        request = func.HttpRequest("GET", "http://127.0.0.1:7071/api/videos", params=params, body=b"")
        counter.calls = 0
        started = time.perf_counter()
        response = handler(request)
        seconds = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"GET /api/videos answered {response.status_code}: {response.get_body()[:500]!r}")
        body = json.loads(response.get_body())
        pages.append((seconds, counter.calls, [run["id"] for run in body["data"]]))
        token = body.get("continuation")
        if not token:
            return pages


def populate(connection_string: str, count: int, counter: CallCounter):
    """The same `count` runs in a fresh run index and a fresh instances table; returns (index, instances table)."""
    from azure.data.tables import TableServiceClient

    from soraflow.run_index import RunIndex
    from soraflow.storage import resolve_connection

    connection = resolve_connection(env={"VIDEO_STORAGE": connection_string})
    index = RunIndex(connection, "benchruns" + uuid.uuid4().hex[:8], raw_response_hook=counter)
    service = TableServiceClient.from_connection_string(connection_string, raw_response_hook=counter)
    instances = service.create_table("benchinstances" + uuid.uuid4().hex[:8])
    runs = [run_resource(n) for n in range(count)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda run: index.record(run, only_if_absent=True), runs))
        list(pool.map(lambda run: instances.create_entity(instance_row(run)), runs))
    return index, instances


def list_handler():
    """The app's GET /api/videos function, as the host calls it."""
    from triggers import videos_api

    return videos_api.list_video_runs._function.get_user_function()


def summary(pages: list[tuple[float, int, list[str]]]) -> dict:
    return {
        "pages": len(pages),
        "runs": sum(len(p[2]) for p in pages),
        "first_ms": pages[0][0] * 1000,
        "median_ms": statistics.median(p[0] for p in pages) * 1000,
        "calls": statistics.mean(p[1] for p in pages),
        "max_calls": max(p[1] for p in pages),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.list_runs", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="runs in the index (default: 1000)")
    parser.add_argument("--limit", type=int, action="append", help="page sizes (default: 20 and 100)")
    args = parser.parse_args(argv)
    limits = args.limit or [20, 100]

    from soraflow import run_index as run_index_module

    with tempfile.TemporaryDirectory(prefix="soraflow-list-") as work, running(start_azurite(Path(work))) as azurite:
        connection_string = azurite.extra["connection_string"]
        os.environ["VIDEO_STORAGE"] = connection_string
        counter = CallCounter()
        started = time.perf_counter()
        index, instances = populate(connection_string, args.runs, counter)
        written = time.perf_counter() - started
        print(f"{args.runs} runs written to the run index and to an instances table in {written:.1f} s")

        # The real handler, reading this index (the app's own is configured from the environment on first use).
        run_index_module._run_index = index
        handler = list_handler()
        print(f"\nGET /api/videos, every page of {args.runs} runs, one run:")
        header = f"{'approach':<28} {'limit':>5} {'pages':>5} {'first ms':>9} {'median ms':>10} {'calls/page':>11}"
        print(header)
        print("-" * len(header))
        approaches = (("run index", walk_index, handler), ("old full scan (reconstructed)", walk_old, instances))
        for limit in limits:
            for label, walk, source in approaches:
                result = summary(walk(source, counter, limit))
                if result["runs"] != args.runs:
                    raise AssertionError(f"{label} listed {result['runs']} runs, not {args.runs}")
                print(
                    f"{label:<29} {limit:>5} {result['pages']:>5} {result['first_ms']:>9.1f} "
                    f"{result['median_ms']:>10.1f} {result['calls']:>11.1f}"
                )
        print("\nevery approach listed every run exactly once per walk")
    return 0


if __name__ == "__main__":
    sys.exit(main())
