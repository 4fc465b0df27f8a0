"""Storage: every piece of state that must survive a restart. All SQL lives in this package."""

from bot.storage.sqlite import ReachEvent, Resident, Storage

__all__ = ["ReachEvent", "Resident", "Storage"]
