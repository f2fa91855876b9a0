"""Work that a crash interrupts: an activity that waits for the test's go-ahead, and a durable timer."""

import datetime as dt
import time
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def interrupted_activity(context: df.DurableOrchestrationContext):
    folder = context.get_input()
    first = yield context.call_activity("held_step", folder)
    second = yield context.call_activity("quick_step", first)
    return [first, second]


@app.orchestration_trigger(context_name="context")
def interrupted_timer(context: df.DurableOrchestrationContext):
    seconds = context.get_input()
    yield context.create_timer(context.current_utc_datetime + dt.timedelta(seconds=seconds))
    return (yield context.call_activity("quick_step", "after the timer"))


@app.activity_trigger(input_name="folder")
def held_step(folder: str) -> str:
    root = Path(folder)
    runs = len(list(root.glob("run-*"))) + 1
    (root / f"run-{runs}").write_text("started")
    while not (root / "release").exists():
        time.sleep(0.05)
    return f"held step finished on run {runs}"


@app.activity_trigger(input_name="value")
def quick_step(value: str) -> str:
    return f"quick step saw: {value}"
