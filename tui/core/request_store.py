"""Create requests in the store: recorded before they are sent, so none is ever sent twice.

Every change of a request's state is one transaction holding the new state and its `request`
event, so the log and the table never disagree. The ones that decide whether money is spent
are durable (synchronous=FULL): the record of a planned list, `sending` (written before the
body leaves: a crash after it makes the request `uncertain`, never re-sent), and `created`,
which adds the task in the same transaction, so a created request always has its task.

Functions take a `Store` (the engine calls the writing ones through its `StoreWriter`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from tui.core.clean import clean_line
from tui.core.model import TERMINAL_STATES, Event, Failure, Task
from tui.core.requests import CreateRequest, RequestState
from tui.core.store import Store
from tui.core.store_rows import dt_out, dump, event_params
from tui.core.store_sql import Where

COLUMNS = (
    "seq, provider, fingerprint, name, batch, state, task_id, attempt, previous_id, created_at, "
    "sent_at, answered_at, http_status, error_code, error_message, body"
)
_TERMINAL_SQL = ", ".join(f"'{s.value}'" for s in sorted(TERMINAL_STATES))
CRASHED_WHILE_SENDING = Failure(
    None,
    "the process stopped while sending: the provider may have created the task; "
    "check its console before `submit --resend-uncertain`",
)


class Planned(Protocol):
    """What recording needs of a line (`request_lines.PlannedRequest` fits; read-only, so a
    frozen dataclass does)."""

    @property
    def provider(self) -> str: ...
    @property
    def body(self) -> dict[str, Any]: ...
    @property
    def name(self) -> str | None: ...
    @property
    def fingerprint(self) -> str: ...


@dataclass(frozen=True, slots=True)
class RecordResult:
    recorded: int
    skipped: int  # recorded before (or repeated in the same list), and not `again`


@dataclass(frozen=True, slots=True)
class RequestFilter:
    """Which requests a query, count or resend is about. None means 'any'."""

    states: frozenset[RequestState] | None = None
    provider: str | None = None
    batch: str | None = None
    fingerprints: frozenset[str] | None = None


# ---------------------------------------------------------------------------------- recording


def record_requests(
    store: Store,
    planned: Iterable[Planned],
    *,
    batch: str | None,
    now: datetime,
    again: bool = False,
) -> RecordResult:
    """Record the list as `pending`, all of it or none of it, in one durable transaction.

    A fingerprint recorded before (in any state), or repeated within the list, is skipped and
    counted, unless `again` (a copy on purpose)."""
    items = list(planned)
    if not items:
        return RecordResult(0, 0)
    created_at = dt_out(now)
    with store.transaction(durable=True) as conn:
        seen: set[str] = set()
        if not again:
            rows = conn.execute(
                "SELECT DISTINCT fingerprint FROM requests "
                "WHERE fingerprint IN (SELECT value FROM json_each(?))",
                (dump(sorted({item.fingerprint for item in items})),),
            )
            seen = {fp for (fp,) in rows}
        rows_to_add = []
        for item in items:
            if not again and item.fingerprint in seen:
                continue
            seen.add(item.fingerprint)
            rows_to_add.append(
                (item.provider, item.fingerprint, item.name, batch, 1, None, created_at,
                 json.dumps(item.body, separators=(",", ":"), ensure_ascii=False))
            )  # fmt: skip
        insert_pending(conn, rows_to_add)
    return RecordResult(len(rows_to_add), len(items) - len(rows_to_add))


def insert_pending(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert `pending` requests: rows of (provider, fingerprint, name, batch, attempt,
    previous_id, created_at, body JSON)."""
    conn.executemany(
        "INSERT INTO requests (provider, fingerprint, name, batch, state, attempt, previous_id, "
        "created_at, body) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?)",
        rows,
    )


# ---------------------------------------------------------------------------------- reading


def next_pending(
    store: Store, provider: str, now: datetime, limit: int = 1, *, batch: str | None = None
) -> list[CreateRequest]:
    """The provider's pending requests due now (a 429's `not_before` passed), oldest first
    (only those of `batch` when given)."""
    sql = (
        f"SELECT {COLUMNS} FROM requests WHERE state = 'pending' AND provider = ? "
        "AND (not_before IS NULL OR not_before <= ?)"
    )
    params: list[Any] = [provider, dt_out(now)]
    if batch is not None:
        sql += " AND batch = ?"
        params.append(batch)
    with store.reading() as conn:
        rows = conn.execute(sql + " ORDER BY seq LIMIT ?", (*params, max(0, limit))).fetchall()
    return [request_from_row(row) for row in rows]


def request_batches(store: Store) -> set[str]:
    """The batch labels requests were recorded with (a batch may exist before its tasks do)."""
    with store.reading() as conn:
        rows = conn.execute("SELECT DISTINCT batch FROM requests WHERE batch IS NOT NULL")
        return {label for (label,) in rows}


def query_requests(
    store: Store, flt: RequestFilter | None = None, *, limit: int | None = None
) -> list[CreateRequest]:
    """The requests `flt` selects, in the order they were recorded."""
    where, params = _where(flt)
    sql = f"SELECT {COLUMNS} FROM requests{where} ORDER BY seq"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(max(0, limit))
    with store.reading() as conn:
        return [request_from_row(row) for row in conn.execute(sql, params)]


def request_counts(
    store: Store, flt: RequestFilter | None = None
) -> dict[str, dict[RequestState, int]]:
    """Per provider, how many requests are in each state (every state a key, zero when none)."""
    where, params = _where(flt)
    with store.reading() as conn:
        rows = conn.execute(
            f"SELECT provider, state, COUNT(*) FROM requests{where} GROUP BY provider, state",
            params,
        ).fetchall()
    out: dict[str, dict[RequestState, int]] = {}
    for provider, state, count in rows:
        counts = out.setdefault(provider, dict.fromkeys(RequestState, 0))
        counts[_request_state(state)] += count
    return out


def open_count(
    store: Store, providers: Collection[str] | None = None, *, batch: str | None = None
) -> int:
    """Requests still `pending` or `sending` (at these providers, or anywhere; of `batch`)."""
    sql = "SELECT COUNT(*) FROM requests WHERE state IN ('pending', 'sending')"
    params: list[Any] = []
    if providers is not None:
        sql += " AND provider IN (SELECT value FROM json_each(?))"
        params.append(dump(sorted(providers)))
    if batch is not None:
        sql += " AND batch = ?"
        params.append(batch)
    with store.reading() as conn:
        return int(conn.execute(sql, params).fetchone()[0])


def live_created(store: Store, provider: str) -> int:
    """This store's tasks at the provider that came from a created request and are not
    terminal: what `max_live` holds (creates in flight are the caller's to add)."""
    with store.reading() as conn:
        row = conn.execute(
            "SELECT COUNT(*) FROM requests r JOIN tasks t "
            "ON t.provider = r.provider AND t.id = r.task_id "
            f"WHERE r.provider = ? AND r.state = 'created' AND t.state NOT IN ({_TERMINAL_SQL})",
            (provider,),
        ).fetchone()
    return int(row[0])


def _where(flt: RequestFilter | None) -> tuple[str, list[Any]]:
    if flt is None:
        return "", []
    where = Where()
    where.one_of("state", flt.states)
    where.equals("provider", flt.provider)
    where.equals("batch", flt.batch)
    where.one_of("fingerprint", flt.fingerprints)
    return where.sql()


def request_from_row(row: Sequence[Any]) -> CreateRequest:
    (
        seq, provider, fp, name, batch, state, task_id, attempt, previous_id, created_at,
        sent_at, answered_at, http_status, error_code, error_message, body,
    ) = row  # fmt: skip
    error = Failure(error_code, error_message) if error_code or error_message else None
    return CreateRequest(
        provider=provider,
        fingerprint=fp,
        body=json.loads(body),
        name=name,
        batch=batch,
        state=_request_state(state),
        task_id=task_id,
        attempt=attempt,
        previous_id=previous_id,
        created_at=parse_time(created_at),
        sent_at=parse_time(sent_at),
        answered_at=parse_time(answered_at),
        http_status=http_status,
        error=error,
        seq=seq,
    )


def _request_state(word: str) -> RequestState:
    try:
        return RequestState(word)
    except ValueError:  # a word from a newer version: nothing to send, a person looks
        return RequestState.UNCERTAIN


def parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


# ---------------------------------------------------------------------------------- changing


def request_event(
    request: CreateRequest,
    to: RequestState,
    ts: datetime,
    *,
    task_id: str | None = None,
    http_status: int | None = None,
    error: Failure | None = None,
) -> Event:
    """The contract's `request` event for a change of `request` to `to`."""
    return Event(
        "request",
        request.provider,
        task_id,
        {
            "fingerprint": request.fingerprint,
            "name": request.name,
            "from": str(request.state),
            "to": str(to),
            "id": task_id,
            "http_status": http_status,
            "error": error.to_json() if error else None,
        },
        ts=ts,
    )


def mark_sending(store: Store, request: CreateRequest, now: datetime) -> Event | None:
    """`pending` -> `sending`, durably: call it just before the body leaves. None when the
    request is no longer pending (nothing may be sent then)."""
    event = request_event(request, RequestState.SENDING, now)
    with store.transaction(durable=True) as conn:
        changed = conn.execute(
            "UPDATE requests SET state = 'sending', sent_at = ?, not_before = NULL "
            "WHERE seq = ? AND state = 'pending'",
            (dt_out(now), request.seq),
        ).rowcount
        if changed != 1:
            return None
        _log(conn, event)
    return event


def mark_created(
    store: Store, request: CreateRequest, task_id: str, http_status: int, now: datetime
) -> tuple[Event, Task | None]:
    """`sending` -> `created`, and the task tracked exactly as `add` would (with the request's
    batch), in one durable transaction. Returns the event and the tracked task."""
    sending = _as_sending(request)
    event = request_event(
        sending, RequestState.CREATED, now, task_id=task_id, http_status=http_status
    )
    stamp = dt_out(now)
    with store.transaction(durable=True) as conn:
        seq = store.bump(conn)
        conn.execute(
            "INSERT OR IGNORE INTO tasks (provider, id, batch, state, added_at, change_seq) "
            "VALUES (?, ?, ?, 'queued', ?, ?)",
            (request.provider, task_id, request.batch, stamp, seq),
        )
        conn.execute(
            "UPDATE requests SET state = 'created', task_id = ?, answered_at = ?, "
            "http_status = ?, error_code = NULL, error_message = NULL WHERE seq = ?",
            (task_id, stamp, http_status, request.seq),
        )
        _log(conn, event)
    return event, store.get(request.provider, task_id, with_raw=False)


def mark_answered(
    store: Store,
    request: CreateRequest,
    to: RequestState,
    now: datetime,
    *,
    http_status: int | None = None,
    error: Failure | None = None,
) -> Event:
    """`sending` -> `rejected` or `uncertain`, with the answer's status and cleaned reason."""
    if to not in (RequestState.REJECTED, RequestState.UNCERTAIN):
        raise ValueError(f"mark_answered is for rejected or uncertain, not {to}")
    error = _cleaned(error)
    event = request_event(_as_sending(request), to, now, http_status=http_status, error=error)
    with store.transaction(durable=True) as conn:
        conn.execute(
            "UPDATE requests SET state = ?, answered_at = ?, http_status = ?, error_code = ?, "
            "error_message = ? WHERE seq = ?",
            (str(to), dt_out(now), http_status, *_error_columns(error), request.seq),
        )
        _log(conn, event)
    return event


def mark_pending_again(
    store: Store,
    request: CreateRequest,
    not_before: datetime,
    now: datetime,
    *,
    http_status: int | None = None,
    error: Failure | None = None,
) -> Event:
    """`sending` -> `pending`, sent again after `not_before`: a 429, or a connection that
    failed before the body left (nothing reached the provider)."""
    error = _cleaned(error)
    event = request_event(
        _as_sending(request), RequestState.PENDING, now, http_status=http_status, error=error
    )
    with store.transaction(durable=False) as conn:
        conn.execute(
            "UPDATE requests SET state = 'pending', not_before = ?, sent_at = NULL, "
            "http_status = ?, error_code = ?, error_message = ? WHERE seq = ?",
            (dt_out(not_before), http_status, *_error_columns(error), request.seq),
        )
        _log(conn, event)
    return event


def sending_to_uncertain(store: Store, now: datetime) -> list[Event]:
    """At start: every `sending` request (a crash mid-send) becomes `uncertain`."""
    with store.transaction(durable=True) as conn:
        rows = conn.execute(
            f"SELECT {COLUMNS} FROM requests WHERE state = 'sending' ORDER BY seq"
        ).fetchall()
        requests = [request_from_row(row) for row in rows]
        events = [
            request_event(r, RequestState.UNCERTAIN, now, error=CRASHED_WHILE_SENDING)
            for r in requests
        ]
        conn.executemany(
            "UPDATE requests SET state = 'uncertain', answered_at = ?, error_code = ?, "
            "error_message = ? WHERE seq = ?",
            [(dt_out(now), *_error_columns(CRASHED_WHILE_SENDING), r.seq) for r in requests],
        )
        _log(conn, *events)
    return events


def resend_uncertain(store: Store, flt: RequestFilter | None, now: datetime) -> list[Event]:
    """`uncertain` -> `pending` (the same record), only because the user asked."""
    only_uncertain = RequestFilter(
        states=frozenset({RequestState.UNCERTAIN}),
        provider=flt.provider if flt else None,
        batch=flt.batch if flt else None,
        fingerprints=flt.fingerprints if flt else None,
    )
    where, params = _where(only_uncertain)
    with store.transaction(durable=True) as conn:
        rows = conn.execute(f"SELECT {COLUMNS} FROM requests{where} ORDER BY seq", params)
        requests = [request_from_row(row) for row in rows.fetchall()]
        events = [request_event(r, RequestState.PENDING, now) for r in requests]
        conn.executemany(
            "UPDATE requests SET state = 'pending', not_before = NULL, sent_at = NULL, "
            "answered_at = NULL, http_status = NULL, error_code = NULL, error_message = NULL "
            "WHERE seq = ? AND state = 'uncertain'",
            [(r.seq,) for r in requests],
        )
        _log(conn, *events)
    return events


def _as_sending(request: CreateRequest) -> CreateRequest:
    """The request as it is in the store when its answer comes (its `from` state)."""
    return replace(request, state=RequestState.SENDING)


def _cleaned(error: Failure | None) -> Failure | None:
    if error is None:
        return None
    return Failure(clean_line(error.code), clean_line(error.message))


def _error_columns(error: Failure | None) -> tuple[str | None, str | None]:
    return (error.code, error.message) if error else (None, None)


def _log(conn: sqlite3.Connection, *events: Event) -> None:
    if events:
        conn.executemany(
            "INSERT INTO events (ts, kind, provider, task_id, data) VALUES (?, ?, ?, ?, ?)",
            [event_params(e) for e in events],
        )
