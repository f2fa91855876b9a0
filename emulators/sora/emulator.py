"""The emulator's state (clock, jobs, faults, request log, media) and how handlers declare their operation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from emulators.sora.clock import Clock
from emulators.sora.faults import FaultBook
from emulators.sora.media import MediaLibrary
from emulators.sora.request_log import RequestLog
from emulators.sora.store import JobStore


@dataclass(frozen=True)
class Options:
    """What the command line sets; `/_emulator/reset` can override the last two until the next reset."""

    media_cache: Path
    api_key: str | None = None
    time_scale: float = 1.0
    max_concurrent_jobs: int = 2


class Emulator:
    """Everything one emulator process knows."""

    def __init__(self, options: Options):
        self.options = options
        self.clock = Clock()
        self.media = MediaLibrary(options.media_cache)
        self.store = JobStore()
        self.faults = FaultBook()
        self.log = RequestLog()
        self.time_scale = options.time_scale
        self.max_concurrent_jobs = options.max_concurrent_jobs

    def reset(self, *, time_scale: float | None = None, max_concurrent_jobs: int | None = None) -> None:
        """Drop jobs, faults and the log; the clock offset is kept so time never runs backwards."""
        self.store = JobStore()
        self.faults.clear()
        self.log.clear()
        self.time_scale = self.options.time_scale if time_scale is None else time_scale
        self.max_concurrent_jobs = (
            self.options.max_concurrent_jobs if max_concurrent_jobs is None else max_concurrent_jobs
        )

    def describe(self) -> dict:
        """The settings in force, for `/_emulator/status` and `/_emulator/reset`."""
        now = self.clock.now()
        return {
            "time_scale": self.time_scale,
            "max_concurrent_jobs": self.max_concurrent_jobs,
            "api_key_required": self.options.api_key is not None,
            "media_cache": str(self.options.media_cache),
            "now": now,
            "active_jobs": len(self.store.active(now)),
        }


EMULATOR = web.AppKey("emulator", Emulator)

# Per-request values the pipeline hands to handlers.
LOG_ENTRY = "sora.log_entry"
FAULT = "sora.fault"
STALL = "sora.stall"


def operation(api: str, name: str):
    """Mark a handler with the API and operation the request log and faults know it by."""

    def mark(handler):
        handler.api = api
        handler.operation = name
        return handler

    return mark


def emulator_of(request: web.Request) -> Emulator:
    """The emulator serving this request."""
    return request.app[EMULATOR]


def record_job(request: web.Request, job_id: str) -> None:
    """Note the job a call concerned in its request-log entry."""
    entry = request.get(LOG_ENTRY)
    if entry is not None:
        entry["job_id"] = job_id
