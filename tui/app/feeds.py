"""Where the dashboard's changes come from: this process's engine, or another process's store.

- `LiveFeed`: this process holds the store's `PollerLock` and runs the `Engine` inside the
  app's event loop; the engine's callbacks only *collect* (a dict of changed tasks, a list of
  events), and the app applies what was collected a few times a second, in one repaint.
- `ViewerFeed`: another process (a `seedance-tui watch`) holds the lock. The dashboard attaches
  read-only and follows the store once a second: `changed_since()` for tasks, `events_after()`
  for the log. When the poller goes away, the viewer offers to take over (`holder_gone`).

Both hand the app a `FeedBatch` from `drain()`; neither touches a widget. The app holds either
through the `Feed` protocol and never asks which one it has: a viewer has no engine, and its
`follow()` hands over a `LiveFeed` when it took the store over.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from tui.core.model import Download, DownloadState, Event, Key, State, Task
from tui.core.store import TaskFilter

if TYPE_CHECKING:
    import random
    from pathlib import Path

    from tui.core.clock import Clock
    from tui.core.config import Config
    from tui.core.engine import Engine
    from tui.core.lock import LockHolder, PollerLock
    from tui.core.store import Store

COMMAND = "seedance-tui dashboard"  # what other processes see as the lock's holder
HISTORY_EVENTS = 200  # events shown in the log at start, for context


@dataclass
class FeedBatch:
    """What changed since the last drain: newest task per key, events in order, removals."""

    tasks: dict[Key, Task] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    removed: set[Key] = field(default_factory=set)
    reload: list[Task] | None = None  # a full replacement (viewer resync), applied first
    downloads: dict[Key, Download] = field(default_factory=dict)  # from `download` events

    def __bool__(self) -> bool:
        return bool(
            self.tasks or self.events or self.removed or self.downloads or self.reload is not None
        )


def download_from_event(data: dict[str, object]) -> Download | None:
    """A `download` event's data as the task's `download` field (None when it is not one)."""
    try:
        state = DownloadState(str(data.get("state")))
    except ValueError:
        return None
    size = data.get("bytes")
    path, error = data.get("path"), data.get("error")
    return Download(
        state=state,
        path=path if isinstance(path, str) else None,
        bytes=size if isinstance(size, int) and not isinstance(size, bool) else None,
        error=error if isinstance(error, str) else None,
    )


class Feed(Protocol):
    """Where the dashboard's changes come from, as the app sees it."""

    read_only: bool  # True: another process polls, this dashboard only follows
    owns_downloads: bool  # True: batches carry the download state (store rows)
    loads_in_steps: bool  # True: a large store may be shown first page first (`first_page`)

    @property
    def lock(self) -> PollerLock | None:
        """This process's hold on the store's poller lock (a viewer's: to take over later)."""

    @property
    def engine(self) -> Engine | None:
        """The engine polling from this process, once `start_engine()` made it."""
        ...

    def start_engine(self) -> Engine | None:
        """Make the engine (once) and return it; None when this feed does not poll."""
        ...

    def initial(self) -> list[Task]: ...
    def first_page(self, limit: int, states: Sequence[State]) -> list[Task]: ...
    def total(self) -> int: ...
    def recent_events(self) -> list[Event]: ...
    def status(self) -> str | None: ...
    def drain(self) -> FeedBatch: ...

    def follow(self, shown: int) -> Feed | None:
        """Once a second: read what another process wrote; returns the feed to use from now on
        when this one took the polling over (None: keep this one)."""
        ...

    async def close(self) -> None: ...


EngineFactory = Callable[[], "Engine"]


def engine_factory(
    store: Store, config: Config, clock: Clock, rng: random.Random | None = None
) -> EngineFactory:
    """A function that makes the engine: it is called after the dashboard's first frame
    (importing the engine and httpx is 0.08 s of a 0.5 s start). `rng`: a seeded one makes
    the poll jitter the same on every run (the demo's pictures)."""

    def make_engine() -> Engine:
        from tui.core.engine import Engine

        if rng is None:
            return Engine(store, config, clock=clock)
        return Engine(store, config, clock=clock, rng=rng)

    return make_engine


def open_feed(
    store: Store,
    db_path: Path,
    config: Config,
    clock: Clock,
    *,
    command: str = COMMAND,
    make_engine: EngineFactory | None = None,
) -> Feed:
    """Poll the store from here if nobody else does (take its PollerLock), else view it.
    `make_engine` defaults to `engine_factory(store, config, clock)`."""
    from tui.core.lock import LockHeld, PollerLock

    lock = PollerLock(db_path)
    make_engine = make_engine or engine_factory(store, config, clock)
    try:
        lock.acquire(command)
    except LockHeld:
        return ViewerFeed(store, lock, lock.holder(), make_engine=make_engine, command=command)
    return LiveFeed(make_engine, store, lock)


class _Collector:
    """The shared buffer: callbacks append, the app drains."""

    def __init__(self) -> None:
        self._batch = FeedBatch()

    def on_task(self, task: Task) -> None:
        self._batch.tasks[task.key] = task
        self._batch.removed.discard(task.key)

    def on_event(self, event: Event) -> None:
        self._batch.events.append(event)
        if not (event.provider and event.id):
            return
        key = (event.provider, event.id)
        if event.kind == "removed":
            self._batch.tasks.pop(key, None)
            self._batch.removed.add(key)
        elif event.kind == "download":
            download = download_from_event(event.data)
            if download is not None:
                self._batch.downloads[key] = download

    def drain(self) -> FeedBatch:
        batch, self._batch = self._batch, FeedBatch()
        return batch


class LiveFeed(_Collector):
    """This process polls: the engine runs in the app's loop and reports through callbacks.

    The engine's task copies do not own `download` (the downloader writes it straight to the
    store), so a live batch's tasks keep the download state the dashboard already has; download
    changes arrive as `download` events (finished, failed, expired) and, for queued and running
    ones, from the downloader's own progress table.
    """

    read_only = False
    owns_downloads = False
    loads_in_steps = True

    def __init__(
        self, make_engine: EngineFactory, store: Store, lock: PollerLock | None = None
    ) -> None:
        """`make_engine` is called by `start_engine()`, after the dashboard's first frame."""
        super().__init__()
        self.store = store
        self.lock = lock
        self._engine: Engine | None = None
        self._make_engine = make_engine

    @property
    def engine(self) -> Engine | None:
        return self._engine

    @property
    def engine_made(self) -> bool:
        """Whether `start_engine()` made the engine yet."""
        return self._engine is not None

    def start_engine(self) -> Engine:
        if self._engine is None:
            engine = self._make_engine()
            engine.subscribe(self.on_event)
            engine.subscribe_tasks(self.on_task)
            self._engine = engine
        return self._engine

    def initial(self) -> list[Task]:
        return self.store.query()

    def total(self) -> int:
        return sum(self.store.counts().values())

    def first_page(self, limit: int, states: Sequence[State]) -> list[Task]:
        """The first `limit` tasks in `states` order (the table's default sort), read through
        the state index: a screenful in milliseconds, whatever the store's size."""
        tasks: list[Task] = []
        for state in states:
            if len(tasks) >= limit:
                break
            flt = TaskFilter(states=frozenset({state}))
            tasks += self.store.query(flt, limit=limit - len(tasks))
        return tasks

    def recent_events(self) -> list[Event]:
        last = self.store.last_event_id()
        return [e for _, e in self.store.events_after(max(0, last - HISTORY_EVENTS))]

    def status(self) -> str | None:
        return None

    def follow(self, shown: int) -> Feed | None:
        return None  # the engine reports through callbacks: nothing to read

    async def close(self) -> None:
        try:
            if self._engine is not None:
                await self._engine.aclose()
        finally:
            if self.lock is not None:
                self.lock.release()


class ViewerFeed(_Collector):
    """Another process polls; follow its writes to the store, read-only."""

    read_only = True
    owns_downloads = True  # store rows carry the download state the poller wrote
    loads_in_steps = False  # `initial()` also marks where following starts: read it at once

    engine = None  # this process does not poll

    def __init__(
        self,
        store: Store,
        lock: PollerLock,
        holder: LockHolder | None,
        *,
        make_engine: EngineFactory | None = None,
        command: str = COMMAND,
    ) -> None:
        """`make_engine` makes the engine when the poller goes away and this dashboard takes
        over (None: keep viewing)."""
        super().__init__()
        self.store = store
        self.lock = lock
        self.holder = holder
        self.holder_gone = False
        self._make_engine = make_engine
        self._command = command
        self._seq = 0
        self._event_id = 0
        self.stored: int | None = None
        self.want_reload = False

    def start_engine(self) -> None:
        return None

    def initial(self) -> list[Task]:
        self._seq, tasks = self.store.changed_since(0)
        return tasks

    def first_page(self, limit: int, states: Sequence[State]) -> list[Task]:
        return self.initial()[:limit]

    def total(self) -> int:
        return sum(self.store.counts().values())

    def recent_events(self) -> list[Event]:
        self._event_id = self.store.last_event_id()
        start = max(0, self._event_id - HISTORY_EVENTS)
        return [e for _, e in self.store.events_after(start, limit=HISTORY_EVENTS)]

    def status(self) -> str:
        holder = self.holder
        if holder is None:
            return "nobody polls this store now"
        if holder.pid == 0:
            return "another process polls this store"
        return f"pid {holder.pid} polls this store"

    def poll(self) -> None:
        """Read what the poller wrote since last time (call once a second)."""
        if self.want_reload:
            self.want_reload = False
            self._seq, everything = self.store.changed_since(0)
            self._batch.reload = everything
            self._batch.tasks.clear()
        else:
            self._seq, tasks = self.store.changed_since(self._seq)
            for task in tasks:
                self.on_task(task)
        while True:
            rows = self.store.events_after(self._event_id)
            for event_id, event in rows:
                self._event_id = event_id
                self.on_event(event)
            if len(rows) < 1000:
                break
        self.stored = sum(self.store.counts().values())
        self.holder = self.lock.holder()
        self.holder_gone = self.holder is None

    def check(self, shown: int) -> None:
        """After a poll: the dashboard holding more tasks than the store means some were removed
        (a removal leaves no changed row to follow), so the next poll reloads everything."""
        if self.stored is not None and shown > self.stored:
            self.want_reload = True

    def follow(self, shown: int) -> Feed | None:
        """Read the poller's writes; when the poller went away, take its lock and return a
        `LiveFeed` that polls from here (same lock object, so exit releases it). What this feed
        collected stays here to drain."""
        self.poll()
        self.check(shown)
        if not self.holder_gone or self._make_engine is None:
            return None
        from tui.core.lock import LockHeld

        try:
            self.lock.acquire(self._command)
        except LockHeld:
            return None  # another process was quicker; keep viewing it
        return LiveFeed(self._make_engine, self.store, self.lock)

    async def close(self) -> None:
        return None
