"""Storage: every piece of state that must survive a restart. All SQL lives in this package."""

from bot.storage.quizzes import AnswerOutcome, PlaceScore, QuizSession
from bot.storage.sqlite import ReachEvent, Resident, Storage

__all__ = ["AnswerOutcome", "PlaceScore", "QuizSession", "ReachEvent", "Resident", "Storage"]
