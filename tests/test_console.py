"""The console channel end to end: `python -m bot chat` in a subprocess with piped stdin."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.content.loader import load_catalog
from bot.storage import Storage

from .conftest import CONTENT, REPO, TODAY


def chat(
    db: Path | str, lines: list[str], user: str = "alice", *extra: str, data_dir: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """A console session on `db`: a SQLite file, or the `database` fixture's SQLite path or PostgreSQL URL."""
    env = {**os.environ, "BOT_DB": str(db), "BOT_CONTENT_DIR": str(CONTENT)}
    if data_dir is not None:
        env["BOT_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--user", user, *extra],
        input="".join(line + "\n" for line in lines),
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )


def rows(database: str, data_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    """The rows of a query on the bot's database, read through Storage (either backend), on a loop of its own."""

    async def read() -> list[tuple[Any, ...]]:
        storage = await Storage.open(database, data_dir=data_dir)
        try:
            return [tuple(row) for row in await storage.db.fetchall(sql)]
        finally:
            await storage.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, read()).result()


def choice(output: str, label: str) -> str:
    """The number the console printed in front of a button label (the last one shown)."""
    numbers = re.findall(rf"\[(\d+)\] {re.escape(label)}(?:\s|$)", output)
    assert numbers, f"no button {label!r} in:\n{output}"
    return numbers[-1]


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], list[str]]:
    """A session typed step by step, each number read from the previous step's output as a person would, on
    scratch files; and the start of a second session. Found once, then replayed on each backend."""
    scratch = tmp_path_factory.mktemp("scripted")
    steps = ["/start"]
    steps.append(choice(chat(scratch / "0.sqlite3", steps).stdout, "🏡 河西村"))
    steps.append("/topics")
    steps.append(choice(chat(scratch / "1.sqlite3", steps).stdout, "🛡️ 反电信网络诈骗"))
    steps.append(choice(chat(scratch / "2.sqlite3", steps).stdout, "下一条 ▶"))
    steps.append("/menu")
    steps.append(choice(chat(scratch / "3.sqlite3", steps).stdout, "🔔 订阅管理"))
    steps.append(choice(chat(scratch / "4.sqlite3", steps).stdout, "✅ 禁毒"))
    second_steps = ["/start", "/settings", "/menu"]
    second_steps.append(choice(chat(scratch / "5.sqlite3", second_steps).stdout, "🔔 订阅管理"))
    return steps, second_steps


def test_scripted_session_shows_each_step_and_records_exactly_its_deliveries(
    database: str, tmp_path: Path, scripted: tuple[list[str], list[str]]
) -> None:
    catalog = load_catalog(CONTENT, TODAY).catalog
    assert catalog is not None
    fraud = catalog.topic("anti-fraud")
    assert fraud is not None

    steps, second_steps = scripted
    result = chat(database, steps, data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    out = result.stdout
    for expected in (
        "已订阅普法提醒",
        "已设置为：河西村",
        "【普法专题】",
        f"【{fraud.tips[0].title}】",
        f"【{fraud.tips[1].title}】",
        "【订阅管理】",
        "已退订「禁毒」",
    ):
        assert expected in out, expected

    events = rows(database, tmp_path, "SELECT kind, topic_id, item_id, place_id, channel FROM reach_events ORDER BY id")
    assert events == [
        ("tip", "anti-fraud", fraud.tips[0].id, "hexi-village", "console"),
        ("tip", "anti-fraud", fraud.tips[1].id, "hexi-village", "console"),
    ]
    assert rows(database, tmp_path, "SELECT topic_id FROM topic_optouts") == [("anti-drug",)]

    # A second session for the same user remembers place and subscriptions.
    second = chat(database, second_steps, data_dir=tmp_path)
    assert second.returncode == 0
    assert "欢迎回来" in second.stdout and "跳过" not in second.stdout
    assert "所在地：河西村" in second.stdout
    assert "🔕 禁毒" in second.stdout and "✅ 反电信网络诈骗" in second.stdout


def test_a_number_that_is_no_button_is_read_as_a_message_and_end_of_input_is_handled(
    database: str, tmp_path: Path
) -> None:
    """96110 typed while buttons are shown is the anti-fraud hotline, not a wrong menu number."""
    result = chat(database, ["/start", "96110", "明天会下雨吗"], data_dir=tmp_path)
    assert result.returncode == 0
    assert "请输入 1–" not in result.stdout and "Traceback" not in result.stderr
    assert "96110" in result.stdout.split("> 96110", 1)[1].split("> 明天", 1)[0]  # an answer about the hotline
    assert "还没找到相关的普法内容" in result.stdout  # a question no tip answers


def test_english_console(database: str, tmp_path: Path) -> None:
    result = chat(database, ["/help"], "zoe", "--lang", "en", data_dir=tmp_path)
    assert result.returncode == 0 and "Tap the buttons, or send one of these commands" in result.stdout
    assert "/topics topics" in result.stdout


def test_bad_content_directory_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    # One backend is enough: the content is read before the database is opened.
    env = {**os.environ, "BOT_DB": str(tmp_path / "db.sqlite3"), "BOT_CONTENT_DIR": str(tmp_path / "missing")}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat"],
        input="",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "content" in result.stderr


def test_sigterm_mid_session_loses_no_event(database: str, tmp_path: Path) -> None:
    """A graceful stop flushes buffered reach events, even while waiting for input."""
    import signal
    import time

    env = {**os.environ, "BOT_DB": database, "BOT_DATA_DIR": str(tmp_path), "BOT_CONTENT_DIR": str(CONTENT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat", "--user", "sam"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write("/tip\n/tip\n")
    process.stdin.flush()
    seen = ""
    deadline = time.monotonic() + 30
    while seen.count("依据：") < 2 and time.monotonic() < deadline:
        seen += process.stdout.readline()
    assert seen.count("依据：") == 2
    process.send_signal(signal.SIGTERM)  # stdin stays open: the console is blocked reading
    assert process.wait(timeout=20) == 0
    process.stdin.close()
    assert rows(database, tmp_path, "SELECT COUNT(*) FROM reach_events WHERE kind = 'tip'") == [(2,)]


def test_console_topic_quiz_shows_explanations_score_and_records_events(database: str, tmp_path: Path) -> None:
    result = chat(database, ["/quiz 宪法", "1", "1", "1", "1", "1"], "quizzer", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("解析：") == 5 and out.count("依据：") == 5
    assert "【答题完成】" in out and "得分：" in out
    verdicts = re.findall(r"【(✓ 答对了！|✗ 答错了。正确答案：[^】]+)】", out)
    assert len(verdicts) == 5
    events = rows(database, tmp_path, "SELECT kind, item_id, correct FROM reach_events ORDER BY id")
    assert [r[0] for r in events] == ["quiz_question", "quiz_answer"] * 5
    assert [bool(r[2]) for r in events[1::2]] == [v.startswith("✓") for v in verdicts]
    score = re.search(r"得分：(\d)/5", out)
    assert score and int(score.group(1)) == sum(v.startswith("✓") for v in verdicts)


def test_console_answers_questions_and_urgent_help_first(database: str, tmp_path: Path) -> None:
    result = chat(
        database, ["/start", "10", "有人叫我刷单赚佣金靠谱吗", "不好了我刚给骗子转了两万块"], data_dir=tmp_path
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    question_at = out.index("> 有人叫我刷单赚佣金靠谱吗")
    urgent_at = out.index("> 不好了我刚给骗子转了两万块")
    answer = out[question_at:urgent_at]
    assert "【刷单返利" in answer and "依据：" in answer
    urgent = out[urgent_at:]
    first_reply = urgent.split("\n", 3)[2]
    assert first_reply.startswith("【⚠️") and "110" in urgent
