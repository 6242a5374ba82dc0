"""The store's SQLite schema and the ordered steps that bring any older file up to date.

`PRAGMA user_version` says which steps a file has had. Step N (1-based) turns a version N-1
file into a version N file. A step is frozen once released: to change the schema, append a
function to `MIGRATIONS`, never edit an old one, so every user's file walks the same path.
Steps run inside the caller's transaction, so a failed upgrade leaves the file as it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

Migration = Callable[[sqlite3.Connection], None]

# Our tables: an SQLite file at user_version 0 holding any other table is someone else's.
OWN_TABLES: frozenset[str] = frozenset({"tasks", "snapshots", "events", "meta", "requests"})
# The tables every seedance-tui store has had since v1: a file at a later version without them
# is another program's (many use `user_version` for their own schema).
CORE_TABLES: frozenset[str] = frozenset({"tasks", "snapshots", "events", "meta"})

# v1's terminal states, frozen here on purpose (a migration must not move when model.py does;
# tests check that this still equals model.TERMINAL_STATES).
V1_TERMINAL_STATES: tuple[str, ...] = ("succeeded", "failed", "cancelled", "expired", "missing")

_V1_TERMINAL_SQL = ", ".join(f"'{s}'" for s in V1_TERMINAL_STATES)

_V1: tuple[str, ...] = (
    # One row per tracked task. `pk` is the added order (query() sorts by it). Nested values
    # (tokens, failure, download) are flat columns so filters and exports need no JSON work.
    # Times are ISO 8601 UTC text with microseconds (fixed width: text order = time order).
    # `raw_seq` points at the task's current body in `snapshots`.
    """
    CREATE TABLE tasks (
        pk INTEGER PRIMARY KEY,
        provider TEXT NOT NULL,
        id TEXT NOT NULL,
        batch TEXT,
        state TEXT NOT NULL DEFAULT 'queued',
        upstream_status TEXT,
        model TEXT,
        progress INTEGER,
        created_at TEXT,
        started_at TEXT,
        finished_at TEXT,
        video_url TEXT,
        url_expires_at TEXT,
        duration REAL,
        resolution TEXT,
        super_resolution TEXT,
        ratio TEXT,
        fps INTEGER,
        seed INTEGER,
        generate_audio INTEGER,
        tokens_total INTEGER,
        tokens_completion INTEGER,
        tokens_super_resolution INTEGER,
        has_failure INTEGER NOT NULL DEFAULT 0,
        failure_code TEXT,
        failure_message TEXT,
        polls INTEGER NOT NULL DEFAULT 0,
        last_polled_at TEXT,
        download_state TEXT NOT NULL DEFAULT 'none',
        download_path TEXT,
        download_bytes INTEGER,
        download_error TEXT,
        added_at TEXT,
        first_seen_live_at TEXT,
        first_seen_terminal_at TEXT,
        not_found_strikes INTEGER NOT NULL DEFAULT 0,
        last_not_found_at TEXT,
        next_poll_at TEXT,
        raw_seq INTEGER,
        change_seq INTEGER NOT NULL DEFAULT 0,
        UNIQUE (provider, id)
    )
    """,
    "CREATE INDEX tasks_state ON tasks (state)",
    "CREATE INDEX tasks_batch ON tasks (batch)",
    "CREATE INDEX tasks_change_seq ON tasks (change_seq)",
    # The upstream bodies: a row only when a task's body differs from its previous one.
    # `body` is JSON text (a non-JSON body is stored as a JSON string).
    """
    CREATE TABLE snapshots (
        seq INTEGER PRIMARY KEY,
        task_pk INTEGER NOT NULL REFERENCES tasks (pk) ON DELETE CASCADE,
        ts TEXT NOT NULL,
        body TEXT NOT NULL
    )
    """,
    "CREATE INDEX snapshots_task ON snapshots (task_pk, seq)",
    # The event log (the dashboard's log panel, `watch`, a task's history). Kept when a task is
    # removed: it is a record of what happened.
    """
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        ts TEXT NOT NULL,
        kind TEXT NOT NULL,
        provider TEXT,
        task_id TEXT,
        data TEXT NOT NULL DEFAULT '{}'
    )
    """,
    "CREATE INDEX events_task ON events (provider, task_id, id)",
    # Small named counters. `change_seq` goes up by one in every transaction that changes a task
    # row; viewers follow it with Store.changed_since().
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
    "INSERT INTO meta (key, value) VALUES ('change_seq', 0)",
    # A finished task stays finished, whoever writes: the row update is skipped (RAISE(IGNORE)),
    # so a stale or buggy writer cannot turn `succeeded` back into `running`.
    f"""
    CREATE TRIGGER tasks_terminal_state_is_final
    BEFORE UPDATE OF state ON tasks
    WHEN OLD.state IN ({_V1_TERMINAL_SQL}) AND NEW.state IS NOT OLD.state
    BEGIN
        SELECT RAISE(IGNORE);
    END
    """,
)


def _v1(conn: sqlite3.Connection) -> None:
    """The first schema: tasks, snapshots, events, meta and the terminal-state trigger."""
    for statement in _V1:
        conn.execute(statement)


_V2: tuple[str, ...] = (
    # Create requests (`submit`): recorded before they are sent, so a crash never sends one
    # twice. `seq` is the recorded order (sent in that order). `state` is a RequestState word;
    # `not_before` holds a 429's Retry-After; `body` is the create body as JSON text, sent as
    # given. A created request names its task (provider, task_id): the task object's `request`.
    """
    CREATE TABLE requests (
        seq INTEGER PRIMARY KEY,
        provider TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        name TEXT,
        batch TEXT,
        state TEXT NOT NULL DEFAULT 'pending',
        task_id TEXT,
        attempt INTEGER NOT NULL DEFAULT 1,
        previous_id TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        answered_at TEXT,
        http_status INTEGER,
        error_code TEXT,
        error_message TEXT,
        not_before TEXT,
        body TEXT NOT NULL
    )
    """,
    "CREATE INDEX requests_open ON requests (state, provider, seq)",
    "CREATE INDEX requests_fingerprint ON requests (fingerprint)",
    "CREATE INDEX requests_task ON requests (provider, task_id)",
)


def _v2(conn: sqlite3.Connection) -> None:
    """Create requests (`submit`, `retry`)."""
    for statement in _V2:
        conn.execute(statement)


# Ordered: MIGRATIONS[0] makes version 1, MIGRATIONS[1] version 2, ...
MIGRATIONS: tuple[Migration, ...] = (_v1, _v2)
SCHEMA_VERSION: int = len(MIGRATIONS)


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, steps: Sequence[Migration] = MIGRATIONS) -> int:
    """Apply every step the file has not had yet, recording each; returns the new version.

    The caller owns the transaction (BEGIN IMMEDIATE ... COMMIT), so either all pending steps
    land or none do. `PRAGMA user_version` is transactional, like any other write.
    """
    version = user_version(conn)
    for number, step in enumerate(steps[version:], start=version + 1):
        step(conn)
        conn.execute(f"PRAGMA user_version = {int(number)}")
    return max(version, len(steps))
