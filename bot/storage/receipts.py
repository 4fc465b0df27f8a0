"""Delivery receipts: the platform's id of each counted message, so that a late failure reverses its count.

微信客服's send_msg answers errcode 0 with a msgid, which is not delivery: a `msg_send_fail` event may follow
(the customer refused it, the session ended). The reach event was counted when the send succeeded; the receipt
names it, and `reverse` takes it back out of the log, the monthly roll-ups and, for a broadcast, the recipient's
outcome — so the report never counts a message nobody received.
"""

from __future__ import annotations

from bot.storage.db import Database, Transaction
from bot.storage.reach import SEEN, ReachEvent, ReachLog, local_month

KEEP = 7 * 86400  # msg_send_fail comes within seconds or minutes; a week is plenty


class ReceiptStore:
    def __init__(self, db: Database, reach: ReachLog) -> None:
        self._db = db
        self._reach = reach

    async def remember(self, receipt: str, event: ReachEvent) -> None:
        """`event` must carry its `ts` (the same one the reach log writes)."""
        assert event.ts is not None, "a receipt names an event by its time"
        now = self._db.now()
        async with self._db.atomic() as tx:
            await tx.execute(
                "INSERT INTO delivery_receipts (channel, receipt, ts, resident_id, kind, item_id,"
                " broadcast_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (event.channel, receipt, event.ts, event.resident_id, event.kind, event.item_id, event.broadcast_id),
            )
            if now % 50 == 0:  # now and then, forget old receipts
                await tx.execute("DELETE FROM delivery_receipts WHERE ts < ?", (now - KEEP,))

    async def reverse(self, channel: str, receipt: str) -> int:
        """Take back the deliveries this receipt counted (one message may carry several replies); how many."""
        await self._reach.flush()  # the events may still be in the buffer
        reversed_count = 0
        async with self._db.atomic() as tx:
            rows = await tx.fetchall(
                "SELECT ts, resident_id, kind, item_id, broadcast_id FROM delivery_receipts"
                " WHERE channel = ? AND receipt = ?",
                (channel, receipt),
            )
            await tx.execute("DELETE FROM delivery_receipts WHERE channel = ? AND receipt = ?", (channel, receipt))
            for ts, resident_id, kind, item_id, broadcast_id in rows:
                reversed_count += await self._reverse_one(tx, channel, ts, resident_id, kind, item_id, broadcast_id)
        return reversed_count

    async def _reverse_one(
        self,
        tx: Transaction,
        channel: str,
        ts: int,
        resident_id: int,
        kind: str,
        item_id: str | None,
        broadcast_id: int | None,
    ) -> int:
        event = await tx.fetchone(
            "SELECT id, topic_id, place_id FROM reach_events WHERE resident_id = ? AND channel = ? AND kind = ?"
            " AND ts = ? AND item_id IS NOT DISTINCT FROM ? AND broadcast_id IS NOT DISTINCT FROM ? LIMIT 1",
            (resident_id, channel, kind, ts, item_id, broadcast_id),
        )
        if event is None:
            return 0
        event_id, topic_id, place_id = event
        await tx.execute("DELETE FROM reach_events WHERE id = ?", (event_id,))
        month = "strftime('%Y-%m', CAST(? AS BIGINT) + CAST(? AS BIGINT), 'unixepoch')"  # as the roll-up counted it
        key = (ts, self._db.zone_offset, resident_id, topic_id or "", place_id or "", channel)
        where = f"month = {month} AND resident_id = ? AND topic_id = ? AND place_id = ? AND channel = ?"
        await tx.execute(f"UPDATE reach_monthly SET deliveries = deliveries - 1 WHERE {where}", key)
        await tx.execute(f"DELETE FROM reach_monthly WHERE {where} AND deliveries <= 0", key)
        mark = await tx.fetchone("SELECT last_event_id FROM rollup_marks WHERE name = 'year'")
        if mark is not None and event_id <= int(mark[0]):  # the year's roll-ups hold it (else they never will)
            await self._take_from_years(tx, ts, resident_id, kind, topic_id, place_id, channel)
        if kind == "broadcast" and broadcast_id is not None:
            await tx.execute(
                "UPDATE broadcast_recipients SET status = 'failed', reason = 'msg_send_fail', updated_at = ?"
                " WHERE broadcast_id = ? AND resident_id = ? AND status = 'delivered'",
                (self._db.now(), broadcast_id, resident_id),
            )
        return 1

    async def _take_from_years(
        self,
        tx: Transaction,
        ts: int,
        resident_id: int,
        kind: str,
        topic_id: str | None,
        place_id: str | None,
        channel: str,
    ) -> None:
        """The year's roll-ups and counters without one delivery they hold."""
        month = "strftime('%Y-%m', CAST(? AS BIGINT) + CAST(? AS BIGINT), 'unixepoch')"
        key = (ts, self._db.zone_offset, resident_id, topic_id or "", place_id or "", channel)
        year = "strftime('%Y', CAST(? AS BIGINT) + CAST(? AS BIGINT), 'unixepoch')"
        where = f"year = {year} AND resident_id = ? AND topic_id = ? AND place_id = ? AND channel = ?"
        await tx.execute(
            f"UPDATE reach_yearly SET deliveries = deliveries - 1, quiz_answers = quiz_answers - ? WHERE {where}",
            (int(kind == "quiz_answer"), *key),
        )
        await tx.execute(f"DELETE FROM reach_yearly WHERE {where} AND deliveries <= 0", key)
        key = (ts, self._db.zone_offset, resident_id, place_id or "")
        where = f"month = {month} AND resident_id = ? AND place_id = ?"
        await tx.execute(f"UPDATE reach_resident_months SET deliveries = deliveries - 1 WHERE {where}", key)
        await tx.execute(f"DELETE FROM reach_resident_months WHERE {where} AND deliveries <= 0", key)
        await self._uncount(tx, ts, resident_id, kind, {"topic": topic_id, "place": place_id, "channel": channel})

    async def _uncount(
        self, tx: Transaction, ts: int, resident_id: int, kind: str, keys: dict[str, str | None]
    ) -> None:
        """The year's counters without the delivery: one fewer delivery, and one fewer resident where the roll-ups
        (already without it) no longer show the resident."""
        month = local_month(ts, self._db.zone_offset)
        year = month[:4]
        counters = [("all", "", year, ()), ("month", month, month, ())]
        counters += [(dimension, key or "", year, (key or "",)) for dimension, key in keys.items()]
        if kind == "quiz_answer":
            counters.append(("quiz", "", year, ()))
        await tx.execute(
            "DELETE FROM reach_year_places WHERE year = ? AND place_id = ? AND resident_id = ?"
            f" AND NOT EXISTS ({SEEN['place']})",
            (year, keys["place"] or "", resident_id, year, resident_id, keys["place"] or ""),
        )
        for dimension, key, period, where in counters:
            await tx.execute(
                "UPDATE reach_year_counts SET deliveries = deliveries - 1,"
                f" reached = reached - CASE WHEN EXISTS ({SEEN[dimension]}) THEN 0 ELSE 1 END"
                " WHERE year = ? AND dimension = ? AND key = ?",
                (period, resident_id, *where, year, dimension, key),
            )
