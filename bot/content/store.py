"""The content currently serving, with reload that never makes things worse."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

from bot.content.loader import LoadResult, load_catalog
from bot.content.model import Catalog
from bot.content.problems import Severity

log = logging.getLogger(__name__)


class ContentError(Exception):
    """The content directory has errors; `result.problems` says which."""

    def __init__(self, result: LoadResult) -> None:
        errors = [p for p in result.problems if p.severity is Severity.ERROR]
        super().__init__(f"content has {len(errors)} error(s); run: python -m bot content check")
        self.result = result


class ContentStore:
    def __init__(self, catalog: Catalog, directory: Path, today: Callable[[], dt.date] = dt.date.today) -> None:
        self._catalog = catalog
        self.directory = directory
        self._today = today

    @classmethod
    def load(cls, directory: Path, today: Callable[[], dt.date] = dt.date.today) -> ContentStore:
        result = load_catalog(directory, today())
        if result.catalog is None:
            raise ContentError(result)
        return cls(result.catalog, directory, today)

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    async def reload(self) -> LoadResult:
        """Load the directory again; on any error keep serving the old catalog."""
        result = await asyncio.to_thread(load_catalog, self.directory, self._today())
        if result.catalog is None:
            errors = [p for p in result.problems if p.severity is Severity.ERROR]
            log.warning("content reload refused: %d error(s); the old content keeps serving", len(errors))
            for problem in errors[:10]:  # the editor's first causes, as `content check` prints them
                log.warning("content: %s", problem)
        else:
            self._catalog = result.catalog
            log.info("content reloaded: %d topics", len(result.catalog.topics))
        return result
