"""Rows to values and back: how a Task, its JSON object and an Event are stored in SQLite.

Times are stored as fixed-width ISO 8601 UTC text (exact, and they sort as time sorts); JSON
bodies as compact text. Reading builds many objects at once (100,000 tasks for a dashboard),
so the readers here share equal values and keep the cyclic GC out of the way while they work.
"""

from __future__ import annotations

import contextlib
import gc
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from tui.core.model import (
    Download,
    DownloadState,
    Event,
    Failure,
    RequestLink,
    State,
    Task,
    Tokens,
)

STATES: dict[str, State] = {s.value: s for s in State}
DOWNLOAD_STATES: dict[str, DownloadState] = {s.value: s for s in DownloadState}
_EMPTY_TOKENS = Tokens()
_EMPTY_DOWNLOAD = Download()


def dt_out(moment: datetime | None) -> str | None:
    """Fixed-width ISO 8601 UTC with microseconds: exact, readable, sorts as time sorts.

    A naive datetime is taken as UTC (as `model.iso` does).
    """
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _json_default(value: Any) -> Any:
    """Odd values a caller may leave in raw or event data: keep them readable, never crash."""
    if isinstance(value, datetime):
        return dt_out(value)
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


def dump(value: Any) -> str:
    """Compact JSON text for a body or event data, whatever odd values it holds."""
    # ensure_ascii: an upstream "\ud800" escape parses to a lone surrogate, which SQLite cannot
    # store as UTF-8; escaped, every str round-trips.
    return json.dumps(value, separators=(",", ":"), default=_json_default)


def state_of(value: str) -> State:
    """A stored state word as a State; a word this version does not know is UNKNOWN."""
    return STATES.get(value, State.UNKNOWN)


def save_params(task: Task) -> tuple[Any, ...]:
    """The values of `store_sql.UPDATE_SQL`'s SET list, in its column order."""
    tokens = task.tokens
    failure = task.failure
    return (
        task.batch,
        str(task.state),
        task.upstream_status,
        task.model,
        task.progress,
        dt_out(task.created_at),
        dt_out(task.started_at),
        dt_out(task.finished_at),
        task.video_url,
        dt_out(task.url_expires_at),
        task.duration,
        task.resolution,
        task.super_resolution,
        task.ratio,
        task.fps,
        task.seed,
        None if task.generate_audio is None else int(bool(task.generate_audio)),
        tokens.total,
        tokens.completion,
        tokens.super_resolution,
        0 if failure is None else 1,
        None if failure is None else failure.code,
        None if failure is None else failure.message,
        task.polls,
        dt_out(task.last_polled_at),
        dt_out(task.first_seen_live_at),
        dt_out(task.first_seen_terminal_at),
        task.not_found_strikes,
        dt_out(task.last_not_found_at),
        dt_out(task.next_poll_at),
    )


class TaskReader:
    """Builds Tasks from rows, one reader per read: equal values become one shared object.

    A bulk read of 100,000 tasks would otherwise hold 100,000 copies of the same provider,
    model, status words, batch time and token counts (sqlite3 makes a new object per cell):
    sharing them takes the dashboard's 100,000 tasks from ~150 MB to ~80 MB. Every value is
    immutable (str, datetime, float and the frozen Tokens / Failure), so sharing changes
    nothing a caller can see. Each cache is emptied when it grows past `LIMIT` entries, so
    values that never repeat (poll times with microseconds, messages naming a request) cost
    no more than they did.
    """

    LIMIT = 8192

    __slots__ = ("_failures", "_numbers", "_texts", "_times", "_tokens")

    def __init__(self) -> None:
        self._texts: dict[Any, Any] = {}  # str -> the same str (None -> None)
        self._times: dict[str, datetime] = {}
        self._numbers: dict[float, float] = {}
        self._tokens: dict[tuple[Any, Any, Any], Tokens] = {(None, None, None): _EMPTY_TOKENS}
        self._failures: dict[tuple[Any, Any], Failure] = {}

    def _time(self, text: str | None) -> datetime | None:
        if not text:
            return None
        moment = self._times.get(text)
        if moment is None:
            moment = self._times[text] = datetime.fromisoformat(text)
        return moment

    def task(self, row: tuple[Any, ...]) -> Task:
        (
            _pk, provider, task_id, batch, state, upstream_status, model, progress, created_at,
            started_at, finished_at, video_url, url_expires_at, duration, resolution,
            super_resolution, ratio, fps, seed, generate_audio, tokens_total, tokens_completion,
            tokens_sr, has_failure, failure_code, failure_message, polls, last_polled_at,
            download_state, download_path, download_bytes, download_error, added_at,
            first_seen_live_at, first_seen_terminal_at, not_found_strikes, last_not_found_at,
            next_poll_at, request_seq, request_name, fingerprint, attempt, previous_id, body,
        ) = row  # fmt: skip
        texts, times = self._texts, self._times
        if len(texts) > self.LIMIT:
            texts.clear()
        if len(times) > self.LIMIT:
            times.clear()
        text = texts.setdefault
        when = self._time
        tokens_key = (tokens_total, tokens_completion, tokens_sr)
        tokens = self._tokens.get(tokens_key)
        if tokens is None:
            if len(self._tokens) > self.LIMIT:
                self._tokens = {(None, None, None): _EMPTY_TOKENS}
            tokens = self._tokens[tokens_key] = Tokens(*tokens_key)
        failure = None
        if has_failure:
            failure_key = (failure_code, failure_message)
            failure = self._failures.get(failure_key)
            if failure is None:
                if len(self._failures) > self.LIMIT:
                    self._failures.clear()
                failure = self._failures[failure_key] = Failure(
                    text(failure_code, failure_code), text(failure_message, failure_message)
                )
        if download_state == "none" and download_path is None and download_bytes is None:
            download = (
                _EMPTY_DOWNLOAD
                if download_error is None
                else Download(error=text(download_error, download_error))
            )
        else:
            download = Download(
                DOWNLOAD_STATES.get(download_state, DownloadState.NONE),
                download_path,
                download_bytes,
                text(download_error, download_error),
            )
        if duration is not None:
            if len(self._numbers) > self.LIMIT:
                self._numbers.clear()
            duration = self._numbers.setdefault(duration, duration)
        return Task(
            text(provider, provider),
            task_id,
            text(batch, batch),
            state_of(state),
            text(upstream_status, upstream_status),
            text(model, model),
            progress,
            when(created_at),
            when(started_at),
            when(finished_at),
            video_url,
            when(url_expires_at),
            duration,
            text(resolution, resolution),
            text(super_resolution, super_resolution),
            text(ratio, ratio),
            fps,
            seed,
            None if generate_audio is None else bool(generate_audio),
            tokens,
            failure,
            polls,
            when(last_polled_at),
            download,
            None if body is None else json.loads(body),
            when(added_at),
            when(first_seen_live_at),
            when(first_seen_terminal_at),
            not_found_strikes,
            when(last_not_found_at),
            when(next_poll_at),
            request=(
                None
                if request_seq is None
                else RequestLink(request_name, fingerprint, attempt, previous_id)
            ),
        )


def task_from_row(row: tuple[Any, ...]) -> Task:
    """One task from one row (a single read: nothing to share it with)."""
    return TaskReader().task(row)


def tasks_from_cursor(cursor: sqlite3.Cursor) -> list[Task]:
    """Every row of `cursor` as a Task. Rows are taken one at a time (not `fetchall`): at
    100,000 tasks the rows' own objects, alive next to the tasks until the list is done, left
    the heap fragmented and the process ~150 MB bigger for good."""
    reader = TaskReader()
    return [reader.task(row) for row in cursor]


def _iso_z(text: str | None) -> str | None:
    """Stored time -> the contract's form, by slicing: what `model.iso` makes of the same
    datetime (UTC, seconds truncated, `Z`), without building a datetime."""
    return None if text is None else text[:19] + "Z"


def json_from_row(row: tuple[Any, ...]) -> dict[str, Any]:
    """The contract's task object straight from a row: `task_from_row(row).to_json()`,
    3x cheaper (tests hold the two equal, key order included)."""
    (
        _pk, provider, task_id, batch, state, upstream_status, model, progress, created_at,
        started_at, finished_at, video_url, url_expires_at, duration, resolution,
        super_resolution, ratio, fps, seed, generate_audio, tokens_total, tokens_completion,
        tokens_sr, has_failure, failure_code, failure_message, polls, last_polled_at,
        download_state, download_path, download_bytes, download_error, *_bookkeeping,
        request_seq, request_name, fingerprint, attempt, previous_id, body,
    ) = row  # fmt: skip
    return {
        "provider": provider,
        "id": task_id,
        "batch": batch,
        "state": state if state in STATES else "unknown",
        "upstream_status": upstream_status,
        "model": model,
        "progress": progress,
        "created_at": _iso_z(created_at),
        "started_at": _iso_z(started_at),
        "finished_at": _iso_z(finished_at),
        "video_url": video_url,
        "url_expires_at": _iso_z(url_expires_at),
        "duration": int(duration) if duration is not None and duration.is_integer() else duration,
        "resolution": resolution,
        "super_resolution": super_resolution,
        "ratio": ratio,
        "fps": fps,
        "seed": seed,
        "generate_audio": None if generate_audio is None else bool(generate_audio),
        "tokens": {
            "total": tokens_total,
            "completion": tokens_completion,
            "super_resolution": tokens_sr,
        },
        "failure": {"code": failure_code, "message": failure_message} if has_failure else None,
        "polls": polls,
        "last_polled_at": _iso_z(last_polled_at),
        "download": {
            "state": download_state if download_state in DOWNLOAD_STATES else "none",
            "path": download_path,
            "bytes": download_bytes,
            "error": download_error,
        },
        "request": None
        if request_seq is None
        else {
            "name": request_name,
            "fingerprint": fingerprint,
            "attempt": attempt,
            "previous_id": previous_id,
        },
        "raw": None if body is None else json.loads(body),
    }


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Bulk reads build 100,000s of objects, none of them cyclic; left on, the cyclic GC keeps
    rescanning them all (measured: query with raw 2.5x slower). Paused only for that build."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def event_params(event: Event) -> tuple[Any, ...]:
    """An event as the values of an INSERT INTO events (ts, kind, provider, task_id, data)."""
    return (
        dt_out(event.ts) or dt_out(datetime.now(UTC)),
        event.kind,
        event.provider,
        event.id,
        dump(event.data or {}),
    )


def event_from_row(row: tuple[Any, ...]) -> tuple[int, Event]:
    """An events row as (its id, the Event)."""
    event_id, ts, kind, provider, task_id, data = row
    return event_id, Event(kind, provider, task_id, json.loads(data), datetime.fromisoformat(ts))
