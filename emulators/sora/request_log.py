"""Every API call the emulator answered (or dropped): what tests read to prove "exactly one create"."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping

from emulators.sora.payloads import Upload

# Entries kept; older ones are dropped so a long-running emulator does not grow without bound.
MAX_ENTRIES = 10_000


class RequestLog:
    """An append-only list of call records (dicts), oldest first."""

    def __init__(self) -> None:
        self._entries: list[dict] = []
        self._ids = itertools.count(1)

    def start(self, *, method: str, path: str, query: str, api: str | None, operation: str | None, time: float) -> dict:
        """Record a call as it arrives; the caller fills in `status`, `job_id`, `fault` and `uploads` as it goes."""
        entry = {
            "id": next(self._ids),
            "method": method,
            "path": path,
            "query": query,
            "api": api,
            "operation": operation,
            "status": None,
            "time": time,
            "job_id": None,
            "fault": None,
            "uploads": [],
        }
        self._entries.append(entry)
        if len(self._entries) > MAX_ENTRIES:
            del self._entries[: len(self._entries) - MAX_ENTRIES]
        return entry

    def entries(self, **filters: str) -> list[dict]:
        """The records, optionally only those whose fields equal the given values."""
        return [e for e in self._entries if all(str(e.get(k)) == v for k, v in filters.items())]

    def clear(self) -> None:
        """Forget every record."""
        self._entries.clear()


def record_uploads(entry: dict | None, files: Mapping[str, list[Upload]]) -> None:
    """Note each file part a call carried: its field, name, type, size and SHA-256, so a test can prove which
    image reached the provider without the log holding the bytes."""
    if entry is None:
        return
    entry["uploads"] = [
        {
            "field": field,
            "filename": part.filename,
            "content_type": part.content_type,
            "bytes": len(part.data),
            "sha256": hashlib.sha256(part.data).hexdigest(),
        }
        for field, parts in files.items()
        for part in parts
    ]
