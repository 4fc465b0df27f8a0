"""`python -m bot run`: every configured channel in one event loop."""

from __future__ import annotations

from bot.config import Settings


class ChannelsMissing(Exception):
    """No channel is configured."""


async def serve(settings: Settings) -> None:
    if not settings.telegram_token:
        raise ChannelsMissing(
            "no channel configured: set TELEGRAM_BOT_TOKEN to serve Telegram "
            "(to try the bot without any token: python -m bot chat)"
        )
    raise ChannelsMissing("the Telegram channel is not built yet")
