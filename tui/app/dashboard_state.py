"""What the dashboard knows, without a screen: every task, the batch's sums, download progress.

The app folds each `FeedBatch` in with `DashboardState.apply` (one dictionary update per changed
task, never a scan of 100,000) and draws the summary bar from `summary_data()`. Nothing here
imports Textual, so it is tested like `task_view.py`: plain objects in, plain objects out.
`BatchStats` keeps the sums incrementally, so a burst of 1,000 changed tasks costs 1,000
dictionary updates.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tui.app.feeds import FeedBatch
from tui.app.task_view import TaskIndex
from tui.core.clean import clean_line
from tui.core.model import TERMINAL_STATES, Download, DownloadState, Key, State, Task

if TYPE_CHECKING:
    from tui.core.downloads import DownloadProgress
    from tui.core.engine import Engine

EXPIRY_WARNING = 3600.0  # a finished video whose URL dies within this many seconds is flagged
THROUGHPUT_WINDOW = 600.0  # seconds of history the ETA is computed from


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
    _samples: deque[tuple[float, int]] = field(default_factory=deque)

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

    # -- throughput ---------------------------------------------------------------------------

    def sample(self, now: float, terminal: int) -> None:
        """Record how many tasks had finished at `now` (clock seconds)."""
        samples = self._samples
        if samples and terminal < samples[-1][1]:
            samples.clear()  # tasks were removed: old samples no longer compare
        samples.append((now, terminal))
        while len(samples) > 2 and now - samples[1][0] >= THROUGHPUT_WINDOW:
            samples.popleft()

    def throughput(self) -> float | None:
        """Tasks finishing per second over the window, None until there is something to go by."""
        if len(self._samples) < 2:
            return None
        (t0, n0), (t1, n1) = self._samples[0], self._samples[-1]
        if t1 - t0 < 5 or n1 <= n0:
            return None
        return (n1 - n0) / (t1 - t0)

    def eta(self, live: int) -> float | None:
        """Seconds until every live task is finished at the observed rate."""
        rate = self.throughput()
        if live == 0:
            return 0.0
        if rate is None or rate <= 0:
            return None
        return live / rate


@dataclass(frozen=True)
class SummaryData:
    """Everything the bar shows, gathered by the app once per refresh."""

    counts: Mapping[State, int]
    now: float
    tokens_total: int = 0
    tokens_super: int = 0
    eta: float | None = None
    rps: float | None = None
    health: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)
    downloads: Mapping[DownloadState, int] = field(default_factory=dict)
    download_bytes: int = 0
    download_speed: float = 0.0
    expired_urls: int = 0
    expiring_urls: int = 0
    mode: str = "live"  # "live" | "paused" | "viewer" | "stopped" | "store" (an outage)
    mode_note: str | None = None  # viewer: "pid 4242 polls this store"; store: "full"


class DashboardState:
    """Every task the dashboard shows (`index`), their sums (`stats`) and the downloads in
    flight (`progress`), kept up to date batch by batch."""

    def __init__(self, providers: Iterable[str], *, downloads_enabled: bool) -> None:
        self.index = TaskIndex()
        self.stats = BatchStats()
        self.progress: dict[Key, DownloadProgress] = {}
        self.downloads_enabled = downloads_enabled
        self._configured = set(providers)
        self._providers: set[str] = set()
        self._providers_stamp: tuple[int, int] | None = None

    def load(self, tasks: list[Task]) -> None:
        """Replace everything with `tasks` (the store read at start, or a viewer's resync)."""
        self.index.load(tasks)
        self.stats.load(tasks)

    def apply(self, batch: FeedBatch, *, owns_downloads: bool) -> set[Key]:
        """Fold `batch` in; return the keys whose task changed. A feed that does not own the
        download state (the engine's task copies) keeps the download the dashboard has."""
        changed: set[Key] = set()
        if batch.reload is not None:
            self.load(batch.reload)
        if batch.removed:
            changed |= self.index.remove(batch.removed)
            self.stats.remove(batch.removed)
        if batch.tasks:
            tasks = list(batch.tasks.values())
            if not owns_downloads:
                tasks = [self._keep_download(t) for t in tasks]
            changed |= self.index.upsert(tasks)
            self.stats.update(t for t in tasks if t.key in changed)
        if batch.downloads:
            changed |= self.set_downloads(batch.downloads)
        return changed

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

    def sample(self, now: float) -> None:
        """Record how many tasks are finished now (the ETA's throughput)."""
        counts = self.index.counts()
        terminal = sum(n for state, n in counts.items() if state in TERMINAL_STATES)
        self.stats.sample(now, terminal)

    def providers_with_tasks(self) -> set[str]:
        """Configured providers that have tasks here: read off the index only when the number
        of tasks changed (a scan of 100,000 keys took 23 ms, every second)."""
        stamp = (self.index.generation, len(self.index))
        if self._providers_stamp != stamp:
            self._providers_stamp = stamp
            self._providers = {key[0] for key in self.index} & self._configured
        return self._providers

    def summary_data(
        self, now: float, engine: Engine | None, mode: str, note: str | None = None
    ) -> SummaryData:
        """What the summary bar shows; `engine` is None when this process does not poll."""
        counts = self.index.counts()
        live = sum(n for state, n in counts.items() if state not in TERMINAL_STATES)
        health: dict[str, tuple[str, str | None]] = {}
        rps = None
        speed = 0.0
        nbytes = 0
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
        gone, soon = self.stats.expiring(now) if self.downloads_enabled else (0, 0)
        return SummaryData(
            counts=counts,
            now=now,
            tokens_total=self.stats.tokens_total,
            tokens_super=self.stats.tokens_super,
            eta=self.stats.eta(live),
            rps=rps,
            health=health,
            downloads=dict(self.stats.downloads),
            download_bytes=nbytes,
            download_speed=speed,
            expired_urls=gone,
            expiring_urls=soon,
            mode=mode,
            mode_note=note,
        )
