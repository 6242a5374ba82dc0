"""The words of the domain: states, what one poll said (Snapshot) and what we know of a task (Task).

Everything here is a frozen value. Upstream JSON becomes a `Snapshot` at one door (a dialect's
`parse`), `tui.core.merge` folds a snapshot into a `Task`, the store keeps tasks, and the
outside world sees `Task.to_json()` (the contract's task object) and `Event.to_json()`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

Key = tuple[str, str]  # a task's identity in the store: (provider name, task id)


class State(enum.StrEnum):
    """The contract's task states."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    MISSING = "missing"
    UNKNOWN = "unknown"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def live(self) -> bool:
        return self not in TERMINAL_STATES


TERMINAL_STATES: frozenset[State] = frozenset(
    {State.SUCCEEDED, State.FAILED, State.CANCELLED, State.EXPIRED, State.MISSING}
)
LIVE_STATES: frozenset[State] = frozenset(State) - TERMINAL_STATES


class DownloadState(enum.StrEnum):
    """The contract's `download.state` words."""

    NONE = "none"
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a task failed: a machine code (may be None) and a human message."""

    code: str | None = None
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}

    @property
    def label(self) -> str:
        """One line for people and for grouping: `Code: message`."""
        if self.code and self.message:
            return f"{self.code}: {self.message}"
        return self.code or self.message or "unknown failure"


@dataclass(frozen=True, slots=True)
class Tokens:
    total: int | None = None
    completion: int | None = None
    super_resolution: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "completion": self.completion,
            "super_resolution": self.super_resolution,
        }


@dataclass(frozen=True, slots=True)
class Download:
    state: DownloadState = DownloadState.NONE
    path: str | None = None
    bytes: int | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "state": str(self.state),
            "path": self.path,
            "bytes": self.bytes,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class RequestLink:
    """The create request a task came from (`submit`, `retry`): the task object's `request`."""

    name: str | None = None
    fingerprint: str | None = None
    attempt: int = 1
    previous_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fingerprint": self.fingerprint,
            "attempt": self.attempt,
            "previous_id": self.previous_id,
        }


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one successful poll said about one task, normalized. Pure data, made by a dialect.

    `not_found` is set when the provider said the task does not exist (the merge needs two such
    answers, `min_interval` apart, to call a task `missing`). Every string field except `raw` is
    already cleaned of terminal control sequences; `raw` is the body exactly as received (parsed
    JSON when it parsed, else the text).
    """

    state: State
    upstream_status: str | None = None
    model: str | None = None
    progress: int | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    video_url: str | None = None
    url_expires_at: datetime | None = None
    duration: float | None = None
    resolution: str | None = None
    super_resolution: str | None = None
    ratio: str | None = None
    fps: int | None = None
    seed: int | None = None
    generate_audio: bool | None = None
    tokens: Tokens = field(default_factory=Tokens)
    failure: Failure | None = None
    raw: Any = None
    not_found: bool = False


@dataclass(frozen=True, slots=True)
class Task:
    """Everything we know of one tracked task: the contract's task object plus bookkeeping.

    The bookkeeping fields after `raw` are ours, not the contract's: they never appear in
    `to_json()` (except `request`, the contract's, kept last so positional readers hold).
    """

    provider: str
    id: str
    batch: str | None = None
    state: State = State.QUEUED
    upstream_status: str | None = None
    model: str | None = None
    progress: int | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    video_url: str | None = None
    url_expires_at: datetime | None = None
    duration: float | None = None
    resolution: str | None = None
    super_resolution: str | None = None
    ratio: str | None = None
    fps: int | None = None
    seed: int | None = None
    generate_audio: bool | None = None
    tokens: Tokens = field(default_factory=Tokens)
    failure: Failure | None = None
    polls: int = 0
    last_polled_at: datetime | None = None
    download: Download = field(default_factory=Download)
    raw: Any = None
    # --- bookkeeping, not part of the contract's task object ---
    added_at: datetime | None = None
    first_seen_live_at: datetime | None = None
    first_seen_terminal_at: datetime | None = None
    not_found_strikes: int = 0
    last_not_found_at: datetime | None = None
    next_poll_at: datetime | None = None
    # Part of the contract's object (read from the requests table, never saved with the task):
    # the create request it came from, None for a task added by id.
    request: RequestLink | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.provider, self.id)

    @property
    def terminal(self) -> bool:
        return self.state.terminal

    def evolve(self, **changes: Any) -> Task:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """The contract's task object: every key always present, times ISO 8601 UTC with Z."""
        return {
            "provider": self.provider,
            "id": self.id,
            "batch": self.batch,
            "state": str(self.state),
            "upstream_status": self.upstream_status,
            "model": self.model,
            "progress": self.progress,
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "video_url": self.video_url,
            "url_expires_at": iso(self.url_expires_at),
            "duration": _number(self.duration),
            "resolution": self.resolution,
            "super_resolution": self.super_resolution,
            "ratio": self.ratio,
            "fps": self.fps,
            "seed": self.seed,
            "generate_audio": self.generate_audio,
            "tokens": self.tokens.to_json(),
            "failure": self.failure.to_json() if self.failure else None,
            "polls": self.polls,
            "last_polled_at": iso(self.last_polled_at),
            "download": self.download.to_json(),
            "request": self.request.to_json() if self.request else None,
            "raw": self.raw,
        }


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened, as `watch --json` prints it and the dashboard's log shows it.

    `kind` is the contract's `event` word: `state`, `http_error`, `download`, `summary`,
    `request` (a create request changed state: fingerprint, name, from, to, id, http_status,
    error; `id` is in `data` too, so it is printed even when no task exists), plus our
    own `added`, `removed`, `provider` (health changes), `poll` (a poll with no state change),
    `notice` and `error`. `data` holds the kind's own keys (for `state`: from, to,
    upstream_status, failure).
    """

    kind: str
    provider: str | None = None
    id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    ts: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ts": iso(self.ts), "event": self.kind}
        if self.provider is not None:
            out["provider"] = self.provider
        if self.id is not None:
            out["id"] = self.id
        out.update(self.data)
        return out


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, whole seconds: the contract's time format."""
    if moment is None:
        return None
    if moment.tzinfo is not UTC:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat(timespec="seconds")[:19] + "Z"


def from_epoch(seconds: float | int | None) -> datetime | None:
    """Unix seconds to an aware UTC datetime; 0, negatives and junk mean 'not known'."""
    if seconds is None or isinstance(seconds, bool):
        return None
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        return None
    if value <= 0 or value > 32503680000:  # year 3000: a millisecond stamp or junk
        if 0 < value / 1000 <= 32503680000:
            value /= 1000
        else:
            return None
    return datetime.fromtimestamp(value, UTC)


def _number(value: float | None) -> float | int | None:
    """5.0 prints as 5, as the providers send it."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value
