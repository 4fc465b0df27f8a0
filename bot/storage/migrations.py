"""Ordered schema migrations. Each runs in one transaction together with its record.

Never edit a migration that has shipped: add a new one. Timestamps are unix seconds (UTC).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "residents and reach events",
        """
        CREATE TABLE residents (
            id INTEGER PRIMARY KEY,
            channel TEXT NOT NULL,
            external_id TEXT NOT NULL,
            display_name TEXT NOT NULL DEFAULT '',
            language TEXT,                          -- chosen language; NULL follows the client's
            place_id TEXT,
            place_asked INTEGER NOT NULL DEFAULT 0, -- onboarding asked for the place (answered or skipped)
            subscribed INTEGER NOT NULL DEFAULT 1,  -- 0 = "stop everything"
            blocked INTEGER NOT NULL DEFAULT 0,     -- the resident blocked the bot
            first_seen INTEGER NOT NULL,
            last_seen INTEGER NOT NULL,
            UNIQUE (channel, external_id)
        );

        -- Opt-outs rather than opt-ins, so a topic added later reaches everyone subscribed.
        CREATE TABLE topic_optouts (
            resident_id INTEGER NOT NULL REFERENCES residents(id) ON DELETE CASCADE,
            topic_id TEXT NOT NULL,
            PRIMARY KEY (resident_id, topic_id)
        ) WITHOUT ROWID;

        -- One row per delivery (人次). place_id is the resident's place at delivery time,
        -- so moving house does not rewrite last year's figures.
        CREATE TABLE reach_events (
            id INTEGER PRIMARY KEY,
            ts INTEGER NOT NULL,
            resident_id INTEGER NOT NULL REFERENCES residents(id),
            channel TEXT NOT NULL,
            kind TEXT NOT NULL
                CHECK (kind IN ('tip', 'quiz_question', 'quiz_answer', 'broadcast', 'answer')),
            topic_id TEXT,
            item_id TEXT,
            place_id TEXT,
            campaign_id TEXT,
            broadcast_id INTEGER,
            correct INTEGER
        );
        CREATE INDEX reach_events_ts ON reach_events (ts);
        CREATE INDEX reach_events_resident ON reach_events (resident_id, ts);
        """,
    ),
)
