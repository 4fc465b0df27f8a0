"""Storage: every piece of state that must survive a restart. All SQL lives in this package."""

from bot.storage.broadcasts import Audience, Broadcast, Outcome, Progress, Recipient
from bot.storage.db import Database, DatabaseBusy
from bot.storage.ledger import LedgerEntry
from bot.storage.questions import UnansweredQuestion
from bot.storage.quizzes import AnswerOutcome, PlaceScore, QuizSession, ResidentPoints
from bot.storage.reach import ReachEvent
from bot.storage.requests import HelpRequest
from bot.storage.residents import Resident
from bot.storage.storage import Storage
from bot.storage.windows import Window

__all__ = [
    "AnswerOutcome",
    "Audience",
    "Broadcast",
    "Database",
    "DatabaseBusy",
    "HelpRequest",
    "LedgerEntry",
    "Outcome",
    "PlaceScore",
    "Progress",
    "QuizSession",
    "ReachEvent",
    "Recipient",
    "Resident",
    "ResidentPoints",
    "Storage",
    "UnansweredQuestion",
    "Window",
]
