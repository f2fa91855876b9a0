"""Throughput and replay latency of the local Functions host (`python -m emulators.functions`).

For each N, a fresh host (new SQLite file) runs N orchestrations started at once through the Durable HTTP API;
each calls three activities in a chain, waits on a durable timer, then fans out to two more. Printed per N:
wall time, completed orchestrations per second, episodes, and the median and 99th percentile of the time from
an event (an activity result stored, a timer falling due) to the start of the episode that replays it, as the
host recorded them (GET /admin/host/durable-metrics). The baseline, measured in the same run, is the SDK's own
replay of the same orchestration's final history, called in-process: the floor any host pays per episode.

    .venv/bin/python -m benchmarks.host_throughput [--sizes 10,100,1000] [--quick] [--timer-seconds 1]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import statistics
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

from emulators import processes

MASTER_KEY = "benchmark-master-key"

APP = textwrap.dedent(
    '''
    """The benchmark's orchestration: a chain of three activities, a durable timer, a fan-out of two."""

    import datetime as dt

    import azure.durable_functions as df
    import azure.functions as func

    app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


    @app.orchestration_trigger(context_name="context")
    def bench(context: df.DurableOrchestrationContext):
        seconds = context.get_input()
        value = 0
        for _ in range(3):
            value = yield context.call_activity("step", value)
        yield context.create_timer(context.current_utc_datetime + dt.timedelta(seconds=seconds))
        both = yield context.task_all([context.call_activity("step", value), context.call_activity("step", value)])
        return sum(both)


    @app.activity_trigger(input_name="value")
    def step(value: int) -> int:
        return value + 1
    '''
)

HOST_JSON = {
    "version": "2.0",
    "extensions": {"durableTask": {"maxConcurrentActivityFunctions": 10, "maxConcurrentOrchestratorFunctions": 10}},
}


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (0 for no samples)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def call(url: str, *, data: bytes | None = None, method: str = "GET") -> tuple[int, object]:
    request = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        body = response.read()
        return response.status, json.loads(body) if body else None


def run_size(app_dir: Path, work: Path, count: int, timer_seconds: float, timeout: float) -> dict:
    """One fresh host, `count` orchestrations started at once, figures from the host's own metrics."""
    port = processes.free_port()
    argv = [
        sys.executable, "-m", "emulators.functions", "--app-dir", str(app_dir), "--port", str(port),
        "--state", str(work / f"state-{count}.sqlite3"), "--keys-file", str(work / "keys.json"),
        "--log-level", "WARNING",
    ]  # fmt: skip
    host = processes.spawn(
        "functions-host", argv, port=port, log_path=work / f"host-{count}.log", env={"FUNCTIONS_MASTER_KEY": MASTER_KEY}
    )
    base = f"{host.url}/runtime/webhooks/durabletask"
    metrics_url = f"{host.url}/admin/host/durable-metrics?code={MASTER_KEY}"
    body = json.dumps(timer_seconds).encode()
    try:
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(
                pool.map(
                    lambda _: call(f"{base}/orchestrators/bench?code={MASTER_KEY}", data=body, method="POST")[0],
                    range(count),
                )
            )
        if set(statuses) != {202}:
            raise RuntimeError(f"unexpected start answers: {sorted(set(statuses))}")
        deadline = time.monotonic() + timeout
        while True:
            metrics = call(metrics_url)[1]
            if metrics["completed"] >= count:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {metrics['completed']} of {count} orchestrations completed in {timeout}s")
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        _, failed = call(f"{base}/instances/?runtimeStatus=Failed,Terminated&code={MASTER_KEY}")
        if failed:
            raise RuntimeError(f"{len(failed)} orchestrations did not complete: {failed[0]}")
    finally:
        host.stop()
    latency = metrics["latency_ms"]
    return {
        "n": count,
        "seconds": elapsed,
        "per_second": count / elapsed,
        "episodes": metrics["episodes"],
        "activity_p50": statistics.median(latency["activity"]) if latency["activity"] else 0.0,
        "activity_p99": percentile(latency["activity"], 0.99),
        "timer_p50": statistics.median(latency["timer"]) if latency["timer"] else 0.0,
        "timer_p99": percentile(latency["timer"], 0.99),
    }


def sdk_replay_baseline(app_dir: Path, work: Path, timer_seconds: float) -> float:
    """Milliseconds for the SDK's handle to replay one finished `bench` history in-process (median of 50)."""
    sys.path.insert(0, str(app_dir))
    import function_app

    handle = next(f for f in function_app.app.get_functions() if f.get_function_name() == "bench").get_user_function()
    history = _final_history(timer_seconds)
    payload = json.dumps(
        {"history": history, "instanceId": "b", "isReplaying": True, "parentInstanceId": None, "input": "1",
         "upperSchemaVersion": 2}
    )  # fmt: skip
    durations = []
    for _ in range(50):
        started = time.perf_counter()
        state = json.loads(handle(payload))
        durations.append((time.perf_counter() - started) * 1000)
    if not state.get("isDone"):
        raise RuntimeError("the baseline history did not complete the orchestration")
    return statistics.median(durations)


def _final_history(timer_seconds: float) -> list[dict]:
    at = "2024-01-01T00:00:00.000000Z"
    fire = f"2024-01-01T00:00:{int(timer_seconds):02d}.000000Z"

    def event(kind: int, **fields) -> dict:
        return {"EventType": kind, "EventId": -1, "IsPlayed": True, "Timestamp": at, **fields}

    history = [event(12), event(0, Name="bench", Input="1", Version="")]
    for task in range(3):
        history += [event(4, EventId=task, Name="step"), event(13), event(12)]
        history.append(event(5, TaskScheduledId=task, Result=str(task + 1)))
    history += [event(10, EventId=3, FireAt=fire), event(13), event(12), event(11, TimerId=3, FireAt=fire)]
    history += [event(4, EventId=4, Name="step"), event(4, EventId=5, Name="step"), event(13), event(12)]
    history += [event(5, TaskScheduledId=4, Result="4"), event(5, TaskScheduledId=5, Result="4")]
    return history


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000", help="comma-separated orchestration counts")
    parser.add_argument("--quick", action="store_true", help="only N = 10 and 100")
    parser.add_argument("--timer-seconds", type=float, default=1.0, help="durable timer in each orchestration")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up on one size after this many seconds")
    args = parser.parse_args(argv)
    sizes = [10, 100] if args.quick else [int(s) for s in args.sizes.split(",") if s.strip()]
    with tempfile.TemporaryDirectory(prefix="host-bench-") as folder:
        work = Path(folder)
        app_dir = work / "app"
        app_dir.mkdir()
        (app_dir / "function_app.py").write_text(APP)
        (app_dir / "host.json").write_text(json.dumps(HOST_JSON))
        baseline = sdk_replay_baseline(app_dir, work, args.timer_seconds)
        rows = [run_size(app_dir, work, n, args.timer_seconds, args.timeout) for n in sizes]
    print(f"\nbaseline: the SDK replays one finished history in-process in {baseline:.2f} ms (median of 50)\n")
    header = ("N", "wall s", "orch/s", "episodes", "activity→replay p50/p99 ms", "timer→replay p50/p99 ms")
    print(" | ".join(header))
    print(" | ".join("-" * len(h) for h in header))
    for row in rows:
        print(
            f"{row['n']} | {row['seconds']:.2f} | {row['per_second']:.1f} | {row['episodes']} | "
            f"{row['activity_p50']:.1f} / {row['activity_p99']:.1f} | {row['timer_p50']:.1f} / {row['timer_p99']:.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
