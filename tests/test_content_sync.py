"""Several processes, one content: a reload in one process is followed by the others at their next heartbeat; a
refused reload is followed by nobody; a process that starts later serves what it read. Two `Storage`s on one
database stand for two processes (on both backends)."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.content.store import ContentStore
from bot.core.content_sync import ContentFollower
from bot.storage import Storage

from .conftest import CONTENT, TODAY

DRUGS = "topics/anti-drug.yaml"


def retitle(content: Path, title: str) -> None:
    """An editor's change: the anti-drug topic's title."""
    path = content / DRUGS
    text = path.read_text(encoding="utf-8")
    old = next(line for line in text.splitlines() if line.startswith("title:"))
    path.write_text(text.replace(old, f"title: {title}", 1), encoding="utf-8")


def drugs_title(store: ContentStore) -> str:
    return next(topic.title for topic in store.catalog.topics if topic.id == "anti-drug")


async def test_a_reload_in_one_process_reaches_the_other(database: str, tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    first, second = await Storage.open(database, data_dir=tmp_path), await Storage.open(database, data_dir=tmp_path)
    try:
        here, there = ContentStore.load(content, lambda: TODAY), ContentStore.load(content, lambda: TODAY)
        leader = ContentFollower(here, first.processes, "a")
        follower = ContentFollower(there, second.processes, "b")
        assert not await leader.beat() and not await follower.beat()  # both serve what they read at start
        before = drugs_title(there)

        retitle(content, "禁毒知识（新）")
        assert (await here.reload()).ok  # the console's button, on the first process
        assert not await leader.beat()  # counted: one more generation
        assert drugs_title(there) == before  # the second has not looked yet
        assert await follower.beat()  # it looks, and reloads
        assert drugs_title(there) == "禁毒知识（新）"
        assert not await follower.beat() and not await leader.beat()  # nothing new: nobody reloads again

        # A broken file: the reload is refused, the old content keeps serving, and nothing is counted.
        (content / DRUGS).write_text("title: [unclosed\n", encoding="utf-8")
        assert not (await here.reload()).ok
        assert not await leader.beat() and not await follower.beat()
        assert drugs_title(here) == drugs_title(there) == "禁毒知识（新）"

        # A process that starts after the reloads reads the files itself: nothing to follow.
        shutil.copy(CONTENT / DRUGS, content / DRUGS)
        late = ContentFollower(ContentStore.load(content, lambda: TODAY), second.processes, "c")
        assert not await late.beat()
        assert await first.processes.content_generation() == 1
    finally:
        await first.close()
        await second.close()
