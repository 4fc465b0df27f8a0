"""One send budget for the Telegram channel, shared by conversations' replies and broadcasts.

Telegram's limits (../shared/telegram-wecom-notes.md): about 30 messages a second overall, counted in a sliding
window; about 1 a second sustained to one chat, short bursts allowed; 20 a minute to one group. Every Bot API
call that puts a message into a chat takes a slot here first:

- **Overall**: evenly spaced slots a little under `rate` (`headroom`), so Telegram's sliding second never sees
  more than `rate`. A send that comes less than `catch_up` seconds after its slot keeps the schedule (a late
  timer or a broadcast's batch boundary costs no throughput: the slots missed are made good, at twice the
  pace, never at once: a burst arrives bunched up and earns 429s); after a longer idle time the schedule starts
  afresh. A log of when the last sends really left makes sure that no `guard_window` (the time `rate` sends
  take on the schedule, 1.03 s for 30/s) ever holds more than `rate` of them: making slots good never gets ahead
  of the schedule, and a send held up on its way out (a busy event loop: it then leaves bunched up with later
  ones) holds the next ones back. The request backend reports when a send's headers went out (`departed`).
- **Per chat**: a token bucket, `chat_burst` back to back, then `chat_rate` a second.
- **Edits** (a pressed menu changed in place) are not new messages: they only wait out a 429 pause, unless
  `edits_count` makes them take an overall slot too. The core's flood limit bounds them per resident.
- **Per group** (negative chat ids): also at most `group_per_minute` in any minute (plus headroom).
- **Priority**: when several sends wait, the next free slot goes to a `REPLY` before any `BROADCAST`, first come
  first served within a priority; a send whose chat is not ready yet never holds up sends to other chats.
- **429**: `pause(retry_after)` stops every send until then, replies and broadcasts alike, and slows the
  overall pace by `SLOW_DOWN` (at most `SLOW_DOWN_MOST`): the path to Telegram jitters more than the headroom
  allows. Each `RECOVER_AFTER` seconds without a 429 gives one step back.

`Limits(rate=0)` turns the limits off (a local Bot API server, paid broadcasts, benchmarks of the bot's own
ceiling); pauses after a 429 still apply. `Budget` is the arithmetic (pure, any clock); `SendBudget` queues the
waiting sends on top of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import IntEnum

EPSILON = 1e-6  # a timer that fires a hair early still finds its slot

Slot = list[float] | None  # what `acquire` hands out: the send's entry in the log ([when it left]), if counted
_sending: ContextVar[tuple[Slot, Callable[[], float]] | None] = ContextVar("telegram_send_slot", default=None)


def departed() -> None:
    """The request backend: the send of the current task is on the wire now (its slot's log entry learns when)."""
    current = _sending.get()
    if current is not None:
        Budget.left(current[0], current[1]())


class Priority(IntEnum):
    REPLY = 0  # a resident is waiting for this
    BROADCAST = 1  # fills what replies leave


@dataclass(frozen=True)
class Limits:
    rate: float = 30.0  # messages per second overall (Telegram's ~30); 0 = no limits
    headroom: float = 0.03  # stay this share under `rate`: network jitter must not push a window over
    catch_up: float = 0.1  # a send this late for its slot keeps the schedule (missed slots are made good)
    chat_rate: float = 1.0  # messages per second to one chat, sustained
    chat_burst: int = 5  # messages to one chat back to back
    group_per_minute: int = 20  # messages to one group chat per minute
    edits_count: bool = False  # edits take overall slots too (Telegram documents its limits for messages only)

    @property
    def unlimited(self) -> bool:
        return self.rate <= 0


@dataclass
class _Bucket:
    tokens: float
    at: float


class Budget:
    """When may the next message to a chat go? Pure arithmetic over a clock; no waiting here."""

    PRUNE_AT = 4096  # per-chat entries kept before the idle ones are dropped
    SLOW_DOWN, SLOW_DOWN_MOST, RECOVER_AFTER = 0.01, 0.07, 60.0

    def __init__(self, limits: Limits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits = limits or Limits()
        self.clock = clock
        self.paused_until = -math.inf
        self.share = 1.0
        if limits.unlimited:
            return
        self._slowed = 0.0  # share of `rate` given up after 429s, on top of the headroom
        self._last_429 = -math.inf
        # `share`: this process's part of `rate` when several bot processes send for one bot (1/n of n alive):
        # the limit is Telegram's per bot, not per process.
        self._recent: deque[list[float]] = deque()
        self._size_window()
        self._next = -math.inf  # the next slot on the schedule
        self._last = -math.inf  # the last grant
        self._group_window = 60.0 / (1 - limits.headroom)
        self._chats: dict[int, _Bucket] = {}
        self._groups: dict[int, deque[float]] = {}

    def _size_window(self) -> None:
        rate = self.limits.rate * self.share
        self._interval = self._spacing()
        self._window_count = max(1, math.floor(rate))
        # As long as `rate` sends take on the schedule: it binds only when sends would get ahead of it, or when
        # late sends left bunched up. Telegram counts per second: the headroom is the jitter allowed for.
        self.guard_window = self._window_count / (rate * (1 - self.limits.headroom))
        # [when it left], per send, for the last 2 × rate sends: a send resumed late can be among the latest to leave
        self._recent = deque(self._recent, maxlen=2 * self._window_count)

    def set_share(self, share: float) -> None:
        """Send at `share` of `rate` from now on (several processes: each gets its part of the bot's limit)."""
        share = min(1.0, max(0.01, share))
        if self.limits.unlimited or share == self.share:
            return
        self.share = share
        self._size_window()

    def _spacing(self) -> float:
        return 1.0 / (self.limits.rate * self.share * (1 - self.limits.headroom - self._slowed))

    @property
    def pace(self) -> float:
        """Messages per second overall now (0: no limits)."""
        return 0.0 if self.limits.unlimited else 1.0 / self._interval

    def overall_ready(self, now: float, edit: bool = False) -> float:
        """The earliest time any message (or an edit) may go (≤ now: at once)."""
        if self.limits.unlimited or (edit and not self.limits.edits_count):
            return self.paused_until
        ready = max(self.paused_until, self._next, self._last + self._interval / 2)
        if len(self._recent) >= self._window_count:
            latest = sorted((left for (left,) in self._recent), reverse=True)
            ready = max(ready, latest[self._window_count - 1] + self.guard_window)
        return ready

    def chat_ready(self, chat_id: int, now: float, edit: bool = False) -> float:
        """The earliest time a message to this chat may go, as far as the chat's own limits go."""
        if self.limits.unlimited or edit:
            return -math.inf
        ready = -math.inf
        bucket = self._chats.get(chat_id)
        if bucket is not None:
            tokens = min(self.limits.chat_burst, bucket.tokens + (now - bucket.at) * self.limits.chat_rate)
            if tokens < 1:
                ready = now + (1 - tokens) / self.limits.chat_rate
        group = self._groups.get(chat_id)
        if group is not None and len(group) == self.limits.group_per_minute:
            ready = max(ready, group[0] + self._group_window)
        return ready

    def take(self, chat_id: int, now: float, edit: bool = False) -> Slot:
        """A message (or an edit) goes now: count it. Returns its entry in the log, for `left`."""
        if self.limits.unlimited or (edit and not self.limits.edits_count):
            return None
        if self._slowed and now - self._last_429 >= self.RECOVER_AFTER:
            self._slowed = max(0.0, self._slowed - self.SLOW_DOWN)
            self._last_429 = now  # the next step back after as long again
            self._interval = self._spacing()
        late = now - self._next
        self._next = (self._next if late <= self.limits.catch_up else now) + self._interval
        self._last = now
        entry = [now]
        self._recent.append(entry)
        if edit:
            return entry
        limits = self.limits
        bucket = self._chats.get(chat_id)
        if bucket is None:
            if len(self._chats) >= self.PRUNE_AT:
                self._prune(now)
            bucket = self._chats[chat_id] = _Bucket(limits.chat_burst, now)
        bucket.tokens = min(limits.chat_burst, bucket.tokens + (now - bucket.at) * limits.chat_rate) - 1
        bucket.at = now
        if chat_id < 0:  # groups, supergroups and channels
            self._groups.setdefault(chat_id, deque(maxlen=limits.group_per_minute)).append(now)
        return entry

    @staticmethod
    def left(entry: Slot, now: float) -> None:
        """The send counted in `entry` really left only now (its task resumed late): log that time instead."""
        if entry is not None and now > entry[0]:
            entry[0] = now

    def pause(self, seconds: float) -> None:
        """Telegram answered 429 retry_after: nothing goes until then, and a little slower afterwards."""
        now = self.clock()
        already = now < self.paused_until  # more answers to the sends that earned the first 429: one slow-down
        self.paused_until = max(self.paused_until, now + seconds)
        if not self.limits.unlimited and not already:
            self._slowed = min(self.SLOW_DOWN_MOST, self._slowed + self.SLOW_DOWN)
            self._last_429 = now
            self._interval = self._spacing()

    def _prune(self, now: float) -> None:
        """Forget chats whose bucket is full again and groups quiet for a minute: they start afresh anyway."""
        rate, burst = self.limits.chat_rate, self.limits.chat_burst
        self._chats = {c: b for c, b in self._chats.items() if b.tokens + (now - b.at) * rate < burst}
        self._groups = {g: q for g, q in self._groups.items() if q and q[-1] > now - self._group_window}


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    chat_id: int = field(compare=False)
    edit: bool = field(compare=False)
    future: asyncio.Future[Slot] = field(compare=False)


class SendBudget:
    """Sends wait here for a slot: replies first, then broadcasts, each in arrival order."""

    def __init__(self, limits: Limits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget = Budget(limits, clock)
        self.clock = clock
        self.set_share = self.budget.set_share
        self._waiting: list[_Waiter] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self.granted = {Priority.REPLY: 0, Priority.BROADCAST: 0}
        self.rate_limited = 0  # 429s reported through `pause`

    @property
    def limits(self) -> Limits:
        return self.budget.limits

    def waiting(self, priority: Priority | None = None) -> int:
        return sum(1 for w in self._waiting if priority is None or w.priority == priority)

    async def acquire(self, chat_id: int, priority: Priority, edit: bool = False) -> Slot:
        """Wait for a slot to send one message to `chat_id` (or to edit one there); send it inside `sending`."""
        now = self.clock()
        if (
            not self._waiting
            and self.budget.overall_ready(now, edit) <= now + EPSILON
            and self.budget.chat_ready(chat_id, now, edit) <= now + EPSILON
        ):
            return self._grant(chat_id, priority, edit, now)
        future: asyncio.Future[Slot] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(priority, next(self._seq), chat_id, edit, future)
        self._waiting.append(waiter)
        self.release()
        try:
            entry = await future
        except asyncio.CancelledError:
            if waiter in self._waiting:
                self._waiting.remove(waiter)
            raise
        self.budget.left(entry, self.clock())  # resumed late on a busy loop: it leaves no earlier than now
        return entry

    @contextlib.contextmanager
    def sending(self, slot: Slot) -> Iterator[None]:
        """Make the Bot API call of `slot` inside this: the request backend tells the log when it left."""
        token = _sending.set((slot, self.clock))
        try:
            yield
        finally:
            _sending.reset(token)

    def pause(self, seconds: float) -> None:
        """Telegram said 429 retry_after: everyone waits, replies and broadcasts alike."""
        self.rate_limited += 1
        self.budget.pause(seconds)
        self.release()

    def release(self) -> None:
        """Grant every slot the limits allow now, best waiter first; then wake up when the next one is due."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = self.clock()
        self._waiting = [w for w in self._waiting if not w.future.done()]  # cancelled meanwhile
        while self._waiting:
            overall = {edit: self.budget.overall_ready(now, edit) for edit in (False, True)}
            best = None
            for waiter in self._waiting:
                if self._ready_at(waiter, now, overall) <= now + EPSILON and (best is None or waiter < best):
                    best = waiter
            if best is None:
                break
            self._waiting.remove(best)
            best.future.set_result(self._grant(best.chat_id, Priority(best.priority), best.edit, now))
        if self._waiting:
            overall = {edit: self.budget.overall_ready(now, edit) for edit in (False, True)}
            wake = min(self._ready_at(w, now, overall) for w in self._waiting)
            self._timer = asyncio.get_running_loop().call_later(max(0.0, wake - now), self.release)

    def _ready_at(self, waiter: _Waiter, now: float, overall: dict[bool, float]) -> float:
        return max(overall[waiter.edit], self.budget.chat_ready(waiter.chat_id, now, waiter.edit))

    def _grant(self, chat_id: int, priority: Priority, edit: bool, now: float) -> Slot:
        self.granted[priority] += 1
        return self.budget.take(chat_id, now, edit)
