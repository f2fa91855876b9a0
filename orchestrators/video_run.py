"""The run orchestration: prepare the reference, wait for capacity, create the provider job, poll it, store the
outputs, remix, report.

Deterministic: time comes from `context.current_utc_datetime`, settings from the input, and every I/O is an
activity. Waits are durable timers raced against the `cancel` event, so a cancelled run stops waiting at once.
Each step records that it is done in the run's state, so a run that continued as new resumes at the step it was in.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable, Generator
from datetime import UTC, datetime, timedelta

import azure.durable_functions as df

from activities.outputs import DELIVER_RUN_CALLBACK, PREPARE_REFERENCE, STORE_PROVIDER_OUTPUT, WRITE_RUN_MANIFEST
from activities.provider_jobs import CREATE_PROVIDER_JOB, DELETE_PROVIDER_JOB, GET_PROVIDER_JOB, REMIX_PROVIDER_JOB
from activities.quota_wakeups import CAPACITY_GRANTED_EVENT, WAKE_WAITING_RUNS
from activities.run_index import INDEX_RUN
from entities.provider_quota import ENTITY_NAME as QUOTA_ENTITY
from orchestrators.run_state import RunInput, RunState, Slot, Step
from soraflow.polling import (
    DEFAULT_BOUNDS,
    PUSH_FALLBACK_SECONDS,
    SAMPLE_WINDOW,
    PollingBounds,
    ProgressSample,
    next_poll_delay,
)
from soraflow.providers.status import JobStatus
from soraflow.quota import waiting_fallback_delay
from soraflow.retention import next_store_wait, store_deadline
from soraflow.run_resource import build_run_resource
from soraflow.run_view import RunView
from soraflow.runs import RunStatus, error_from_failure, is_typed_failure

bp = df.Blueprint()
log = logging.getLogger("soraflow.orchestrator")

ORCHESTRATOR = "video_run_orchestrator"
CANCEL_EVENT = "cancel"
# Raised on a run by a provider's webhook (POST /api/webhooks/{provider}): the job changed, look now.
PROVIDER_UPDATE_EVENT = "provider_update"

# Provider reads and deletes are safe to repeat; creates are not, so they are never retried blindly here.
SAFE_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=2_000, max_number_of_attempts=4)
# A callback receiver that is down is tried again on durable timers (no worker sleeps between attempts).
CALLBACK_RETRY_SECONDS = (1.0, 2.0, 4.0, 8.0)
# The manifest is the run's lasting record: storage that is down is waited out for up to this long.
MANIFEST_RETRY_WINDOW = timedelta(hours=1)
RATE_LIMITED = "provider_rate_limited"
# The provider says a finished video is gone: storing it again cannot help. Every other failure is retried.
STORE_FINAL_CODES = frozenset({"provider_expired", "provider_not_found", "expired"})


class RunEnded(Exception):
    """Stops the story early with a final status and error (cancel, timeout, expiry, provider failure)."""

    def __init__(self, status: RunStatus, error: dict | None = None):
        super().__init__(status)
        self.status = status
        self.error = error


class ContinuedAsNew(Exception):
    """The run handed its state to a new execution of itself (bounded history); this execution ends here."""


@bp.function_name(ORCHESTRATOR)
@bp.orchestration_trigger(context_name="context")
def video_run_orchestrator(context: df.DurableOrchestrationContext):
    """The story of one run, from request to finished video in Blob Storage."""
    run = Run(context, RunInput.from_dict(context.get_input()))
    try:
        yield from run.step(Step.REFERENCE, prepare_reference)
        yield from run.step(Step.CAPACITY, wait_for_capacity)
        yield from run.step(Step.CREATE, create_job)
        yield from run.step(Step.RENDER, render)
        yield from run.step(Step.STORE, store_outputs)
        if run.input.wants_remix:
            yield from chained_remix(run)
        run.end(RunStatus.COMPLETED)
    except ContinuedAsNew:
        return None
    except RunEnded as ended:
        run.end(ended.status, ended.error)
    except Exception as failure:
        if not is_typed_failure(failure):
            run.log_crash(failure)
            raise  # a bug of ours: the instance fails (Durable reports it) and the run reads failed/internal_error
        run.end(RunStatus.FAILED, run_failure(error_from_failure(failure)))
    return (yield from report(run))


def chained_remix(run: Run):
    """Remix the stored video (`request.remix`). A remix that fails leaves the run completed with its first video
    and the remix error shown; only a cancel ends the run."""
    try:
        yield from run.step(Step.REMIX_CAPACITY, wait_for_capacity)
        yield from run.step(Step.REMIX_CREATE, create_job)
        yield from run.step(Step.REMIX_RENDER, render)
        yield from run.step(Step.REMIX_STORE, store_outputs)
    except RunEnded as ended:
        if ended.status == RunStatus.CANCELLED:
            raise
        yield from run.remix_failed(ended.error)
    except ContinuedAsNew:
        raise
    except Exception as failure:
        if not is_typed_failure(failure):
            raise
        yield from run.remix_failed(run_failure(error_from_failure(failure)))


class Run:
    """One execution of the story: the input, the state so far, and the durable context it talks through."""

    def __init__(self, context: df.DurableOrchestrationContext, run_input: RunInput):
        self.context = context
        self.input = run_input
        self.state: RunState = run_input.state
        self.cancel = context.wait_for_external_event(CANCEL_EVENT)
        # The events that end a wait early without ending the run: one pending task each, renewed once it fires.
        self.wakes = {
            name: context.wait_for_external_event(name) for name in (PROVIDER_UPDATE_EVENT, CAPACITY_GRANTED_EVENT)
        }
        self.final: RunStatus | None = None
        self.error: dict | None = None

    @property
    def id(self) -> str:
        return self.input.run_id

    @property
    def now(self) -> datetime:
        return self.context.current_utc_datetime

    @property
    def deadline(self) -> datetime:
        return datetime.fromisoformat(self.input.deadline)

    def update(self, **changes) -> None:
        self.state = self.state.replace(**changes)

    def step(self, step: Step, action: Callable[[Run], Generator]):
        """Run `action` unless an earlier execution of this run already finished `step`; then mark it done."""
        if self.state.step.order > step.order:
            return
        self.update(step=step)
        yield from action(self)
        self.update(step=list(Step)[step.order + 1])

    def continue_as_new(self) -> None:
        """Hand the state to a fresh execution (its history starts empty); raises ContinuedAsNew."""
        self.context.continue_as_new(self.input.with_state(self.state).to_dict())
        raise ContinuedAsNew

    def publish(self, stage: RunStatus, *, note: str | None = None, queue_position: int | None = None):
        """Show a live stage and its progress in custom status (what GET /videos/{id} reads while the run runs), and
        write the run index when the status changed (what GET /videos lists)."""
        self.update(stage=RunStatus(stage))
        view = self.view(stage, note=note, queue_position=queue_position).to_dict()
        self.context.set_custom_status(view)
        yield from self.index(view)

    def index(self, view: dict):
        """Write the run's row in the run index when its status differs from the last one written.

        A failed write never fails or holds up the run: the row is written again at the next change of status, and
        GET /videos/{id} repairs the row of a finished run.
        """
        if view["status"] == self.state.indexed:
            return
        final = RunStatus(view["status"]).is_final
        run_input = {key: getattr(self.input, key) for key in ("run_id", "request", "cost", "created_at")}
        instance = {"instanceId": self.id, "runtimeStatus": "Completed" if final else "Running", "input": run_input}
        resource = build_run_resource({**instance, "output" if final else "customStatus": view})
        try:
            yield self.context.call_activity(INDEX_RUN, {"run": resource})
            self.update(indexed=view["status"])
        except Exception as failure:
            if not self.context.is_replaying:
                log.warning("run %s: run index not written at %s: %s", self.id, view["status"], failure)

    def view(self, stage: RunStatus, **extra) -> RunView:
        return RunView.of(
            stage,
            at=self.now.isoformat(),
            api=self.input.options.api,
            job=self.state.job,
            outputs=self.state.outputs,
            error=self.error,
            remix_error=self.state.remix_error,
            delete_error=self.state.delete_error,
            **extra,
        )

    def end(self, status: RunStatus, error: dict | None = None) -> None:
        self.final, self.error = status, error

    def remix_failed(self, error: dict | None):
        self.update(remix_error=error, step=Step.DONE)
        yield from self.release_capacity()

    def log_crash(self, failure: BaseException) -> None:
        if not self.context.is_replaying:
            log.error("run %s: the orchestration failed at step %s: %r", self.id, self.state.step, failure)

    # --- waiting ---

    def wait(self, seconds: float, *, wake_on: str | None = None):
        """A durable timer raced against the cancel event; raises RunEnded(cancelled) if cancel wins.

        With `wake_on`, that event ends the wait early too (`provider_update`: the provider's webhook pushed;
        `capacity_granted`: the quota gate let this run in); returns True when it did.
        """
        if self.cancel.is_completed:
            raise RunEnded(RunStatus.CANCELLED, cancelled_error())
        timer = self.context.create_timer(self.now + timedelta(seconds=max(seconds, 0.05)))
        racing = [timer, self.cancel, *([self.wakes[wake_on]] if wake_on else [])]
        winner = yield self.context.task_any(racing)
        if winner is timer:
            return False
        timer.cancel()
        if winner is self.cancel:
            raise RunEnded(RunStatus.CANCELLED, cancelled_error())
        # Each wake-up is one event: wait for the next one from here on.
        self.wakes[wake_on] = self.context.wait_for_external_event(wake_on)
        return True

    def wait_holding(self, seconds: float, *, wake_on: str | None = None):
        """A `wait` that keeps the run's slot: its lease is renewed at least every third of its length on the way."""
        gate, slot = self.input.options.quota, self.state.slot
        if not (gate and slot and slot.held):
            return (yield from self.wait(seconds, wake_on=wake_on))
        step = gate["limits"]["lease_seconds"] / 3
        end = self.now + timedelta(seconds=seconds)
        while True:
            self.renew_capacity()
            left = (end - self.now).total_seconds()
            if left <= 0:
                return False
            if (yield from self.wait(min(left, step), wake_on=wake_on)):
                return True

    # --- the quota gate ---

    def quota_entity(self) -> df.EntityId:
        return df.EntityId(QUOTA_ENTITY, self.input.options.quota["key"])

    def renew_capacity(self) -> None:
        """Renew the slot's lease once half of it has gone, so a live run never loses its slot to expiry."""
        gate, slot = self.input.options.quota, self.state.slot
        if not (gate and slot and slot.held):
            return
        now, lease = epoch(self.now), gate["limits"]["lease_seconds"]
        if now >= slot.lease_expires - lease / 2:
            self.context.signal_entity(self.quota_entity(), "renew", {"run_id": self.id, "now": now})
            self.update(slot=Slot(held=True, lease_expires=now + lease))  # what the entity computes from this clock

    def release_capacity(self):
        """Give the slot (or the place in line) back to the gate and wake the runs it admits; nothing when the run
        has neither. A release that fails is logged: the slot then lapses with its lease."""
        if not (self.input.options.quota and self.state.slot):
            return
        try:
            release = yield self.context.call_entity(
                self.quota_entity(), "release", {"run_id": self.id, "now": epoch(self.now)}
            )
        except Exception as failure:
            release = {}
            if not self.context.is_replaying:
                log.warning("run %s: the quota gate did not take the slot back: %s", self.id, failure)
        self.update(slot=None)
        yield from self.wake_admitted((release or {}).get("admitted"))

    def wake_admitted(self, run_ids) -> Generator:
        """Tell each run the gate just admitted that its slot is ready (their fallback timers cover a lost wake)."""
        if not run_ids:
            return
        try:
            yield self.context.call_activity(WAKE_WAITING_RUNS, {"run_ids": list(run_ids), "by": self.id})
        except Exception as failure:
            if not self.context.is_replaying:
                log.warning("run %s: could not wake %s: %s", self.id, ", ".join(run_ids), failure)


# --- the steps ---


def prepare_reference(run: Run):
    """Fit the reference image (an upload, a blob, or a frame of an earlier run) to the video, once."""
    yield from run.publish(RunStatus.QUEUED)
    if run.input.request.get("input_reference") and not run.state.reference:
        payload = {"run_id": run.id, "request": dict(run.input.request)}
        run.update(reference=(yield run.context.call_activity_with_retry(PREPARE_REFERENCE, SAFE_RETRY, payload)))


def wait_for_capacity(run: Run):
    """Take a slot at the provider's quota gate; while none is free, show the place in line and ask again.

    A long wait continues as new every `polls_per_execution` checks; the place in line is the entity's, so asking
    again in the new execution keeps it.
    """
    gate = run.input.options.quota
    if not gate:
        return  # the gate is off (SORA_QUOTA_GATE=false): 429s from the provider are waited out instead
    checks = 0
    while True:
        run.update(slot=Slot(held=False))  # asked: from here on every way out gives the place in line back
        ask = {"run_id": run.id, "now": epoch(run.now), "limits": gate["limits"]}
        admission = yield run.context.call_entity(run.quota_entity(), "acquire", ask)
        yield from run.wake_admitted(admission.get("admitted"))  # runs let in by this ask (a lapsed lease freed a slot)
        if admission["granted"]:
            run.update(slot=Slot(held=True, lease_expires=admission["lease_expires"]))
            return
        checks += 1
        if checks >= run.input.options.polls_per_execution:
            run.continue_as_new()
        if run.now >= run.deadline:
            minutes = run.input.options.timeout_minutes
            raise RunEnded(RunStatus.FAILED, run_error("timeout", f"no provider capacity within {minutes:g} minutes"))
        yield from run.publish(RunStatus.WAITING_FOR_CAPACITY, queue_position=admission["position"])
        # The run that frees a slot wakes the next in line (`capacity_granted`); the timer covers a lost wake-up and
        # renews the place in line well within its lease.
        fallback = waiting_fallback_delay(gate["limits"]["lease_seconds"])
        yield from run.wait(fallback, wake_on=CAPACITY_GRANTED_EVENT)


def create_job(run: Run):
    """Create the provider job; a refusal that can pass (429, 5xx) waits on a durable timer and tries again.

    A 5xx is retried once per configured wait, then fails the run. A 429 means the provider is at capacity, which
    is no reason to give up: the run waits (the last wait repeating) until its deadline.
    """
    if run.state.step.is_remix:  # the chained remix of this run's stored video
        stage = RunStatus.REMIXING
        activity = REMIX_PROVIDER_JOB
        payload = {"source_job_id": run.state.job["id"], "provider": run.input.provider}
        payload["prompt"] = run.input.request["remix"]["prompt"]
        run.update(generation_job=run.state.job)
    elif run.input.remix_of:  # POST /videos/{id}/remix: this run's video is a remix of another run's
        stage = RunStatus.SUBMITTING
        activity = REMIX_PROVIDER_JOB
        payload = {"source_job_id": run.input.remix_of["job_id"], "prompt": run.input.request["prompt"],
                   "provider": run.input.provider}  # fmt: skip
    else:
        stage = RunStatus.SUBMITTING
        activity, payload = CREATE_PROVIDER_JOB, {"request": dict(run.input.request), "reference": run.state.reference}
    yield from run.publish(stage)
    delays = run.input.options.create_retry_seconds
    attempt = 0
    while True:
        try:
            job = yield run.context.call_activity(activity, {"run_id": run.id, **payload})
            run.update(job=job, samples=(), polls=0)
            yield from run.publish(stage)
            return
        except Exception as failure:
            if not is_typed_failure(failure):
                raise
            error = run_failure(error_from_failure(failure))
        at_capacity = error["code"] == RATE_LIMITED
        if not error.get("retryable") or (attempt >= len(delays) and not at_capacity):
            raise RunEnded(RunStatus.FAILED, error)
        delay = max(float(error.get("retry_after") or 0), delays[min(attempt, len(delays) - 1)])
        if run.now + timedelta(seconds=delay) >= run.deadline:
            minutes = run.input.options.timeout_minutes
            message = f"the provider accepted no job within {minutes:g} minutes ({error['message']})"
            raise RunEnded(RunStatus.FAILED, run_error("timeout", message, provider_code=error.get("provider_code")))
        attempt += 1
        refusal = error.get("provider_code") or error["code"]
        yield from run.publish(RunStatus.WAITING_FOR_CAPACITY if at_capacity else stage,
                               note=f"provider busy ({refusal}), retrying in {delay:g} s")  # fmt: skip
        yield from run.wait_holding(delay)


def render(run: Run):
    """Poll the provider job on durable timers until it ends; a long render continues as new."""
    stage = RunStatus.REMIXING if run.state.step.is_remix else RunStatus.GENERATING
    created = datetime.fromisoformat(run.input.created_at)
    if run.state.stage != stage:
        # The job exists: say so now, not at the first status call (with push that may be the only one).
        yield from run.publish(stage, queue_position=(run.state.job.get("extra") or {}).get("queue_position"))
    while True:
        job = run.state.job
        status = JobStatus(job["status"])
        if status == JobStatus.SUCCEEDED:
            # From here the provider's copy is a paid video: kept until stored, retried until shortly before expiry.
            until = store_deadline(job, run.now).isoformat()
            run.update(succeeded_jobs=(*run.state.succeeded_jobs, job["id"]), store_attempts=0, store_until=until)
            yield from run.release_capacity()  # the provider is done with the job; downloads hold no provider slot
            return
        if status in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise RunEnded(RunStatus.FAILED, provider_failure(job))
        if status == JobStatus.EXPIRED:
            raise RunEnded(RunStatus.FAILED, run_error("expired", "the provider job expired before it was stored"))
        if run.now >= run.deadline:
            minutes = run.input.options.timeout_minutes
            raise RunEnded(RunStatus.FAILED, run_error("timeout", f"the job did not finish within {minutes:g} minutes"))
        if run.state.polls >= run.input.options.polls_per_execution:
            run.update(polls=0)
            run.continue_as_new()
        clock = (run.now - created).total_seconds()
        if not run.state.samples and run.state.polls == 0:
            # A job just created: before its first reading, its rate is measured from here, not from the run's start
            # (a run that waited in line for capacity began long before its job).
            run.update(job_since=clock)
        samples = [ProgressSample(at, progress) for at, progress in run.state.samples]
        poll_after = (job.get("poll_after_ms") or 0) / 1000 or None
        remaining = (run.deadline - run.now).total_seconds()
        delay = next_poll_delay(samples, clock, since=run.state.job_since, poll_after=poll_after,
                                deadline=clock + remaining, bounds=bounds(run))  # fmt: skip
        if run.input.options.push:
            # The provider calls back when the job ends (and the webhook wakes this wait): polling is the fallback.
            delay = max(delay, PUSH_FALLBACK_SECONDS)
        yield from run.wait_holding(delay, wake_on=PROVIDER_UPDATE_EVENT if run.input.options.push else None)
        job = yield run.context.call_activity_with_retry(
            GET_PROVIDER_JOB, SAFE_RETRY, {"job_id": job["id"], "provider": run.input.provider}
        )
        sample = ((run.now - created).total_seconds(), float(job.get("progress") or 0))
        run.update(job=job, polls=run.state.polls + 1, samples=(*run.state.samples, sample)[-SAMPLE_WINDOW:])
        # A provider with a queue of its own (fal) says where the job stands in it.
        yield from run.publish(stage, queue_position=(job.get("extra") or {}).get("queue_position"))


def bounds(run: Run) -> PollingBounds:
    """The polling policy's bounds for this run: the defaults, with the first wait and floor its settings chose."""
    chosen = run.input.options.polling
    return dataclasses.replace(DEFAULT_BOUNDS, **{k: float(chosen[k]) for k in ("initial", "floor") if k in chosen})


def store_outputs(run: Run):
    """Download every output of the finished job straight into Blob Storage, in parallel activities.

    Storage that fails (down, throttled, a crashed worker) is retried on durable timers until shortly before the
    provider's copy expires; only then does the run fail as `expired`, keeping every output it did store.
    """
    remix_step = run.state.step.is_remix
    source = "remix" if remix_step or run.input.remix_of else "generation"
    folder = "remix/" if remix_step else ""
    job = run.state.job
    until = datetime.fromisoformat(run.state.store_until) if run.state.store_until else store_deadline(job, run.now)
    yield from run.publish(RunStatus.DOWNLOADING)
    absent: set[tuple] = set()
    while True:
        stored = {(o["source"], o["kind"], int(o.get("index") or 0)) for o in run.state.outputs}
        pending = [o for o in job.get("outputs", []) if (source, o["kind"], int(o["index"])) not in stored | absent]
        tasks = [
            run.context.call_activity(
                STORE_PROVIDER_OUTPUT,
                {
                    "run_id": run.id,
                    "output": output,
                    "source": source,
                    "folder": folder,
                    "provider": run.input.provider,
                },
            )
            for output in pending
        ]
        results, failures = yield from settle_all(run.context, tasks)
        for i, (output, result) in enumerate(zip(pending, results, strict=True)):
            if result is None and i not in failures:  # an optional part the provider does not serve
                absent.add((source, output["kind"], int(output["index"])))
        run.update(outputs=(*run.state.outputs, *(result for result in results if result)))
        if not failures:
            break
        errors = [error_from_failure(failure) for failure in failures.values()]
        final = [error for error in errors if run_failure(error)["code"] in STORE_FINAL_CODES]
        if final:
            raise RunEnded(RunStatus.FAILED, run_failure(final[0]))
        attempt = run.state.store_attempts + 1
        run.update(store_attempts=attempt)
        delay = next_store_wait(attempt, run.input.options.store_retry_seconds)
        if run.now + timedelta(seconds=delay) >= until:
            message = (f"storing the outputs failed until shortly before the provider's copy expires "
                       f"({until.isoformat()}): {errors[0]['message']}")  # fmt: skip
            raise RunEnded(RunStatus.FAILED, run_error("expired", message, provider_code=errors[0].get("code")))
        if not run.context.is_replaying:
            log.warning("run %s: storing failed (%s), attempt %d; retrying in %g s", run.id, errors[0]["code"],
                        attempt, delay)  # fmt: skip
        if attempt % run.input.options.polls_per_execution == 0:
            run.continue_as_new()
        note = f"storage failed ({errors[0]['code']}), retrying in {delay:g} s"
        yield from run.publish(RunStatus.DOWNLOADING, note=note)
        yield from run.wait(delay)
    run.update(stored_jobs=(*run.state.stored_jobs, job["id"]), store_attempts=0, store_until=None)


def settle_all(context: df.DurableOrchestrationContext, tasks: list):
    """Wait for every task; returns each one's result (None where it failed) and the failures by position."""
    if tasks:
        # A failed when-all returns at its first failure; each task is read below.
        with contextlib.suppress(Exception):
            yield context.task_all(tasks)
    results, failures = [], {}
    for i, task in enumerate(tasks):
        try:
            results.append((yield task))
        except Exception as failure:
            results.append(None)
            failures[i] = failure
    return results, failures


# --- the report ---


def report(run: Run):
    """Delete what may be deleted, give back capacity, write the manifest, tell the callback; return the result."""
    yield from delete_provider_copies(run)
    yield from run.release_capacity()  # every way out gives back the slot or the place in line (after the delete)
    view = run.view(run.final).to_dict()
    result = {**view, "run_id": run.id, "stored_job_id": last_stored_job(run.state)}
    manifest = {"id": run.id, "request": dict(run.input.request), "cost": run.input.cost,
                "remix_of": run.input.remix_of, "created_at": run.input.created_at, **view}  # fmt: skip
    try:
        result["manifest"] = yield from with_storage_retry(run, WRITE_RUN_MANIFEST, manifest, MANIFEST_RETRY_WINDOW)
    except RunEnded as ended:
        result["manifest"], result["manifest_error"] = None, ended.error
    yield from run.index(view)
    if run.input.request.get("callback_url"):
        callback = {"url": run.input.request["callback_url"], "run": manifest}
        try:
            yield from with_retry(run, DELIVER_RUN_CALLBACK, callback, CALLBACK_RETRY_SECONDS)
        except RunEnded as ended:  # a receiver that is down must not undo a finished video
            result["callback_error"] = ended.error
    return result


def with_retry(run: Run, activity: str, payload: dict, delays) -> Generator:
    """Call `activity`; a retryable typed failure waits on a durable timer and tries again, once per delay.

    Raises RunEnded(failed) with the last error when it gives up (a cancel arriving now does not stop a report).
    """
    waits = list(delays)
    while True:
        try:
            return (yield run.context.call_activity(activity, payload))
        except Exception as failure:
            error = error_from_failure(failure)
        if not waits or not error.get("retryable"):
            raise RunEnded(RunStatus.FAILED, error)
        yield run.context.create_timer(run.now + timedelta(seconds=waits.pop(0)))


def with_storage_retry(run: Run, activity: str, payload: dict, window: timedelta) -> Generator:
    """`with_retry` on the store schedule, for up to `window`: storage that is down is waited out."""
    delays, total, attempt = [], 0.0, 0
    while total < window.total_seconds() and len(delays) < 200:
        attempt += 1
        delays.append(next_store_wait(attempt, run.input.options.store_retry_seconds))
        total += delays[-1]
    return (yield from with_retry(run, activity, payload, delays))


def delete_provider_copies(run: Run):
    """Best-effort delete of provider jobs that hold nothing of value (cancelled, failed or timed-out renders), and
    of stored ones when DELETE_PROVIDER_COPY asks. A finished video that was not stored is never deleted."""
    state = run.state
    for job in (state.generation_job, state.job):
        if not job or job["id"] in state.deleted_jobs:
            continue
        paid = job["id"] in state.succeeded_jobs
        if paid and not (job["id"] in state.stored_jobs and run.input.options.delete_provider_copy):
            continue
        try:
            yield run.context.call_activity_with_retry(
                DELETE_PROVIDER_JOB, SAFE_RETRY, {"job_id": job["id"], "provider": run.input.provider}
            )
            run.update(deleted_jobs=(*run.state.deleted_jobs, job["id"]))
        except Exception as failure:
            run.update(delete_error={**error_from_failure(failure), "job_id": job["id"]})
        state = run.state


def last_stored_job(state: RunState) -> str | None:
    """The provider job whose video is this run's latest stored one (what a remix of this run starts from)."""
    return state.stored_jobs[-1] if state.stored_jobs else None


def epoch(moment: datetime) -> float:
    """Epoch seconds of the orchestration clock (UTC, whether or not the datetime says so)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def provider_failure(job: dict) -> dict:
    """A job that ended failed or cancelled at the provider, in the run's words (moderation kept apart)."""
    error = job.get("error") or {}
    return {
        "code": "content_policy" if error.get("content_policy") else "provider_failed",
        "message": error.get("message") or f"the provider job ended {job.get('provider_status')}",
        "retryable": False,
        "provider_code": error.get("code") or "provider_failed",
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
