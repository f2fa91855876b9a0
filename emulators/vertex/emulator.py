"""The Vertex emulator's state: the Sora emulator's clock, faults, request log and media, with Veo operations.

It is stored under the Sora emulator's `EMULATOR` app key and answers `reset` and `describe` like the Sora
emulator does, so the admin API under `/_emulator/` is the Sora emulator's own handlers.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from emulators.sora.clock import Clock
from emulators.sora.faults import FaultBook
from emulators.sora.media import MediaLibrary
from emulators.sora.request_log import RequestLog
from emulators.vertex.operations import OperationStore

API = "vertex"
STORAGE_API = "storage"
# The names faults and the request log know calls by: `create` is :predictLongRunning, `retrieve` is
# :fetchPredictOperation, `content` a Cloud Storage object download, `metadata` an object's metadata.
OPERATIONS = ("create", "retrieve", "content", "metadata", "any")
DEFAULT_MAX_CONCURRENT_JOBS = 10


def default_cache_dir() -> Path:
    """Where media is cached unless --media-cache says otherwise."""
    return Path(tempfile.gettempdir()) / "soraflow-vertex-emulator-media"


@dataclass(frozen=True)
class Options:
    """What the command line sets; `/_emulator/reset` can override time scale and limit until the next reset."""

    media_cache: Path
    api_key: str | None = None
    project: str | None = None
    time_scale: float = 1.0
    max_concurrent_jobs: int = DEFAULT_MAX_CONCURRENT_JOBS


class VertexEmulator:
    """Everything one Vertex emulator process knows."""

    def __init__(self, options: Options):
        self.options = options
        self.clock = Clock()
        self.media = MediaLibrary(options.media_cache)
        self.store = OperationStore()
        self.faults = FaultBook(apis=(API, STORAGE_API, "any"), operations=OPERATIONS)
        self.log = RequestLog()
        self.time_scale = options.time_scale
        self.max_concurrent_jobs = options.max_concurrent_jobs

    def reset(self, *, time_scale: float | None = None, max_concurrent_jobs: int | None = None) -> None:
        """Drop operations, objects, faults and the log; the clock offset is kept so time never runs backwards."""
        self.store = OperationStore()
        self.faults.clear()
        self.log.clear()
        self.time_scale = self.options.time_scale if time_scale is None else time_scale
        self.max_concurrent_jobs = (
            self.options.max_concurrent_jobs if max_concurrent_jobs is None else max_concurrent_jobs
        )

    def describe(self) -> dict:
        """The settings in force, for `/_emulator/status` and `/_emulator/reset` (the Sora emulator's fields)."""
        now = self.clock.now()
        return {
            "time_scale": self.time_scale,
            "max_concurrent_jobs": self.max_concurrent_jobs,
            "api_key_required": self.options.api_key is not None,
            "project": self.options.project,
            "media_cache": str(self.options.media_cache),
            "now": now,
            "active_jobs": len(self.store.active(now)),
        }
