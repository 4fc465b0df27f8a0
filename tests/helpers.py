"""Test helpers: drive the core like a resident, reading replies as a transcript; a module's shared database."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.core.engine import Core
from bot.core.events import Button, Incoming, Reply, Text, Toast

from . import pg

T = TypeVar("T")


@dataclass
class Chat:
    """One resident talking to the core; `press` finds a button on the last keyboard by label."""

    core: Core
    user: str
    channel: str = "console"
    language: str | None = None
    private: bool = True
    delivered: list[Reply] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)

    async def _send(self, reply: Reply) -> bool:
        self.delivered.append(reply)
        keyboard = getattr(reply, "buttons", ())
        if keyboard:
            self.buttons = [b for row in keyboard for b in row]
        return True

    async def _go(self, event: Incoming) -> list[Reply]:
        start = len(self.delivered)
        await self.core.respond(event, self._send)
        return self.delivered[start:]

    async def say(self, text: str) -> list[Reply]:
        return await self._go(
            Incoming.from_text(
                self.channel, self.user, text, display_name=self.user, language=self.language, private_chat=self.private
            )
        )

    async def press(self, label: str) -> list[Reply]:
        matches = [b for b in self.buttons if label in b.label]
        assert matches, f"no button with {label!r} among {[b.label for b in self.buttons]}"
        return await self.press_payload(matches[0].payload)

    async def press_payload(self, payload: str) -> list[Reply]:
        return await self._go(
            Incoming(
                self.channel,
                self.user,
                display_name=self.user,
                language=self.language,
                button=payload,
                private_chat=self.private,
            )
        )


def texts(replies: list[Reply]) -> str:
    """All visible text of some replies, titles included, for `in` assertions."""
    parts = []
    for reply in replies:
        if isinstance(reply, Text):
            parts.extend(filter(None, [reply.title, reply.body]))
        elif isinstance(reply, Toast):
            parts.append(reply.text)
    return "\n".join(parts)


def labels(reply: Reply) -> list[str]:
    return [b.label for row in getattr(reply, "buttons", ()) for b in row]


def apart(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a loop of its own in a thread of its own (from a sync fixture, whatever loop runs)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()


BACKENDS = ["sqlite", "postgres"]

# For a test written for both backends that runs on SQLite only (each use says why: mostly slow, and not about
# storage, or its storage covered on PostgreSQL elsewhere); dropping the mark runs it on both.
SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@contextlib.contextmanager
def shared_database(request: pytest.FixtureRequest, folder: Path) -> Iterator[str]:
    """BOT_DB for data a module builds once and its tests share, from a fixture parametrised with BACKENDS: a
    SQLite file in `folder`, or a schema of its own on the run's PostgreSQL database (the `database` fixture's
    counterpart for module-scoped fixtures)."""
    if request.param == "sqlite":
        yield str(folder / "bot.sqlite3")
        return
    server = request.getfixturevalue("postgres_server")
    if isinstance(server, str):
        pg.unavailable(server)
    schema = apart(server.schema())
    try:
        yield server.target(schema)
    finally:
        apart(server.drop_schema(schema))
