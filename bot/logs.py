"""Logging that never shows a secret.

PTB logs the Bot API URL (token included) at DEBUG and httpx logs every request URL
at INFO. Rather than trusting each library, every registered secret is replaced in
each record's message and arguments as the record is created (so every handler,
test capture included, sees the redacted text), and `RedactingFormatter` also cleans
formatted tracebacks.
"""

from __future__ import annotations

import logging
from typing import Any

MASK = "***"
_secrets: set[str] = set()
_factory_installed = False


def protect(secret: str) -> None:
    """Never log `secret` (nor, for a bot token, the part after the colon)."""
    global _factory_installed
    for value in (secret, secret.partition(":")[2]):
        if len(value) >= 6:  # masking very short strings would garble ordinary text
            _secrets.add(value)
    if not _factory_installed:
        _install_factory()
        _factory_installed = True


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    text = str(value)
    cleaned = redact(text)
    return cleaned if cleaned != text else value


def _install_factory() -> None:
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _secrets:
            record.msg = _clean(record.msg)
            if isinstance(record.args, tuple):
                record.args = tuple(_clean(a) for a in record.args)
            elif isinstance(record.args, dict):
                record.args = {k: _clean(v) for k, v in record.args.items()}
        return record

    logging.setLogRecordFactory(factory)


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
