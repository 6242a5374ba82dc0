"""`retry`: a new attempt of a failed task's create request, linked to the one before.

Attempts form a chain through `previous_id` (the failed task the new request replaces); only a
chain's newest attempt is retried, at most `max_attempts` attempts per chain (the first
included), and only a transient failure unless the user says `--all`. A task added by id has
no stored request: it cannot be retried, and the reason says so.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from tui.core.model import Failure, Key, State
from tui.core.request_store import COLUMNS, insert_pending, parse_time, request_from_row
from tui.core.requests import CreateRequest, RequestState
from tui.core.retryable import worth_retrying
from tui.core.store import Store
from tui.core.store_rows import dt_out, state_of


@dataclass(frozen=True, slots=True)
class RetrySkip:
    """A task `retry` leaves alone, and why (for the confirmation and the summary)."""

    provider: str
    task_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class RetryPlan:
    """What `retry` does: the new requests (pending), and the tasks it skips."""

    requests: list[CreateRequest]
    skipped: list[RetrySkip]


def plan_retries(
    store: Store,
    keys: Iterable[Key],
    *,
    include_all: bool = False,
    max_attempts_of: Callable[[str], int],
) -> RetryPlan:
    """What `record_retries` would record, without recording it (for the confirmation)."""
    with store.reading() as conn:
        return _plan(conn, keys, include_all, max_attempts_of, None)


def record_retries(
    store: Store,
    keys: Iterable[Key],
    *,
    include_all: bool = False,
    max_attempts_of: Callable[[str], int],
    now: datetime,
) -> RetryPlan:
    """A new `pending` request for each failed task worth retrying, in one durable transaction.

    The new request is the newest attempt's stored request (same provider, body, name, batch
    and fingerprint) with attempt + 1 and previous_id = that failed task's id. Per task: only
    the newest attempt of its chain is retried; a chain whose newest attempt succeeded, is
    still open, or already made `max_attempts_of(provider)` attempts is skipped; a failure that
    is not transient (content policy, invalid parameter) is skipped unless `include_all`; a
    task added by id has no stored request and is skipped, saying so.
    """
    with store.transaction(durable=True) as conn:
        plan = _plan(conn, keys, include_all, max_attempts_of, dt_out(now))
        insert_pending(
            conn,
            [
                (r.provider, r.fingerprint, r.name, r.batch, r.attempt, r.previous_id,
                 dt_out(now), json.dumps(r.body, separators=(",", ":"), ensure_ascii=False))
                for r in plan.requests
            ],
        )  # fmt: skip
    return plan


def _plan(
    conn: sqlite3.Connection,
    keys: Iterable[Key],
    include_all: bool,
    max_attempts_of: Callable[[str], int],
    stamp: str | None,
) -> RetryPlan:
    requests: list[CreateRequest] = []
    skipped: list[RetrySkip] = []
    done: set[int] = set()  # newest attempts already planned (two keys of one chain)
    for provider, task_id in dict.fromkeys(keys):
        why, newest = _newest_attempt(conn, provider, task_id)
        if newest is None:
            skipped.append(RetrySkip(provider, task_id, why))
            continue
        if newest.seq in done:
            continue
        done.add(newest.seq)
        why = _why_not(conn, newest, include_all, max_attempts_of(provider))
        if why:
            skipped.append(RetrySkip(provider, task_id, why))
            continue
        requests.append(
            CreateRequest(
                provider=provider,
                fingerprint=newest.fingerprint,
                body=newest.body,
                name=newest.name,
                batch=newest.batch,
                attempt=newest.attempt + 1,
                previous_id=newest.task_id,
                created_at=parse_time(stamp),
            )
        )
    return RetryPlan(requests, skipped)


def _newest_attempt(
    conn: sqlite3.Connection, provider: str, task_id: str
) -> tuple[str, CreateRequest | None]:
    """The newest attempt of the chain the task belongs to (following previous_id forward)."""
    row = conn.execute(
        f"SELECT {COLUMNS} FROM requests WHERE provider = ? AND task_id = ? "
        "AND state = 'created' ORDER BY seq LIMIT 1",
        (provider, task_id),
    ).fetchone()
    if row is None:
        tracked = conn.execute(
            "SELECT 1 FROM tasks WHERE provider = ? AND id = ?", (provider, task_id)
        ).fetchone()
        if tracked is None:
            return "not tracked", None
        return "added by id: no stored request to send again (only submitted tasks retry)", None
    newest = request_from_row(row)
    for _ in range(10_000):  # a chain is at most max_attempts long; this only guards a loop
        if newest.task_id is None:
            break
        row = conn.execute(
            f"SELECT {COLUMNS} FROM requests WHERE provider = ? AND previous_id = ? "
            "ORDER BY seq DESC LIMIT 1",
            (provider, newest.task_id),
        ).fetchone()
        if row is None:
            break
        newest = request_from_row(row)
    return "", newest


def _why_not(
    conn: sqlite3.Connection, newest: CreateRequest, include_all: bool, max_attempts: int
) -> str:
    """Why the chain's newest attempt is not retried ('' when it is)."""
    if newest.state is not RequestState.CREATED:
        return f"its newest attempt ({newest.attempt}) is {newest.state}, not a failed task"
    row = conn.execute(
        "SELECT state, failure_code, failure_message, has_failure FROM tasks "
        "WHERE provider = ? AND id = ?",
        (newest.provider, newest.task_id),
    ).fetchone()
    if row is None:
        return f"its newest attempt {newest.task_id} is no longer tracked"
    state = state_of(row[0])
    failure = Failure(row[1], row[2]) if row[3] else None
    if state.live:
        return f"its newest attempt {newest.task_id} is still {state}"
    if state not in (State.FAILED, State.EXPIRED):
        return f"its newest attempt {newest.task_id} is {state}, not failed"
    if newest.attempt >= max_attempts:
        return f"already tried {newest.attempt} times (max_attempts = {max_attempts})"
    if not include_all and not worth_retrying(state, failure):
        label = failure.label if failure else "no reason given"
        return f"not a transient failure ({label}): pass --all to send it again anyway"
    return ""
