"""The run orchestration: prepare the reference, wait for capacity, create the provider job, poll it, store the
outputs, remix, report.

Deterministic: time comes from `context.current_utc_datetime`, settings from the input, and every I/O is an
activity. Waits are durable timers raced against the `cancel` event, so a cancelled run stops waiting at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from datetime import UTC, datetime, timedelta

import azure.durable_functions as df

from activities.run_index import INDEX_RUN
from entities.provider_quota import ENTITY_NAME as QUOTA_ENTITY
from soraflow.polling import DEFAULT_BOUNDS, SAMPLE_WINDOW, PollingBounds, ProgressSample, next_poll_delay
from soraflow.quota import waiting_poll_delay
from soraflow.run_resource import build_run_resource
from soraflow.runs import RunStatus, error_from_failure

bp = df.Blueprint()

CANCEL_EVENT = "cancel"
# Storage and provider reads are safe to repeat; creates are not, so they are never retried blindly here.
STORAGE_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=2_000, max_number_of_attempts=4)
# Downloads are retried by the provider client inside the activity; these durable waits cover what outlasts it.
DOWNLOAD_RETRY_SECONDS = (3, 6, 12, 24)
# Bounded history: after this many polls (RUN_POLLS_PER_EXECUTION) the run continues as new, carrying its state.
POLLS_PER_EXECUTION = 40
# Waits before retrying a refused create, for runs whose input carries no CREATE_RETRY_SECONDS setting.
CREATE_BACKOFF_SECONDS = (5, 10, 20, 30, 60)
RATE_LIMITED = "provider_rate_limited"


class RunEnded(Exception):
    """Stops the story early with a final status and error (cancel, timeout, expiry, provider failure)."""

    def __init__(self, status: RunStatus, error: dict | None = None):
        super().__init__(status)
        self.status = status
        self.error = error


@bp.orchestration_trigger(context_name="context")
def video_run_orchestrator(context: df.DurableOrchestrationContext):
    """The story of one run, from request to finished video in Blob Storage."""
    run = dict(context.get_input())
    request = run["request"]
    state = run.setdefault("state", {"outputs": [], "stage": RunStatus.QUEUED})
    cancel = context.wait_for_external_event(CANCEL_EVENT)
    try:
        if state.get("job") is None:
            if state.get("slot") is None:  # (a run that continued as new while in line stays in line)
                publish(context, run, RunStatus.QUEUED)
            if request.get("input_reference") and not state.get("reference"):
                state["reference"] = yield context.call_activity_with_retry(
                    "prepare_reference", STORAGE_RETRY, {"run_id": run["run_id"], "request": request}
                )
            if not (yield from wait_for_capacity(context, run, cancel, may_continue=True)):
                return None  # continued as new while waiting in line, with the state in its input
            yield from record_in_index(context, run, publish(context, run, RunStatus.SUBMITTING))
            if run.get("remix_of"):  # POST /videos/{id}/remix: this run's video is a remix of another run's
                remix = {"source_job_id": run["remix_of"]["job_id"], "prompt": request["prompt"]}
                state["job"] = yield from create_job(context, run, cancel, "remix_provider_job", remix)
            else:
                create = {"request": request, "reference": state.get("reference")}
                state["job"] = yield from create_job(context, run, cancel, "create_provider_job", create)
        if state["stage"] in (RunStatus.SUBMITTING, RunStatus.GENERATING):
            if not (yield from poll_until_done(context, run, cancel, RunStatus.GENERATING)):
                return None  # continued as new, with the state in its input
            release_capacity(context, run)  # the provider is done with the job; downloads hold no provider slot
            yield from store_outputs(context, run, cancel, source="remix" if run.get("remix_of") else "generation")
            if request.get("remix"):
                yield from wait_for_capacity(context, run, cancel)
                yield from record_in_index(context, run, publish(context, run, RunStatus.REMIXING))
                remix = {"source_job_id": state["job"]["id"], "prompt": request["remix"]["prompt"]}
                state["generation_job"] = state["job"]
                state["job"] = yield from create_job(context, run, cancel, "remix_provider_job", remix)
        if state["stage"] == RunStatus.REMIXING:
            if not (yield from poll_until_done(context, run, cancel, RunStatus.REMIXING)):
                return None
            release_capacity(context, run)
            yield from store_outputs(context, run, cancel, source="remix", folder="remix/")
        state["final"], state["error"] = RunStatus.COMPLETED, None
    except RunEnded as ended:
        state["final"], state["error"] = ended.status, ended.error
    except Exception as failure:  # an activity failed for good: the run fails, saying why
        state["final"], state["error"] = RunStatus.FAILED, run_failure(error_from_failure(failure))
    if state["final"] != RunStatus.COMPLETED or run["options"].get("delete_provider_copy"):
        yield from delete_provider_jobs(context, run)
    release_capacity(context, run)  # every way out gives back the slot or the place in line (after the delete)
    result = publish(context, run, state["final"])
    manifest = {"id": run["run_id"], "request": request, "cost": run.get("cost"), "remix_of": run.get("remix_of"),
                "created_at": run["created_at"], **result}  # fmt: skip
    result["manifest"] = yield context.call_activity_with_retry("write_run_manifest", STORAGE_RETRY, manifest)
    yield from record_in_index(context, run, result)
    if request.get("callback_url"):
        try:
            callback = {"url": request["callback_url"], "run": manifest}
            yield context.call_activity("deliver_run_callback", callback)
        except Exception as failure:  # a receiver that is down must not undo a finished video
            result["callback_error"] = error_from_failure(failure)
    return result


def create_job(context: df.DurableOrchestrationContext, run: dict, cancel, activity: str, payload: dict):
    """Create the provider job; a refusal that can pass (429, 5xx) waits on a durable timer and tries again.

    A 5xx is retried once per configured wait, then fails the run. A 429 means the provider is at capacity, which
    is no reason to give up: the run waits for capacity (the last wait repeating) until its deadline.
    """
    state = run["state"]
    stage = state["stage"]
    state["samples"], state["polls"] = [], 0
    delays = run["options"].get("create_retry_seconds") or CREATE_BACKOFF_SECONDS
    deadline = datetime.fromisoformat(run["deadline"])
    attempt = 0
    while True:
        try:
            job = yield context.call_activity(activity, {"run_id": run["run_id"], **payload})
            publish(context, run, stage, job=job)
            return job
        except Exception as failure:
            error = run_failure(error_from_failure(failure))
        at_capacity = error["code"] == RATE_LIMITED
        if not error.get("retryable") or (attempt >= len(delays) and not at_capacity):
            raise RunEnded(RunStatus.FAILED, error)
        delay = max(float(error.get("retry_after") or 0), delays[min(attempt, len(delays) - 1)])
        if context.current_utc_datetime + timedelta(seconds=delay) >= deadline:
            minutes = run["options"]["timeout_minutes"]
            message = f"the provider accepted no job within {minutes} minutes ({error['message']})"
            raise RunEnded(RunStatus.FAILED, run_error("timeout", message, provider_code=error.get("provider_code")))
        attempt += 1
        refusal = error.get("provider_code") or error["code"]
        view = publish(context, run, RunStatus.WAITING_FOR_CAPACITY if at_capacity else stage,
                       note=f"provider busy ({refusal}), retrying in {delay:g} s")  # fmt: skip
        yield from record_in_index(context, run, view)
        yield from wait_holding(context, run, delay, cancel)


def poll_until_done(context: df.DurableOrchestrationContext, run: dict, cancel, stage: RunStatus):
    """Poll the provider job on durable timers until it ends; returns False when the run continued as new."""
    state = run["state"]
    deadline = datetime.fromisoformat(run["deadline"])
    job = state["job"]
    while True:
        if job["status"] == "succeeded":
            return True
        if job["status"] in ("failed", "cancelled"):
            raise RunEnded(RunStatus.FAILED, provider_failure(job))
        if job["status"] == "expired":
            raise RunEnded(RunStatus.FAILED, run_error("expired", "the provider job expired before it was stored"))
        now = context.current_utc_datetime
        if now >= deadline:
            minutes = run["options"]["timeout_minutes"]
            raise RunEnded(RunStatus.FAILED, run_error("timeout", f"the job did not finish within {minutes} minutes"))
        if state["polls"] >= run["options"].get("polls_per_execution", POLLS_PER_EXECUTION):
            state["polls"] = 0
            context.continue_as_new(run)
            return False
        clock = (now - datetime.fromisoformat(run["created_at"])).total_seconds()
        samples = [ProgressSample.from_list(pair) for pair in state["samples"]]
        poll_after = (job.get("poll_after_ms") or 0) / 1000 or None
        remaining = (deadline - now).total_seconds()
        bounds = polling_bounds(run["options"])
        delay = next_poll_delay(samples, clock, poll_after=poll_after, deadline=clock + remaining, bounds=bounds)
        yield from wait_holding(context, run, delay, cancel)
        job = yield context.call_activity_with_retry("get_provider_job", STORAGE_RETRY, {"job_id": job["id"]})
        state["job"], state["polls"] = job, state["polls"] + 1
        clock = (context.current_utc_datetime - datetime.fromisoformat(run["created_at"])).total_seconds()
        sample = [clock, float(job.get("progress") or 0)]
        state["samples"] = [*state["samples"], sample][-SAMPLE_WINDOW:]
        yield from record_in_index(context, run, publish(context, run, stage, job=job))


def polling_bounds(options: dict) -> PollingBounds:
    """The polling policy's bounds for this run: the defaults, with the first wait and floor its settings chose."""
    chosen = options.get("polling") or {}
    return dataclasses.replace(DEFAULT_BOUNDS, **{k: float(chosen[k]) for k in ("initial", "floor") if k in chosen})


def wait_for_capacity(context: df.DurableOrchestrationContext, run: dict, cancel, *, may_continue: bool = False):
    """Take a slot at the provider's quota gate; while none is free, show the place in line and ask again.

    Returns False when the run continued as new to keep a long wait's history bounded (only where `may_continue`:
    the first wait, which the story resumes from its start); True once the slot is held or the gate is off.
    """
    gate = run["options"].get("quota")
    if not gate:
        return True  # the gate is off (SORA_QUOTA_GATE=false): 429s from the provider are waited out instead
    state = run["state"]
    deadline = datetime.fromisoformat(run["deadline"])
    checks = 0
    while True:
        now = context.current_utc_datetime
        state["slot"] = {"held": False}  # asked: from here on the final section gives the place in line back
        ask = {"run_id": run["run_id"], "now": epoch(now), "limits": gate["limits"]}
        admission = yield context.call_entity(quota_entity(gate), "acquire", ask)
        if admission["granted"]:
            state["slot"] = {"held": True, "lease_expires": admission["lease_expires"]}
            return True
        checks += 1
        if may_continue and checks >= run["options"].get("polls_per_execution", POLLS_PER_EXECUTION):
            context.continue_as_new(run)  # the place in line is the entity's: asking again keeps it
            return False
        if now >= deadline:
            minutes = run["options"]["timeout_minutes"]
            raise RunEnded(RunStatus.FAILED, run_error("timeout", f"no provider capacity within {minutes} minutes"))
        view = publish(context, run, RunStatus.WAITING_FOR_CAPACITY, queue_position=admission["position"])
        yield from record_in_index(context, run, view)
        # Python entities cannot raise events to an orchestration, so a waiting run asks again on a timer.
        yield from wait(context, waiting_poll_delay(admission["position"]), cancel)


def wait_holding(context: df.DurableOrchestrationContext, run: dict, seconds: float, cancel):
    """A `wait` that keeps the run's slot: its lease is renewed at least every third of its length on the way."""
    gate, slot = run["options"].get("quota"), run["state"].get("slot")
    if not (gate and slot and slot["held"]):
        yield from wait(context, seconds, cancel)
        return
    step = gate["limits"]["lease_seconds"] / 3
    end = context.current_utc_datetime + timedelta(seconds=seconds)
    while True:
        renew_capacity(context, run)
        left = (end - context.current_utc_datetime).total_seconds()
        if left <= 0:
            return
        yield from wait(context, min(left, step), cancel)


def renew_capacity(context: df.DurableOrchestrationContext, run: dict) -> None:
    """Renew the slot's lease once half of it has gone, so a live run never loses its slot to expiry."""
    gate, slot = run["options"].get("quota"), run["state"].get("slot")
    if not (gate and slot and slot["held"]):
        return
    now, lease = epoch(context.current_utc_datetime), gate["limits"]["lease_seconds"]
    if now >= slot["lease_expires"] - lease / 2:
        context.signal_entity(quota_entity(gate), "renew", {"run_id": run["run_id"], "now": now})
        slot["lease_expires"] = now + lease  # what the entity computes from the same clock


def release_capacity(context: df.DurableOrchestrationContext, run: dict) -> None:
    """Give the slot (or the place in line) back to the gate; nothing when the run has neither."""
    gate, slot = run["options"].get("quota"), run["state"].get("slot")
    if not (gate and slot):
        return
    payload = {"run_id": run["run_id"], "now": epoch(context.current_utc_datetime)}
    context.signal_entity(quota_entity(gate), "release", payload)
    run["state"]["slot"] = None


def quota_entity(gate: dict) -> df.EntityId:
    return df.EntityId(QUOTA_ENTITY, gate["key"])


def epoch(moment: datetime) -> float:
    """Epoch seconds of the orchestration clock (UTC, whether or not the datetime says so)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def store_outputs(context: df.DurableOrchestrationContext, run: dict, cancel, *, source: str, folder: str = ""):
    """Download every output of the current job straight into Blob Storage, in parallel activities."""
    state = run["state"]
    stage = state["stage"]
    yield from record_in_index(context, run, publish(context, run, RunStatus.DOWNLOADING))
    payloads = [
        {"run_id": run["run_id"], "output": output, "source": source, "folder": folder}
        for output in state["job"].get("outputs", [])
    ]
    stored = yield from call_in_parallel(context, cancel, "store_provider_output", payloads, DOWNLOAD_RETRY_SECONDS)
    state["outputs"] = [*state["outputs"], *(item for item in stored if item)]
    publish(context, run, stage)


def call_in_parallel(context: df.DurableOrchestrationContext, cancel, activity: str, payloads: list, delays):
    """One activity per payload, all at once; those that failed retryably run again after each delay in turn.

    A typed final failure (an expired or missing output) fails at once instead of being retried like a transient
    one; an untyped failure (a crashed worker) may be transient and is retried.
    """
    results: dict[int, object] = {}
    for delay in (*delays, None):
        tasks = {i: context.call_activity(activity, payload) for i, payload in enumerate(payloads) if i not in results}
        # A failed when-all returns at its first failure; the loop below then waits for every task.
        with contextlib.suppress(Exception):
            yield context.task_all(list(tasks.values()))
        failures = []
        for i, task in tasks.items():
            try:
                results[i] = yield task
            except Exception as failure:
                failures.append(failure)
        if not failures:
            return [results[i] for i in range(len(payloads))]
        final = [failure for failure in failures if is_final_failure(error_from_failure(failure))]
        if final or delay is None:
            raise (final or failures)[0]
        yield from wait(context, delay, cancel)
    raise AssertionError("unreachable")


def is_final_failure(error: dict) -> bool:
    return not error.get("retryable") and error.get("code") != "internal_error"


def delete_provider_jobs(context: df.DurableOrchestrationContext, run: dict):
    """Best-effort delete of the provider's copies (after a cancel, a failure, a timeout, or by setting)."""
    state = run["state"]
    for job in (state.get("generation_job"), state.get("job")):
        if not job or job["id"] in state.setdefault("deleted_jobs", []):
            continue
        try:
            yield context.call_activity_with_retry("delete_provider_job", STORAGE_RETRY, {"job_id": job["id"]})
            state["deleted_jobs"].append(job["id"])
        except Exception as failure:
            state["delete_error"] = error_from_failure(failure)


def wait(context: df.DurableOrchestrationContext, seconds: float, cancel):
    """A durable timer raced against the cancel event; raises RunEnded(cancelled) if cancel wins."""
    if cancel.is_completed:
        raise RunEnded(RunStatus.CANCELLED, cancelled_error())
    timer = context.create_timer(context.current_utc_datetime + timedelta(seconds=max(seconds, 0.05)))
    winner = yield context.task_any([timer, cancel])
    if winner is not timer:
        timer.cancel()
        raise RunEnded(RunStatus.CANCELLED, cancelled_error())


def publish(
    context: df.DurableOrchestrationContext, run: dict, stage: RunStatus, *, job=None, note=None, queue_position=None
) -> dict:
    """Record a live stage and its progress in custom status (what GET /videos/{id} shows); return the view."""
    state = run["state"]
    stage = RunStatus(stage)
    if not stage.is_final:
        state["stage"] = stage
    job = job or state.get("job")
    status = {
        "status": stage,
        "progress": 100 if stage == RunStatus.COMPLETED else overall_progress(stage, job),
        "provider": provider_view(run, job),
        "outputs": state["outputs"],
        "error": state.get("error") if stage.is_final else None,
        "note": note,
        "queue_position": queue_position,
        "updated_at": context.current_utc_datetime.isoformat(),
    }
    if stage.is_final:
        status["completed_at"] = status["updated_at"]
        status["run_id"] = run["run_id"]
    else:
        # A final status is shown only as the orchestration's output, after the manifest and the callback: a
        # client that reads `completed` or `failed` can rely on run.json being written (and may delete the run).
        context.set_custom_status(status)
    return status


def record_in_index(context: df.DurableOrchestrationContext, run: dict, view: dict):
    """Write the run to the run index (GET /videos lists from it) when its status differs from the last written.

    A failed write never fails or holds up the run: the row is written again at the next change of status, and
    GET /videos/{id} repairs the row of a finished run.
    """
    state = run["state"]
    if view["status"] == state.get("indexed"):
        return
    final = RunStatus(view["status"]).is_final
    status = {"instanceId": run["run_id"], "runtimeStatus": "Completed" if final else "Running", "input": run}
    resource = build_run_resource({**status, "output" if final else "customStatus": view})
    try:
        yield context.call_activity(INDEX_RUN, {"run": resource})
        state["indexed"] = view["status"]
    except Exception as failure:  # the next status change writes the row again
        if not context.is_replaying:
            logging.getLogger("soraflow.orchestrator").warning(
                "run %s: run index not written at %s: %s", run["run_id"], view["status"], failure
            )


def overall_progress(stage: RunStatus, job: dict | None) -> int:
    """Run progress 0-100: the provider's render progress, scaled into the generation (or remix) span."""
    provider = int((job or {}).get("progress") or 0)
    spans = {
        RunStatus.QUEUED: (0, 0),
        RunStatus.SUBMITTING: (0, 2),
        RunStatus.GENERATING: (2, 90),
        RunStatus.DOWNLOADING: (90, 98),
        RunStatus.REMIXING: (50, 90),
    }
    low, high = spans.get(RunStatus(stage), (0, 0))
    return int(low + (high - low) * min(max(provider, 0), 100) / 100)


def provider_view(run: dict, job: dict | None) -> dict | None:
    if not job:
        return None
    return {
        "api": run["options"]["api"],
        "job_id": job.get("id"),
        "status": job.get("provider_status"),
        "progress": job.get("progress"),
    }


def provider_failure(job: dict) -> dict:
    error = job.get("error") or {}
    code = error.get("code") or "provider_failed"
    return {
        "code": "content_policy" if error.get("content_policy") else "provider_failed",
        "message": error.get("message") or f"the provider job ended {job.get('provider_status')}",
        "retryable": False,
        "provider_code": code,
    }


# A refusal by moderation or an expired job reads the same to the user wherever the provider reported it (at
# create, while rendering, at download): one run error code each, with the provider's own code kept beside it.
RUN_ERROR_CODES = {"provider_content_policy": "content_policy", "provider_expired": "expired"}


def run_failure(error: dict) -> dict:
    """An activity's typed error in the run's vocabulary (content_policy, expired), the provider's code kept."""
    return {**error, "code": RUN_ERROR_CODES.get(error.get("code"), error.get("code"))}


def cancelled_error() -> dict:
    return run_error("cancelled", "the run was cancelled")


def run_error(code: str, message: str, *, provider_code: str | None = None) -> dict:
    return {"code": code, "message": message, "retryable": False, "provider_code": provider_code}
