"""Submit many runs at once against a provider that takes two jobs at a time, with the quota gate and without it.

For each mode a fresh stack (the Sora emulator with time-scaled renders, soraflow on the local Functions host,
Azurite shared) takes `--runs` runs at once. Printed per mode: the makespan (first run created to last run
completed, on the runs' own clocks) next to the ideal (total render time / the limit), the create attempts the
provider saw and how many it refused with 429 (from the emulator's request log), the most jobs it ran at once, and
how the runs ended.

    .venv/bin/python -m benchmarks.quota_throughput [--runs 20] [--time-scale 0.1] [--seconds 4]
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx

from emulators import processes

FINAL = {"completed", "failed", "cancelled"}
LIMIT = 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quota_throughput", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs submitted at once")
    parser.add_argument("--time-scale", type=float, default=0.1, help="emulator render speed (1 = real time)")
    parser.add_argument("--seconds", choices=("4", "8", "12"), default="4", help="video length of every run")
    parser.add_argument("--modes", default="gate,no-gate", help="comma-separated: gate, no-gate")
    parser.add_argument("--timeout", type=float, default=900, help="give up on a mode after this many seconds")
    return parser.parse_args(argv)


def render_seconds(video_seconds: int, time_scale: float) -> float:
    """The emulator's render time for one video (its documented formula)."""
    return (20 + 5 * video_seconds) * time_scale


def run_mode(args: argparse.Namespace, gate: bool, work: Path, connection: str) -> dict:
    """One stack, `args.runs` runs at once; the figures of that mode."""
    emulator_key = secrets.token_urlsafe(16)
    function_key = secrets.token_urlsafe(24)
    mode = "gate" if gate else "no-gate"
    sora = processes.start_sora_emulator(
        args=["--time-scale", str(args.time_scale), "--api-key", emulator_key, "--max-concurrent-jobs", str(LIMIT),
              "--media-cache", str(work / "media")],
        log_path=work / f"sora-{mode}.log",
    )  # fmt: skip
    port = processes.free_port()
    env = {
        "AzureWebJobsStorage": connection,
        "VIDEO_STORAGE": connection,
        "SORA_ENDPOINT": sora.url,
        "SORA_API_KEY": emulator_key,
        "SORA_API": "videos",
        "SORA_MODEL": "sora-2",
        "SORA_MAX_CONCURRENT_JOBS": str(LIMIT),
        "SORA_QUOTA_GATE": "true" if gate else "false",
        "TASKHUB_NAME": f"quotabench{mode.replace('-', '')}",
        "FUNCTIONS_DEFAULT_KEY": function_key,
    }
    argv = [sys.executable, "-m", "emulators.functions", "--app-dir", str(processes.REPO_ROOT),
            "--port", str(port), "--state", str(work / f"durable-{mode}.sqlite3"),
            "--keys-file", str(work / f"keys-{mode}.json")]  # fmt: skip
    host = processes.spawn("functions-host", argv, port=port, log_path=work / f"host-{mode}.log", env=env)
    http = httpx.Client(base_url=f"{host.url}/api", headers={"x-functions-key": function_key}, timeout=60)
    try:
        body = {"prompt": "a paper boat drifting on a pond", "seconds": args.seconds}

        def submit(i: int) -> str:
            response = http.post("/videos", json={**body, "metadata": {"n": str(i)}})
            response.raise_for_status()
            return response.json()["id"]

        with ThreadPoolExecutor(8) as pool:
            run_ids = list(pool.map(submit, range(args.runs)))
        runs = follow(http, run_ids, args.timeout)
        log = httpx.get(f"{sora.url}/_emulator/requests", timeout=30).json()["requests"]
        histories = [durable_history(host.url, function_key, run_id) for run_id in run_ids]
    finally:
        http.close()
        host.stop()
        sora.stop()
    creates = [r for r in log if r["operation"] == "create"]
    accepted = sorted(r["time"] for r in creates if r["status"] == 200)
    render = render_seconds(int(args.seconds), args.time_scale)
    detection, handoff = provider_gaps(log, render)
    started = min(datetime.fromisoformat(run["created_at"]) for run in runs)
    ended = max(datetime.fromisoformat(run["completed_at"] or run["updated_at"]) for run in runs)
    return {
        "mode": mode,
        "makespan": (ended - started).total_seconds(),
        "ideal": render * args.runs / LIMIT,
        "create_attempts": len(creates),
        "refused_429": sum(1 for r in log if r["status"] == 429),
        "jobs": len(accepted),
        "peak": most_at_once([(t, t + render) for t in accepted]),
        "detection": detection,
        "handoff": handoff,
        "wake": wake_latency(histories),
        "completed": sum(1 for run in runs if run["status"] == "completed"),
        "failed": sum(1 for run in runs if run["status"] != "completed"),
    }


def follow(http: httpx.Client, run_ids: list[str], timeout: float) -> list[dict]:
    """Poll every run until all have ended."""
    deadline = time.monotonic() + timeout
    done: dict[str, dict] = {}
    while len(done) < len(run_ids):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(run_ids) - len(done)} runs had not ended after {timeout:g} s")
        for run_id in run_ids:
            if run_id not in done:
                run = http.get(f"/videos/{run_id}").json()
                if run["status"] in FINAL:
                    done[run_id] = run
        time.sleep(0.5)
    return [done[run_id] for run_id in run_ids]


def provider_gaps(log: list[dict], render: float) -> tuple[float, float]:
    """Mean seconds from a job's end to the run seeing it (its last status call), and from a run seeing its job end
    to the provider's next accepted create (the capacity left idle in between)."""
    created = {r["job_id"]: r["time"] for r in log if r["operation"] == "create" and r["status"] == 200}
    seen: dict[str, float] = {}
    for r in log:
        if r["operation"] == "retrieve" and r["status"] == 200 and r["job_id"] in created:
            seen[r["job_id"]] = max(seen.get(r["job_id"], 0.0), r["time"])
    detection = [seen[job] - (created[job] + render) for job in seen]
    handoff = []
    for start in sorted(created.values())[LIMIT:]:
        freed = [at for at in seen.values() if at <= start]
        if freed:
            handoff.append(start - max(freed))
    return mean(detection), mean(handoff)


def durable_history(host_url: str, key: str, run_id: str) -> list[dict]:
    """The run's durable history through the Durable HTTP API (the same API Azure serves)."""
    response = httpx.get(f"{host_url}/runtime/webhooks/durabletask/instances/{run_id}",
                         params={"showHistory": "true", "code": key}, timeout=30)  # fmt: skip
    response.raise_for_status()
    return response.json().get("historyEvents") or []


def wake_latency(histories: list[list[dict]]) -> float:
    """Mean seconds from a run's release at the gate to the `capacity_granted` event landing on the run it let in
    (the latest release before each wake-up; NaN when no run was woken, e.g. without the gate)."""
    releases = sorted(
        stamp(e) for h in histories for e in h if e["EventType"] == "EventSent" and e["Name"] == "release"
    )
    gaps = []
    for history in histories:
        for event in history:
            if event["EventType"] == "EventRaised" and event.get("Name") == "capacity_granted":
                before = [at for at in releases if at <= stamp(event)]
                if before:
                    gaps.append(stamp(event) - before[-1])
    return mean(gaps)


def stamp(event: dict) -> float:
    return datetime.fromisoformat(event["Timestamp"].replace("Z", "+00:00")).timestamp()


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals open at one instant (an end and a start at one instant do not overlap)."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    peak = current = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    if not modes or set(modes) - {"gate", "no-gate"}:
        print("--modes takes gate and/or no-gate", file=sys.stderr)
        return 2
    render = render_seconds(int(args.seconds), args.time_scale)
    print(f"{args.runs} runs of {args.seconds} s videos at once; each renders {render:g} s; provider limit {LIMIT}")
    print("target (issue 12): gate <= 1.25 x ideal, 0 provider 429s, handoff <= 0.2 s")
    results = []
    with tempfile.TemporaryDirectory(prefix="quota-bench-") as tmp:
        work = Path(tmp)
        azurite = processes.start_azurite(work / "azurite", log_path=work / "azurite.log")
        try:
            for mode in modes:
                results.append(run_mode(args, mode == "gate", work, azurite.extra["connection_string"]))
                print(f"  {mode}: done", flush=True)
        finally:
            azurite.stop()
    header = ("mode", "makespan s", "ideal s", "x ideal", "creates", "429s", "jobs", "peak", "detect s", "handoff s",
              "wake s", "completed", "failed")  # fmt: skip
    print(" | ".join(header))
    for r in results:
        print(" | ".join(str(v) for v in (
            r["mode"], f"{r['makespan']:.1f}", f"{r['ideal']:.1f}", f"{r['makespan'] / r['ideal']:.2f}",
            r["create_attempts"], r["refused_429"], r["jobs"], r["peak"], f"{r['detection']:.2f}",
            f"{r['handoff']:.2f}", f"{r['wake']:.2f}", r["completed"], r["failed"],
        )))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
