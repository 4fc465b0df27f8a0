"""PostgreSQL for the tests: one fresh database per test run (dropped after it), one schema per test.

The server is the machine's (127.0.0.1:5432, trust auth) or `BOT_TEST_PG` (a URL without a database name). When
it cannot be reached the PostgreSQL half of the suite is skipped with a one-line reason — except under CI
(`CI=true`), where it must run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket
import uuid
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit

import pytest

SERVER = os.environ.get("BOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432").rstrip("/")
REQUIRED = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def reachable() -> str | None:
    """None when the server answers, else why not."""
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        return "asyncpg is not installed"
    address = urlsplit(SERVER)
    try:
        with socket.create_connection((address.hostname or "127.0.0.1", address.port or 5432), timeout=2):
            return None
    except OSError as exc:
        return f"no PostgreSQL server at {address.hostname}:{address.port or 5432} ({exc.strerror or exc})"


class TestServer:
    """The run's database on the server; `schema()` gives each test a clean schema of its own."""

    def __init__(self) -> None:
        self.database = f"pufa_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"

    @property
    def url(self) -> str:
        return f"{SERVER}/{self.database}"

    def create(self) -> None:
        _apart(self._admin(f'CREATE DATABASE "{self.database}" TEMPLATE template0 LC_COLLATE "C" LC_CTYPE "C"'))

    def drop(self) -> None:
        _apart(self._admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))

    async def _admin(self, statement: str) -> None:
        import asyncpg

        connection = await asyncpg.connect(f"{SERVER}/postgres")
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    async def schema(self) -> str:
        import asyncpg

        name = f"t_{uuid.uuid4().hex[:12]}"
        connection = await asyncpg.connect(self.url)
        try:
            await connection.execute(f"CREATE SCHEMA {name}")
        finally:
            await connection.close()
        return name

    async def drop_schema(self, name: str) -> None:
        import asyncpg

        connection = await asyncpg.connect(self.url)
        try:
            await connection.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        finally:
            await connection.close()

    def target(self, schema: str) -> str:
        """BOT_DB for a test: the run's database, this test's schema first on the search path."""
        return f"{self.url}?search_path={schema}"


def _apart(work: Coroutine[Any, Any, None]) -> None:
    """Run on a loop of its own in a thread of its own: the session fixture may be set up inside a test's loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, work).result()


def unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"PostgreSQL tests must run under CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL: {reason}")
