"""The run orchestration's input and state: small frozen dataclasses inside, plain dicts in durable history.

The input is written once by the trigger that starts the run (`RunInput`, with `RunOptions` from the settings) and
carries a `RunState` through every `continue_as_new`, so a continued run resumes at the step it was in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from soraflow.config import DEFAULT_CREATE_RETRY_SECONDS, DEFAULT_POLLS_PER_EXECUTION, DEFAULT_STORE_RETRY_SECONDS
from soraflow.runs import RunStatus
from soraflow.video_request import VideoRequest


class Step(StrEnum):
    """Where a run resumes: the first step it has not finished. The order is the story's."""

    REFERENCE = "reference"
    CAPACITY = "capacity"
    CREATE = "create"
    RENDER = "render"
    STORE = "store"
    REMIX_CAPACITY = "remix_capacity"
    REMIX_CREATE = "remix_create"
    REMIX_RENDER = "remix_render"
    REMIX_STORE = "remix_store"
    DONE = "done"

    @property
    def order(self) -> int:
        return list(Step).index(self)

    @property
    def is_remix(self) -> bool:
        return self.name.startswith("REMIX_")


@dataclass(frozen=True)
class RunOptions:
    """What the run needs from the settings, fixed when it starts (a settings change never alters a live run)."""

    api: str
    timeout_minutes: float
    create_retry_seconds: tuple[float, ...] = DEFAULT_CREATE_RETRY_SECONDS
    store_retry_seconds: tuple[float, ...] = DEFAULT_STORE_RETRY_SECONDS
    polling: Mapping[str, float] = field(default_factory=dict)
    polls_per_execution: int = DEFAULT_POLLS_PER_EXECUTION
    delete_provider_copy: bool = False
    quota: Mapping[str, Any] | None = None
    # The provider will call back when the job ends (it pushes completion and PUBLIC_BASE_URL is set).
    push: bool = False

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["create_retry_seconds"] = list(self.create_retry_seconds)
        data["store_retry_seconds"] = list(self.store_retry_seconds)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunOptions:
        return cls(
            api=data["api"],
            timeout_minutes=float(data["timeout_minutes"]),
            create_retry_seconds=tuple(data.get("create_retry_seconds") or DEFAULT_CREATE_RETRY_SECONDS),
            store_retry_seconds=tuple(data.get("store_retry_seconds") or DEFAULT_STORE_RETRY_SECONDS),
            polling=dict(data.get("polling") or {}),
            polls_per_execution=int(data.get("polls_per_execution") or DEFAULT_POLLS_PER_EXECUTION),
            delete_provider_copy=bool(data.get("delete_provider_copy")),
            quota=data.get("quota"),
            push=bool(data.get("push")),
        )


@dataclass(frozen=True)
class Slot:
    """The run's standing at the quota gate: in line (`held` False) or holding a slot until `lease_expires`."""

    held: bool
    lease_expires: float | None = None

    def to_dict(self) -> dict:
        return {"held": self.held, "lease_expires": self.lease_expires}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Slot | None:
        return None if data is None else cls(held=bool(data["held"]), lease_expires=data.get("lease_expires"))


@dataclass(frozen=True)
class RunState:
    """Everything a run has done so far, carried across `continue_as_new`.

    `job` is the provider job of the current step (as `get_provider_job` returns it); `generation_job` keeps the
    first job once a chained remix starts. `succeeded_jobs` are jobs whose render finished: their copies hold paid
    videos and are never deleted unless stored and `DELETE_PROVIDER_COPY` asks for it (`stored_jobs`).
    """

    step: Step = Step.REFERENCE
    stage: RunStatus = RunStatus.QUEUED
    reference: Mapping[str, Any] | None = None
    slot: Slot | None = None
    job: Mapping[str, Any] | None = None
    generation_job: Mapping[str, Any] | None = None
    samples: tuple[tuple[float, float], ...] = ()
    job_since: float = 0.0  # when the current job was created, on the samples' clock (seconds since the run began)
    polls: int = 0
    store_attempts: int = 0
    store_until: str | None = None
    outputs: tuple[Mapping[str, Any], ...] = ()
    succeeded_jobs: tuple[str, ...] = ()
    stored_jobs: tuple[str, ...] = ()
    deleted_jobs: tuple[str, ...] = ()
    remix_error: Mapping[str, Any] | None = None
    delete_error: Mapping[str, Any] | None = None
    indexed: str | None = None  # the status last written to the run index

    def replace(self, **changes: Any) -> RunState:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["step"], data["stage"] = str(self.step), str(self.stage)
        data["slot"] = self.slot.to_dict() if self.slot else None
        data["samples"] = [list(pair) for pair in self.samples]
        for name in ("outputs", "succeeded_jobs", "stored_jobs", "deleted_jobs"):
            data[name] = list(data[name])
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RunState:
        if not data:
            return cls()
        return cls(
            step=Step(data.get("step") or Step.REFERENCE),
            stage=RunStatus(data.get("stage") or RunStatus.QUEUED),
            reference=data.get("reference"),
            slot=Slot.from_dict(data.get("slot")),
            job=data.get("job"),
            generation_job=data.get("generation_job"),
            samples=tuple((float(at), float(progress)) for at, progress in data.get("samples") or ()),
            job_since=float(data.get("job_since") or 0.0),
            polls=int(data.get("polls") or 0),
            store_attempts=int(data.get("store_attempts") or 0),
            store_until=data.get("store_until"),
            outputs=tuple(data.get("outputs") or ()),
            succeeded_jobs=tuple(data.get("succeeded_jobs") or ()),
            stored_jobs=tuple(data.get("stored_jobs") or ()),
            deleted_jobs=tuple(data.get("deleted_jobs") or ()),
            remix_error=data.get("remix_error"),
            delete_error=data.get("delete_error"),
            indexed=data.get("indexed"),
        )


@dataclass(frozen=True)
class RunInput:
    """The orchestration's input: the validated request, its options, cost, clock marks, origin, and its state."""

    run_id: str
    request: Mapping[str, Any]
    options: RunOptions
    created_at: str
    deadline: str
    fingerprint: str
    cost: Mapping[str, Any] | None = None
    remix_of: Mapping[str, Any] | None = None
    origin: Mapping[str, Any] = field(default_factory=lambda: {"kind": "http"})
    state: RunState = field(default_factory=RunState)

    @property
    def provider(self) -> str:
        """The registered provider the run's request was made for (for runs recorded before providers were named,
        the request model infers it)."""
        return self.request.get("provider") or VideoRequest.from_dict(self.request).provider

    @property
    def wants_remix(self) -> bool:
        """A chained remix (`request.remix`) follows the first video."""
        return bool(self.request.get("remix"))

    def with_state(self, state: RunState) -> RunInput:
        return dataclasses.replace(self, state=state)

    def to_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "request": dict(self.request),
            "options": self.options.to_dict(),
            "cost": self.cost,
            "created_at": self.created_at,
            "deadline": self.deadline,
            "fingerprint": self.fingerprint,
            "remix_of": self.remix_of,
            "origin": dict(self.origin),
            "state": self.state.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunInput:
        return cls(
            run_id=data["run_id"],
            request=data["request"],
            options=RunOptions.from_dict(data["options"]),
            created_at=data["created_at"],
            deadline=data["deadline"],
            fingerprint=data.get("fingerprint") or "",
            cost=data.get("cost"),
            remix_of=data.get("remix_of"),
            origin=data.get("origin") or {"kind": "http"},
            state=RunState.from_dict(data.get("state")),
        )
