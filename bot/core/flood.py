"""A per-resident flood limit: a person (or a script) sending hundreds of messages gets one polite pause.

Beyond `limit` events in a sliding minute the resident gets one notice and then no replies until the minute
has room again; nothing of what they sent reaches the answerer, so the editors' list of unanswered
questions is not flooded either. In memory per process: a restart forgets it, which costs nothing.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from enum import Enum

WINDOW = 60.0  # seconds


class Verdict(Enum):
    ALLOW = "allow"
    WARN = "warn"  # the first event over the limit: say why we pause
    DROP = "drop"  # later ones in the same window: silence


class FloodGate:
    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._seen: dict[int, collections.deque[float]] = {}
        self._warned: dict[int, float] = {}
        self._checks = 0

    def check(self, resident_id: int) -> Verdict:
        now = self._clock()
        self._checks += 1
        if self._checks % 1000 == 0:
            self._forget_idle(now)
        history = self._seen.setdefault(resident_id, collections.deque())
        while history and now - history[0] >= WINDOW:
            history.popleft()
        if len(history) < self.limit:
            history.append(now)
            self._warned.pop(resident_id, None)
            return Verdict.ALLOW
        if resident_id in self._warned:
            return Verdict.DROP
        self._warned[resident_id] = now
        return Verdict.WARN

    def _forget_idle(self, now: float) -> None:
        idle = [rid for rid, history in self._seen.items() if not history or now - history[-1] >= WINDOW]
        for rid in idle:
            del self._seen[rid]
            self._warned.pop(rid, None)
