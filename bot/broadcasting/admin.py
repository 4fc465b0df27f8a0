"""Moved to `bot.core.broadcast_requests` (kept only while the command modules are being split)."""

from bot.core.broadcast_requests import *  # noqa: F403
from bot.core.broadcast_requests import describe, eta_seconds, local_timestamp  # noqa: F401
