"""What each cell of a task row reads, and which colour class it takes: no drawing here.

Split from the table widget so that the words a row shows (and what the column planner measures)
live in one place: `cells` for the texts that change only when the task does, `tick_texts` for
those that change with time alone (age, next poll, live download, URL expiry), and `in_view` for
what the rows on screen hold, which `column_plan.plan_columns` plans from.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Set

from tui.app import format as fmt
from tui.app.task_sort import url_deadline
from tui.app.widgets.column_plan import BY_NAME, InView
from tui.core.clean import clean_line
from tui.core.model import DownloadState, Key, State, Task
from tui.core.text_width import cell_width

Ticks = tuple[str, str, str, str]
"""The texts of a row that change with time alone: age, next poll, download, URL expires in."""
NO_TICKS: Ticks = ("", "", "", "")

STATE_CLASS = {state: f"task-table--{state}" for state in State}
DOWNLOAD_CLASS = {
    DownloadState.DONE: "task-table--succeeded",
    DownloadState.RUNNING: "task-table--running",
    DownloadState.PENDING: "task-table--dim",
    DownloadState.FAILED: "task-table--failed",
    DownloadState.EXPIRED: "task-table--expired",
}
EXPIRED_TEXT = "expired"


def safe(text: str | None) -> str:
    """Upstream text as one inert line: the core cleaned it already; this is the belt.

    `str.isprintable()` is False for every control character (ESC, BEL, C1, DEL, line breaks),
    so the common clean case skips the regexes.
    """
    if not text:
        return ""
    if text.isprintable():
        return text
    return clean_line(text) or ""


def expires_cell(deadline: float | None, now: float) -> str:
    """`23h`, `40m`, `55s`: the biggest whole unit left (a glance, not a countdown: the text
    changes once an hour while over an hour is left); `expired` once past; empty: no deadline."""
    if deadline is None:
        return ""
    left = deadline - now
    if not math.isfinite(left) or left <= 0:
        return EXPIRED_TEXT
    if left < 60:
        return f"{int(left)}s"
    if left < 3600:
        return f"{int(left // 60)}m"
    if left < 86400:
        return f"{int(left // 3600)}h"
    return f"{int(left // 86400)}d"


def expires_class(text: str) -> str:
    """Warning colour under an hour left (`40m`, `55s`) and once past, muted otherwise: read
    from the text, so the colour always agrees with what the cell says."""
    if text == EXPIRED_TEXT or text.endswith(("m", "s")):
        return "task-table--expiring"
    return "task-table--dim"


def cells(task: Task, ticks: Ticks) -> dict[str, tuple[str, str | None]]:
    """Column name -> (text, component class or None) for one row."""
    age, next_poll, download, expires = ticks
    failure = safe(fmt.failure_cell(task.failure))
    return {
        "state": (fmt.state_cell(task.state), STATE_CLASS.get(task.state)),
        "id": (safe(task.id), None),
        "provider": (safe(task.provider), "task-table--dim"),
        "batch": (safe(task.batch), "task-table--dim"),
        "model": (safe(fmt.model_cell(task.model)), None),
        "progress": (fmt.progress_cell(task.progress), None),
        "age": (age, "task-table--dim"),
        "duration": (fmt.video_duration_cell(task.duration), "task-table--dim"),
        "resolution": (
            safe(fmt.resolution_cell(task.resolution, task.super_resolution)),
            "task-table--dim",
        ),
        "tokens": (fmt.count_cell(task.tokens.total), "task-table--dim"),
        "next_poll": (next_poll, "task-table--dim"),
        "download": (download, DOWNLOAD_CLASS.get(task.download.state)),
        "expires": (expires, expires_class(expires)),
        "failure": (failure, "task-table--failure" if failure else None),
    }


def tick_texts(
    key: Key,
    task: Task,
    now: float,
    shown: Set[str],
    next_poll: Callable[[Key], float | None] | None = None,
    download_progress: Callable[[Key], fmt.ProgressLike | None] | None = None,
) -> Ticks:
    """The texts of a row that change with time alone, for the columns `shown` only."""
    age = ""
    if "age" in shown:
        start = task.created_at or task.added_at
        age = fmt.age_cell(None if start is None else start.timestamp(), now)
    next_text = ""
    if "next_poll" in shown and not task.state.terminal:
        at = next_poll(key) if next_poll is not None else None
        if at is None and task.next_poll_at is not None:
            at = task.next_poll_at.timestamp()
        next_text = fmt.next_poll_cell(at, now, task.state)
    download = ""
    if "download" in shown:
        progress = None
        if task.download.state is DownloadState.RUNNING and download_progress:
            progress = download_progress(key)
        download = fmt.download_cell(task.download, progress)
    expires = ""
    if "expires" in shown:
        expires = expires_cell(url_deadline(task), now)
    return (age, next_text, download, expires)


def in_view(tasks: Iterable[Task]) -> InView:
    """What `tasks` (the rows on screen) hold, for the column planner."""
    widths: dict[str, int] = {}
    ids: list[str] = []
    failed = live = downloading = expiring = False
    for task in tasks:
        ids.append(safe(task.id))
        failed = failed or task.failure is not None
        live = live or not task.state.terminal
        downloading = downloading or task.download.state is not DownloadState.NONE
        expiring = expiring or url_deadline(task) is not None
        for name, (text, _) in cells(task, NO_TICKS).items():
            widths[name] = max(widths.get(name, 0), cell_width(text))
    # the texts that change with time alone are planned by whether they can show at all
    if ids:
        widths["age"] = BY_NAME["age"].min_width
    if live:
        widths["next_poll"] = BY_NAME["next_poll"].min_width
    if downloading:
        widths["download"] = BY_NAME["download"].min_width
    if expiring:
        widths["expires"] = BY_NAME["expires"].min_width
    return InView(tuple(sorted(widths.items())), tuple(ids), failed)
