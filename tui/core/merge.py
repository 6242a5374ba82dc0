"""Fold one poll's Snapshot into what we know of a task: the only place a task's state moves.

Pure: same task, snapshot and time in, same task and events out. The rules users rely on live
here: a finished task never goes back (a relay flapping SUCCESS -> IN_PROGRESS must not un-finish
a video), a task is `missing` only after two not-found answers `min_interval` apart (one 404 can
be a replica lagging behind), and a URL with no deadline of its own gets 24 h from when we first
saw the task finished.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tui.core.model import Event, Snapshot, State, Task, Tokens

DEFAULT_URL_LIFETIME = timedelta(hours=24)

# Snapshot fields copied onto the task when the snapshot knows them (tokens merge per field).
_COPIED = (
    "upstream_status", "model", "progress", "created_at", "started_at", "finished_at",
    "video_url", "duration", "resolution", "super_resolution", "ratio", "fps", "seed",
    "generate_audio", "failure",
)  # fmt: skip


def merge(
    task: Task, snap: Snapshot, now: datetime, *, min_interval: float
) -> tuple[Task, list[Event]]:
    """The task after this snapshot, and the events it caused (state changes, notices)."""
    polled: dict[str, Any] = {"polls": task.polls + 1, "last_polled_at": now, "raw": snap.raw}
    if snap.not_found:
        return _not_found(task, now, polled, min_interval)
    polled.update(not_found_strikes=0, last_not_found_at=None)
    if task.terminal:
        return task.evolve(**polled, **_fresh_url(task, snap, now)), []

    changes = {name: getattr(snap, name) for name in _COPIED if getattr(snap, name) is not None}
    changes["tokens"] = _tokens(task.tokens, snap.tokens)
    state = snap.state
    if state.live and task.first_seen_live_at is None:
        changes["first_seen_live_at"] = now
    if state.terminal:
        changes["first_seen_terminal_at"] = now
    video_url = changes.get("video_url", task.video_url)
    expires = snap.url_expires_at or (task.url_expires_at if video_url == task.video_url else None)
    if expires is None and video_url and state is State.SUCCEEDED:
        expires = now + DEFAULT_URL_LIFETIME  # now == first_seen_terminal_at
    new = task.evolve(**polled, **changes, state=state, url_expires_at=expires)

    events = []
    if state is not task.state:
        events.append(_state_event(task, new, now, snap.upstream_status))
    if state is State.UNKNOWN and snap.upstream_status != task.upstream_status:
        message = f"unknown upstream status {snap.upstream_status!r}: polling at max_interval"
        events.append(Event("notice", task.provider, task.id, {"message": message}, ts=now))
    return new, events


def _not_found(
    task: Task, now: datetime, polled: dict[str, Any], min_interval: float
) -> tuple[Task, list[Event]]:
    """Strike 1 is only noted; a second strike at least `min_interval` later means missing.

    `last_not_found_at` keeps the time of the first strike of the current run, so an early
    extra poll (a manual refresh) neither resets the wait nor counts as the second strike.
    """
    if task.terminal:
        return task.evolve(**polled), []
    first = task.last_not_found_at
    if task.not_found_strikes == 0 or first is None:
        return task.evolve(**polled, not_found_strikes=1, last_not_found_at=now), []
    strikes = task.not_found_strikes + 1
    if (now - first).total_seconds() < min_interval:
        return task.evolve(**polled, not_found_strikes=strikes), []
    new = task.evolve(
        **polled,
        not_found_strikes=strikes,
        state=State.MISSING,
        first_seen_terminal_at=task.first_seen_terminal_at or now,
    )
    return new, [_state_event(task, new, now, None)]


def _fresh_url(task: Task, snap: Snapshot, now: datetime) -> dict[str, Any]:
    """A finished task only takes a new video URL (the re-poll for a fresh link) and its deadline.

    A fresh link without its own deadline lives 24 h from now, not from when the task finished
    (that deadline is what made us ask for a fresh link).
    """
    if not snap.video_url or snap.video_url == task.video_url:
        return {"url_expires_at": snap.url_expires_at or task.url_expires_at}
    return {
        "video_url": snap.video_url,
        "url_expires_at": snap.url_expires_at or now + DEFAULT_URL_LIFETIME,
    }


def _tokens(old: Tokens, new: Tokens) -> Tokens:
    return Tokens(
        total=new.total if new.total is not None else old.total,
        completion=new.completion if new.completion is not None else old.completion,
        super_resolution=(
            new.super_resolution if new.super_resolution is not None else old.super_resolution
        ),
    )


def _state_event(old: Task, new: Task, now: datetime, upstream_status: str | None) -> Event:
    data = {
        "from": str(old.state),
        "to": str(new.state),
        "upstream_status": upstream_status,
        "failure": new.failure.to_json() if new.failure else None,
    }
    return Event("state", new.provider, new.id, data, ts=now)
