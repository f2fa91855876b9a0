"""Scripted faults: what the next matching calls suffer (an error status, a delay, a dropped or cut connection).

A fault matches calls by `api` (`videos`, `jobs`, `any`) and `operation` (`create`, `retrieve`,
`list`, `delete`, `content`, `remix`, `any`); faults are matched in the order they were added and
a call consumes at most one. `count` calls are affected, or every call until reset when it is null.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

KINDS = ("status", "slow", "drop", "truncate", "stall")
APIS = ("videos", "jobs", "any")
OPERATIONS = ("create", "retrieve", "list", "delete", "content", "remix", "any")
PHASES = ("before", "after")
# Kinds that only make sense for some operations: they never consume a call they cannot affect.
APPLIES_TO = {"truncate": {"content"}, "stall": {"create", "remix"}}
SPEC_KEYS = {
    *("operation", "api", "kind", "status", "count", "retry_after", "seconds", "bytes", "phase", "code", "message")
}
MAX_SLOW_SECONDS = 600.0


class FaultSpecError(ValueError):
    """A fault description the admin API refuses; `param` names the bad field."""

    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param


@dataclass
class Fault:
    """One scripted fault and how many more calls it affects (None: until reset)."""

    id: str
    kind: str
    api: str = "any"
    operation: str = "any"
    remaining: int | None = 1
    status: int | None = None
    retry_after: float | None = None
    seconds: float | None = None
    bytes: int | None = None
    phase: str = "before"
    code: str | None = None
    message: str | None = None
    hits: int = 0

    def matches(
        self, api: str | None, operation: str | None, *, applies_to: dict = APPLIES_TO, streamed: str = "content"
    ) -> bool:
        """Whether this fault applies to a call of this API and operation."""
        if api is None or operation is None:
            return False
        if self.api not in ("any", api) or self.operation not in ("any", operation):
            return False
        if self.phase == "after" and operation == streamed:
            return False  # a download has been sent by then; content faults cut it mid-body instead
        allowed = applies_to.get(self.kind)
        return allowed is None or operation in allowed

    def to_json(self) -> dict:
        """The fault as the admin API shows it (`count` is the number of calls left)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "api": self.api,
            "operation": self.operation,
            "count": self.remaining,
            "status": self.status,
            "retry_after": self.retry_after,
            "seconds": self.seconds,
            "bytes": self.bytes,
            "phase": self.phase,
            "code": self.code,
            "message": self.message,
            "hits": self.hits,
        }


def _number(spec: dict, key: str, *, minimum: float, maximum: float | None = None) -> float | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultSpecError(key, f"'{key}' must be a number, got {type(value).__name__}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f" and at most {maximum:g}" if maximum is not None else ""
        raise FaultSpecError(key, f"'{key}' must be at least {minimum:g}{bound}, got {value}")
    return float(value)


def _integer(spec: dict, key: str, *, minimum: int, maximum: int | None = None) -> int | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise FaultSpecError(key, f"'{key}' must be an integer, got {type(value).__name__}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f" and at most {maximum}" if maximum is not None else ""
        raise FaultSpecError(key, f"'{key}' must be at least {minimum}{bound}, got {value}")
    return value


def _choice(spec: dict, key: str, allowed: tuple[str, ...], default: str) -> str:
    value = spec.get(key, default)
    if value not in allowed:
        raise FaultSpecError(key, f"'{key}' must be one of {', '.join(allowed)}; got {value!r}")
    return value


def _text(spec: dict, key: str) -> str | None:
    value = spec.get(key)
    if value is not None and (not isinstance(value, str) or len(value) > 2000):
        raise FaultSpecError(key, f"'{key}' must be a string of at most 2000 characters")
    return value


class FaultBook:
    """The active faults; another emulator passes its own APIs and operations (the Sora ones by default)."""

    def __init__(
        self,
        *,
        apis: tuple[str, ...] = APIS,
        operations: tuple[str, ...] = OPERATIONS,
        applies_to: dict[str, set[str]] = APPLIES_TO,
        streamed: str = "content",
    ) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self.apis, self.operations, self.applies_to, self.streamed = apis, operations, applies_to, streamed

    def add(self, spec: object) -> Fault:
        """Validate a fault description (the admin API's JSON body) and activate it."""
        if not isinstance(spec, dict):
            raise FaultSpecError("body", "a fault is a JSON object")
        unknown = sorted(set(spec) - SPEC_KEYS)
        if unknown:
            raise FaultSpecError(unknown[0], f"unknown fault field(s): {', '.join(unknown)}")
        kind = _choice(spec, "kind", KINDS, "")
        fault = Fault(
            id=f"fault_{next(self._ids)}",
            kind=kind,
            api=_choice(spec, "api", self.apis, "any"),
            operation=_choice(spec, "operation", self.operations, "any"),
            remaining=_integer(spec, "count", minimum=1) if "count" in spec else 1,
            status=_integer(spec, "status", minimum=400, maximum=599),
            retry_after=_number(spec, "retry_after", minimum=0, maximum=3600),
            seconds=_number(spec, "seconds", minimum=0, maximum=MAX_SLOW_SECONDS),
            bytes=_integer(spec, "bytes", minimum=0),
            phase=_choice(spec, "phase", PHASES, "before"),
            code=_text(spec, "code"),
            message=_text(spec, "message"),
        )
        if kind == "status" and fault.status is None:
            raise FaultSpecError("status", "a 'status' fault needs an HTTP 'status' between 400 and 599")
        if kind == "slow" and fault.seconds is None:
            raise FaultSpecError("seconds", "a 'slow' fault needs 'seconds' (the delay before answering)")
        allowed = self.applies_to.get(kind)
        if allowed and fault.operation not in allowed | {"any"}:
            raise FaultSpecError("operation", f"a '{kind}' fault applies to {' or '.join(sorted(allowed))} only")
        if fault.phase == "after" and kind not in ("status", "drop"):
            raise FaultSpecError("phase", "only 'status' and 'drop' faults can apply after the call is processed")
        if fault.phase == "after" and fault.operation == self.streamed:
            raise FaultSpecError(
                "phase", f"{self.streamed} faults apply mid-body: use phase 'before' with 'drop' or 'truncate'"
            )
        self._faults.append(fault)
        return fault

    def take(self, api: str | None, operation: str | None) -> Fault | None:
        """The first fault matching this call, with one use consumed; None when the call is not faulted."""
        for fault in self._faults:
            if fault.matches(api, operation, applies_to=self.applies_to, streamed=self.streamed):
                fault.hits += 1
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    def active(self) -> list[Fault]:
        """The faults still in force, oldest first."""
        return list(self._faults)

    def clear(self) -> None:
        """Deactivate every fault."""
        self._faults.clear()
