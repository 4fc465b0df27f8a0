"""Storage: every piece of state that must survive a restart. All SQL lives in this package."""

from bot.storage.broadcasts import Audience, Broadcast, Outcome, Progress, Recipient
from bot.storage.quizzes import AnswerOutcome, PlaceScore, QuizSession
from bot.storage.sqlite import ReachEvent, Resident, Storage

__all__ = [
    "AnswerOutcome",
    "Audience",
    "Broadcast",
    "Outcome",
    "PlaceScore",
    "Progress",
    "QuizSession",
    "ReachEvent",
    "Recipient",
    "Resident",
    "Storage",
]
