"""The SQL the store runs: column lists, the task object built in SQLite, and filters.

Nothing here touches a connection: these are strings (and their parameters) that `Store`
executes. Column order is the row order `store_rows` reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tui.core.model import TERMINAL_STATES, State
from tui.core.store_rows import DOWNLOAD_STATES, STATES, dump


@dataclass(frozen=True, slots=True)
class TaskFilter:
    """Which tasks a query, count or poll run is about. None means 'any'; an empty set, 'none'."""

    states: frozenset[State] | None = None
    provider: str | None = None
    batch: str | None = None
    ids: frozenset[str] | None = None
    undownloaded: bool = False
    """True: only tasks with a video URL whose download is not `done` (the downloader's work),
    so a caller never reads every finished task just to skip the kept ones."""


_TERMINAL_SQL = ", ".join(f"'{s.value}'" for s in sorted(TERMINAL_STATES))

# Task columns in the order of `task_from_row`; `pk` first, the current body (or NULL) last.
_COLUMNS = (
    "provider, id, batch, state, upstream_status, model, progress, created_at, started_at, "
    "finished_at, video_url, url_expires_at, duration, resolution, super_resolution, ratio, fps, "
    "seed, generate_audio, tokens_total, tokens_completion, tokens_super_resolution, has_failure, "
    "failure_code, failure_message, polls, last_polled_at, download_state, download_path, "
    "download_bytes, download_error, added_at, first_seen_live_at, first_seen_terminal_at, "
    "not_found_strikes, last_not_found_at, next_poll_at"
)
# The create request a task came from (the task object's `request`), after the task's columns.
# At most one: the first request that named the task (a relay that answers an id twice must
# not make a task appear twice in an export).
_REQUEST_JOIN = (
    " LEFT JOIN requests r ON r.provider = t.provider AND r.task_id = t.id"
    " AND r.state = 'created' AND NOT EXISTS (SELECT 1 FROM requests q"
    " WHERE q.provider = r.provider AND q.task_id = r.task_id AND q.state = 'created'"
    " AND q.seq < r.seq)"
)
_REQUEST_COLUMNS = "r.seq, r.name, r.fingerprint, r.attempt, r.previous_id"
_SELECT_COLUMNS = (
    "t.pk, " + ", ".join("t." + c.strip() for c in _COLUMNS.split(",")) + ", " + _REQUEST_COLUMNS
)
SELECT_NO_RAW = f"SELECT {_SELECT_COLUMNS}, NULL FROM tasks t{_REQUEST_JOIN}"
SELECT_WITH_RAW = (
    f"SELECT {_SELECT_COLUMNS}, s.body FROM tasks t LEFT JOIN snapshots s ON s.seq = t.raw_seq"
    + _REQUEST_JOIN
)


def _sql_time(column: str) -> str:
    """Stored time -> the contract's form (what `store_rows.json_from_row` makes of it), in SQL."""
    return f"substr(t.{column}, 1, 19) || 'Z'"


def _sql_in(column: str, words: Iterable[str], otherwise: str) -> str:
    listed = ", ".join(f"'{word}'" for word in words)
    return f"CASE WHEN t.{column} IN ({listed}) THEN t.{column} ELSE '{otherwise}' END"


# The contract's task object built by SQLite's JSON1, in C: the same object as `json_from_row`
# (tests hold them equal), ~3x faster for `status --json` over 100,000 tasks. `raw` is the
# stored body (always JSON text), embedded with json() so it is validated, never re-encoded.
def task_json_sql(raw: str) -> str:
    """The task object as one SQLite expression; `raw` is the SQL for its body."""
    return f"""json_object(
    'provider', t.provider, 'id', t.id, 'batch', t.batch,
    'state', {_sql_in("state", STATES, "unknown")},
    'upstream_status', t.upstream_status, 'model', t.model, 'progress', t.progress,
    'created_at', {_sql_time("created_at")}, 'started_at', {_sql_time("started_at")},
    'finished_at', {_sql_time("finished_at")}, 'video_url', t.video_url,
    'url_expires_at', {_sql_time("url_expires_at")},
    'duration', CASE WHEN t.duration = CAST(t.duration AS INTEGER)
                     THEN CAST(t.duration AS INTEGER) ELSE t.duration END,
    'resolution', t.resolution, 'super_resolution', t.super_resolution, 'ratio', t.ratio,
    'fps', t.fps, 'seed', t.seed,
    'generate_audio', CASE t.generate_audio WHEN 1 THEN json('true') WHEN 0 THEN json('false') END,
    'tokens', json_object('total', t.tokens_total, 'completion', t.tokens_completion,
                          'super_resolution', t.tokens_super_resolution),
    'failure', json(CASE WHEN t.has_failure
                         THEN json_object('code', t.failure_code, 'message', t.failure_message)
                    END),
    'polls', t.polls, 'last_polled_at', {_sql_time("last_polled_at")},
    'download', json_object('state', {_sql_in("download_state", DOWNLOAD_STATES, "none")},
                            'path', t.download_path, 'bytes', t.download_bytes,
                            'error', t.download_error),
    'request', json(CASE WHEN r.seq IS NOT NULL
                         THEN json_object('name', r.name, 'fingerprint', r.fingerprint,
                                          'attempt', r.attempt, 'previous_id', r.previous_id)
                    END),
    'raw', {raw})"""


SELECT_JSON = (
    f"SELECT t.pk, {task_json_sql('json(s.body)')} FROM tasks t"
    " LEFT JOIN snapshots s ON s.seq = t.raw_seq" + _REQUEST_JOIN
)
SELECT_JSON_NO_RAW = f"SELECT t.pk, {task_json_sql('NULL')} FROM tasks t{_REQUEST_JOIN}"

# What `save` writes: every column except the key (provider, id), the download columns (owned
# by set_download) and added_at (written only when the task carries one).
_SAVE_COLUMNS = (
    "batch", "state", "upstream_status", "model", "progress", "created_at", "started_at",
    "finished_at", "video_url", "url_expires_at", "duration", "resolution", "super_resolution",
    "ratio", "fps", "seed", "generate_audio", "tokens_total", "tokens_completion",
    "tokens_super_resolution", "has_failure", "failure_code", "failure_message", "polls",
    "last_polled_at", "first_seen_live_at", "first_seen_terminal_at", "not_found_strikes",
    "last_not_found_at", "next_poll_at",
)  # fmt: skip
UPDATE_SQL = (
    "UPDATE tasks SET "
    + ", ".join(f"{c} = ?" for c in _SAVE_COLUMNS)
    + ", added_at = COALESCE(?, added_at), raw_seq = ?, change_seq = ?"
    # The terminal guard, stated where it is used (the trigger enforces it for every writer).
    + f" WHERE pk = ? AND (state = ? OR state NOT IN ({_TERMINAL_SQL}))"
)


class Where:
    """SQL conditions ANDed together, with their parameters, for any table's filter. Sets
    travel as one JSON parameter (json_each), so a filter of 100,000 ids needs no temporary
    table and never hits SQLite's variable limit."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def equals(self, column: str, value: object) -> None:
        """`column = value`, unless value is None (no condition)."""
        if value is not None:
            self.clauses.append(f"{column} = ?")
            self.params.append(value)

    def one_of(self, column: str, values: Iterable[object] | None) -> None:
        """`column` among `values`, unless values is None (an empty set matches nothing)."""
        if values is not None:
            self.clauses.append(f"{column} IN (SELECT value FROM json_each(?))")
            self.params.append(dump(sorted(str(v) for v in values)))

    def sql(self) -> tuple[str, list[Any]]:
        return (" WHERE " + " AND ".join(self.clauses)) if self.clauses else "", self.params


def where_sql(flt: TaskFilter | None) -> tuple[str, list[Any]]:
    """SQL conditions for a task filter."""
    if flt is None:
        return "", []
    where = Where()
    where.one_of("t.state", flt.states)
    where.equals("t.provider", flt.provider)
    where.equals("t.batch", flt.batch)
    where.one_of("t.id", flt.ids)
    if flt.undownloaded:
        where.clauses.append("t.video_url <> '' AND t.download_state IS NOT 'done'")
    return where.sql()
