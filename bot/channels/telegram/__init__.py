"""The Telegram channel, on python-telegram-bot. Translation only: the core decides what to say."""

import os

# Opt in to PTB's future behaviour (RetryAfter.retry_after as a timedelta) and so avoid its
# deprecation warning on every 429; our code reads both forms.
os.environ.setdefault("PTB_TIMEDELTA", "1")
