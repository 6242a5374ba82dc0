"""Batches at a glance: one row per batch label and provider, from the tasks in view.

Why its own module: the dashboard's batches view, its summary bar (when a batch is filtered)
and any script want the same numbers, and none of them should scan 100,000 tasks twice to get
them. Pure: tasks in, rows out.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from tui.core.model import DownloadState, State, Task

NO_BATCH = "(no batch)"


@dataclass(slots=True)
class BatchRow:
    """What one batch looks like at one provider."""

    batch: str | None
    provider: str
    states: Counter[State] = field(default_factory=Counter)
    downloads: Counter[DownloadState] = field(default_factory=Counter)
    tokens: int = 0
    tokens_super: int = 0
    generation_seconds: list[float] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.batch if self.batch is not None else NO_BATCH

    @property
    def total(self) -> int:
        return sum(self.states.values())

    @property
    def finished(self) -> int:
        return sum(n for state, n in self.states.items() if state.terminal)

    @property
    def progress(self) -> int:
        """Whole percent finished, never rounded up to 100 while a task is still live."""
        return percent(self.finished, self.total)

    @property
    def success_rate(self) -> float | None:
        """Succeeded among the finished, or None before any finished."""
        finished = self.finished
        return self.states[State.SUCCEEDED] / finished if finished else None

    @property
    def median_generation(self) -> float | None:
        """Median seconds from created (or first seen) to finished, over succeeded tasks."""
        if not self.generation_seconds:
            return None
        return statistics.median(self.generation_seconds)

    @property
    def kept(self) -> int:
        return self.downloads[DownloadState.DONE]


def percent(part: int, whole: int) -> int:
    """`part/whole` in whole percent, floored: 299/300 is 99, only 300/300 is 100."""
    if whole <= 0:
        return 0
    return part * 100 // whole


def generation_seconds(task: Task) -> float | None:
    """How long the provider took: created (else first seen) to finished; None if unknown."""
    start = task.created_at or task.added_at
    if start is None or task.finished_at is None:
        return None
    seconds = (task.finished_at - start).total_seconds()
    return seconds if seconds >= 0 else None


def summarise(tasks: Iterable[Task]) -> list[BatchRow]:
    """One row per (batch, provider), batches in name order (unlabelled last), providers too."""
    rows: dict[tuple[str | None, str], BatchRow] = {}
    for task in tasks:
        key = (task.batch, task.provider)
        row = rows.get(key)
        if row is None:
            row = rows[key] = BatchRow(task.batch, task.provider)
        row.states[task.state] += 1
        if task.download.state is not DownloadState.NONE:
            row.downloads[task.download.state] += 1
        row.tokens += task.tokens.total or 0
        row.tokens_super += task.tokens.super_resolution or 0
        if task.state is State.SUCCEEDED:
            took = generation_seconds(task)
            if took is not None:
                row.generation_seconds.append(took)
    return sorted(rows.values(), key=lambda r: (r.batch is None, r.batch or "", r.provider))
