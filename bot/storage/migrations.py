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
    Migration(
        2,
        "quizzes, leaderboard names and certificates",
        """
        ALTER TABLE residents ADD COLUMN public_name TEXT;  -- opt-in name on leaderboards and certificates

        -- One quiz a resident takes. question_ids and option_orders are JSON lists fixed at the start, so
        -- a restart resumes exactly the same question with the same option order.
        CREATE TABLE quiz_sessions (
            id INTEGER PRIMARY KEY,
            resident_id INTEGER NOT NULL REFERENCES residents(id),
            mode TEXT NOT NULL CHECK (mode IN ('topic', 'daily', 'review')),
            topic_id TEXT,
            day TEXT,                                -- YYYY-MM-DD of a daily quiz
            question_ids TEXT NOT NULL,
            option_orders TEXT NOT NULL,
            position INTEGER NOT NULL DEFAULT 0,     -- index of the question being asked
            correct INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'finished', 'abandoned')),
            place_id TEXT,                           -- the resident's place when the quiz started
            channel TEXT NOT NULL,
            started_at INTEGER NOT NULL,
            finished_at INTEGER
        );
        CREATE INDEX quiz_sessions_resident ON quiz_sessions (resident_id, status);
        CREATE UNIQUE INDEX quiz_sessions_one_daily ON quiz_sessions (resident_id, day) WHERE mode = 'daily';

        -- The primary key makes a double tap on an answer count once.
        CREATE TABLE quiz_answers (
            session_id INTEGER NOT NULL REFERENCES quiz_sessions(id),
            position INTEGER NOT NULL,
            resident_id INTEGER NOT NULL REFERENCES residents(id),
            question_id TEXT NOT NULL,
            chosen INTEGER NOT NULL,                 -- index into the question's options as written
            correct INTEGER NOT NULL,
            answered_at INTEGER NOT NULL,
            PRIMARY KEY (session_id, position)
        );
        CREATE INDEX quiz_answers_resident ON quiz_answers (resident_id, question_id, answered_at);

        -- Native quiz polls: which button payload each poll option stands for (channel-neutral).
        CREATE TABLE poll_payloads (
            poll_id TEXT PRIMARY KEY,
            payloads TEXT NOT NULL,
            created_at INTEGER NOT NULL
        );
        """,
    ),
    Migration(
        3,
        "broadcasts, their recipients, campaign occurrences and admin drafts",
        """
        -- A broadcast: content, audience (JSON filters) and when to send. `occurrence` is set for
        -- calendar campaigns ("campaign-id@YYYY-MM-DD"); UNIQUE makes each occurrence fire once, across
        -- restarts and across several bot processes on one database.
        CREATE TABLE broadcasts (
            id INTEGER PRIMARY KEY,
            created_at INTEGER NOT NULL,
            created_by TEXT NOT NULL,
            item_id TEXT,
            text TEXT,
            image TEXT,
            topic_id TEXT,
            audience TEXT NOT NULL,
            send_at INTEGER NOT NULL,
            status TEXT NOT NULL DEFAULT 'scheduled'
                CHECK (status IN ('scheduled', 'sending', 'done', 'cancelled')),
            campaign_id TEXT,
            occurrence TEXT UNIQUE,
            targeted INTEGER NOT NULL DEFAULT 0,
            lease_owner TEXT,                  -- the process sending it
            lease_until INTEGER,               -- another process may take over after this
            started_at INTEGER,
            finished_at INTEGER
        );
        CREATE INDEX broadcasts_due ON broadcasts (status, send_at);

        -- The persisted queue: one row per recipient, ending delivered, blocked, failed or cancelled.
        CREATE TABLE broadcast_recipients (
            broadcast_id INTEGER NOT NULL REFERENCES broadcasts(id),
            resident_id INTEGER NOT NULL REFERENCES residents(id),
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'delivered', 'blocked', 'failed', 'cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0,
            reason TEXT,
            updated_at INTEGER,
            PRIMARY KEY (broadcast_id, resident_id)
        ) WITHOUT ROWID;
        CREATE INDEX broadcast_recipients_status ON broadcast_recipients (broadcast_id, status);

        -- An admin's /broadcast dialog in progress, so a restart does not lose it.
        CREATE TABLE admin_drafts (
            resident_id INTEGER PRIMARY KEY REFERENCES residents(id),
            data TEXT NOT NULL,
            updated_at INTEGER NOT NULL
        );

        -- Notices already given (e.g. "campaign content missing"), so each is given once.
        CREATE TABLE admin_notices (
            key TEXT PRIMARY KEY,
            created_at INTEGER NOT NULL
        );
        """,
    ),
    Migration(
        4,
        "the publicity ledger (offline activities)",
        """
        -- 普法台账: offline activities an admin records (进村宣传, 发放资料, 村村响广播, ...).
        CREATE TABLE ledger (
            id INTEGER PRIMARY KEY,
            day TEXT NOT NULL,                 -- YYYY-MM-DD
            type TEXT NOT NULL,
            place_id TEXT,
            topic_id TEXT,
            count INTEGER NOT NULL CHECK (count >= 0),
            note TEXT NOT NULL DEFAULT '',
            created_at INTEGER NOT NULL,
            created_by TEXT NOT NULL
        );
        CREATE INDEX ledger_day ON ledger (day);
        """,
    ),
    Migration(
        5,
        "monthly roll-ups of the event log for fast statistics",
        """
        -- Kept in the same transaction as every event written (see Storage), so statistics for whole months
        -- read these small tables instead of millions of events. Months are in the town's time zone.
        -- Console events (local trials) are never rolled up: statistics leave them out.
        CREATE TABLE reach_monthly (
            month TEXT NOT NULL,
            resident_id INTEGER NOT NULL,
            topic_id TEXT NOT NULL,          -- '' when the event has no topic
            place_id TEXT NOT NULL,          -- '' when the resident had no place
            channel TEXT NOT NULL,
            deliveries INTEGER NOT NULL,
            PRIMARY KEY (month, resident_id, topic_id, place_id, channel)
        ) WITHOUT ROWID;
        CREATE TABLE quiz_monthly (
            month TEXT NOT NULL,
            question_id TEXT NOT NULL,
            place_id TEXT NOT NULL,
            answers INTEGER NOT NULL,
            correct INTEGER NOT NULL,
            PRIMARY KEY (month, question_id, place_id)
        ) WITHOUT ROWID;
        CREATE TABLE quiz_participants_monthly (
            month TEXT NOT NULL,
            resident_id INTEGER NOT NULL,
            PRIMARY KEY (month, resident_id)
        ) WITHOUT ROWID;
        INSERT INTO reach_monthly
            SELECT strftime('%Y-%m', ts + 28800, 'unixepoch'), resident_id, COALESCE(topic_id, ''),
                   COALESCE(place_id, ''), channel, COUNT(*)
            FROM reach_events WHERE channel != 'console' GROUP BY 1, 2, 3, 4, 5;
        INSERT INTO quiz_monthly
            SELECT strftime('%Y-%m', ts + 28800, 'unixepoch'), item_id, COALESCE(place_id, ''), COUNT(*),
                   SUM(correct)
            FROM reach_events WHERE kind = 'quiz_answer' AND channel != 'console' GROUP BY 1, 2, 3;
        INSERT INTO quiz_participants_monthly
            SELECT DISTINCT strftime('%Y-%m', ts + 28800, 'unixepoch'), resident_id
            FROM reach_events WHERE kind = 'quiz_answer' AND channel != 'console';
        """,
    ),
    Migration(
        6,
        "covering indexes for statistics over whole months",
        """
        -- Each breakdown over whole months scans one of these in (key, resident) order, so SQLite needs no
        -- sort for GROUP BY nor a temporary B-tree for counting distinct residents (docs/benchmarks.md).
        CREATE INDEX reach_monthly_resident ON reach_monthly (resident_id, month, deliveries);
        CREATE INDEX reach_monthly_topic ON reach_monthly (topic_id, resident_id, month, deliveries);
        CREATE INDEX reach_monthly_place ON reach_monthly (place_id, resident_id, month, deliveries);
        CREATE INDEX reach_monthly_channel ON reach_monthly (channel, resident_id, month, deliveries);
        """,
    ),
    Migration(
        7,
        "questions the bot could not answer",
        """
        -- What residents ask that no tip answers, for editors (python -m bot questions). No resident id:
        -- only the normalised question, how often and when.
        CREATE TABLE unanswered (
            question TEXT PRIMARY KEY,
            asked INTEGER NOT NULL,
            first_asked INTEGER NOT NULL,
            last_asked INTEGER NOT NULL
        ) WITHOUT ROWID;
        """,
    ),
    Migration(
        8,
        "callbacks already handled",
        """
        -- WeCom retries a callback it got no 200 for within 5 s: a retry must never produce a second reply
        -- or a second reach event, even across a restart. Keys are pruned after a day.
        CREATE TABLE callback_seen (
            key TEXT PRIMARY KEY,
            at INTEGER NOT NULL
        ) WITHOUT ROWID;
        """,
    ),
    Migration(
        9,
        "legal-service requests",
        """
        -- 群众诉求: a resident asked the judicial office to contact them (bot/storage/requests.py).
        -- The phone is personal data: shown to admins, exported only on an explicit personal export.
        CREATE TABLE help_requests (
            id INTEGER PRIMARY KEY,
            created_at INTEGER NOT NULL,
            resident_id INTEGER NOT NULL REFERENCES residents (id),
            channel TEXT NOT NULL,
            place_id TEXT,
            dispute_id TEXT,
            question TEXT NOT NULL DEFAULT '',
            phone TEXT,
            status TEXT NOT NULL CHECK (status IN ('offered', 'awaiting_phone', 'open', 'done')),
            done_at INTEGER,
            done_by TEXT
        );
        CREATE INDEX help_requests_status ON help_requests (status, created_at);
        CREATE INDEX help_requests_resident ON help_requests (resident_id, status);
        """,
    ),
    Migration(
        10,
        "conversation windows and deferred broadcasts (微信客服)",
        """
        -- 微信客服 lets the bot write to a customer only within 48 hours of their last message, five messages
        -- at most: a broadcast to someone outside it is 'out_of_window' (never counted as delivered) and may wait,
        -- until deferred_until, to go out with the reply to their next message. SQLite cannot change a CHECK
        -- constraint in place: the table is rebuilt.
        CREATE TABLE broadcast_recipients_new (
            broadcast_id INTEGER NOT NULL REFERENCES broadcasts(id),
            resident_id INTEGER NOT NULL REFERENCES residents(id),
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'delivered', 'blocked', 'failed', 'cancelled', 'out_of_window')),
            attempts INTEGER NOT NULL DEFAULT 0,
            reason TEXT,
            updated_at INTEGER,
            deferred_until INTEGER,
            PRIMARY KEY (broadcast_id, resident_id)
        ) WITHOUT ROWID;
        INSERT INTO broadcast_recipients_new (broadcast_id, resident_id, status, attempts, reason, updated_at)
            SELECT broadcast_id, resident_id, status, attempts, reason, updated_at FROM broadcast_recipients;
        DROP TABLE broadcast_recipients;
        ALTER TABLE broadcast_recipients_new RENAME TO broadcast_recipients;
        CREATE INDEX broadcast_recipients_status ON broadcast_recipients (broadcast_id, status);
        CREATE INDEX broadcast_recipients_deferred ON broadcast_recipients (resident_id, deferred_until)
            WHERE deferred_until IS NOT NULL;

        -- Per customer: when they last wrote and how many messages we sent since (the 5-per-48-hours budget).
        CREATE TABLE conversation_windows (
            channel TEXT NOT NULL,
            external_id TEXT NOT NULL,
            opened_at INTEGER NOT NULL,
            sent INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (channel, external_id)
        ) WITHOUT ROWID;

        -- 微信客服 answers a send with errcode 0 and a msgid, and later perhaps msg_send_fail for it: each counted
        -- delivery's msgid is kept for a while, so that a failure reverses exactly the reach event it counted.
        CREATE TABLE delivery_receipts (
            channel TEXT NOT NULL,
            receipt TEXT NOT NULL,
            ts INTEGER NOT NULL,
            resident_id INTEGER NOT NULL,
            kind TEXT NOT NULL,
            item_id TEXT,
            broadcast_id INTEGER
        );
        CREATE INDEX delivery_receipts_receipt ON delivery_receipts (channel, receipt);

        -- Where a channel's message pull stopped (微信客服 sync_msg's cursor per kf account).
        CREATE TABLE channel_cursors (
            key TEXT PRIMARY KEY,
            cursor TEXT NOT NULL,
            updated_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        """,
    ),
    Migration(
        11,
        "a ledger the office can correct: more fields, soft deletion, duplicates refused, an audit log",
        """
        -- 普法台账 rows as offices keep them: an activity's name, 地点 as free text when it is not a place of
        -- places.yaml, 主讲人, 组织单位, and evidence (a JSON list of files copied under the data directory).
        ALTER TABLE ledger ADD COLUMN title TEXT NOT NULL DEFAULT '';
        ALTER TABLE ledger ADD COLUMN location TEXT NOT NULL DEFAULT '';
        ALTER TABLE ledger ADD COLUMN speaker TEXT NOT NULL DEFAULT '';
        ALTER TABLE ledger ADD COLUMN organiser TEXT NOT NULL DEFAULT '';
        ALTER TABLE ledger ADD COLUMN evidence TEXT NOT NULL DEFAULT '[]';

        -- A deleted row stays, with who deleted it and when, so the deletion can be undone; no figure counts it.
        ALTER TABLE ledger ADD COLUMN deleted_at INTEGER;
        ALTER TABLE ledger ADD COLUMN deleted_by TEXT;

        -- The natural key (day, type, place or location, topic, count, title) joined by char(31), exactly as
        -- bot/storage/ledger.py builds it: the same activity typed or imported twice is recorded once. Rows
        -- already doubled before this migration keep a NULL fingerprint after the first, and stay listed.
        ALTER TABLE ledger ADD COLUMN fingerprint TEXT;
        UPDATE ledger SET fingerprint = day || char(31) || type || char(31) || COALESCE(place_id, '') || char(31)
                || COALESCE(topic_id, '') || char(31) || count || char(31)
            WHERE id IN (SELECT MIN(id) FROM ledger GROUP BY day, type, place_id, topic_id, count);
        CREATE UNIQUE INDEX ledger_fingerprint ON ledger (fingerprint);

        -- Every change to the ledger: who (an admin's channel:id, or cli:login), when, and the row before and
        -- after as JSON (before is NULL for a new row).
        CREATE TABLE ledger_audit (
            id INTEGER PRIMARY KEY,
            entry_id INTEGER NOT NULL,
            action TEXT NOT NULL CHECK (action IN ('add', 'import', 'edit', 'delete', 'restore')),
            actor TEXT NOT NULL,
            at INTEGER NOT NULL,
            before TEXT,
            after TEXT
        );
        CREATE INDEX ledger_audit_entry ON ledger_audit (entry_id, id);
        """,
    ),
    Migration(
        12,
        "the web console: sign-in links used, sessions, and the audit of its admin actions",
        """
        -- A one-time sign-in link's nonce, spent (bot/storage/web_sessions.py): a link works once. Kept a day past
        -- the link's expiry, then pruned.
        CREATE TABLE web_link_uses (
            nonce TEXT PRIMARY KEY,
            identity TEXT NOT NULL,              -- the admin it was minted for: channel:id
            used_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL
        ) WITHOUT ROWID;

        -- A console session: the SHA-256 of its cookie (never the cookie), ended by sign-out or after inactivity.
        CREATE TABLE web_sessions (
            token_hash TEXT PRIMARY KEY,
            identity TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            last_seen INTEGER NOT NULL,
            ended_at INTEGER
        ) WITHOUT ROWID;

        -- What admins did in the console, and who: sign_in, sign_out, link, broadcast, cancel.
        CREATE TABLE web_audit (
            id INTEGER PRIMARY KEY,
            at INTEGER NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX web_audit_at ON web_audit (at);
        """,
    ),
    Migration(
        13,
        "several bot processes on one database: recipient batches claimed with a lease, live processes, turns",
        """
        -- A batch of a broadcast's recipients taken by one process until claimed_until (renewed while it sends):
        -- both processes send the same broadcast, and a killed one's batch is taken over when its lease runs out.
        ALTER TABLE broadcast_recipients ADD COLUMN claimed_by TEXT;
        ALTER TABLE broadcast_recipients ADD COLUMN claimed_until INTEGER;

        -- The bot processes serving this database, each seen every few seconds: the channel's send budget (e.g.
        -- Telegram's 30 messages a second per bot) is shared among those alive.
        CREATE TABLE bot_processes (
            owner TEXT PRIMARY KEY,              -- host:pid:random, as the broadcast worker names itself
            started_at INTEGER NOT NULL,
            seen_at INTEGER NOT NULL
        ) WITHOUT ROWID;

        -- One resident's updates in the order they arrived, whichever process they reached: a ticket per update,
        -- taken when it arrives (a repeated delivery finds its ticket: answered once), done when answered.
        CREATE TABLE turn_tickets (
            channel TEXT NOT NULL,
            update_key TEXT NOT NULL,            -- the channel's id of the update (Telegram update_id, WeCom MsgId)
            resident_key TEXT NOT NULL,          -- whose turn: the channel's user or chat id
            seq INTEGER NOT NULL,                -- arrival order among the resident's tickets
            owner TEXT NOT NULL,
            taken_at INTEGER NOT NULL,
            done_at INTEGER,
            PRIMARY KEY (channel, update_key)
        ) WITHOUT ROWID;
        CREATE INDEX turn_tickets_waiting ON turn_tickets (channel, resident_key, done_at, seq);
        """,
    ),
    Migration(
        14,
        "county-scale statistics: smaller roll-ups (a year, a month per resident, a year's places), year counters",
        """
        -- reach_monthly holds a row per month x resident x topic x place x channel: 19.5 M rows for 300,000
        -- residents, and every exact count of distinct residents over it reads them all (docs/benchmarks.md).
        -- These answer the common periods from far fewer rows, a step behind the events (caught up before
        -- statistics read them, and every few seconds by the running bot):
        -- whole years read reach_yearly (a row per year x resident x topic x place x channel, 1/12 of the
        -- months' rows); the months of any whole-month period, and its totals, read reach_resident_months (a row
        -- per month x resident x place). Console events are left out, as in every roll-up.
        CREATE TABLE reach_yearly (
            year TEXT NOT NULL,
            resident_id INTEGER NOT NULL,
            topic_id TEXT NOT NULL,          -- '' when the event has no topic
            place_id TEXT NOT NULL,          -- '' when the resident had no place
            channel TEXT NOT NULL,
            deliveries INTEGER NOT NULL,
            quiz_answers INTEGER NOT NULL,   -- of the deliveries, quiz answers: quiz participants of the year
            PRIMARY KEY (year, resident_id, topic_id, place_id, channel)
        ) WITHOUT ROWID;
        CREATE TABLE reach_resident_months (
            month TEXT NOT NULL,
            resident_id INTEGER NOT NULL,
            place_id TEXT NOT NULL,
            deliveries INTEGER NOT NULL,
            PRIMARY KEY (month, resident_id, place_id)
        ) WITHOUT ROWID;
        -- A year's figures of the whole deployment, counted as the roll-ups catch up (bot/storage/reach.py):
        -- deliveries and residents reached for all ('' key), per topic, place and channel, per month (key
        -- 'YYYY-MM'), and quiz participants ('quiz': deliveries are quiz answers). Read, not counted, for a year.
        CREATE TABLE reach_year_counts (
            year TEXT NOT NULL,
            dimension TEXT NOT NULL,             -- all | topic | place | channel | month | quiz
            key TEXT NOT NULL,
            deliveries INTEGER NOT NULL,
            reached INTEGER NOT NULL,
            PRIMARY KEY (year, dimension, key)
        ) WITHOUT ROWID;
        -- Where each resident was reached in a year: a county's residents reached per township (a township is
        -- content, a set of places; a resident reached at two of its places is one of its residents).
        CREATE TABLE reach_year_places (
            year TEXT NOT NULL,
            place_id TEXT NOT NULL,
            resident_id INTEGER NOT NULL,
            PRIMARY KEY (year, place_id, resident_id)
        ) WITHOUT ROWID;
        INSERT INTO reach_yearly
            SELECT strftime('%Y', ts + 28800, 'unixepoch'), resident_id, COALESCE(topic_id, ''),
                   COALESCE(place_id, ''), channel, COUNT(*), COUNT(*) FILTER (WHERE kind = 'quiz_answer')
            FROM reach_events WHERE channel != 'console' GROUP BY 1, 2, 3, 4, 5;
        INSERT INTO reach_resident_months
            SELECT month, resident_id, place_id, SUM(deliveries) FROM reach_monthly GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
        INSERT INTO reach_year_places SELECT DISTINCT year, place_id, resident_id FROM reach_yearly;
        -- These follow the event log a little behind (bot/storage/reach.py `catch_up`): the last event they hold.
        CREATE TABLE rollup_marks (
            name TEXT PRIMARY KEY,
            last_event_id INTEGER NOT NULL
        ) WITHOUT ROWID;
        -- (No row: none yet. An empty database stays empty, as `db copy` wants its target.)
        INSERT INTO rollup_marks (name, last_event_id)
            SELECT 'year', newest FROM (SELECT MAX(id) AS newest FROM reach_events) AS log WHERE newest IS NOT NULL
            ON CONFLICT (name) DO UPDATE SET last_event_id = excluded.last_event_id;
        INSERT INTO reach_year_counts
            SELECT year, 'all', '', SUM(deliveries), COUNT(DISTINCT resident_id) FROM reach_yearly GROUP BY year;
        INSERT INTO reach_year_counts
            SELECT year, 'topic', topic_id, SUM(deliveries), COUNT(DISTINCT resident_id) FROM reach_yearly
            GROUP BY year, topic_id;
        INSERT INTO reach_year_counts
            SELECT year, 'place', place_id, SUM(deliveries), COUNT(DISTINCT resident_id) FROM reach_yearly
            GROUP BY year, place_id;
        INSERT INTO reach_year_counts
            SELECT year, 'channel', channel, SUM(deliveries), COUNT(DISTINCT resident_id) FROM reach_yearly
            GROUP BY year, channel;
        INSERT INTO reach_year_counts
            SELECT year, 'quiz', '', SUM(quiz_answers), COUNT(DISTINCT resident_id) FROM reach_yearly
            WHERE quiz_answers > 0 GROUP BY year;
        INSERT INTO reach_year_counts
            SELECT substr(month, 1, 4), 'month', month, SUM(deliveries), COUNT(DISTINCT resident_id)
            FROM reach_resident_months GROUP BY month;
        -- A township's figures read only its places' range of these (each holds every column its statements
        -- read: on PostgreSQL an index is a B-tree beside the table). The whole deployment's year is read from
        -- the counters, so no other index is kept: an index holding `deliveries` is rewritten by every event.
        CREATE INDEX reach_yearly_place
            ON reach_yearly (year, place_id, resident_id, topic_id, channel, deliveries, quiz_answers);
        CREATE INDEX reach_resident_months_place ON reach_resident_months (place_id, month, resident_id, deliveries);
        -- Migration 6's covering indexes of reach_monthly by topic, place and channel served the breakdowns of
        -- whole years; the yearly roll-up and the counters do now, and every event rewrote all four (each holds
        -- `deliveries`): kept is the one by resident, which a township's quiz participants look up.
        DROP INDEX reach_monthly_topic;
        DROP INDEX reach_monthly_place;
        DROP INDEX reach_monthly_channel;
        """,
    ),
    Migration(
        15,
        "several bot processes, one content: reloads counted so that the others follow",
        """
        -- A process that reloaded the content (chat /reload, the console, SIGHUP) counts one more generation; the
        -- others see the count grow at their next heartbeat and reload too (bot/core/content_sync.py).
        CREATE TABLE content_reloads (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            generation INTEGER NOT NULL,
            reloaded_by TEXT NOT NULL,
            reloaded_at INTEGER NOT NULL
        );
        """,
    ),
)
