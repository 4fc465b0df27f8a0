"""Several bot processes, one content: a reload in one is followed by the others.

An editor's change reaches the bot by a reload — the chat's /reload, the console's button or SIGHUP — and that
reaches one process: the one the load balancer or the signal picked. So each process, at its heartbeat (every
2 s, on a database several processes share), compares the count of reloads kept in the database with the one it
last saw: when it reloaded itself since the last beat it counts one more, and when another process did, it
reloads too. The content directory is the same for all (one volume), so they serve the same content again within
a heartbeat. A reload the content checker refuses counts nothing: the old content keeps serving everywhere.
"""

from __future__ import annotations

import logging

from bot.content.store import ContentStore
from bot.storage.processes import ProcessRegistry

log = logging.getLogger(__name__)


class ContentFollower:
    def __init__(self, content: ContentStore, registry: ProcessRegistry, owner: str) -> None:
        self._content = content
        self._registry = registry
        self._owner = owner
        self._seen: int | None = None  # the generation this process serves; unknown before the first beat
        self._loaded_at = content.loaded_at

    async def beat(self) -> bool:
        """One heartbeat's look; True when this process reloaded to follow another's reload."""
        generation = await self._registry.content_generation()
        if self._seen is None:  # just started: the content it read at start is the current one
            self._seen = generation
        if self._content.loaded_at != self._loaded_at:  # reloaded here since the last beat
            self._loaded_at = self._content.loaded_at
            self._seen = await self._registry.content_reloaded(self._owner)
            return False
        if generation <= self._seen:
            return False
        self._seen = generation
        log.info("another bot process reloaded the content; reloading it here too")
        await self._content.reload()  # refused: the old content keeps serving, and ContentStore says why
        self._loaded_at = self._content.loaded_at
        return True
