"""The command line: help with an example everywhere, one clear line for mistakes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import build_parser

from .conftest import REPO


def run(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


def _commands(parser) -> list[list[str]]:  # type: ignore[no-untyped-def]
    found = []
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        for name, sub in action.choices.items():
            found.append([name])
            found.extend([name, *rest] for rest in _commands(sub))
    return found


@pytest.mark.parametrize("command", _commands(build_parser()), ids=lambda c: " ".join(c))
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.returncode == 0
    assert "example" in result.stdout and "python -m bot" in result.stdout


def test_top_level_help_lists_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for name in ("chat", "content", "run"):
        assert name in result.stdout


@pytest.mark.parametrize("args", [["frobnicate"], ["chat", "--lang", "fr"], ["content"], ["content", "nope"]])
def test_usage_mistakes_are_one_line_and_exit_2(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_bad_admin_setting_names_the_variable(tmp_path: Path) -> None:
    result = run("chat", env={"BOT_ADMINS": "12345"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "BOT_ADMINS" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_run_without_any_channel_says_what_to_set(tmp_path: Path) -> None:
    result = run("run", env={"TELEGRAM_BOT_TOKEN": ""}, cwd=tmp_path)
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "TELEGRAM_BOT_TOKEN" in line and "python -m bot chat" in line and len(line.splitlines()) == 1


def test_broadcast_commands_end_to_end(database: str, tmp_path: Path) -> None:
    env = {"BOT_DB": database, "BOT_DATA_DIR": str(tmp_path), "BOT_CONTENT_DIR": str(REPO / "content")}
    created = run(
        "broadcast",
        "send",
        "--text",
        "今晚放法治电影",
        "--to",
        "place:hexi-village",
        "--at",
        "2099-01-01 19:00",
        env=env,
        cwd=tmp_path,
    )
    assert created.returncode == 0 and created.stdout.strip() == "1"
    listed = run("broadcast", "list", env=env, cwd=tmp_path)
    assert "#1 scheduled 2099-01-01 19:00" in listed.stdout and "place:hexi-village" in listed.stdout
    status = run("broadcast", "status", "1", env=env, cwd=tmp_path)
    assert "pending 0" in status.stdout and "(scheduled)" in status.stdout
    assert run("broadcast", "cancel", "1", env=env, cwd=tmp_path).stdout.strip() == "cancelled #1"
    again = run("broadcast", "cancel", "1", env=env, cwd=tmp_path)
    assert again.returncode == 1 and "already finished or cancelled" in again.stderr
    missing = run("broadcast", "status", "99", env=env, cwd=tmp_path)
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1
    for bad in (["--text", "x", "--to", "village:1"], ["--text", "x", "--at", "tomorrow"], ["--item", "nope"]):
        result = run("broadcast", "send", *bad, env=env, cwd=tmp_path)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, bad


def test_campaigns_lists_upcoming_occurrences(database: str, tmp_path: Path) -> None:
    env = {"BOT_DB": database, "BOT_DATA_DIR": str(tmp_path), "BOT_CONTENT_DIR": str(REPO / "content")}
    result = run("campaigns", "--days", "400", env=env, cwd=tmp_path)
    assert result.returncode == 0
    assert "12-04 09:00  国家宪法日  (tip xf-xianfari; to all)  ok" in result.stdout
    assert "全国中小学生安全教育日" in result.stdout and "暑假防溺水每周提醒" in result.stdout
