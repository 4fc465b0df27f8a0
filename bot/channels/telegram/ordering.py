"""Concurrent across residents, in order for each resident.

PTB either handles updates one at a time (one slow send stalls everybody) or all at
once (a resident's quick "next, next" could be answered out of order). This processor
runs updates concurrently but serialises those of the same user (or chat) behind a
per-key lock, created on demand and dropped when nobody waits on it. When several bot
processes serve one database (behind one load balancer), `turn` also waits, across
processes, for the resident's earlier updates (ChannelState.in_turn: turn tickets).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

Turn = Callable[[str], AbstractAsyncContextManager[None]]


def _no_turn(update_key: str) -> AbstractAsyncContextManager[None]:
    return contextlib.nullcontext()


class PerResidentUpdateProcessor(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int = 256, turn: Turn = _no_turn) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._holders: dict[int, int] = {}
        self._turn = turn

    @staticmethod
    def _key(update: object) -> int:
        if isinstance(update, Update):
            if update.effective_user is not None:
                return update.effective_user.id
            if update.effective_chat is not None:
                return update.effective_chat.id
        return 0  # anything else shares one lane

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = self._key(update)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        self._holders[key] = self._holders.get(key, 0) + 1
        try:
            async with lock:
                update_id = getattr(update, "update_id", None)
                if update_id is None:
                    await coroutine
                else:
                    async with self._turn(str(update_id)):
                        await coroutine
        finally:
            self._holders[key] -= 1
            if self._holders[key] == 0:
                del self._holders[key]
                del self._locks[key]

    async def initialize(self) -> None:
        """Nothing to set up: locks are made on demand."""

    async def shutdown(self) -> None:
        """Nothing to release."""
