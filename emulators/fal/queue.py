"""The queue: requests in submit order, dispatched to `max_concurrent_jobs` runners, their states computed lazily.

A request waits `IN_QUEUE` until a runner is free (first come, first served across endpoints; it is
never refused for concurrency), spends the first 10 % of its render starting (`IN_QUEUE`, position 0),
then runs `IN_PROGRESS` emitting logs, and ends `COMPLETED` with its output or its error. The whole
plan is a pure function of the requests, so statuses never depend on when anyone polled.
"""

from __future__ import annotations

import heapq
import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from emulators.fal.models import Generation

BASE_RENDER_SECONDS = 20.0
RENDER_SECONDS_PER_SECOND = 5.0
STARTUP_FRACTION = 0.1
OUTPUT_FAILURE_AT = 0.9
STALL_FRACTION = 0.5
PAYLOAD_RETENTION_SECONDS = 30 * 86400.0  # fal keeps request input/output JSON for 30 days
MEDIA_RETENTION_SECONDS = 7 * 86400.0  # fal's FAQ: output files last "at least 7 days by default"

# (fraction of the render, level, message): the runner's log lines, shown once their moment has passed.
LOG_SCRIPT = (
    (0.10, "INFO", "Runner acquired; loading {model}"),
    (0.15, "INFO", "Generating {seconds} s of video at {width}x{height}{audio}"),
    (0.40, "INFO", "Generating video: 25%"),
    (0.60, "INFO", "Generating video: 50%"),
    (0.80, "INFO", "Generating video: 75%"),
    (0.95, "INFO", "Encoding and uploading output"),
)


def render_seconds(seconds: int, time_scale: float) -> float:
    """How long (emulator time) a runner works on a request for a video of this many seconds."""
    return (BASE_RENDER_SECONDS + RENDER_SECONDS_PER_SECOND * seconds) * time_scale


@dataclass(frozen=True)
class Failure:
    """How a request fails: the result's HTTP status and body, the status's `error`/`error_type`, and when."""

    http_status: int
    body: dict
    error: str
    error_type: str
    at: float  # fraction of the render
    headers: dict = field(default_factory=dict)


@dataclass
class FalRequest:
    """One submitted request."""

    id: str
    seq: int
    endpoint_id: str
    app: str
    submitted_at: float
    work: float  # runner seconds the whole render takes
    inputs: dict
    generation: Generation | None
    failure: Failure | None = None
    webhook_url: str | None = None
    media_lifetime: float | None = None  # seconds after completion; None: never expires
    start_timeout: float | None = None
    stalled: bool = False
    cancelled_at: float | None = None
    origin: str = ""  # scheme://host the client reached, for the URLs handed out
    media_token: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class Plan:
    """When a request got a runner and when it ended (None: never got one; math.inf: stalled)."""

    start: float | None
    end: float
    outcome: str  # "output", "failure", "cancelled", "timeout"


def iso_time(epoch: float) -> str:
    """An ISO 8601 UTC timestamp, as fal's log entries carry."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Queue:
    """Every request of this emulator, and the runner plan they imply."""

    def __init__(self, runners: int):
        self.runners = runners
        self.requests: dict[str, FalRequest] = {}
        self._seq = 0

    def add(self, request: FalRequest) -> FalRequest:
        self.requests[request.id] = request
        return request

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def plan(self) -> dict[str, Plan]:
        """Dispatch every request in submit order to the earliest free runner."""
        free = [0.0] * self.runners
        plans: dict[str, Plan] = {}
        for request in sorted(self.requests.values(), key=lambda r: r.seq):
            earliest = heapq.heappop(free)
            start = max(request.submitted_at, earliest)
            deadline = None if request.start_timeout is None else request.submitted_at + request.start_timeout
            if request.cancelled_at is not None and request.cancelled_at < start:
                plans[request.id] = Plan(None, request.cancelled_at, "cancelled")  # left the queue; no runner used
            elif deadline is not None and deadline < start:
                plans[request.id] = Plan(None, deadline, "timeout")
            else:
                startup_end = start + STARTUP_FRACTION * request.work
                if request.cancelled_at is not None and request.cancelled_at < startup_end:
                    plans[request.id] = Plan(start, request.cancelled_at, "cancelled")
                elif request.stalled:
                    plans[request.id] = Plan(start, math.inf, "output")
                elif request.failure is not None:
                    plans[request.id] = Plan(start, start + request.failure.at * request.work, "failure")
                else:
                    plans[request.id] = Plan(start, start + request.work, "output")
                heapq.heappush(free, plans[request.id].end)
                continue
            heapq.heappush(free, earliest)
        return plans

    def waiting(self, plans: dict[str, Plan], now: float, *, endpoint_id: str | None = None) -> list[FalRequest]:
        """Requests that have no runner yet, oldest first (optionally of one endpoint)."""
        found = []
        for request in sorted(self.requests.values(), key=lambda r: r.seq):
            plan = plans[request.id]
            queued = plan.start > now if plan.start is not None else plan.end > now
            if queued and endpoint_id in (None, request.endpoint_id):
                found.append(request)
        return found

    def active(self, plans: dict[str, Plan], now: float) -> int:
        """Requests holding a runner right now."""
        return sum(1 for p in plans.values() if p.start is not None and p.start <= now < p.end)


def state_of(request: FalRequest, plan: Plan, now: float) -> str:
    """`IN_QUEUE`, `IN_PROGRESS` or `COMPLETED`, the only states fal reports."""
    if plan.end <= now:
        return "COMPLETED"
    if plan.start is None or now < plan.start + STARTUP_FRACTION * request.work:
        return "IN_QUEUE"
    return "IN_PROGRESS"


def logs_of(request: FalRequest, plan: Plan, now: float) -> list[dict]:
    """The runner's log lines emitted by `now`: `{message, level, source, timestamp}`."""
    if plan.start is None:
        return []
    logs = []
    generation = request.generation
    stop_at = request.failure.at if request.failure is not None else math.inf
    for fraction, level, template in LOG_SCRIPT if generation is not None else ():
        moment = plan.start + fraction * request.work
        if moment > min(now, plan.end) or fraction >= stop_at:
            break
        message = template.format(
            model=request.endpoint_id,
            seconds=generation.seconds,
            width=generation.width,
            height=generation.height,
            audio=" with audio" if generation.audio else "",
        )
        logs.append({"message": message, "level": level, "source": "USER", "timestamp": iso_time(moment)})
    if plan.outcome == "failure" and plan.end <= now:
        logs.append(
            {"message": request.failure.error, "level": "ERROR", "source": "USER", "timestamp": iso_time(plan.end)}
        )
    return logs
