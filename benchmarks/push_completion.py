"""Push completion end to end: fal webhooks waking the runs, against polling alone, on the fal emulator.

Two fresh stacks (the fal emulator with time-scaled renders and as many runners as runs, soraflow on the local
Functions host with as many fal slots, Azurite shared) each take `--runs` runs of `fal-ai/veo3.1/fast`, submitted
`--spacing` seconds apart after one unmeasured warm-up run: one with
`PUBLIC_BASE_URL` set, so fal posts each request's completion to `/api/webhooks/fal`, and one without, so the
runs only poll. From the emulator's request log, per mode: the mean and p95 delay from a request's end (its
submit plus its render) to the run's status call that saw it completed, and the status calls per job.

    .venv/bin/python -m benchmarks.push_completion [--runs 10] [--time-scale 0.25]
"""

from __future__ import annotations

import argparse
import math
import secrets
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from benchmarks.quota_throughput import follow
from emulators import processes
from emulators.fal.queue import render_seconds

FINAL = {"completed", "failed", "cancelled"}
MODEL = "fal-ai/veo3.1/fast"
VIDEO_SECONDS = 4


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.push_completion", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs submitted at once")
    parser.add_argument("--time-scale", type=float, default=0.25, help="emulator render speed (1 = real time)")
    parser.add_argument("--spacing", type=float, default=1.0, help="seconds between submits (0: all at once)")
    parser.add_argument("--modes", default="push,poll", help="comma-separated: push, poll")
    parser.add_argument("--timeout", type=float, default=600, help="give up on a mode after this many seconds")
    return parser.parse_args(argv)


def run_mode(args: argparse.Namespace, push: bool, work: Path, connection: str) -> dict:
    """One stack, `args.runs` runs at once; the figures of that mode."""
    mode = "push" if push else "poll"
    fal_key, sora_key, function_key = (secrets.token_urlsafe(16) for _ in range(3))
    fal = processes.start_fal_emulator(
        args=["--time-scale", str(args.time_scale), "--api-key", fal_key, "--max-concurrent-jobs", str(args.runs),
              "--media-cache", str(work / "fal-media"), "--webhook-key", str(work / "fal-webhook-key.pem")],
        log_path=work / f"fal-{mode}.log",
    )  # fmt: skip
    sora = processes.start_sora_emulator(args=["--api-key", sora_key, "--media-cache", str(work / "sora-media")],
                                         log_path=work / f"sora-{mode}.log")  # fmt: skip
    port = processes.free_port()
    settings = processes.soraflow_settings(
        connection, sora.url, sora_key,
        TASKHUB_NAME=f"pushbench{mode}", FUNCTIONS_DEFAULT_KEY=function_key,
        FAL_KEY=fal_key, FAL_QUEUE_URL=fal.url, FAL_JWKS_URL=f"{fal.url}/.well-known/jwks.json",
        FAL_MAX_CONCURRENT_JOBS=str(args.runs),  # every run submits at once: this measures detection, not the gate
        **({"PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"} if push else {}),
    )  # fmt: skip
    host = processes.start_soraflow_host(work / mode, settings, port=port, blob_poll_seconds=1.0)
    http = httpx.Client(base_url=f"{host.url}/api", headers={"x-functions-key": function_key}, timeout=60)
    try:

        def submit(i: int) -> str:
            body = {"prompt": f"a kite over the dunes, take {i}", "model": MODEL, "seconds": str(VIDEO_SECONDS)}
            response = http.post("/videos", json=body)
            response.raise_for_status()
            return response.json()["id"]

        # One run first, unmeasured: the emulator renders a video's MP4 on its first completion and caches it, and
        # that ffmpeg time is the emulator's, not fal's (fal's output exists when the request completes).
        follow(http, [submit(-1)], args.timeout)
        measured_from = httpx.get(f"{fal.url}/_emulator/status", timeout=30).json().get("now") or 0.0

        def submit_spaced(i: int) -> str:
            time.sleep(i * args.spacing)
            return submit(i)

        with ThreadPoolExecutor(args.runs) as pool:
            run_ids = list(pool.map(submit_spaced, range(args.runs)))
        runs = follow(http, run_ids, args.timeout)
        log = httpx.get(f"{fal.url}/_emulator/requests", timeout=30).json()["requests"]
        log = [r for r in log if r["time"] >= measured_from]
    finally:
        http.close()
        host.stop()
        sora.stop()
        fal.stop()
    render = render_seconds(VIDEO_SECONDS, args.time_scale)
    delays, calls = detection(log, render)
    return {
        "mode": mode,
        "render": render,
        "jobs": len(delays),
        "mean": statistics.fmean(delays) if delays else math.nan,
        "p95": percentile(delays, 0.95),
        "calls": statistics.fmean(calls) if calls else math.nan,
        "completed": sum(1 for run in runs if run["status"] == "completed"),
    }


def detection(log: list[dict], render: float) -> tuple[list[float], list[int]]:
    """Per fal request: seconds from its end to the first status call answered COMPLETED, and its status calls.

    Every request has a runner at once (as many runners as runs), so it ends at its submit time plus its render.
    """
    submitted = {r["job_id"]: r["time"] for r in log if r["operation"] == "submit" and r["status"] == 200}
    delays, calls = [], []
    for job_id, at in submitted.items():
        statuses = sorted((r for r in log if r["operation"] == "status" and r["job_id"] == job_id),
                          key=lambda r: r["time"])  # fmt: skip
        seen = [r["time"] for r in statuses if r["status"] == 200]
        if seen:
            delays.append(seen[0] - (at + render))
            calls.append(len(statuses))
    return delays, calls


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)] if ordered else math.nan


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    if not modes or set(modes) - {"push", "poll"}:
        print("--modes takes push and/or poll", file=sys.stderr)
        return 2
    render = render_seconds(VIDEO_SECONDS, args.time_scale)
    print(f"{args.runs} runs of {MODEL} ({VIDEO_SECONDS} s), submitted {args.spacing:g} s apart, on the fal emulator;"
          f" each renders {render:g} s")  # fmt: skip
    print("target (issue 12): with push <= 0.5 s mean delay and <= 2 status calls per job")
    results = []
    with tempfile.TemporaryDirectory(prefix="push-bench-") as tmp:
        work = Path(tmp)
        azurite = processes.start_azurite(work / "azurite", log_path=work / "azurite.log")
        try:
            for mode in modes:
                (work / mode).mkdir()
                results.append(run_mode(args, mode == "push", work, azurite.extra["connection_string"]))
                print(f"  {mode}: done", flush=True)
        finally:
            azurite.stop()
    print(" | ".join(("mode", "jobs", "mean delay s", "p95 delay s", "status calls/job", "completed")))
    for r in results:
        print(" | ".join(str(v) for v in (r["mode"], r["jobs"], f"{r['mean']:.2f}", f"{r['p95']:.2f}",
                                          f"{r['calls']:.2f}", r["completed"])))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
