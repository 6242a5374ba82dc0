"""Downloads that wait for the local disk (full, read-only, not writable), and when to try again.

A video whose signed URL dies in a day must not be given up because the download folder was
full for an hour: such a download stays `pending` and is tried again with back-off while the
process runs, and at once when another download's file was written (space is back). This keeps
the book of who waits, since when, why, and who is due; the downloader does the trying.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from tui.core.jitter import EQUAL, jittered
from tui.core.model import Key, Task

FIRST_RETRY = 1.0  # seconds before the first new try after a disk failure
LONGEST_RETRY = 60.0  # back-off cap: a freed disk is noticed within a minute
NOTICE_EVERY = 60.0  # `watch` says so this often while only such downloads remain


@dataclass
class _Waiting:
    task: Task
    error: str
    tries: int
    due: float
    path: str | None


class DiskWaits:
    """The downloads waiting for the disk, keyed by task. Times are the engine clock's."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._waiting: dict[Key, _Waiting] = {}
        self._last_notice: float | None = None

    def __len__(self) -> int:
        return len(self._waiting)

    def __contains__(self, key: object) -> bool:
        return key in self._waiting

    def __iter__(self) -> Iterator[Key]:
        return iter(list(self._waiting))

    def path(self, key: Key) -> str | None:
        waiting = self._waiting.get(key)
        return waiting.path if waiting else None

    def park(self, task: Task, error: str, now: float, path: str | None) -> bool:
        """`task` failed on the disk (again); returns True when this is news (a new error)."""
        before = self._waiting.get(task.key)
        tries = before.tries + 1 if before else 1
        delay = min(LONGEST_RETRY, FIRST_RETRY * 2 ** (tries - 1))
        due = now + jittered(delay, self._rng, EQUAL)
        self._waiting[task.key] = _Waiting(task, error, tries, due, path)
        return before is None or before.error != error

    def forget(self, key: Key) -> None:
        """The download ended some other way (kept, expired, failed for another reason)."""
        self._waiting.pop(key, None)

    def hurry(self, now: float) -> None:
        """A file was just written: the disk takes bytes again, so everyone is due now."""
        for waiting in self._waiting.values():
            waiting.due = min(waiting.due, now)

    def next_due(self) -> float | None:
        return min((w.due for w in self._waiting.values()), default=None)

    def take_due(self, now: float) -> list[Task]:
        """The tasks whose next try is due (they stay in the book until `forget`)."""
        due = [w for w in self._waiting.values() if w.due <= now]
        for waiting in due:
            waiting.due = float("inf")  # being tried: not due again until parked again
        return [w.task for w in due]

    def notice(self, now: float) -> str | None:
        """The line to say now that only these downloads remain (None: said less than a minute
        ago, or nobody waits)."""
        if not self._waiting:
            self._last_notice = None
            return None
        if self._last_notice is not None and now - self._last_notice < NOTICE_EVERY:
            return None
        self._last_notice = now
        count = len(self._waiting)
        newest = max(self._waiting.values(), key=lambda w: w.tries)
        soonest = self.next_due()
        when = "" if soonest is None else f", next try in {max(0.0, soonest - now):.0f} s"
        return (
            f"{count} finished video{'s' if count != 1 else ''} not kept yet because of the "
            f"local disk ({newest.error}); retrying{when} until kept or their URLs expire"
        )
