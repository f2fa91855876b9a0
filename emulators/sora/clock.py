"""The emulator's clock: wall time plus an offset that `/_emulator/time/advance` moves forward."""

from __future__ import annotations

import time


class Clock:
    """Seconds since the epoch as the emulator sees them; state is computed from it lazily on each request."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        """The emulator's current time (epoch seconds)."""
        return time.time() + self.offset

    def advance(self, seconds: float) -> float:
        """Jump the clock forward; returns the new time."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset += seconds
        return self.now()
