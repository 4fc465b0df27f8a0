"""The content currently serving, with reload that never makes things worse.

What a refused load or reload says (the error, the log lines) is in the checker's default language, Chinese, like
`python -m bot content check` without --lang.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from pathlib import Path

from bot.content.loader import LoadResult, load_catalog
from bot.content.model import Catalog
from bot.content.problems import Severity, msg

log = logging.getLogger(__name__)


class ContentError(Exception):
    """The content directory has errors; `result.problems` says which."""

    def __init__(self, result: LoadResult) -> None:
        errors = [p for p in result.problems if p.severity is Severity.ERROR]
        super().__init__(msg("content_has_errors", count=len(errors)).render())
        self.result = result


class ContentStore:
    def __init__(
        self,
        catalog: Catalog,
        directory: Path,
        today: Callable[[], dt.date] = dt.date.today,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._catalog = catalog
        self.directory = directory
        self._today = today
        self._clock = clock
        self.loaded_at = clock()  # when the serving catalog was read (the console's 内容 page shows it)
        # The last reload that was refused and when: the old catalog kept serving, the editors need to know why.
        self.refused: LoadResult | None = None
        self.refused_at: float | None = None

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
            log.warning("%s", msg("reload_refused", count=len(errors)).render())
            for problem in errors[:10]:  # the editor's first causes, as `content check` prints them
                log.warning("%s", msg("reload_problem", problem=problem.render()).render())
            self.refused, self.refused_at = result, self._clock()
        else:
            self._catalog = result.catalog
            self.loaded_at, self.refused, self.refused_at = self._clock(), None, None
            log.info("content reloaded: %d topics", len(result.catalog.topics))
        return result
