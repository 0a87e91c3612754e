-- Alerts (issue 19): the state of each alert key (a connection failing, the queue stalled, …)
-- so that every dispatcher and the stalled-queue watcher agree, across restarts, that a
-- problem was told once and its recovery once; and what Telegram told us about a chat (moved
-- to a supergroup, the bot blocked or kicked), which the configured chat id cannot say.
CREATE TABLE alert_state (
    key        TEXT PRIMARY KEY,        -- e.g. crm:amo, queue:stalled, credential:amo
    firing     {{integer}} NOT NULL DEFAULT 0,
    problem    TEXT NOT NULL DEFAULT '',
    streak     {{integer}} NOT NULL DEFAULT 0,  -- failures in a row, for "failing repeatedly"
    notified   {{integer}} NOT NULL DEFAULT 0,  -- the watcher's direct message went out
    since      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE alert_chats (
    chat_id    TEXT PRIMARY KEY,        -- as configured in [alerts.telegram] chat_ids
    moved_to   TEXT,                    -- Bot API migrate_to_chat_id: send there instead
    blocked    TEXT,                    -- why Telegram refuses it for good (403)
    updated_at TEXT NOT NULL
);
