"""The provider quota gate's rules: slots held under leases, a first-come-first-served queue, a per-minute cap.

A pure state machine: the Durable entity in `entities/provider_quota.py` keeps one `QuotaGate` per provider
resource and applies operations to it. Time always arrives as an argument (the calling orchestration's replay-safe
clock, epoch seconds), never from the system clock, so an operation replayed gives the same answer. Every operation
names the waiters it admitted, so the caller can wake them at once instead of leaving them to their next look.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass, field

from soraflow.config import Settings

# The per-minute cap counts grants in a sliding window of this many seconds.
RATE_WINDOW_SECONDS = 60.0
# How long a slot or a queue place outlives its run's last word; runs renew when half of it has gone.
DEFAULT_LEASE_SECONDS = 120.0
# A waiting run is woken by an event when a slot is handed to it; it asks again on a timer only in case that event
# was lost, this often at most, and at least three times per lease so its place in line never lapses.
WAITING_FALLBACK_SECONDS = 30.0
MAX_RUN_ID_CHARS = 128


@dataclass(frozen=True)
class QuotaLimits:
    """What the gate admits: concurrent slots, grants per minute (None: no cap), and the lease length."""

    concurrent: int = 2
    per_minute: int | None = None
    lease_seconds: float = DEFAULT_LEASE_SECONDS

    def to_dict(self) -> dict:
        return {"concurrent": self.concurrent, "per_minute": self.per_minute, "lease_seconds": self.lease_seconds}

    @classmethod
    def from_dict(cls, data: dict) -> QuotaLimits:
        """Limits from JSON, checked: a malformed value is a ValueError naming it."""
        if not isinstance(data, dict):
            raise ValueError(f"limits must be an object, got {type(data).__name__}")
        concurrent = data.get("concurrent", 2)
        per_minute = data.get("per_minute")
        lease = data.get("lease_seconds", DEFAULT_LEASE_SECONDS)
        if not _is_int(concurrent) or concurrent < 1:
            raise ValueError(f"limits.concurrent must be a whole number of at least 1, got {concurrent!r}")
        if per_minute is not None and (not _is_int(per_minute) or per_minute < 1):
            raise ValueError(f"limits.per_minute must be null or a whole number of at least 1, got {per_minute!r}")
        if not _is_seconds(lease) or lease <= 0:
            raise ValueError(f"limits.lease_seconds must be a positive number, got {lease!r}")
        return cls(concurrent, per_minute, float(lease))


@dataclass(frozen=True)
class Admission:
    """The gate's answer to a run: granted (with its lease's expiry), or its 1-based place in the queue; and the
    other runs this operation admitted (to be woken)."""

    granted: bool
    position: int | None = None
    lease_expires: float | None = None
    admitted: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"granted": self.granted, "position": self.position, "lease_expires": self.lease_expires,
                "admitted": list(self.admitted)}  # fmt: skip


@dataclass(frozen=True)
class Release:
    """The gate's answer to a release: whether the run held a slot or a place in line, and the runs it admitted."""

    released: bool
    admitted: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"released": self.released, "admitted": list(self.admitted)}


@dataclass
class QuotaGate:
    """Holders (run id -> lease expiry), waiters in arrival order (run id, expiry), and recent grant times."""

    holders: dict[str, float] = field(default_factory=dict)
    waiters: list[tuple[str, float]] = field(default_factory=list)
    grants: list[float] = field(default_factory=list)
    limits: QuotaLimits = field(default_factory=QuotaLimits)

    def acquire(self, run_id: str, now: float, limits: QuotaLimits | None = None) -> Admission:
        """Ask for a slot: granted if the run holds one (or is next and one is free), else its place in line.

        Asking again is safe: a holder keeps its slot (lease renewed), a waiter keeps its place (lease renewed).
        """
        _check(run_id, now)
        if limits is not None:
            self.limits = limits
        self._drop_expired(now)
        admitted = self._admit(now)
        lease = now + self.limits.lease_seconds
        if run_id in self.holders:
            self.holders[run_id] = lease
        else:
            places = [waiter for waiter, _ in self.waiters]
            if run_id in places:
                self.waiters[places.index(run_id)] = (run_id, lease)
            else:
                self.waiters.append((run_id, lease))
            admitted += self._admit(now)
        others = tuple(waiter for waiter in admitted if waiter != run_id)
        return dataclasses.replace(self.admission(run_id), admitted=others)

    def release(self, run_id: str, now: float) -> Release:
        """Give back the run's slot or its place in line (`released` if it had either); the waiters that take the
        freed slots are `admitted`. Safe to repeat."""
        _check(run_id, now)
        had = self.holders.pop(run_id, None) is not None
        kept = [(waiter, expiry) for waiter, expiry in self.waiters if waiter != run_id]
        had = had or len(kept) != len(self.waiters)
        self.waiters = kept
        self._drop_expired(now)
        return Release(had, tuple(self._admit(now)))

    def renew(self, run_id: str, now: float) -> Admission:
        """Extend a holder's lease. A run whose lease lapsed is in the provider all the same, so it is counted
        again (even above the limit, which then admits no one until enough slots are back)."""
        _check(run_id, now)
        self._drop_expired(now)
        admitted = self._admit(now)
        self.waiters = [(waiter, expiry) for waiter, expiry in self.waiters if waiter != run_id]
        self.holders[run_id] = now + self.limits.lease_seconds
        others = tuple(waiter for waiter in admitted if waiter != run_id)
        return dataclasses.replace(self.admission(run_id), admitted=others)

    def expire(self, now: float) -> list[str]:
        """Drop every slot and queue place whose lease has run out (a run that died, was terminated or deleted),
        and grants older than the rate window, then admit waiters into the freed slots; returns the run ids dropped."""
        gone = self._drop_expired(now)
        self._admit(now)
        return gone

    def _drop_expired(self, now: float) -> list[str]:
        _check_now(now)
        gone = [run_id for run_id, expiry in self.holders.items() if expiry <= now]
        gone += [run_id for run_id, expiry in self.waiters if expiry <= now]
        self.holders = {run_id: expiry for run_id, expiry in self.holders.items() if expiry > now}
        self.waiters = [(run_id, expiry) for run_id, expiry in self.waiters if expiry > now]
        self.grants = [at for at in self.grants if at > now - RATE_WINDOW_SECONDS]
        return gone

    def admission(self, run_id: str) -> Admission:
        """Where the run stands now, without changing anything."""
        if run_id in self.holders:
            return Admission(True, lease_expires=self.holders[run_id])
        places = [waiter for waiter, _ in self.waiters]
        if run_id in places:
            return Admission(False, position=places.index(run_id) + 1)
        return Admission(False)

    def _admit(self, now: float) -> list[str]:
        # Slots go to the head of the line only: a later arrival never overtakes an earlier one.
        admitted = []
        while self.waiters and len(self.holders) < self.limits.concurrent and not self._rate_limited(now):
            run_id, _ = self.waiters.pop(0)
            self.holders[run_id] = now + self.limits.lease_seconds
            self.grants.append(now)
            admitted.append(run_id)
        return admitted

    def _rate_limited(self, now: float) -> bool:
        per_minute = self.limits.per_minute
        return per_minute is not None and sum(1 for at in self.grants if at > now - RATE_WINDOW_SECONDS) >= per_minute

    def to_dict(self) -> dict:
        return {
            "holders": dict(self.holders),
            "waiters": [[run_id, expiry] for run_id, expiry in self.waiters],
            "grants": list(self.grants),
            "limits": self.limits.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict | None) -> QuotaGate:
        """The gate from its stored JSON (None or {} for a new one)."""
        data = data or {}
        return cls(
            holders={str(k): float(v) for k, v in (data.get("holders") or {}).items()},
            waiters=[(str(run_id), float(expiry)) for run_id, expiry in data.get("waiters") or []],
            grants=[float(at) for at in data.get("grants") or []],
            limits=QuotaLimits.from_dict(data.get("limits") or {}),
        )


def quota_key(endpoint: str, api: str) -> str:
    """The gate's entity key for one provider resource: a short hash of its endpoint and API."""
    resource = f"{endpoint.rstrip('/').lower()}|{api.lower()}"
    return "q" + hashlib.sha256(resource.encode()).hexdigest()[:16]


def quota_options(settings: Settings) -> dict | None:
    """What a run needs to use the gate (entity key and limits), or None when the gate is turned off."""
    if not settings.sora_quota_gate:
        return None
    limits = QuotaLimits(
        settings.sora_max_concurrent_jobs, settings.sora_max_jobs_per_minute, settings.sora_quota_lease_seconds
    )
    return {"key": quota_key(settings.sora_endpoint, settings.sora_api), "limits": limits.to_dict()}


def waiting_fallback_delay(lease_seconds: float) -> float:
    """Seconds a waiting run lets pass before asking again if no wake-up came: a third of its lease at most."""
    return min(WAITING_FALLBACK_SECONDS, lease_seconds / 3)


def _check(run_id: object, now: object) -> None:
    if not isinstance(run_id, str) or not 1 <= len(run_id) <= MAX_RUN_ID_CHARS or not run_id.isprintable():
        raise ValueError(f"run_id must be 1-{MAX_RUN_ID_CHARS} printable characters, got {run_id!r:.80}")
    _check_now(now)


def _check_now(now: object) -> None:
    if not _is_seconds(now):
        raise ValueError(f"now must be epoch seconds, got {now!r:.80}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_seconds(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
