"""Simulated residents for `python -m bot demo`: each step is a real event through `Core.respond`.

A `Visitor` talks to the core as a WeCom user would — a command, a question typed, a button pressed on the
last keyboard it was shown — so the demo year goes through the same routes, quizzes, reach log and roll-ups as
a real one. `DemoWeCom` is the channel the broadcast worker delivers to: it implements the channel contract
(`bot/core/sending.py`), keeps each resident's last broadcast (so a visitor can press its topic button), and
answers "blocked" for residents who have left.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from bot.config import Identity
from bot.core.engine import Core
from bot.core.events import Button, Incoming, Question, Reply
from bot.core.payloads import Action, decode, encode
from bot.core.sending import DELIVERED, SendResult, SendStatus

CHANNEL = "wecom"  # not the console: console chats are left out of every statistic


class DemoWeCom:
    """The channel contract, delivering to simulated residents: records, never sends."""

    name = CHANNEL
    bulk_size = 1000  # WeCom's touser takes up to 1,000 members a call

    def __init__(self) -> None:
        self.left: set[str] = set()  # user ids who left WeCom: deliveries come back blocked
        self.inbox: dict[str, tuple[Reply, ...]] = {}  # each resident's last broadcast
        self.delivered = 0
        self.recipients: list[str] = []  # of the last deliver_many call, delivered only

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def deliver(self, to: Identity, replies: Sequence[Reply]) -> SendResult:
        if to.external_id in self.left:
            return SendResult(SendStatus.BLOCKED, "not a member any more")
        self.inbox[to.external_id] = tuple(replies)
        self.delivered += 1
        return DELIVERED

    async def deliver_many(self, to: Sequence[Identity], replies: Sequence[Reply]) -> dict[Identity, SendResult]:
        results = {who: await self.deliver(who, replies) for who in to}
        self.recipients = [who.external_id for who, result in results.items() if result.delivered]
        return results


class Visitor:
    """One resident in a WeCom chat with the bot. `pause(seconds)` moves the simulated clock between steps."""

    def __init__(self, core: Core, user_id: str, name: str, rng: random.Random, pause: Callable[[float], None]) -> None:
        self.core = core
        self.user_id = user_id
        self.name = name
        self.rng = rng
        self.pause = pause
        self.shown: list[Reply] = []  # the replies of the last step
        self.buttons: list[Button] = []  # the last keyboard
        self.steps = 0

    # -- one step ------------------------------------------------------------------------------

    async def _go(self, event: Incoming) -> list[Reply]:
        self.pause(self.rng.uniform(4, 30))  # reading, thinking, typing
        shown: list[Reply] = []

        async def send(reply: Reply) -> bool:
            shown.append(reply)
            return True

        await self.core.respond(event, send)
        self.steps += 1
        self.shown = shown
        keyboards = [b for reply in shown for row in getattr(reply, "buttons", ()) for b in row]
        if keyboards:
            self.buttons = keyboards
        return shown

    async def say(self, text: str) -> list[Reply]:
        return await self._go(Incoming.from_text(CHANNEL, self.user_id, text, display_name=self.name, language="zh"))

    async def command(self, name: str, args: str = "") -> list[Reply]:
        return await self._go(
            Incoming(CHANNEL, self.user_id, display_name=self.name, language="zh", command=name, args=args)
        )

    async def press(self, payload: str) -> list[Reply]:
        return await self._go(Incoming(CHANNEL, self.user_id, display_name=self.name, language="zh", button=payload))

    def button(self, action: Action, arg: str | None = None) -> str | None:
        """The payload of a button with this action (and argument) on the last keyboard, if there is one."""
        for button in self.buttons:
            payload = decode(button.payload)
            if payload is not None and payload.action is action and (arg is None or payload.args[:1] == (arg,)):
                return button.payload
        return None

    async def press_if_shown(self, action: Action, arg: str | None = None) -> bool:
        payload = self.button(action, arg)
        if payload is None:
            return False
        await self.press(payload)
        return True

    # -- what residents do ---------------------------------------------------------------------

    async def visit(self, kind: str, topic_id: str, accuracy: float) -> None:
        """One ordinary visit (the kinds of `bot.reporting.demo.Kind`)."""
        if kind == "read":
            await self.read(topic_id, self.rng.choice((0, 1, 1, 2, 3)))
        elif kind == "daily_tip":
            await self.command("tip")
        elif kind == "daily_quiz":
            await self.quiz(encode(Action.DAILY_QUIZ), accuracy)
        elif kind == "topic_quiz":
            await self.quiz(encode(Action.QUIZ_TOPIC, topic_id), accuracy)
        elif kind == "review":
            await self.quiz(encode(Action.REVIEW), min(0.97, accuracy + 0.1))  # second time round, they know more
        elif kind == "ask" and (question := self.question_about(topic_id)):
            await self.ask(question)
        else:
            await self.command("rank")

    def question_about(self, topic_id: str) -> str | None:
        """Something a resident might ask about the topic, in their own words (the tips' `asks`)."""
        topic = self.core.content.catalog.topic(topic_id)
        asks = [ask for tip in topic.tips for ask in tip.asks] if topic else []
        return self.rng.choice(asks) if asks else None

    def dispute(self) -> str | None:
        """A word of a dispute the tips do not cover (`content/office.yaml`)."""
        office = self.core.content.catalog.office
        kinds = [kind for kind in office.disputes if kind.keywords] if office else []
        return self.rng.choice(self.rng.choice(kinds).keywords) if kinds else None

    async def join(self, arrival: str, place_id: str | None, first_question: str | None) -> None:
        """The first contact: a village's QR code, the picker after /start, or a question first."""
        if arrival == "qr" and place_id:
            await self.command("start", place_id)
            return
        if arrival == "question" and first_question:
            await self.say(first_question)
        else:
            await self.command("start")
        if place_id is not None:
            for _ in range(5):  # page through the picker to their place
                if await self.press_if_shown(Action.SET_PLACE, place_id) or not await self.press_if_shown(
                    Action.PLACES
                ):
                    break
        elif arrival == "skip":
            await self.press_if_shown(Action.SKIP_PLACE)

    async def read(self, topic_id: str, pages: int, from_broadcast: bool = False) -> None:
        """Open a topic (from the menu, or the button under a broadcast) and page on through some of its tips."""
        if not from_broadcast:
            await self.command("topics")
        if not await self.press_if_shown(Action.TOPIC, topic_id):
            return
        read: set[str | None] = set()
        for _ in range(pages):
            read |= {r.delivery.item_id for r in self.shown if getattr(r, "delivery", None) is not None}
            unread = [
                p.arg
                for b in self.buttons
                if (p := decode(b.payload)) is not None and p.action is Action.TIP and p.arg not in read
            ]
            if not unread:
                break
            await self.press(encode(Action.TIP, unread[-1]))

    async def read_broadcast(self, broadcast: Sequence[Reply], pages: int) -> None:
        """Press the topic button under a broadcast received, as many do on a campaign day."""
        self.buttons = [b for reply in broadcast for row in getattr(reply, "buttons", ()) for b in row]
        topic = self.button(Action.TOPIC)
        payload = decode(topic) if topic else None
        if payload is not None:
            await self.read(payload.arg, pages, from_broadcast=True)

    async def quiz(self, start: str, accuracy: float, give_up: float = 0.08) -> int:
        """Start a quiz by `start` (a payload) and answer until it ends, or until the resident drifts away
        (`give_up`: the chance of leaving it unfinished); how many questions were answered."""
        await self.press(start)
        leave_after = self.rng.randint(1, 4) if self.rng.random() < give_up else None
        answered = 0
        while answered != leave_after:
            question = next((r for r in reversed(self.shown) if isinstance(r, Question)), None)
            if question is None:
                break
            if self.rng.random() < accuracy:
                choice = question.correct
            else:
                choice = self.rng.choice([i for i in range(len(question.options)) if i != question.correct])
            await self.press(question.payloads[choice])
            answered += 1
        return answered

    async def ask(self, question: str) -> None:
        """Type a question; when the bot asks back 「您是想问……」, take the first suggestion."""
        await self.say(question)
        if self.rng.random() < 0.7:
            await self.press_if_shown(Action.TIP)

    async def ask_office(self, question: str) -> None:
        """A dispute the tips do not cover: ask the office to call back, without leaving a number."""
        await self.say(question)
        if await self.press_if_shown(Action.REQUEST_CALLBACK):
            await self.press_if_shown(Action.REQUEST_NO_PHONE)

    async def unsubscribe(self) -> None:
        await self.command("unsubscribe")

    async def resubscribe(self) -> None:
        await self.command("subscribe")

    async def opt_out(self, topic_id: str) -> None:
        """Stop one topic's reminders from the subscriptions screen."""
        await self.press(encode(Action.SUBSCRIPTIONS))
        await self.press_if_shown(Action.TOGGLE_TOPIC, topic_id)
