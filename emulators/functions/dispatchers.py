"""Background loops: keyed work (one at a time per instance or entity) and the durable timer clock."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor

log = logging.getLogger("host")


class KeyedDispatcher:
    """Runs `work(key)` in an executor, never twice at once for a key, at most `limit` keys at once.

    `work` returns True when more is waiting for that key; a key woken while it runs is run again after.
    """

    def __init__(self, name: str, work: Callable[[str], bool], executor: Executor, limit: int) -> None:
        self.name = name
        self.work = work
        self.executor = executor
        self.limit = limit
        self._ready: dict[str, None] = {}
        self._running: set[str] = set()
        self._dirty: set[str] = set()
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False

    def wake(self, key: str) -> None:
        """Ask for `work(key)`; safe from any thread."""
        if self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._wake, key)

    def _wake(self, key: str) -> None:
        if key in self._running:
            self._dirty.add(key)
        else:
            self._ready[key] = None
        self._event.set()

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        while not self._closing:
            await self._event.wait()
            self._event.clear()
            while self._ready and len(self._running) < self.limit and not self._closing:
                key = next(iter(self._ready))
                del self._ready[key]
                self._running.add(key)
                future = self._loop.run_in_executor(self.executor, self.work, key)
                future.add_done_callback(lambda f, k=key: self._done(k, f))

    def _done(self, key: str, future: asyncio.Future) -> None:
        self._running.discard(key)
        try:
            more = bool(future.result())
        except Exception:
            # A bug or a broken row must not spin: retry this key a second later, let the others run.
            log.exception("%s: work for %s failed; retrying in 1 s", self.name, key)
            self._loop.call_later(1.0, self._wake, key)
            self._event.set()
            return
        if more or key in self._dirty:
            self._dirty.discard(key)
            self._ready[key] = None
        self._event.set()

    async def drain(self, timeout: float) -> None:
        """Stop starting work and wait (up to `timeout`) for the running work to finish."""
        self._closing = True
        self._event.set()
        deadline = time.monotonic() + timeout
        while self._running and time.monotonic() < deadline:
            await asyncio.sleep(0.02)


class TimerClock:
    """Turns due durable timers into TimerFired messages, sleeping until the next one is due."""

    def __init__(self, fire_due: Callable[[float], list[str]], next_due: Callable[[], float | None], on_fired) -> None:
        self.fire_due = fire_due
        self.next_due = next_due
        self.on_fired = on_fired
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        """A timer was added: re-check the next due time; safe from any thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._event.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        while True:
            due = self.next_due()
            now = time.time()
            if due is not None and due <= now:
                for instance_id in self.fire_due(now):
                    self.on_fired(instance_id)
                continue
            # Re-check at least every 30 s, so a clock jump cannot strand a timer.
            wait = 30.0 if due is None else min(30.0, due - now)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), wait)
            self._event.clear()
