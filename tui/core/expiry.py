"""When a signed video URL stops working, read from the URL itself.

Providers keep finished videos for about a day and then the link is dead for good, so the
downloader must know the deadline. Object-store signatures carry it in the query string:
TOS (`X-Tos-Date` + `X-Tos-Expires`), S3 (`X-Amz-Date` + `X-Amz-Expires`) and CDN-style
`Expires` (epoch seconds). When a URL says nothing, the merge falls back to 24 h.
`video_expiry` is the deadline for one task, which the downloader orders its queue by.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

from tui.core.model import DownloadState, State, Task, from_epoch

_SIGNED_DATE = "%Y%m%dT%H%M%SZ"  # 20260427T111500Z


def url_expiry(url: str | None) -> datetime | None:
    """The earliest deadline the URL's query parameters state, or None when they state none."""
    if not isinstance(url, str) or "?" not in url:
        return None
    try:
        query = urlsplit(url).query
    except ValueError:
        return None
    params: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        params.setdefault(name.lower(), value.strip())
    deadlines = [
        _signed(params.get("x-tos-date"), params.get("x-tos-expires")),
        _signed(params.get("x-amz-date"), params.get("x-amz-expires")),
        _epoch(params.get("expires")),
    ]
    known = [d for d in deadlines if d is not None]
    return min(known) if known else None


def video_expiry(task: Task) -> datetime | None:
    """When the task's video URL stops working: the URL's own word, else 24 h after finishing."""
    if task.url_expires_at is not None:
        return task.url_expires_at
    stated = url_expiry(task.video_url)
    if stated is not None:
        return stated
    finished = task.first_seen_terminal_at or task.finished_at
    return finished + timedelta(hours=24) if finished else None


def needs_download(task: Task) -> bool:
    """A finished task whose video is not kept yet (and was not given up on as expired)."""
    return (
        task.state is State.SUCCEEDED
        and bool(task.video_url)
        and task.download.state not in (DownloadState.DONE, DownloadState.EXPIRED)
    )


def _signed(date: str | None, expires: str | None) -> datetime | None:
    seconds = _seconds(expires)
    if not date or seconds is None:
        return None
    try:
        signed_at = datetime.strptime(date, _SIGNED_DATE).replace(tzinfo=UTC)
        return signed_at + timedelta(seconds=seconds)
    except (ValueError, OverflowError):
        return None


def _epoch(value: str | None) -> datetime | None:
    seconds = _seconds(value)
    return None if seconds is None else from_epoch(seconds)


def _seconds(value: str | None) -> int | None:
    """A plain non-negative ASCII integer of sane size, else None."""
    if not value or len(value) > 15 or not (value.isascii() and value.isdigit()):
        return None
    return int(value)
