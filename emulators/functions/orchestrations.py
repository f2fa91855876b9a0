"""Orchestration episodes: replay through the Durable SDK's own handle, then do the host's duties.

One episode = load the instance's history and a batch of its pending messages from SQLite, call the
orchestrator handle with the JSON context (schema V3), check the actions it returns against the ones earlier
episodes saw (the determinism check), number new actions exactly as the SDK numbers its tasks, schedule their
work (activities, timers, sub-orchestrations, entity operations), run retries as DTFx does, and commit all of
it in one transaction. Numbering rule (durable-protocol.md 1c/1d): every yielded task takes the next sequence
number in the order its action appears, `signal_entity`/`continue_as_new` take one when called, external-event
waits take none, and a retry takes one for its timer on failure and one for the re-attempt when that timer
fires. Those retry numbers are invisible in the actions, so an event that triggers one is always the first
event of its batch: its numbers are then taken before any new action's.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from azure.functions import meta
from azure.functions.durable_functions import OrchestrationTriggerConverter

from emulators.functions import invocation
from emulators.functions.application import FunctionApp, format_timespan
from emulators.functions.store import TERMINAL, DurableStore, Effects, Instance, Message

log = logging.getLogger("host")

EXECUTION_STARTED = 0
EXECUTION_COMPLETED = 1
EXECUTION_TERMINATED = 3
TASK_SCHEDULED = 4
TASK_COMPLETED = 5
TASK_FAILED = 6
SUB_ORCHESTRATION_CREATED = 7
SUB_ORCHESTRATION_COMPLETED = 8
SUB_ORCHESTRATION_FAILED = 9
TIMER_CREATED = 10
TIMER_FIRED = 11
ORCHESTRATOR_STARTED = 12
ORCHESTRATOR_COMPLETED = 13
EVENT_SENT = 14
EVENT_RAISED = 15
EXECUTION_SUSPENDED = 19
EXECUTION_RESUMED = 20

EVENT_NAMES = {
    0: "ExecutionStarted",
    1: "ExecutionCompleted",
    2: "ExecutionFailed",
    3: "ExecutionTerminated",
    4: "TaskScheduled",
    5: "TaskCompleted",
    6: "TaskFailed",
    7: "SubOrchestrationInstanceCreated",
    8: "SubOrchestrationInstanceCompleted",
    9: "SubOrchestrationInstanceFailed",
    10: "TimerCreated",
    11: "TimerFired",
    12: "OrchestratorStarted",
    13: "OrchestratorCompleted",
    14: "EventSent",
    15: "EventRaised",
    16: "ContinueAsNew",
    17: "GenericEvent",
    18: "HistoryState",
    19: "ExecutionSuspended",
    20: "ExecutionResumed",
}

CALL_ACTIVITY, CALL_ACTIVITY_RETRY, CALL_SUB, CALL_SUB_RETRY, CONTINUE_AS_NEW, CREATE_TIMER = 0, 1, 2, 3, 4, 5
WAIT_EVENT, CALL_ENTITY, CALL_HTTP, SIGNAL_ENTITY, WHEN_ANY, WHEN_ALL = 6, 7, 8, 9, 11, 12
HTTP_ACTIVITY = "BuiltIn::HttpActivity"
_OUT_OF_PROC_MARKER = "\n\n$OutOfProcData$:"


def timestamp(at: float) -> str:
    """Epoch seconds as the UTC text the SDK parses (with Z, so its datetimes are tz-aware)."""
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str) -> float:
    """History/action timestamp text (`...Z`, or an ISO offset) as epoch seconds."""
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


def new_engine() -> dict:
    """Host bookkeeping for one execution: next sequence number, action signatures, pending tasks, retries."""
    return {"next_id": 0, "signatures": [], "timers": {}, "pending": {}, "groups": {}}


def execution_started(name: str, input_text: str | None, version: str | None, at: float, parent=None) -> dict:
    """The ExecutionStarted event that opens an execution (Version is required by the SDK)."""
    return {
        "EventType": EXECUTION_STARTED,
        "EventId": -1,
        "Timestamp": timestamp(at),
        "Name": name,
        "Input": input_text,
        "Version": version or "",
        "ParentInstance": parent,
    }


def new_instance(
    instance_id: str,
    name: str,
    input_text: str | None,
    *,
    input_shown: str | None = None,
    version: str | None = None,
    at: float,
    parent: tuple[str, str, int] | None = None,
) -> tuple[Instance, dict]:
    """A Pending instance row and the ExecutionStarted message that starts it."""
    created = timestamp(at)
    instance = Instance(
        instance_id=instance_id,
        name=name,
        execution_id=uuid.uuid4().hex,
        status="Pending",
        input=input_text,
        input_shown=input_text if input_shown is None else input_shown,
        output=None,
        custom_status=None,
        version=version,
        created_time=created,
        created_ts=at,
        last_updated_time=created,
        parent_instance_id=parent[0] if parent else None,
        parent_execution_id=parent[1] if parent else None,
        parent_task_id=parent[2] if parent else None,
        engine=new_engine(),
    )
    parent_info = {"OrchestrationInstance": {"InstanceId": parent[0]}, "TaskScheduleId": parent[2]} if parent else None
    return instance, execution_started(name, input_text, version, at, parent_info)


def flatten(actions: list) -> list[dict]:
    """The atomic actions in the order the SDK numbered them (compound actions walked depth-first)."""
    flat: list[dict] = []

    def walk(action) -> None:
        if isinstance(action, list):
            for item in action:
                walk(item)
        elif action.get("actionType") in (WHEN_ANY, WHEN_ALL):
            for child in action.get("compoundActions") or []:
                walk(child)
        else:
            flat.append(action)

    walk(actions or [])
    return flat


def signature(action: dict) -> str:
    """What must stay the same for an action at a given position across replays."""
    kind = action.get("actionType")
    if kind in (CALL_ACTIVITY, CALL_ACTIVITY_RETRY, CALL_SUB, CALL_SUB_RETRY):
        return f"{kind}:{str(action.get('functionName')).lower()}"
    if kind == WAIT_EVENT:
        return f"{kind}:{action.get('externalEventName')}"
    if kind in (CALL_ENTITY, SIGNAL_ENTITY):
        return f"{kind}:{action.get('instanceId')}:{action.get('operation')}"
    return str(kind)


def describe(sig: str) -> str:
    """A signature in words, for the non-determinism message."""
    kind, _, rest = sig.partition(":")
    words = {
        "0": "an activity call to",
        "1": "an activity call (with retry) to",
        "2": "a sub-orchestration call to",
        "3": "a sub-orchestration call (with retry) to",
        "4": "continue_as_new",
        "5": "a durable timer",
        "6": "a wait for the external event",
        "7": "an entity call to",
        "8": "a durable HTTP call",
        "9": "an entity signal to",
    }
    return f"{words.get(kind, 'action type ' + kind)} {rest!r}".rstrip() if rest else words.get(kind, sig)


class ReplayMetrics:
    """Time from an event (activity result, timer due) to the episode that delivers it, for the benchmark."""

    def __init__(self, keep: int = 200_000) -> None:
        self.keep = keep
        self.samples: dict[str, list[float]] = {"activity": [], "timer": [], "other": []}
        self.episodes = 0
        self.completed = 0
        self._lock = threading.Lock()

    def record(self, kind: str, seconds: float) -> None:
        with self._lock:
            bucket = self.samples[kind]
            if len(bucket) < self.keep:
                bucket.append(seconds)

    def count(self, *, episodes: int = 0, completed: int = 0) -> None:
        with self._lock:
            self.episodes += episodes
            self.completed += completed

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "episodes": self.episodes,
                "completed": self.completed,
                "latency_ms": {kind: [round(s * 1000, 3) for s in v] for kind, v in self.samples.items()},
            }


@dataclass
class Wakers:
    """Callbacks (thread-safe) that tell the dispatchers new work exists."""

    instance: Callable[[str], None]
    activities: Callable[[], None]
    timers: Callable[[], None]
    entity: Callable[[str], None]


class Orchestrations:
    """Runs episodes for instances; called from worker threads, one episode per instance at a time."""

    def __init__(self, app: FunctionApp, store: DurableStore, wakers: Wakers, metrics: ReplayMetrics) -> None:
        self.app = app
        self.store = store
        self.wakers = wakers
        self.metrics = metrics

    def run_episode(self, instance_id: str) -> bool:
        """Process the next batch of this instance's messages; True when more messages are waiting."""
        loaded = self.store.load_episode(instance_id)
        if loaded is None:
            return False
        instance, history, inbox = loaded
        stale = [m.id for m in inbox if m.execution_id not in (None, instance.execution_id)]
        current = [m for m in inbox if m.execution_id in (None, instance.execution_id)]
        if instance.status in TERMINAL or not current:
            if inbox:
                self.store.discard_messages([m.id for m in inbox])
            return False
        now = time.time()
        effects = Effects(consumed=list(stale))
        execution = instance.execution_id
        if not history:
            opening = next((m for m in current if m.event["EventType"] == EXECUTION_STARTED), None)
            if opening is None:
                self.store.discard_messages([m.id for m in inbox])
                return False
            current.remove(opening)
            current.insert(0, opening)
        batch, terminate, control, more = self._select(instance, history, current)
        effects.consumed += [m.id for m in batch] + [m.id for m in control]
        if terminate is not None:
            effects.consumed = [m.id for m in inbox]
            self._terminate(instance, terminate, effects, now)
        else:
            for message in control:
                if message.event["EventType"] != EXECUTION_STARTED:  # a duplicate start is dropped, not kept
                    effects.history.append(message.event)
            if batch:
                self._replay(instance, history, batch, effects, now)
            elif control:
                instance.last_updated_time = timestamp(now)
        if not self.store.commit(instance, execution, effects, now=now):
            return True
        self._wake(instance, effects)
        return more

    # -- batching ----------------------------------------------------------------------------------------

    def _select(self, instance: Instance, history: list[dict], messages: list[Message]):
        """Split pending messages into (delivered batch, terminate message, control messages, more waiting)."""
        batch: list[Message] = []
        control: list[Message] = []
        status = instance.status
        for message in messages:
            kind = message.event["EventType"]
            if kind == EXECUTION_TERMINATED:
                return batch, message, control, False
            if kind in (EXECUTION_SUSPENDED, EXECUTION_RESUMED):
                if batch:
                    return batch, None, control, True
                control.append(message)
                status = "Suspended" if kind == EXECUTION_SUSPENDED else ("Running" if history else "Pending")
                instance.status = status
                if kind == EXECUTION_RESUMED:
                    # Messages held while suspended (before or after this one) go next, in arrival order.
                    return batch, None, control, len(messages) > 1
                continue
            if status == "Suspended":
                continue
            if kind == EXECUTION_STARTED and (history or batch):
                control.append(message)  # a duplicate start for this execution: drop it
                continue
            if batch and (
                self._must_lead(instance.engine, message.event) or batch[0].event["EventType"] == EVENT_RAISED
            ):
                return batch, None, control, True
            batch.append(message)
        return batch, None, control, False

    def _must_lead(self, engine: dict, event: dict) -> bool:
        """Events that take hidden sequence numbers (retries), and external events, start their own batch.

        External events go alone so that, when an episode ends in continue_as_new, every event it did not
        receive is still in the inbox and carries over to the next execution.
        """
        kind = event["EventType"]
        if kind == EVENT_RAISED:
            return True
        if kind in (TASK_FAILED, SUB_ORCHESTRATION_FAILED):
            task = engine["pending"].get(str(event.get("TaskScheduledId")))
            return bool(task and task.get("group") is not None)
        if kind == TIMER_FIRED:
            task = engine["pending"].get(str(event.get("TimerId")))
            if task and task.get("retry") is not None:
                group = engine["groups"].get(str(task["retry"]))
                return bool(group and group["attempts"] < group["max"])
        return False

    # -- replay ------------------------------------------------------------------------------------------

    def _replay(self, instance: Instance, history: list[dict], batch: list[Message], effects: Effects, now: float):
        engine = instance.engine
        spec = self.app.find("orchestrationTrigger", instance.name)
        started = {"EventType": ORCHESTRATOR_STARTED, "EventId": -1, "Timestamp": timestamp(now)}
        delivered = [m.event for m in batch]
        for message in batch:
            self._measure(message, now)
        self.metrics.count(episodes=1)
        payload = {
            "history": [{**e, "IsPlayed": True} for e in history]
            + [{**started, "IsPlayed": False}]
            + [{**e, "IsPlayed": False} for e in delivered],
            "instanceId": instance.instance_id,
            "isReplaying": bool(history),
            "parentInstanceId": instance.parent_instance_id,
            "input": instance.input,
            "upperSchemaVersion": 2,
            "maximumShortTimerDuration": format_timespan(self.app.host.max_short_timer),
            "longRunningTimerIntervalDuration": format_timespan(self.app.host.long_timer_interval),
        }
        effects.history.append(started)
        effects.history.extend(delivered)
        if spec is None:
            state, error = None, self._missing(instance.name)
        else:
            state, error = self._call_handle(spec, payload)
        for event in delivered:
            self._settle(engine, event, effects, now, instance)
        if instance.status == "Pending":
            instance.status = "Running"
        instance.last_updated_time = timestamp(now)
        actions = flatten(state.get("actions")) if state else []
        drift = self._check_determinism(engine, actions, error)
        if state and "customStatus" in state:
            instance.custom_status = json.dumps(state["customStatus"])
        if drift:
            self._finish(instance, effects, now, failed=drift)
            return
        if error is not None:
            self._finish(instance, effects, now, failed=error)
            return
        self._cancel_timers(engine, actions, effects)
        continue_with = self._schedule(instance, actions, effects, now)
        if state.get("isDone"):
            if continue_with is not None:
                self._continue_as_new(instance, continue_with, effects, now)
            else:
                self._finish(instance, effects, now, output=state.get("output"))
            return
        effects.history.append({"EventType": ORCHESTRATOR_COMPLETED, "EventId": -1, "Timestamp": timestamp(now)})

    def _call_handle(self, spec, payload: dict) -> tuple[dict | None, str | None]:
        context = OrchestrationTriggerConverter.decode(
            meta.Datum(type="json", value=json.dumps(payload)), trigger_metadata=None
        )
        try:
            text = invocation.invoke_sync(spec.name, lambda: spec.callable(context))
            return json.loads(text), None
        except Exception as exc:
            message = str(exc)
            if _OUT_OF_PROC_MARKER in message:
                user_message, _, state_text = message.partition(_OUT_OF_PROC_MARKER)
                try:
                    state = json.loads(state_text)
                except ValueError:
                    return None, user_message
                return state, state.get("error") or user_message
            log.exception("Orchestrator function '%s' raised outside the SDK's handling", spec.name)
            return None, f"{type(exc).__name__}: {exc}"

    def _missing(self, name: str) -> str:
        known = ", ".join(f"'{n}'" for n in self.app.names_of_type("orchestrationTrigger")) or "none"
        return (
            f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function. "
            f"Additional info: the following are the known orchestrator functions: {known}."
        )

    def _measure(self, message: Message, now: float) -> None:
        kind = message.event["EventType"]
        bucket = {TASK_COMPLETED: "activity", TASK_FAILED: "activity", TIMER_FIRED: "timer"}.get(kind, "other")
        self.metrics.record(bucket, max(0.0, now - message.enqueued_at))

    def _check_determinism(self, engine: dict, actions: list[dict], error: str | None) -> str | None:
        seen = engine["signatures"]
        for position, old in enumerate(seen):
            if position >= len(actions):
                if error is not None:
                    return None
                return (
                    f"Non-deterministic workflow detected: a previous execution of this orchestration scheduled "
                    f"{describe(old)} as action #{position}, but the replay did not schedule it. Orchestrator code "
                    "must not change while instances run, and must not read the clock, random numbers, files or "
                    "settings (use context.current_utc_datetime and activities instead)."
                )
            new = signature(actions[position])
            if new != old:
                return (
                    f"Non-deterministic workflow detected: a previous execution of this orchestration scheduled "
                    f"{describe(old)} as action #{position}, but the replay scheduled {describe(new)} there. "
                    "Orchestrator code must not change while instances run, and must not read the clock, random "
                    "numbers, files or settings (use context.current_utc_datetime and activities instead)."
                )
        return None

    # -- bookkeeping for delivered events (and the hidden retry numbers) ----------------------------------

    def _settle(self, engine: dict, event: dict, effects: Effects, now: float, instance: Instance) -> None:
        kind = event["EventType"]
        pending, groups = engine["pending"], engine["groups"]
        if kind in (TASK_COMPLETED, SUB_ORCHESTRATION_COMPLETED, TASK_FAILED, SUB_ORCHESTRATION_FAILED):
            task = pending.pop(str(event.get("TaskScheduledId")), None)
            if not task or task.get("group") is None:
                return
            group_id = str(task["group"])
            if kind in (TASK_COMPLETED, SUB_ORCHESTRATION_COMPLETED):
                groups.pop(group_id, None)
                return
            group = groups[group_id]
            timer_id = self._next_id(engine)
            fire_at = now + group["interval_ms"] / 1000
            self._add_timer(engine, effects, timer_id, fire_at, retry=group_id)
        elif kind == TIMER_FIRED:
            task = pending.pop(str(event.get("TimerId")), None)
            engine["timers"] = {p: t for p, t in engine["timers"].items() if t != event.get("TimerId")}
            if not task or task.get("retry") is None:
                return
            group_id = str(task["retry"])
            group = groups.get(group_id)
            if group is None:
                return
            if group["attempts"] >= group["max"]:
                # The SDK fails the task only after this extra timer (it mirrors DTFx).
                groups.pop(group_id, None)
                return
            group["attempts"] += 1
            attempt_id = self._next_id(engine)
            self._schedule_call(instance, effects, attempt_id, group, now, group_id=group_id)
        elif kind == EVENT_RAISED:
            name = event.get("Name")
            for key, task in list(pending.items()):
                if task.get("request") == name:
                    pending.pop(key)
                    break

    @staticmethod
    def _next_id(engine: dict) -> int:
        number = engine["next_id"]
        engine["next_id"] = number + 1
        return number

    def _add_timer(self, engine: dict, effects: Effects, timer_id: int, fire_at: float, *, retry=None, position=None):
        text = timestamp(fire_at)
        effects.timers.append((timer_id, fire_at, text))
        created = {"EventType": TIMER_CREATED, "EventId": timer_id, "Timestamp": timestamp(time.time()), "FireAt": text}
        if retry is not None:
            created["RetryGroup"] = retry  # host bookkeeping (the SDK ignores unknown fields)
        effects.history.append(created)
        engine["pending"][str(timer_id)] = {"kind": "timer"} if retry is None else {"kind": "timer", "retry": retry}
        if position is not None:
            engine["timers"][str(position)] = timer_id

    def _cancel_timers(self, engine: dict, actions: list[dict], effects: Effects) -> None:
        for position, timer_id in list(engine["timers"].items()):
            index = int(position)
            if index < len(actions) and actions[index].get("isCanceled"):
                effects.cancel_timers.append(timer_id)
                engine["pending"].pop(str(timer_id), None)
                engine["timers"].pop(position)

    # -- new actions -------------------------------------------------------------------------------------

    def _schedule(self, instance: Instance, actions: list[dict], effects: Effects, now: float) -> dict | None:
        """Number and schedule the actions this episode added; the continue_as_new action, if any."""
        engine = instance.engine
        continue_with = None
        for position in range(len(engine["signatures"]), len(actions)):
            action = actions[position]
            kind = action.get("actionType")
            engine["signatures"].append(signature(action))
            if kind == WAIT_EVENT:
                continue
            number = self._next_id(engine)
            if kind in (CALL_ACTIVITY, CALL_ACTIVITY_RETRY, CALL_SUB, CALL_SUB_RETRY, CALL_HTTP):
                call = self._call_of(action)
                group_id = None
                if kind in (CALL_ACTIVITY_RETRY, CALL_SUB_RETRY):
                    options = action.get("retryOptions") or {}
                    call["max"] = max(1, int(options.get("maxNumberOfAttempts") or 1))
                    call["interval_ms"] = max(0, int(options.get("firstRetryIntervalInMilliseconds") or 0))
                    call["attempts"] = 1
                    group_id = str(number)
                    engine["groups"][group_id] = call
                self._schedule_call(instance, effects, number, call, now, group_id=group_id)
            elif kind == CREATE_TIMER:
                if action.get("isCanceled"):
                    continue
                self._add_timer(engine, effects, number, parse_timestamp(action["fireAt"]), position=position)
            elif kind in (CALL_ENTITY, SIGNAL_ENTITY):
                self._send_to_entity(instance, effects, number, action, now)
            elif kind == CONTINUE_AS_NEW:
                continue_with = action
        return continue_with

    @staticmethod
    def _call_of(action: dict) -> dict:
        kind = action["actionType"]
        if kind == CALL_HTTP:
            return {"kind": "activity", "name": HTTP_ACTIVITY, "input": json.dumps(action.get("httpRequest"))}
        call = {"kind": "activity" if kind in (CALL_ACTIVITY, CALL_ACTIVITY_RETRY) else "suborch"}
        call["name"] = action.get("functionName")
        call["input"] = action.get("input")
        if call["kind"] == "suborch":
            call["instance"] = action.get("instanceId")
            call["version"] = action.get("version")
        return call

    def _schedule_call(self, instance: Instance, effects: Effects, number: int, call: dict, now: float, group_id=None):
        engine = instance.engine
        pending = {"kind": call["kind"]}
        if group_id is not None:
            pending["group"] = group_id
        engine["pending"][str(number)] = pending
        marker = {} if group_id is None else {"RetryGroup": group_id}
        if call["kind"] == "activity":
            effects.activities.append((number, call["name"], call["input"]))
            effects.history.append(
                {
                    "EventType": TASK_SCHEDULED,
                    "EventId": number,
                    "Timestamp": timestamp(now),
                    "Name": call["name"],
                    "Input": call["input"],
                    **marker,
                }
            )
            return
        child_id = call.get("instance") or f"{instance.instance_id}:{number}"
        child, started = new_instance(
            child_id,
            call["name"],
            call["input"],
            version=call.get("version"),
            at=now,
            parent=(instance.instance_id, instance.execution_id, number),
        )
        effects.children.append((child, started))
        effects.history.append(
            {
                "EventType": SUB_ORCHESTRATION_CREATED,
                "EventId": number,
                "Timestamp": timestamp(now),
                "Name": call["name"],
                "InstanceId": child_id,
                "Input": call["input"],
                **marker,
            }
        )

    def _send_to_entity(self, instance: Instance, effects: Effects, number: int, action: dict, now: float) -> None:
        is_call = action["actionType"] == CALL_ENTITY
        request_id = str(uuid.uuid4())
        entity_id = str(action.get("instanceId"))
        operation = str(action.get("operation"))
        request = {"id": request_id, "op": operation, "signal": not is_call, "input": action.get("input")}
        if is_call:
            request["parent"] = instance.instance_id
            instance.engine["pending"][str(number)] = {"kind": "entity", "request": request_id}
        effects.history.append(
            {
                "EventType": EVENT_SENT,
                "EventId": number,
                "Timestamp": timestamp(now),
                "Name": operation,
                "InstanceId": entity_id,
                "Input": json.dumps(request),
            }
        )
        caller = instance.instance_id if is_call else None
        effects.entity_ops.append((entity_id, operation, action.get("input"), caller, request_id if is_call else None))

    # -- endings -----------------------------------------------------------------------------------------

    def _finish(self, instance: Instance, effects: Effects, now: float, *, output=None, failed: str | None = None):
        if failed is not None:
            instance.status = "Failed"
            message = f"Orchestrator function '{instance.name}' failed: {failed}"
            instance.output = json.dumps(message)
            log.error("%s: %s", instance.instance_id, message)
        else:
            instance.status = "Completed"
            instance.output = json.dumps(output)
        instance.last_updated_time = timestamp(now)
        effects.history.append({"EventType": ORCHESTRATOR_COMPLETED, "EventId": -1, "Timestamp": timestamp(now)})
        effects.history.append(
            {
                "EventType": EXECUTION_COMPLETED,
                "EventId": -1,
                "Timestamp": timestamp(now),
                "OrchestrationStatus": instance.status,
                "Result": instance.output,
            }
        )
        effects.cancel_all_timers = True
        self.metrics.count(completed=1)
        self._notify_parent(instance, effects, now, failed=failed)

    def _terminate(self, instance: Instance, message: Message, effects: Effects, now: float) -> None:
        reason = message.event.get("Input")
        instance.status = "Terminated"
        instance.output = json.dumps(reason)
        instance.last_updated_time = timestamp(now)
        effects.history.append(message.event)
        effects.cancel_all_timers = True
        self._notify_parent(instance, effects, now, failed=f"terminated: {reason}")

    def _notify_parent(self, instance: Instance, effects: Effects, now: float, *, failed: str | None) -> None:
        if not instance.parent_instance_id:
            return
        base = {"EventId": -1, "Timestamp": timestamp(now), "TaskScheduledId": instance.parent_task_id}
        if failed is None:
            event = {**base, "EventType": SUB_ORCHESTRATION_COMPLETED, "Result": instance.output}
        else:
            event = {
                **base,
                "EventType": SUB_ORCHESTRATION_FAILED,
                "Reason": f"Orchestrator function '{instance.name}' failed: {failed}",
                "Details": "",
            }
        effects.messages.append((instance.parent_instance_id, instance.parent_execution_id, event, None))

    def _continue_as_new(self, instance: Instance, action: dict, effects: Effects, now: float) -> None:
        instance.execution_id = uuid.uuid4().hex
        instance.input = action.get("input")
        instance.input_shown = instance.input
        instance.engine = new_engine()
        instance.status = "Running"
        instance.last_updated_time = timestamp(now)
        effects.history = []
        effects.reset_history = True
        # Work of the old execution scheduled in this last episode would be keyed to the new one: drop it
        # (only fire-and-forget entity signals survive, as the SDK sends them before continuing).
        effects.activities.clear()
        effects.timers.clear()
        effects.children.clear()
        effects.entity_ops[:] = [op for op in effects.entity_ops if op[3] is None]
        effects.cancel_all_timers = True
        started = execution_started(instance.name, instance.input, instance.version, now)
        effects.messages.append((instance.instance_id, instance.execution_id, started, None))

    def rewind(self, instance_id: str, reason: str | None) -> None:
        """Put a Failed instance back to Running by re-delivering its last episode (the one that failed).

        Tasks whose failure ended the instance run again with their original sequence numbers (failed
        activities are re-queued, failed sub-orchestrations start afresh); every other event of that episode
        goes back to the inbox. NotImplementedError when the episode involved retry bookkeeping, whose hidden
        sequence numbers cannot be taken back.
        """
        loaded = self.store.load_episode(instance_id)
        if loaded is None:
            raise LookupError(instance_id)
        instance, history, _ = loaded
        if instance.status != "Failed":
            raise ValueError(f"{instance_id} is {instance.status}, not Failed")
        starts = [i for i, e in enumerate(history) if e["EventType"] == ORCHESTRATOR_STARTED]
        if not starts:
            raise NotImplementedError("the instance failed before its first episode")
        cut = starts[-1]
        scheduling = (TASK_SCHEDULED, SUB_ORCHESTRATION_CREATED, TIMER_CREATED)
        scheduled = {e.get("EventId"): e for e in history[:cut] if e["EventType"] in scheduling}
        now = time.time()
        effects = Effects(keep_history=cut)
        engine = instance.engine
        for event in history[cut + 1 :]:
            kind = event["EventType"]
            if kind in (ORCHESTRATOR_COMPLETED, EXECUTION_COMPLETED):
                continue
            task_id = event.get("TimerId") if kind == TIMER_FIRED else event.get("TaskScheduledId")
            origin = scheduled.get(task_id, {})
            if origin.get("RetryGroup") is not None:
                raise NotImplementedError("rewinding an episode that retried a task is not supported locally")
            if kind == TASK_FAILED:
                engine["pending"][str(task_id)] = {"kind": "activity"}
                effects.activities.append((task_id, origin.get("Name"), origin.get("Input")))
            elif kind == SUB_ORCHESTRATION_FAILED:
                engine["pending"][str(task_id)] = {"kind": "suborch"}
                call = {"name": origin.get("Name"), "input": origin.get("Input"), "instance": origin.get("InstanceId")}
                child, started = new_instance(
                    call["instance"], call["name"], call["input"], at=now,
                    parent=(instance.instance_id, instance.execution_id, task_id),
                )  # fmt: skip
                effects.children.append((child, started))
            else:
                if task_id is not None and origin:
                    kinds = {TASK_SCHEDULED: "activity", SUB_ORCHESTRATION_CREATED: "suborch"}
                    engine["pending"][str(task_id)] = {"kind": kinds.get(origin["EventType"], "timer")}
                effects.messages.append((instance.instance_id, instance.execution_id, event, None))
        instance.status = "Running"
        instance.output = None
        instance.last_updated_time = timestamp(now)
        log.info("%s: rewound (%s)", instance_id, reason or "no reason given")
        if not self.store.commit(instance, instance.execution_id, effects, now=now):
            raise ValueError(f"{instance_id} changed while it was being rewound")
        self._wake(instance, effects)

    def _wake(self, instance: Instance, effects: Effects) -> None:
        for child, _ in effects.children:
            self.wakers.instance(child.instance_id)
        for target, _, _, _ in effects.messages:
            self.wakers.instance(target)
        if effects.activities:
            self.wakers.activities()
        if effects.timers:
            self.wakers.timers()
        for entity_id in {op[0] for op in effects.entity_ops}:
            self.wakers.entity(entity_id)
