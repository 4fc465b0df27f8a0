"""The sub-commands of `python -m bot`, one module per family; `bot.cli` assembles them.

Each module's `register(commands)` declares its sub-parsers next to their handlers. A handler takes the
parsed arguments and the settings and returns the exit code; it raises `common.UsageError` for a mistake in
the call (exit 2) and `common.Failure` for something that could not be done (exit 1).
"""
