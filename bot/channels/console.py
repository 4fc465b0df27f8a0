"""The console channel: the same core in a terminal, scriptable through stdin.

Buttons are shown as numbered choices; typing a number presses the button. When
stdin is not a terminal each input line is echoed, so a piped session reads as a
transcript. End of input ends the session cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from pathlib import Path
from typing import TextIO

from bot.core.engine import Core
from bot.core.events import Button, Document, Image, Incoming, Question, Reply, Text, Toast
from bot.i18n import normalize_language, translator

CHANNEL = "console"


class ConsoleChat:
    def __init__(
        self, core: Core, user: str, language: str | None, stdin: TextIO, stdout: TextIO, downloads: Path
    ) -> None:
        self.core = core
        self.user = user
        self.language = language
        self.stdin = stdin
        self.stdout = stdout
        self.downloads = downloads
        self.buttons: list[Button] = []
        self.echo = not stdin.isatty()

    async def run(self) -> None:
        t = translator(normalize_language(self.language))
        if not self.echo:
            self._print(t("console.banner"))
            self._print(t("console.not_counted"))  # a newcomer's trial shows in no report: say so, and where to look
        lines = self._read_lines_in_background()
        while True:
            if not self.echo:
                self.stdout.write("> ")
                self.stdout.flush()
            line = await lines.get()
            if line is None:
                break
            line = line.rstrip("\r\n")
            if self.echo:
                self._print(f"> {line}")
            event = self._event(line)
            if event is None:
                continue
            await self.core.respond(event, self._send)

    def _read_lines_in_background(self) -> asyncio.Queue[str | None]:
        """Feed stdin lines into a queue from a daemon thread.

        A daemon thread, not asyncio.to_thread: a blocked readline must not keep the process
        alive after Ctrl-C or SIGTERM (the default executor is joined at exit).
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()

        def pump() -> None:
            try:
                for line in iter(self.stdin.readline, ""):
                    loop.call_soon_threadsafe(queue.put_nowait, line)
            except (OSError, ValueError):
                pass
            finally:
                with contextlib.suppress(RuntimeError):  # the loop may already be closed
                    loop.call_soon_threadsafe(queue.put_nowait, None)

        threading.Thread(target=pump, name="console-stdin", daemon=True).start()
        return queue

    def _event(self, line: str) -> Incoming | None:
        details = {"display_name": self.user, "language": self.language}
        stripped = line.strip()
        if stripped.isascii() and stripped.isdigit() and self.buttons and 1 <= int(stripped) <= len(self.buttons):
            return Incoming(CHANNEL, self.user, button=self.buttons[int(stripped) - 1].payload, **details)
        # Any other text, a number like 96110 included, is a message: the core reads it as a question.
        return Incoming.from_text(CHANNEL, self.user, line, **details)

    async def _send(self, reply: Reply) -> bool:
        t = translator(normalize_language(self.language))
        if isinstance(reply, Toast):
            self._print(f"  ✓ {reply.text}")
        elif isinstance(reply, Text | Question):
            self._print("")
            if reply.title:
                self._print(f"【{reply.title}】")
            self._print(reply.body)
            self._show_buttons(reply.buttons)
        elif isinstance(reply, Image):
            self._print("")
            if reply.title:
                self._print(f"【{reply.title}】")
            self._print(t("console.image", path=reply.path))
            if reply.caption:
                self._print(reply.caption)
            self._show_buttons(reply.buttons)
        elif isinstance(reply, Document):
            self.downloads.mkdir(parents=True, exist_ok=True)
            target = self.downloads / Path(reply.filename).name
            target.write_bytes(reply.data)
            self._print(t("console.document", path=target))
        return True

    def _show_buttons(self, keyboard: tuple[tuple[Button, ...], ...]) -> None:
        if not keyboard:
            return
        self.buttons = [button for row in keyboard for button in row]
        number = 0
        for row in keyboard:
            cells = []
            for button in row:
                number += 1
                cells.append(f"[{number}] {button.label}")
            self._print("  " + "   ".join(cells))

    def _print(self, text: str) -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()


async def chat(
    core: Core,
    user: str,
    language: str | None,
    downloads: Path,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> None:
    session = ConsoleChat(core, user, language, stdin or sys.stdin, stdout or sys.stdout, downloads)
    await session.run()
