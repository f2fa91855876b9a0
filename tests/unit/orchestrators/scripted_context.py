"""A Durable orchestration context driven by a script, for unit tests of orchestrator generators.

The technique of Microsoft's `samples-v2/blueprint/tests`: take the user function out of the blueprint, hand it a
context whose `call_activity`, `create_timer`, `task_any`, ... return plain task objects, and drive the generator
with `send`/`throw` as replay would. Activities and entity operations are answered by the test's functions; timers
move the orchestration clock; `cancel_when`, `update_when` and `capacity_when` predicates decide when the cancel,
provider-push and capacity-granted events win a race.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from soraflow.errors import SoraflowError
from soraflow.runs import ActivityFailure, error_to_dict

START = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)


@dataclass
class Task:
    kind: str
    name: str | None = None
    payload: Any = None
    retry: Any = None
    children: list[Task] = field(default_factory=list)
    fire_at: datetime | None = None
    done: bool = False
    result: Any = None
    error: BaseException | None = None
    cancelled: bool = False

    @property
    def is_completed(self) -> bool:
        return self.done

    def cancel(self) -> None:
        self.cancelled = True


def typed_failure(error: SoraflowError) -> Exception:
    """What an activity raising a typed soraflow error looks like to the orchestrator (the marker in the text)."""
    return Exception(str(ActivityFailure(error_to_dict(error))))


def crash(message: str = "KeyError: 'job'") -> Exception:
    """What an activity that crashed with an untyped exception looks like to the orchestrator."""
    return Exception(f"Activity function failed: {message}")


class ScriptedContext:
    """Records every action the orchestrator takes and answers it from the test's script."""

    def __init__(
        self,
        run_input: dict,
        activities: dict[str, Callable[[dict], Any]],
        *,
        entity: Callable[[str, dict], Any] | None = None,
        cancel_when: Callable[[ScriptedContext], bool] | None = None,
        update_when: Callable[[ScriptedContext], bool] | None = None,
        capacity_when: Callable[[ScriptedContext], bool] | None = None,
        start: datetime = START,
    ):
        self.input = run_input
        self.activities = activities
        self.entity = entity
        self.cancel_when = cancel_when
        self.update_when = update_when
        self.capacity_when = capacity_when
        self.updates_delivered = 0
        self.capacity_wakes_delivered = 0
        self.current_utc_datetime = start
        self.is_replaying = False
        self.calls: list[tuple[str, dict]] = []
        self.timers: list[float] = []
        self.timers_at: list[tuple[str | None, float]] = []  # (the stage shown when the timer fired, its seconds)
        self.signals: list[tuple[str, dict]] = []
        self.entity_calls: list[tuple[str, dict]] = []
        self.custom_statuses: list[dict] = []
        self.continued: dict | None = None
        self.events: dict[str, Task] = {}

    # --- the DurableOrchestrationContext surface the orchestrator uses ---

    def get_input(self) -> dict:
        return self.input

    def call_activity(self, name: str, payload: Any = None) -> Task:
        return Task("activity", name, payload)

    def call_activity_with_retry(self, name: str, retry: Any, payload: Any = None) -> Task:
        return Task("activity", name, payload, retry=retry)

    def call_entity(self, entity_id: Any, operation: str, payload: Any = None) -> Task:
        return Task("entity", operation, payload)

    def signal_entity(self, entity_id: Any, operation: str, payload: Any = None) -> None:
        self.signals.append((operation, payload))

    def create_timer(self, fire_at: datetime) -> Task:
        return Task("timer", fire_at=fire_at)

    def wait_for_external_event(self, name: str) -> Task:
        self.events[name] = Task("event", name)
        return self.events[name]

    @property
    def cancel_event(self) -> Task | None:
        return self.events.get("cancel")

    def task_any(self, tasks: list[Task]) -> Task:
        return Task("any", children=list(tasks))

    def task_all(self, tasks: list[Task]) -> Task:
        return Task("all", children=list(tasks))

    def set_custom_status(self, status: dict) -> None:
        self.custom_statuses.append(status)

    def continue_as_new(self, run_input: dict) -> None:
        self.continued = run_input

    # --- what the test reads ---

    def names(self, *, but: str | None = None) -> list[str]:
        return [name for name, _ in self.calls if name != but]

    def stages(self) -> list[str]:
        stages: list[str] = []
        for status in self.custom_statuses:
            if not stages or stages[-1] != status["status"]:
                stages.append(status["status"])
        return stages

    # --- answering ---

    def resolve(self, task: Task) -> Task:
        if task.done:
            return task
        if task.kind == "activity":
            self._run_activity(task)
        elif task.kind == "entity":
            self.entity_calls.append((task.name, task.payload))
            task.result = self.entity(task.name, task.payload)
        elif task.kind == "timer":
            self._fire(task)
        elif task.kind == "any":
            update = self.events.get("provider_update")
            capacity = self.events.get("capacity_granted")
            if self.cancel_event in task.children and self.cancel_when and self.cancel_when(self):
                self.cancel_event.done, self.cancel_event.result = True, {"requested_at": "now"}
                task.result = self.cancel_event
            elif update in task.children and self.update_when and self.update_when(self):
                update.done, update.result = True, {"request_id": "pushed"}
                self.updates_delivered += 1
                task.result = update
            elif capacity in task.children and self.capacity_when and self.capacity_when(self):
                capacity.done, capacity.result = True, {"by": "run-that-released"}
                self.capacity_wakes_delivered += 1
                task.result = capacity
            else:
                timer = next(child for child in task.children if child.kind == "timer")
                self._fire(timer)
                task.result = timer
        elif task.kind == "all":
            for child in task.children:
                self.resolve(child)
            failed = [child for child in task.children if child.error is not None]
            if failed:
                task.error = failed[0].error
            else:
                task.result = [child.result for child in task.children]
        task.done = True
        return task

    def _fire(self, timer: Task) -> None:
        self.timers.append((timer.fire_at - self.current_utc_datetime).total_seconds())
        stage = self.custom_statuses[-1]["status"] if self.custom_statuses else None
        self.timers_at.append((stage, self.timers[-1]))
        self.current_utc_datetime = max(self.current_utc_datetime, timer.fire_at)
        timer.done = True

    def _run_activity(self, task: Task) -> None:
        attempts = task.retry.max_number_of_attempts if task.retry else 1
        for attempt in range(1, attempts + 1):
            self.calls.append((task.name, task.payload))
            try:
                task.result, task.error = self.activities[task.name](task.payload), None
                return
            except SoraflowError as error:
                task.error = typed_failure(error)
            except Exception as error:
                task.error = error
            if attempt < attempts:
                interval = task.retry.first_retry_interval_in_milliseconds / 1000
                self.current_utc_datetime += timedelta(seconds=interval)


def drive(orchestrator, context: ScriptedContext) -> Any:
    """Run the orchestrator generator to its end, as replay would, and return its result."""
    generator = orchestrator.build().get_user_function().orchestrator_function(context)
    value, error = None, None
    while True:
        try:
            task = generator.throw(error) if error is not None else generator.send(value)
        except StopIteration as stop:
            return stop.value
        context.resolve(task)
        value, error = task.result, task.error
