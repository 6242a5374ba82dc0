"""What each column of the dashboard's table sorts by, computed once per task.

Kept apart from `tui.app.task_view` (which holds the tasks and the filtered view) because it
is the one place that says how a column orders: the state rank (what needs a look first),
the download rank, `1080p` as a number, age youngest first, the video URL's deadline. Every
value of a column has one type (unknown values become the column's last value), so Python's
sort takes its fast same-type path at 100,000 tasks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from tui.core.expiry import needs_download, video_expiry
from tui.core.model import DownloadState, State, Task

SORT_COLUMNS: tuple[str, ...] = (
    "state", "id", "provider", "batch", "model", "progress", "age", "duration", "resolution",
    "tokens", "next_poll", "download", "expires", "failure",
)  # fmt: skip
"""Every column of the table, in display order; each one sorts."""

# The default order: what needs a look first (running, queued), then problems, success last.
STATE_RANK: dict[State, int] = {
    State.RUNNING: 0,
    State.QUEUED: 1,
    State.UNKNOWN: 2,
    State.FAILED: 3,
    State.MISSING: 4,
    State.EXPIRED: 5,
    State.CANCELLED: 6,
    State.SUCCEEDED: 7,
}
_DOWNLOAD_RANK: dict[DownloadState, int] = {
    DownloadState.RUNNING: 0,
    DownloadState.PENDING: 1,
    DownloadState.FAILED: 2,
    DownloadState.EXPIRED: 3,
    DownloadState.DONE: 4,
    DownloadState.NONE: 5,
}


def _resolution_number(text: str | None) -> int | None:
    """`1080p` -> 1080, so 480p sorts before 1080p (a string sort would not)."""
    if not text:
        return None
    digits = "".join(ch for ch in text if ch.isdigit())
    return int(digits) if digits else None


def _start(task: Task) -> float | None:
    moment = task.created_at or task.added_at
    return None if moment is None else moment.timestamp()


def url_deadline(task: Task) -> float | None:
    """When the video URL of a succeeded, not yet downloaded task stops working (soonest first);
    None (last) for every other task."""
    if not needs_download(task):
        return None
    deadline = video_expiry(task)
    return None if deadline is None else deadline.timestamp()


def _age_value(task: Task) -> float | None:
    start = _start(task)
    return None if start is None else -start  # ascending age = youngest first


# Sort value per column (`SORT_VALUE`). None (not known) becomes the column's LAST value
# (`SORT_LAST`), so that every value of
# a column has one type and Python's sort takes its fast same-type path.
_LAST_TEXT = "\U0010ffff"
_LAST_NUMBER = math.inf
SORT_VALUE: dict[str, Callable[[Task], Any]] = {
    "state": lambda t: STATE_RANK.get(t.state, 9),
    "id": lambda t: t.id,
    "provider": lambda t: t.provider,
    "batch": lambda t: t.batch,
    "model": lambda t: t.model,
    "progress": lambda t: t.progress,
    "age": _age_value,
    "duration": lambda t: t.duration,
    "resolution": lambda t: _resolution_number(t.super_resolution or t.resolution),
    "tokens": lambda t: t.tokens.total,
    "next_poll": lambda t: (
        None if t.next_poll_at is None or t.state.terminal else t.next_poll_at.timestamp()
    ),
    "download": lambda t: _DOWNLOAD_RANK.get(t.download.state, 9),
    "expires": url_deadline,
    "failure": lambda t: None if t.failure is None else t.failure.label.lower(),
}
SORT_LAST: dict[str, Any] = {
    name: _LAST_TEXT if name in ("id", "provider", "batch", "model", "failure") else _LAST_NUMBER
    for name in SORT_VALUE
}


def or_last(primary: Any, last: Any) -> Any:
    """A column's sort value, its LAST value when not known (one type per column)."""
    return last if primary is None else primary
