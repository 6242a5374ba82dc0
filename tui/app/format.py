"""Cell text for the task table: short, fixed-meaning words a person scans at a glance.

Pure functions (no Textual): the table, the summary and the CLI's plain table can all say a
state, an age or a download the same way. Every string here is plain text; colour is the
widget's business (component classes), never markup.
"""

from __future__ import annotations

import math
import re
import time
from datetime import datetime
from typing import Protocol

import humanize

from tui.core.model import Download, DownloadState, Failure, State

# One cell wide each (checked with rich.cells.cell_len in the tests): a wide glyph would shift
# every column after it.
STATE_GLYPHS: dict[State, str] = {
    State.QUEUED: "○",
    State.RUNNING: "◐",
    State.SUCCEEDED: "✔",
    State.FAILED: "✖",
    State.CANCELLED: "⊘",
    State.EXPIRED: "⧗",
    State.MISSING: "∅",
    State.UNKNOWN: "?",
}
NO_VALUE = ""


class ProgressLike(Protocol):
    """What the table needs of `tui.core.downloads.DownloadProgress` (read-only properties: that
    class is frozen, and a plain attribute here would ask for one that can be set)."""

    @property
    def bytes(self) -> int: ...

    @property
    def total(self) -> int | None: ...

    @property
    def speed(self) -> float: ...


def state_cell(state: State) -> str:
    """`✔ succeeded`: the glyph survives a colour-blind user and a monochrome terminal."""
    return f"{STATE_GLYPHS.get(state, '?')} {state}"


def compact_duration(seconds: float) -> str:
    """`45s`, `3m12s`, `1h05m`, `2d03h`: at most 6 cells, the two biggest units only.

    Past an hour the text changes once a minute, so a table of old tasks redraws rarely.
    """
    if not math.isfinite(seconds) or seconds < 0:
        seconds = 0
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    if days < 100:
        return f"{days}d{hours:02d}h"
    return f"{days}d"


def epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def age_cell(start: float | None, now: float) -> str:
    """Time since the task was created (k9s's AGE): `<1m`, `4m`, `1h05m`, `2d03h`; empty when
    nobody knows when. Whole minutes on purpose: a row's text then changes at most once a
    minute, so a screen of ticking ages costs almost nothing over SSH (the detail pane has the
    exact times)."""
    if start is None:
        return NO_VALUE
    seconds = now - start
    if not math.isfinite(seconds) or seconds < 60:
        return "<1m"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    return compact_duration(seconds)


def progress_cell(progress: int | None) -> str:
    if progress is None:
        return NO_VALUE
    return f"{max(0, min(100, int(progress)))}%"


_MODEL_PREFIXES = ("doubao-", "seedance-", "seedance_")  # shared by every model this tool sees
_MODEL_RELEASE = re.compile(r"[-_]\d{6}$")  # `-260128`: the release date ends Ark's names


def model_cell(model: str | None) -> str:
    """`2-0-fast-260128` for `doubao-seedance-2-0-fast-260128`: the part that tells models apart
    (every name starts with the same vendor and family words). The detail pane shows it all."""
    if not model:
        return NO_VALUE
    short = model
    for prefix in _MODEL_PREFIXES:
        if short.lower().startswith(prefix) and len(short) > len(prefix):
            short = short[len(prefix) :]
    return short


def squeeze_model(text: str, width: int) -> str:
    """A model (`model_cell`) in `width` cells: the release date goes first (`2-0-fast…`), so
    the variant (fast, pro, flex) still shows; the caller cuts whatever is still too long."""
    if len(text) <= width:
        return text
    release = _MODEL_RELEASE.search(text)
    if release is not None and release.start() + 1 <= width:
        return text[: release.start()] + "…"
    return text


def video_duration_cell(duration: float | None) -> str:
    """The video's length (the contract's `duration`), not how long the task took."""
    if duration is None:
        return NO_VALUE
    return f"{duration:g}s"


def resolution_cell(resolution: str | None, super_resolution: str | None) -> str:
    """`480p→720p` when the provider super-resolved the video, else the one resolution."""
    if super_resolution and resolution and super_resolution != resolution:
        return f"{resolution}→{super_resolution}"
    return resolution or super_resolution or NO_VALUE


def count_cell(value: int | float | None) -> str:
    """`950`, `50.6k`, `114k`, `1.2M`: token counts in at most 5 cells."""
    if value is None:
        return NO_VALUE
    number = float(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= limit:
            scaled = number / limit
            if abs(scaled) >= 100:
                return f"{scaled:.0f}{suffix}"
            return f"{scaled:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{number:.0f}"


def size_cell(num_bytes: float) -> str:
    """`3.1 MB`: `humanize.naturalsize`, the same words `status` prints (decimal units)."""
    return humanize.naturalsize(num_bytes)


def next_poll_cell(at: float | None, now: float, state: State) -> str:
    """The local clock time of the task's next poll (`23:10:58`), `due` once it has passed, or
    nothing for a finished task (it is never polled again). A time, not a countdown: the text
    changes only when the task is rescheduled, not every second on every row."""
    if at is None or state.terminal:
        return NO_VALUE
    if at <= now:
        return "due"
    return time.strftime("%H:%M:%S", time.localtime(at))


def download_cell(download: Download, progress: ProgressLike | None = None) -> str:
    """`done`, `45% 3.1 MB/s`, `failed`, `expired`, `waiting`, or nothing."""
    state = download.state
    if state is DownloadState.RUNNING:
        if progress is None:
            return "running"
        rate = f"{size_cell(progress.speed)}/s" if progress.speed else ""
        if progress.total:
            pct = max(0.0, min(100.0, 100.0 * progress.bytes / progress.total))
            return f"{pct:.0f}% {rate}".strip()
        return f"{size_cell(progress.bytes)} {rate}".strip()
    if state is DownloadState.PENDING:
        return "waiting"
    if state is DownloadState.NONE:
        return NO_VALUE
    return str(state)  # done, failed, expired


def failure_cell(failure: Failure | None) -> str:
    return failure.label if failure is not None else NO_VALUE
