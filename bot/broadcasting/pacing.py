"""A pacer for bulk sends: evenly spaced slots at `rate` per second, paused wholesale on a 429.

Evenly spaced (not a token bucket that lets a burst through) because Telegram counts in a sliding
window: a burst at a batch boundary is exactly what earns 429s. A little catch-up (`slack`) lets
short pauses between batches be made good without ever bursting more than a few messages.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class Pacer:
    def __init__(self, rate: float, slack: float = 0.2, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self.slack = slack
        self._clock = clock
        self._next = clock()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait for the next sending slot."""
        async with self._lock:
            now = self._clock()
            start = max(self._next, now - self.slack, self._paused_until)
            self._next = start + self.interval
        delay = start - self._clock()
        if delay > 0:
            await asyncio.sleep(delay)

    def set_rate(self, rate: float) -> None:
        """Pace at `rate` from the next slot on (this process's share of a limit several processes share)."""
        if rate > 0:
            self.interval = 1.0 / rate

    def pause(self, seconds: float) -> None:
        """Telegram said 429 retry_after: nobody sends until then."""
        until = self._clock() + seconds
        self._paused_until = max(self._paused_until, until)
        self._next = max(self._next, until)
