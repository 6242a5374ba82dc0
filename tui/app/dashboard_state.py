"""What the dashboard knows, without a screen: every task, the batch's sums, download progress.

The app folds each `FeedBatch` in with `DashboardState.apply` (one dictionary update per changed
task, never a scan of 100,000) and draws the summary bar from `summary_data()`. Nothing here
imports Textual, so it is tested like `task_view.py`: plain objects in, plain objects out.
`BatchStats` keeps the sums incrementally, so a burst of 1,000 changed tasks costs 1,000
dictionary updates; `EtaTracker` (tui.core.eta) is fed the same changes for the "what's left".

The bar follows the table's filter: `follow_view(spec)` keeps a `ScopeSums` (the same sums over
the tasks in view, through a `TaskView` of its own), built once per filter and then kept up to
date with the changed keys only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tui.app.feeds import FeedBatch
from tui.app.task_view import TaskIndex, TaskView, ViewSpec
from tui.core.clean import clean_line
from tui.core.eta import Eta, EtaTracker, Remaining
from tui.core.model import Download, DownloadState, Key, State, Task
from tui.core.text_width import cut

if TYPE_CHECKING:
    from tui.core.downloads import DownloadProgress
    from tui.core.engine import Engine

EXPIRY_WARNING = 3600.0  # a finished video whose URL dies within this many seconds is flagged
SCOPE_WORDS = {
    "state_filter": "state",
    "text": "filter",
    "failure_group": "failure",
    "group_title": "failure",
}
"""How the bar names a filter of the table's `ViewSpec` (any other field: its own name)."""
SCOPE_VALUE_CELLS = 40  # a filter value longer than this is cut in the bar
UNFILTERED = ViewSpec()  # every task, in the default order


@dataclass
class BatchStats:
    """Token and download sums over every task, kept up to date change by change."""

    tokens_total: int = 0
    tokens_super: int = 0
    downloads: dict[DownloadState, int] = field(
        default_factory=lambda: dict.fromkeys(DownloadState, 0)
    )
    # key -> (total tokens, super-resolution tokens, download state)
    _rows: dict[Key, tuple[int, int, DownloadState]] = field(default_factory=dict)
    # key -> url expiry, for the few rows at risk only: the 1 Hz check never scans every task
    _at_risk: dict[Key, float] = field(default_factory=dict)

    def update(self, tasks: Iterable[Task]) -> None:
        for task in tasks:
            self._drop(task.key)
            total = task.tokens.total or 0
            sup = task.tokens.super_resolution or 0
            if (
                task.state is State.SUCCEEDED
                and task.url_expires_at is not None
                and task.download.state not in (DownloadState.DONE, DownloadState.EXPIRED)
            ):
                self._at_risk[task.key] = task.url_expires_at.timestamp()
            self._rows[task.key] = (total, sup, task.download.state)
            self.tokens_total += total
            self.tokens_super += sup
            self.downloads[task.download.state] += 1

    def remove(self, keys: Iterable[Key]) -> None:
        for key in keys:
            self._drop(key)

    def load(self, tasks: Iterable[Task]) -> None:
        self._rows.clear()
        self._at_risk.clear()
        self.tokens_total = self.tokens_super = 0
        self.downloads = dict.fromkeys(DownloadState, 0)
        self.update(tasks)

    def _drop(self, key: Key) -> None:
        old = self._rows.pop(key, None)
        self._at_risk.pop(key, None)
        if old is not None:
            self.tokens_total -= old[0]
            self.tokens_super -= old[1]
            self.downloads[old[2]] -= 1

    def expiring(self, now: float, within: float = EXPIRY_WARNING) -> tuple[int, int]:
        """(finished videos whose URL already expired undownloaded, ones expiring within)."""
        gone = soon = 0
        for at in self._at_risk.values():
            if at <= now:
                gone += 1
            elif at - now <= within:
                soon += 1
        return gone, soon


@dataclass(frozen=True)
class Submission:
    """The store's create requests (`submit`), for the bar: `sent` were answered with a task,
    `pending` wait to be sent (or are leaving now), `uncertain` and `rejected` need a person.
    `live`: per provider with requests, (tasks from them still live here, `max_live`)."""

    sent: int = 0
    pending: int = 0
    uncertain: int = 0
    rejected: int = 0
    live: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    waiting: Mapping[str, str] = field(default_factory=dict)  # provider -> why creating waits


@dataclass(frozen=True)
class SummaryData:
    """Everything the bar shows, gathered by the app once per refresh."""

    counts: Mapping[State, int]
    now: float
    tokens_total: int = 0
    tokens_super: int = 0
    eta: Eta | None = None  # None: nothing that can finish, or paused
    remaining: Remaining | None = None  # live tasks that can finish and the blocked ones
    rps: float | None = None
    health: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)
    downloads: Mapping[DownloadState, int] = field(default_factory=dict)
    download_bytes: int = 0
    download_speed: float = 0.0
    expired_urls: int = 0
    expiring_urls: int = 0
    mode: str = "live"  # "live" | "paused" | "viewer" | "stopped"
    mode_note: str | None = None  # viewer: "pid 4242 polls this store"
    scope: str | None = None  # the table's filter when one is set: "batch spring · state failed"
    outage: str | None = None  # why the store takes no writes now (polling waits meanwhile)
    submission: Submission | None = None  # None: the store has no create requests


class ScopeSums:
    """The summary's numbers over the tasks a filter shows, kept current change by change.

    A `TaskView` of its own (the table's spec, sorted by state: a re-sort of the table costs
    nothing here) says which tasks are in; building it and the sums costs one pass over the
    tasks in view, once per filter; after that only the changed keys are looked at.
    """

    def __init__(
        self, index: TaskIndex, spec: ViewSpec, tracked: Callable[[Task], Task] = lambda t: t
    ) -> None:
        self.spec = spec
        self.tracked = tracked  # the copy of a task the ETA sees
        self.view = TaskView(index, spec)
        self.counts: dict[State, int] = dict.fromkeys(State, 0)
        self.stats = BatchStats()
        self.eta = EtaTracker()
        self._members: dict[Key, State] = {}
        self._rebuild()

    def _rebuild(self) -> None:
        index, shown = self.view.index, self.view.keys()
        tasks = [task for key in shown if (task := index.get(key)) is not None]
        self.counts = dict.fromkeys(State, 0)
        self._members = {}
        for task in tasks:
            self._members[task.key] = task.state
            self.counts[task.state] += 1
        self.stats.load(tasks)
        # the store rows' next polls: copying the engine's onto every live task would cost
        # ~0.5 s at 60,000 (a Task copy each); each task's next change brings its own
        self.eta.load(tasks)

    def set_spec(self, spec: ViewSpec) -> None:
        self.spec = spec
        self.view.set_spec(spec)
        self._rebuild()

    def update(self, changed: Iterable[Key]) -> None:
        """Fold in keys whose task changed (or left)."""
        if self.view.stale:  # the index was reloaded: start over
            self.view.rebuild()
            self._rebuild()
            return
        keys = list(changed)
        for start in range(0, len(keys), TaskView.BULK):
            # in steps the view moves each key alone: its bulk path re-sorts every task
            self.view.update(keys[start : start + TaskView.BULK])
        index, members, counts = self.view.index, self._members, self.counts
        for key in keys:
            old = members.pop(key, None)
            if old is not None:
                counts[old] -= 1
            task = index.get(key)
            if task is not None and key in self.view:
                members[key] = task.state
                counts[task.state] += 1
                self.stats.update((task,))
                self.eta.update((self.tracked(task),))
            elif old is not None:
                self.stats.remove((key,))
                self.eta.remove((key,))

    def __len__(self) -> int:
        return len(self._members)


def is_filtered(spec: ViewSpec) -> bool:
    """Does `spec` leave tasks out? (Sorting never does.)"""
    return spec.replace(sort_column=UNFILTERED.sort_column, sort_reverse=False) != UNFILTERED


def scope_label(spec: ViewSpec) -> str:
    """`batch spring-ads · state failed · filter ugc`: every filter of the spec, cleaned."""
    parts = []
    for item in dataclasses.fields(spec):
        if item.name in ("sort_column", "sort_reverse", "group_keys"):
            continue  # the order is no filter; a group's members are named by `group_title`
        value = getattr(spec, item.name)
        if value == item.default or value in (None, ""):
            continue
        word = SCOPE_WORDS.get(item.name, item.name.replace("_", " "))
        text = cut(clean_line(str(value)) or "", SCOPE_VALUE_CELLS)
        parts.append(f"{word} {text}")
    return " · ".join(parts)


class DashboardState:
    """Every task the dashboard shows (`index`), their sums (`stats`), the downloads in
    flight (`progress`) and the "what's left" (`eta`), kept up to date batch by batch."""

    def __init__(self, providers: Iterable[str], *, downloads_enabled: bool) -> None:
        self.index = TaskIndex()
        self.stats = BatchStats()
        self.eta = EtaTracker()
        self.progress: dict[Key, DownloadProgress] = {}
        self.downloads_enabled = downloads_enabled
        self.next_poll: Callable[[Key], float | None] | None = None
        """The engine's next poll of a task (epoch s): the ETA's "next look" when overdue."""
        self.scope: ScopeSums | None = None
        self._configured = set(providers)
        self._providers: set[str] = set()
        self._providers_stamp: tuple[int, int] | None = None
        self._dirty: set[Key] = set()  # changed since the scope last looked
        self._live_requested: dict[str, set[Key]] = {}  # provider -> live tasks from requests

    def load(self, tasks: list[Task], eta: EtaTracker | None = None) -> None:
        """Replace everything with `tasks` (the store read at start, or a viewer's resync).
        `eta`: a tracker already fed with `tasks` (by the thread that read them: feeding
        100,000 tasks costs ~0.6 s that the event loop need not wait for)."""
        self.index.load(tasks)
        self.stats.load(tasks)
        if eta is None:
            eta = EtaTracker()
            eta.load(tasks)  # the next polls come with each task's next change (see above)
        self.eta = eta
        self._live_requested.clear()
        self._note_requested(tasks)
        self._dirty.clear()

    def apply(self, batch: FeedBatch, *, owns_downloads: bool) -> set[Key]:
        """Fold `batch` in; return the keys whose task changed. A feed that does not own the
        download state (the engine's task copies) keeps the download the dashboard has."""
        changed: set[Key] = set()
        if batch.reload is not None:
            self.load(batch.reload)
        if batch.removed:
            removed = self.index.remove(batch.removed)
            changed |= removed
            self.stats.remove(batch.removed)
            self.eta.remove(batch.removed)
            for keys in self._live_requested.values():
                keys.difference_update(removed)
        if batch.tasks:
            tasks = list(batch.tasks.values())
            if not owns_downloads:
                tasks = [self._keep_download(t) for t in tasks]
            upserted = self.index.upsert(tasks)
            changed |= upserted
            fresh = [t for t in tasks if t.key in upserted]
            self.stats.update(fresh)
            self.eta.update(self._tracked(t) for t in fresh)
            self._note_requested(fresh)
        if batch.downloads:
            changed |= self.set_downloads(batch.downloads)
        if self.scope is not None:
            self._dirty |= changed
        return changed

    def _tracked(self, task: Task) -> Task:
        """The copy the ETA sees: a live task carries the engine's next poll (its store row
        only has the one saved with its last change)."""
        if self.next_poll is None or task.state.terminal:
            return task
        due = self.next_poll(task.key)
        if due is None:
            return task
        return task.evolve(next_poll_at=datetime.fromtimestamp(due, UTC))

    def _note_requested(self, tasks: Iterable[Task]) -> None:
        for task in tasks:
            if task.request is None:
                continue
            keys = self._live_requested.setdefault(task.provider, set())
            if task.state.terminal:
                keys.discard(task.key)
            else:
                keys.add(task.key)

    def _keep_download(self, task: Task) -> Task:
        known = self.index.get(task.key)
        if known is None or known.download == task.download:
            return task
        return task.evolve(download=known.download)

    def set_downloads(self, downloads: Mapping[Key, Download]) -> set[Key]:
        updated = []
        for key, download in downloads.items():
            task = self.index.get(key)
            if task is not None and task.download != download:
                updated.append(task.evolve(download=download))
        changed = self.index.upsert(updated)
        self.stats.update(t for t in updated if t.key in changed)
        if self.scope is not None:
            self._dirty |= changed
        return changed

    def read_progress(self, progress: Mapping[Key, DownloadProgress] | None) -> set[Key]:
        """Take the downloader's table of queued and running downloads (rebuilt on each read,
        so rows, counts and the summary share one copy). Queued and running downloads leave no
        event, so their state is copied onto the tasks here; returns the keys that changed."""
        self.progress.clear()
        if progress is not None:
            self.progress.update(progress)
        wanted: dict[Key, Download] = {}
        for key, item in self.progress.items():
            task = self.index.get(key)
            if task is None or task.download.state is item.state:
                continue
            if task.download.state in (DownloadState.DONE, DownloadState.EXPIRED):
                continue
            wanted[key] = Download(item.state, path=item.path)
        return self.set_downloads(wanted) if wanted else set()

    def follow_view(self, spec: ViewSpec | None) -> None:
        """Count over the tasks `spec` shows (None or no filter: every task). Called before
        each summary; the sums are rebuilt only when the filter changed."""
        if spec is None or not is_filtered(spec):
            self.scope = None
            self._dirty.clear()
            return
        spec = spec.replace(sort_column=UNFILTERED.sort_column, sort_reverse=False)
        if self.scope is None:
            self.scope = ScopeSums(self.index, spec, self._tracked)
        elif self.scope.spec != spec:
            self.scope.set_spec(spec)
        elif self._dirty or self.scope.view.stale:
            self.scope.update(self._dirty)
        self._dirty.clear()

    def live_from_requests(self, provider: str) -> int:
        """Tasks of `provider` made by a create request and not finished: what `max_live`
        holds, counted here rather than by a join over the store every second."""
        return len(self._live_requested.get(provider, ()))

    def providers_with_tasks(self) -> set[str]:
        """Configured providers that have tasks here: read off the index only when the number
        of tasks changed (a scan of 100,000 keys took 23 ms, every second)."""
        stamp = (self.index.generation, len(self.index))
        if self._providers_stamp != stamp:
            self._providers_stamp = stamp
            self._providers = {key[0] for key in self.index} & self._configured
        return self._providers

    def summary_data(
        self,
        now: float,
        engine: Engine | None,
        mode: str,
        note: str | None = None,
        *,
        submission: Submission | None = None,
    ) -> SummaryData:
        """What the summary bar shows; `engine` is None when this process does not poll."""
        scope = self.scope
        counts = self.index.counts() if scope is None else dict(scope.counts)
        stats = self.stats if scope is None else scope.stats
        tracker = self.eta if scope is None else scope.eta
        health: dict[str, tuple[str, str | None]] = {}
        rps = None
        speed = 0.0
        nbytes = 0
        outage = None
        paused = mode == "paused"
        if engine is not None:
            # every configured provider with tasks here; "idle" until the engine first asks it
            health = {name: ("idle", None) for name in self.providers_with_tasks()}
            health.update(
                (name, (str(h), clean_line(reason)))
                for name, (h, reason) in engine.health().items()
            )
            rps = engine.requests_per_second()
            for progress in self.progress.values():
                if progress.state is DownloadState.RUNNING:
                    speed += progress.speed or 0.0
                    nbytes += progress.bytes or 0
            if engine.store_outage is not None:
                outage = clean_line(engine.store_outage.message) or engine.store_outage.reason
        words = {name: word for name, (word, _) in health.items()}
        remaining = tracker.remaining(words, paused)
        # Nothing is seen finishing while polling is paused, stopped or waits for the store.
        halted = paused or mode == "stopped" or outage is not None
        eta = tracker.estimate(now, words, halted)
        gone, soon = stats.expiring(now) if self.downloads_enabled else (0, 0)
        return SummaryData(
            counts=counts,
            now=now,
            tokens_total=stats.tokens_total,
            tokens_super=stats.tokens_super,
            eta=eta,
            remaining=remaining,
            rps=rps,
            health=health,
            downloads=dict(stats.downloads),
            download_bytes=nbytes,
            download_speed=speed,
            expired_urls=gone,
            expiring_urls=soon,
            mode=mode,
            mode_note=note,
            scope=scope_label(scope.spec) if scope is not None else None,
            outage=outage,
            submission=submission,
        )
