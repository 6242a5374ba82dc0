"""The dashboard: a summary bar, the task table, the detail pane, the failures view, the log.

Data flow: the app owns a `TaskIndex` (every task, without `raw`). Changes come from a feed
(`tui.app.feeds`): `LiveFeed` when this process polls (the engine runs as a worker in this loop,
`exit_on_error=False`: a crash in it is logged, never fatal), or `ViewerFeed` when another
process holds the store's `PollerLock` (read-only, the store followed once a second). Callbacks
only collect; `_tick` applies what was collected once a second inside `batch_update()`, so a
burst of 1,000 changes costs one repaint (a user's own action applies its result at once).
Widgets then send only the cells that changed (`widgets/line_diff.py`, `lean_updates.py`).

Everything drawn from upstream strings is `Content` built from plain, cleaned strings: never
markup, never a raw ESC byte. The app exits cleanly on `q`, SIGHUP, SIGTERM and when its
terminal goes away (an SSH drop), closing the engine and releasing the lock; the store already
holds everything (each change is committed as it happens).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import termios
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import ContentSwitcher, Footer, Input, Static
from textual.worker import Worker, WorkerState

from tui.app import keymap as keys
from tui.app import lean_updates
from tui.app.clipboard import copy_text
from tui.app.feeds import COMMAND, FeedBatch, LiveFeed, ViewerFeed, open_feed
from tui.app.task_view import STATE_RANK, TaskIndex
from tui.app.themes import DEFAULT_THEME, ThemeSet, load_themes, user_theme_dir
from tui.app.widgets.detail import DetailPane
from tui.app.widgets.failures import FailuresView
from tui.app.widgets.log_panel import LogPanel
from tui.app.widgets.summary import BatchStats, SummaryBar, SummaryData
from tui.app.widgets.task_table import TaskTable
from tui.core.clean import clean_line
from tui.core.clock import Clock, SystemClock
from tui.core.model import TERMINAL_STATES, Download, DownloadState, Event, Task
from tui.core.store import Store

if TYPE_CHECKING:
    from tui.core.config import Config

Key = tuple[str, str]
MIN_WIDTH, MIN_HEIGHT = 80, 24
FLUSH_INTERVAL = 1.0  # seconds between applying the engine's changes: one repaint a second
EXIT_HANGUP = 129  # 128 + SIGHUP: the terminal went away (everything was saved)
EXIT_TERM = 143  # 128 + SIGTERM
EXIT_GRACE = 5.0  # seconds a graceful exit may take once the terminal is gone
PROGRESSIVE_LOAD_ABOVE = 5_000  # a store larger than this is shown in two steps
FIRST_PAGE = 200  # tasks shown at once from a large store (more than a screenful)
_C1 = re.compile(r"[\x7f-\x9f]")
lean_updates.install()  # only changed cells reach the terminal, colour codes only when they change


def _json_for_copy(raw: Any) -> str:
    """The body as JSON text a person can paste anywhere: non-ASCII kept, C1 controls escaped
    (json.dumps leaves them raw with ensure_ascii=False, and a terminal could act on them)."""
    text = raw if isinstance(raw, str) else json.dumps(raw, indent=2, ensure_ascii=False)
    return _C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


@dataclass
class _ExportJob:
    keys: list[Key]
    format: str
    path: Path
    what: str


class DashboardScreen(Screen[None]):
    """The one main screen; its bindings (remappable, see `tui.app.keymap`) drive the app."""

    BINDINGS: ClassVar[list[BindingType]] = keys.bindings("dashboard")
    AUTO_FOCUS = "TaskTable"

    def compose(self) -> ComposeResult:
        app = self.app
        assert isinstance(app, SeedanceApp)
        with Vertical(id="body"):
            yield SummaryBar(id="summary")
            with Horizontal(id="main"):
                with Vertical(id="left"):
                    with ContentSwitcher(initial="table", id="switcher"):
                        yield app.make_table()
                        yield FailuresView(id="failures")
                    yield Input(
                        placeholder="filter: id, model, state, failure… "
                        "(!text hides matches; esc clears)",
                        id="filter",
                    )
                yield DetailPane(id="detail")
            yield LogPanel(id="log", max_lines=app.log_lines)
            yield Footer()
        yield Static(id="too-small")

    def on_mount(self) -> None:
        self.query_one("#filter").display = False
        self.query_one("#detail").display = False
        self.query_one("#too-small").display = False

    def on_resize(self) -> None:
        app = self.app
        if isinstance(app, SeedanceApp):
            app._check_size()


class SeedanceApp(App[int]):
    """The seedance-tui dashboard."""

    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses elsewhere work too
    TITLE = "seedance-tui"
    ENABLE_COMMAND_PALETTE = False  # its key comes from the keymap (id "palette"), like all keys
    BINDINGS: ClassVar[list[BindingType]] = keys.bindings("app")

    def __init__(
        self,
        store: Store,
        config: Config,
        feed: LiveFeed | ViewerFeed,
        *,
        clock: Clock | None = None,
        db_path: Path | None = None,
        paused: bool = False,
        theme_dirs: Sequence[Path] | None = None,
        theme_save_path: Path | None = None,
        clipboard_file: Path | None = None,
        export_dir: Path | None = None,
        log_lines: int = 1000,
        watch_terminal: bool = True,
        handle_signals: bool | None = None,
    ) -> None:
        super().__init__()
        self.use_command_palette = True
        self.store = store
        self.config = config
        self.feed = feed
        self.clock: Clock = clock or SystemClock()
        self.db_path = db_path or getattr(store, "path", None)
        self.start_paused = paused
        self.theme_save_path = theme_save_path
        self.clipboard_file = clipboard_file
        self.export_dir = export_dir
        self.log_lines = log_lines
        self.watch_terminal = watch_terminal
        self.handle_signals = handle_signals  # None: only with a real terminal (not in tests)
        self.index = TaskIndex()
        self.stats = BatchStats()
        self._providers: set[str] = set()
        self._providers_stamp: tuple[int, int] | None = None
        self.engine_error: str | None = None
        self._engine_worker: Worker[None] | None = None
        self._theme_ready = False
        self._detail_pending = False
        self._shutting_down = False
        self._table_title = ""
        self._viewer_timer: Timer | None = None
        self._previous_handlers: dict[int, Any] = {}
        self._progress: dict[Key, Any] = {}  # key -> DownloadProgress, see _read_progress
        self.theme_set: ThemeSet = load_themes(theme_dirs)
        for theme in self.theme_set.themes.values():
            self.register_theme(theme)
        self.user_keymap, self.keymap_warnings = keys.keymap_from_config(config.ui.keys)
        self.set_keymap(self.user_keymap)
        wanted = config.ui.theme or DEFAULT_THEME
        self.theme_warning: str | None = None
        if wanted in self.available_themes:
            self.theme = wanted
        else:
            self.theme_warning = (
                f"theme {wanted!r} (from [ui] theme) is not installed; using "
                f"{DEFAULT_THEME if DEFAULT_THEME in self.available_themes else self.theme}. "
                f"Put {wanted}.toml in {user_theme_dir()} or pick one with ctrl+p → Theme."
            )
            if DEFAULT_THEME in self.available_themes:
                self.theme = DEFAULT_THEME

    # -- building -------------------------------------------------------------------------------

    def make_table(self) -> TaskTable:
        table = TaskTable(
            self.index, now=self.clock.now, downloads=self.config.download.enabled, id="table"
        )
        self._wire_table(table)
        return table

    def _wire_table(self, table: TaskTable) -> None:
        """Next polls and download progress come from the engine, when we run one. Until it
        is made (after the first frame) a row shows the next poll the store remembers."""
        feed = self.feed
        if not isinstance(feed, LiveFeed):
            return
        table.next_poll = lambda key: feed.engine.next_poll_at(*key) if feed.engine_made else None
        if self.config.download.enabled:
            table.download_progress = self._progress.get

    def _read_progress(self) -> None:
        """The downloader's table of queued and running downloads, read once a second (it is
        rebuilt on each call, so rows, counts and the summary share one copy)."""
        engine = self.engine
        downloads = engine.downloads() if engine is not None else None
        self._progress.clear()
        if downloads is not None:
            self._progress.update(downloads.progress())

    def get_default_screen(self) -> Screen[None]:
        return DashboardScreen()

    @property
    def engine(self) -> Any:
        return self.feed.engine if isinstance(self.feed, LiveFeed) else None

    @property
    def read_only(self) -> bool:
        return self.feed.read_only

    @property
    def dashboard(self) -> DashboardScreen:
        """The main screen (the bottom of the stack, whatever dialog is open on top)."""
        screen = self.screen_stack[0]
        assert isinstance(screen, DashboardScreen)
        return screen

    @property
    def table(self) -> TaskTable:
        return self.dashboard.query_one(TaskTable)

    @property
    def detail(self) -> DetailPane:
        return self.dashboard.query_one(DetailPane)

    @property
    def failures(self) -> FailuresView:
        return self.dashboard.query_one(FailuresView)

    @property
    def log_panel(self) -> LogPanel:
        return self.dashboard.query_one(LogPanel)

    @property
    def summary(self) -> SummaryBar:
        return self.dashboard.query_one(SummaryBar)

    # -- life -----------------------------------------------------------------------------------

    def on_ready(self) -> None:
        # Started from the app (not the screen's on_mount) so the widgets' messages, created in
        # the app's context, bubble all the way up to the app's handlers.
        self.start_dashboard()

    def start_dashboard(self) -> None:
        """Load the store, start the feed and the timers (once the screen exists).

        A large store is shown in two steps so the first screenful appears at once: the first
        page in the table's default order now, everything else read by a thread (with its own
        Store) and swapped in; polling starts after that, so no change is lost in between.
        """
        feed = self.feed
        big = (
            isinstance(feed, LiveFeed)
            and self.db_path is not None
            and sum(feed.store.counts().values()) > PROGRESSIVE_LOAD_ABOVE
        )
        if big:
            states = sorted(STATE_RANK, key=STATE_RANK.__getitem__)
            self._show_tasks(feed.first_page(FIRST_PAGE, states))
            self.notify("loading every task…", timeout=2)
            self.run_worker(self._read_whole_store, thread=True, exit_on_error=False)
        else:
            self._show_tasks(feed.initial())
            self._start_following()

    def _show_tasks(self, tasks: list[Task]) -> None:
        self.index.load(tasks)
        self.stats.load(tasks)
        self.table.reload()

    def _read_whole_store(self) -> None:
        """In a thread: every task, through a Store of this thread's own."""
        assert self.db_path is not None
        try:
            with Store.open(self.db_path) as store:
                tasks: list[Task] | None = store.query()
        except Exception:  # shown by the fallback below: the loop thread reads it itself
            tasks = None
        import tui.core.engine  # noqa: F401  the engine is made next: import it off the loop

        self.call_from_thread(self._whole_store_read, tasks)

    def _whole_store_read(self, tasks: list[Task] | None) -> None:
        self._show_tasks(tasks if tasks is not None else self.feed.initial())
        self._start_following()

    def _start_following(self) -> None:
        """The store is shown: start polling (or following the poller) and the timers."""
        self.log_panel.add_events(self.feed.recent_events())
        for warning in [*self.theme_set.errors, *self.keymap_warnings]:
            self._warn(warning)
        if self.theme_warning:
            self._warn(self.theme_warning)
        self._theme_ready = True
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        if isinstance(self.feed, LiveFeed):
            if self.start_paused:
                self.feed.engine.pause()
            self._start_engine()
        else:
            self._viewer_timer = self.set_interval(1.0, self._viewer_poll)
            self.notify(
                f"Read-only: {self.feed.status()}. Polling stays with that process.",
                title="Viewer mode",
                markup=False,
            )
        self.set_interval(FLUSH_INTERVAL, self._tick)
        self._tick()
        self._check_size()
        if self.handle_signals or (self.handle_signals is None and not self.is_headless):
            self._install_signal_handlers()
        if self.watch_terminal and not self.is_headless:
            self.set_interval(2.0, self._check_terminal)

    def _start_engine(self) -> None:
        engine = self.engine
        if engine is None:
            return
        self.engine_error = None
        self._engine_worker = self.run_worker(
            engine.run(), name="engine", group="engine", exit_on_error=False
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "engine" and event.state == WorkerState.ERROR:
            error = worker.error
            message = clean_line(f"{type(error).__name__}: {error}") or "unknown error"
            self.engine_error = message
            self.log_panel.add_events(
                [Event("error", data={"message": f"polling stopped: {message}"})]
            )
            self.notify(
                f"Polling stopped: {message}. Press p to start it again.",
                title="Engine error",
                severity="error",
                timeout=15,
                markup=False,
            )
            self._tick()
        elif worker.group in ("export", "detail-body") and event.state == WorkerState.ERROR:
            message = clean_line(str(worker.error)) or type(worker.error).__name__
            self.log_panel.add_events([Event("error", data={"message": message})])
            self.notify(message, title="Error", severity="error", markup=False)

    def _install_signal_handlers(self) -> None:
        """SIGHUP / SIGTERM end the dashboard cleanly. Plain `signal.signal` handlers (not the
        loop's), because they must run before Textual's SIGCONT handler, which the kernel fires
        right after SIGHUP on a hang-up and which would restart output on the dead terminal."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()

        def on_exit_signal(signum: int, _frame: object) -> None:
            code = EXIT_HANGUP if signum == signal.SIGHUP else EXIT_TERM
            if self._terminal_gone():
                self._leave_dead_terminal(code)
            loop.call_soon_threadsafe(self._on_signal, signum, code)

        def on_continue(signum: int, frame: object) -> None:
            if self._terminal_gone():
                return  # a hang-up, not a resume after ctrl+z: nothing to draw on
            if callable(previous_cont):
                previous_cont(signum, frame)

        previous_cont = signal.getsignal(signal.SIGCONT)
        for signum, handler in (
            (signal.SIGHUP, on_exit_signal),
            (signal.SIGTERM, on_exit_signal),
            (signal.SIGCONT, on_continue),
        ):
            self._previous_handlers[signum] = signal.signal(signum, handler)

    def _restore_signal_handlers(self) -> None:
        for signum, handler in self._previous_handlers.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(signum, handler)
        self._previous_handlers.clear()

    def _on_signal(self, signum: int, code: int) -> None:
        self.log_panel.add_events([Event("notice", data={"message": f"signal {signum}: exiting"})])
        self.call_later(self.shutdown, code)

    def _check_terminal(self) -> None:
        """Once every two seconds: a terminal hung up without a SIGHUP reaching us (e.g. we
        are not in its foreground group) answers EIO; leave instead of spinning."""
        if self._terminal_gone():
            self._leave_dead_terminal(EXIT_HANGUP)
            self.call_later(self.shutdown, EXIT_HANGUP)

    def _terminal_gone(self) -> bool:
        if self.is_headless:
            return False
        try:
            termios.tcgetattr(sys.__stdin__.fileno())  # type: ignore[union-attr]
        except (termios.error, OSError, ValueError, AttributeError):
            return True
        return False

    @staticmethod
    def _leave_dead_terminal(code: int) -> None:
        """An SSH drop: every write to the hung-up terminal fails (EIO), which kills Textual's
        writer thread and then blocks the last frame forever. Point the standard fds at
        /dev/null so the shutdown can write its last frame somewhere, and make sure the process
        ends even if something still waits on the dead terminal. Nothing is lost by that: every
        change is committed to the store as it happens, and downloads resume from `.part`."""
        with contextlib.suppress(OSError):
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.close(null)
        watchdog = threading.Timer(EXIT_GRACE, os._exit, args=(code,))
        watchdog.daemon = True
        watchdog.start()

    async def shutdown(self, code: int = 0) -> None:
        """Stop polling, close the engine (and its clients), release the lock, then exit."""
        if self._shutting_down:
            return
        self._shutting_down = True
        if self._engine_worker is not None:
            self._engine_worker.cancel()
            with contextlib.suppress(Exception):
                await self._engine_worker.wait()
        with contextlib.suppress(Exception):
            await self.feed.close()
        self._restore_signal_handlers()
        self.exit(code, return_code=code)

    def on_unmount(self) -> None:
        self._restore_signal_handlers()

    async def action_quit(self) -> None:
        await self.shutdown(0)

    # -- applying changes -----------------------------------------------------------------------

    def _apply_pending(self) -> None:
        if self._closing or not self.screen_stack:  # the screens are going away: nothing to draw
            return
        batch = self.feed.drain()
        if batch:
            self.apply_batch(batch)

    def apply_batch(self, batch: FeedBatch) -> None:
        """Fold a batch into the index and every view, in one repaint."""
        with self.batch_update():
            changed: set[Key] = set()
            if batch.reload is not None:
                self._show_tasks(batch.reload)
            if batch.removed:
                changed |= self.index.remove(batch.removed)
                self.stats.remove(batch.removed)
            if batch.tasks:
                tasks = list(batch.tasks.values())
                if not self.feed.owns_downloads:
                    tasks = [self._keep_download(t) for t in tasks]
                changed |= self.index.upsert(tasks)
                self.stats.update(t for t in tasks if t.key in changed)
            if batch.downloads:
                changed |= self._set_downloads(batch.downloads)
            if changed:
                self.table.refresh_tasks(changed)
            if batch.events:
                self.log_panel.add_events(batch.events)
            if changed or batch.reload is not None:
                self._refresh_failures()
                key = self.detail.task_key
                if self.detail.display and key is not None and (key in changed or batch.reload):
                    self._load_detail(key)
                self._refresh_summary()

    def _keep_download(self, task: Task) -> Task:
        known = self.index.get(task.key)
        if known is None or known.download == task.download:
            return task
        return task.evolve(download=known.download)

    def _set_downloads(self, downloads: dict[Key, Download]) -> set[Key]:
        updated = []
        for key, download in downloads.items():
            task = self.index.get(key)
            if task is not None and task.download != download:
                updated.append(task.evolve(download=download))
        changed = self.index.upsert(updated)
        self.stats.update(t for t in updated if t.key in changed)
        return changed

    def _sync_running_downloads(self) -> None:
        """Queued and running downloads leave no event: read them off the downloader (only the
        few in flight), so rows and counts say `waiting` / `45% 3.1 MB/s` while it happens."""
        wanted: dict[Key, Download] = {}
        for key, progress in self._progress.items():
            task = self.index.get(key)
            if task is None or task.download.state is progress.state:
                continue
            if task.download.state in (DownloadState.DONE, DownloadState.EXPIRED):
                continue
            wanted[key] = Download(progress.state, path=progress.path)
        if wanted:
            changed = self._set_downloads(wanted)
            if changed:
                self.table.refresh_tasks(changed)

    def _viewer_poll(self) -> None:
        feed = self.feed
        if not isinstance(feed, ViewerFeed):
            return
        try:
            feed.poll()
        except Exception as exc:  # a busy or vanished store: say so, keep the screen
            self._warn(f"could not read the store: {exc}")
            return
        feed.check(len(self.index))
        if feed.holder_gone:
            self._take_over(feed)
        self._refresh_summary()

    def _take_over(self, viewer: ViewerFeed) -> None:
        """The poller went away: poll from here now (same lock object, so exit releases it)."""
        from tui.core.engine import Engine
        from tui.core.lock import LockHeld

        try:
            viewer.lock.acquire(COMMAND)
        except LockHeld:
            return  # another process was quicker; keep viewing it
        self.apply_batch(viewer.drain())
        engine = Engine(self.store, self.config, clock=self.clock)
        self.feed = LiveFeed(engine, self.store, viewer.lock)
        if self._viewer_timer is not None:
            self._viewer_timer.stop()
            self._viewer_timer = None
        self._wire_table(self.table)
        self._start_engine()
        self.notify(
            "The other poller stopped; this dashboard polls the store now.",
            title="Polling",
            markup=False,
        )

    def _tick(self) -> None:
        """Once a second, in one repaint: what the engine changed, the throughput sample, the
        summary and the table's relative times. (Over SSH each repaint costs bytes: applying
        changes 4 times a second wrote 20 KiB/s while 10,000 tasks were polled.)"""
        with self.batch_update():
            self._apply_pending()
            counts = self.index.counts()
            terminal = sum(n for state, n in counts.items() if state in TERMINAL_STATES)
            self.stats.sample(self.clock.now(), terminal)
            self._read_progress()
            self._sync_running_downloads()
            self._refresh_summary()
            with contextlib.suppress(Exception):
                self.table.tick()

    def summary_data(self) -> SummaryData:
        counts = self.index.counts()
        live = sum(n for state, n in counts.items() if state not in TERMINAL_STATES)
        now = self.clock.now()
        engine = self.engine
        health: dict[str, tuple[str, str | None]] = {}
        rps = None
        speed = 0.0
        nbytes = 0
        if engine is not None:
            # every configured provider with tasks here; "idle" until the engine first asks it
            with_tasks = self._providers_with_tasks()
            health = {name: ("idle", None) for name in with_tasks}
            health.update(
                (name, (str(h), clean_line(reason)))
                for name, (h, reason) in engine.health().items()
            )
            rps = engine.requests_per_second()
            for progress in self._progress.values():
                if progress.state is DownloadState.RUNNING:
                    speed += progress.speed or 0.0
                    nbytes += progress.bytes or 0
        if self.read_only:
            mode, note = "viewer", self.feed.status()
        elif self.engine_error:
            mode, note = "stopped", self.engine_error
        elif engine is not None and engine.paused:
            mode, note = "paused", None
        else:
            mode, note = "live", None
        gone, soon = self.stats.expiring(now) if self.config.download.enabled else (0, 0)
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

    def _providers_with_tasks(self) -> set[str]:
        """Configured providers that have tasks here: read off the index only when the number
        of tasks changed (a scan of 100,000 keys took 23 ms, every second)."""
        stamp = (self.index.generation, len(self.index))
        if self._providers_stamp != stamp:
            self._providers_stamp = stamp
            self._providers = {key[0] for key in self.index} & set(self.config.providers)
        return self._providers

    def _refresh_summary(self) -> None:
        with contextlib.suppress(Exception):
            self.summary.show(self.summary_data())

    def _refresh_failures(self) -> None:
        if self.dashboard.query_one(ContentSwitcher).current == "failures":
            self.failures.set_groups(self.index.failure_groups(), self.index.counts())
            self._update_left_title()

    # -- the detail pane ------------------------------------------------------------------------

    def _load_detail(self, key: Key) -> None:
        task = self.store.get(*key, with_raw=True)
        if task is None:
            task = self.index.get(key)
        if task is None:
            self.detail.clear()
            return
        history = self.store.history(*key)
        engine = self.engine
        next_poll = engine.next_poll_at(*key) if engine is not None else None
        progress = self._progress.get(key)
        self.detail.show(task, history, self.clock.now(), next_poll=next_poll, progress=progress)

    def _schedule_detail(self) -> None:
        """Cursor moves come in bursts (holding a key down): load the detail once they settle."""
        if self._detail_pending:
            return
        self._detail_pending = True

        def load() -> None:
            self._detail_pending = False
            key = self.table.cursor_key
            if self.detail.display and key is not None:
                self._load_detail(key)

        self.set_timer(0.08, load)

    @on(TaskTable.Highlighted)
    def _table_highlighted(self, event: TaskTable.Highlighted) -> None:
        if self.detail.display and event.key is not None:
            self._schedule_detail()

    @on(TaskTable.Selected)
    def _table_selected(self, event: TaskTable.Selected) -> None:
        self.open_detail(event.key)

    def open_detail(self, key: Key | None) -> None:
        if key is None:
            self.notify("No task selected.", severity="warning")
            return
        self.detail.display = True
        self._load_detail(key)

    @on(TaskTable.ViewChanged)
    def _view_changed(self, event: TaskTable.ViewChanged) -> None:
        spec = event.spec
        parts = [f"{event.shown:,} of {event.total:,} tasks"]
        if spec.state_filter != "all":
            parts.append(f"state: {spec.state_filter}")
        if spec.text:
            parts.append(f"filter: {spec.text}")
        if spec.failure_group:
            group = spec.failure_group
            parts.append(f"failure: {group if len(group) <= 50 else group[:49] + '…'}")
        self._table_title = clean_line(" · ".join(parts)) or ""
        self._update_left_title()

    @on(FailuresView.GroupChosen)
    def _group_chosen(self, event: FailuresView.GroupChosen) -> None:
        self.table.set_view(failure_group=event.label, state_filter="all")
        self._show_table()

    def _show_table(self) -> None:
        self.dashboard.query_one(ContentSwitcher).current = "table"
        self._update_left_title()
        self.table.focus()

    _left_title: str | None = None

    def _update_left_title(self) -> None:
        """The table's counts and filters, or the failures view's totals, above the list."""
        left = self.dashboard.query_one("#left")
        # Content, not str: a str title is parsed as markup, and these hold upstream text.
        if self.dashboard.query_one(ContentSwitcher).current == "failures":
            title = self.failures.title_text
        else:
            title = self._table_title
        if title != self._left_title:  # assigning a title repaints the whole panel
            self._left_title = title
            left.border_title = Content(title)

    # -- actions ---------------------------------------------------------------------------------

    def action_help(self) -> None:
        from tui.app.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        config_path = self.config.path or self.theme_save_path
        self.push_screen(
            HelpScreen(
                self.user_keymap,
                themes_hint=str(user_theme_dir()),
                config_hint=str(config_path) if config_path else "",
            )
        )

    def action_detail(self) -> None:
        if self.detail.display and self.focused is self.detail:
            self.detail.display = False
            self.table.focus()
            return
        self.open_detail(self.table.cursor_key)

    def action_go_back(self) -> None:
        """Escape: close the innermost thing open (filter, detail, failures, a group filter)."""
        dashboard = self.dashboard
        filter_input = dashboard.query_one("#filter", Input)
        switcher = dashboard.query_one(ContentSwitcher)
        spec = self.table.view_spec
        if filter_input.display:
            filter_input.value = ""
            filter_input.display = False
            self.table.set_view(text="")
            self.table.focus()
        elif self.detail.display:
            self.detail.display = False
            self.table.focus()
        elif switcher.current == "failures":
            self._show_table()
        elif spec.failure_group is not None:
            self.table.set_view(failure_group=None)
        elif spec.text:
            self.table.set_view(text="")

    def action_filter(self) -> None:
        filter_input = self.dashboard.query_one("#filter", Input)
        self._show_table()
        filter_input.display = True
        filter_input.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.table.set_view(text=event.value)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value:
            event.input.display = False
        self.table.focus()

    def action_failures(self) -> None:
        switcher = self.dashboard.query_one(ContentSwitcher)
        if switcher.current == "failures":
            self._show_table()
            return
        switcher.current = "failures"
        self._refresh_failures()
        self.failures.focus()

    def action_toggle_log(self) -> None:
        panel = self.log_panel
        panel.display = not panel.display

    def action_cycle_log_level(self) -> None:
        panel = self.log_panel
        panel.display = True
        level = panel.cycle_level()
        self.notify(f"Log shows {level} and up.", title="Log")

    def action_focus_panel(self) -> None:
        order = [self.table, self.failures, self.detail, self.log_panel]
        shown = [w for w in order if w.display and w.parent is not None and w.is_on_screen]
        if not shown:
            return
        current = self.focused
        index = shown.index(current) if current in shown else -1
        shown[(index + 1) % len(shown)].focus()

    def action_state_filter(self, word: str) -> None:
        self._show_table()
        self.table.set_view(state_filter=word)

    def action_state_step(self, step: int) -> None:
        words = [word for word, _, _ in keys.STATE_FILTERS]
        current = self.table.view_spec.state_filter
        index = words.index(current) if current in words else 0
        self.action_state_filter(words[(index + step) % len(words)])

    def _selected_key(self) -> Key | None:
        """The task the user means: the one in the detail pane when it has focus, else the
        table's cursor."""
        if self.focused is self.detail and self.detail.task_key is not None:
            return self.detail.task_key
        return self.table.cursor_key

    def _refuse_read_only(self, what: str) -> bool:
        if self.read_only:
            self.notify(
                f"Read-only: {self.feed.status()}, so {what} is up to that process.",
                title="Viewer mode",
                severity="warning",
                markup=False,
            )
            return True
        return False

    async def action_poll_now(self) -> None:
        key = self._selected_key()
        if key is None:
            self.notify("No task selected.", severity="warning")
            return
        if self._refuse_read_only("polling"):
            return
        try:
            said = await self.engine.poll_now(*key)
        except Exception as exc:
            self._warn(f"could not poll {key[1]}: {exc}")
            return
        self._apply_pending()  # the user asked: show the answer now, not at the next tick
        self.notify(f"{key[1]}: {said}", title="Poll", markup=False)

    def action_toggle_pause(self) -> None:
        if self._refuse_read_only("pausing"):
            return
        engine = self.engine
        if self.engine_error is not None or (
            self._engine_worker is not None and self._engine_worker.is_finished
        ):
            engine.resume()
            self._start_engine()
            self.notify("Polling started again.", title="Polling")
        elif engine.paused:
            engine.resume()
            self.notify("Polling resumed.", title="Polling")
        else:
            engine.pause()
            self.notify("Polling paused: press p to resume.", title="Polling")
        self._refresh_summary()

    def action_remove_task(self) -> None:
        from tui.app.screens.confirm import ConfirmScreen

        key = self._selected_key()
        if key is None:
            self.notify("No task selected.", severity="warning")
            return
        if self._refuse_read_only("removing tasks"):
            return
        question = Content.assemble(
            "Stop tracking ",
            (key[1], "bold"),
            f" at {key[0]}?\n\nIt is only forgotten here: the provider keeps the task, and its "
            "video is not deleted. You can add the id again later.",
        )

        async def answered(yes: bool | None) -> None:
            if yes:
                await self.remove_tasks([key])

        self.push_screen(ConfirmScreen(question, yes="Stop tracking"), answered)

    async def remove_tasks(self, keys_: Sequence[Key]) -> int:
        removed = 0
        by_provider: dict[str, list[str]] = {}
        for provider, task_id in keys_:
            by_provider.setdefault(provider, []).append(task_id)
        for provider, ids in by_provider.items():
            removed += await self.engine.remove(provider, ids)
        gone = {k for k in keys_}
        self.apply_batch(FeedBatch(removed=gone))
        if self.detail.task_key in gone:
            self.detail.display = False
        self.notify(
            f"Stopped tracking {removed} task{'s' if removed != 1 else ''}.", title="Removed"
        )
        return removed

    def action_add_tasks(self) -> None:
        from tui.app.screens.add_tasks import AddRequest, AddTasksScreen

        if self._refuse_read_only("adding tasks"):
            return

        async def added(request: AddRequest | None) -> None:
            if request is not None:
                await self.add_tasks(request.groups, request.batch)

        self.push_screen(AddTasksScreen(self.config.providers), added)

    async def add_tasks(self, groups: dict[str, list[str]], batch: str | None) -> tuple[int, int]:
        added = skipped = 0
        for provider, ids in groups.items():
            result = await self.engine.add(provider, ids, batch)
            added += result.added
            skipped += result.skipped
        note = f"Added {added} task{'s' if added != 1 else ''}"
        if skipped:
            note += f"; {skipped} already tracked"
        self.log_panel.add_events(
            [Event("added", provider, data={"count": len(ids)}) for provider, ids in groups.items()]
        )
        self.notify(note + ".", title="Add", markup=False)
        self._apply_pending()
        return added, skipped

    def action_copy(self, what: str) -> None:
        key = self._selected_key()
        if key is None:
            self.notify("No task selected.", severity="warning")
            return
        if what == "id":
            copy_text(self, key[1], "the task id", path=self.clipboard_file)
            return
        task = self.store.get(*key, with_raw=(what == "json"))
        if task is None:
            self.notify("That task is no longer tracked.", severity="warning")
            return
        if what == "url":
            url = clean_line(task.video_url)
            if not url:
                self.notify(f"{key[1]} has no video URL (yet).", severity="warning", markup=False)
                return
            copy_text(self, url, "the video URL", path=self.clipboard_file)
        else:
            if task.raw is None:
                self.notify(
                    f"No upstream body stored for {key[1]} yet.", severity="warning", markup=False
                )
                return
            copy_text(self, _json_for_copy(task.raw), "the raw JSON", path=self.clipboard_file)

    def action_export(self) -> None:
        from tui.app.screens.export import ExportRequest, ExportScreen

        switcher = self.dashboard.query_one(ContentSwitcher)
        stamp = datetime.fromtimestamp(self.clock.now()).strftime("%Y%m%d-%H%M%S")
        if switcher.current == "failures":
            label = self.failures.highlighted_group
            if label is None:
                self.notify("No failure group to export.", severity="warning")
                return
            keys_ = [
                k
                for k in self.index
                if (t := self.index.get(k)) is not None and t.failure and t.failure.label == label
            ]
            what = "failure group " + (clean_line(label) or "")
            stem = f"seedance-failures-{stamp}"
        else:
            keys_ = self.table.visible_keys()
            what = "the current view"
            stem = f"seedance-export-{stamp}"
        if not keys_:
            self.notify("Nothing to export: the view is empty.", severity="warning")
            return

        def chosen(request: ExportRequest | None) -> None:
            if request is not None:
                self.export_tasks(_ExportJob(keys_, request.format, request.path, what))

        self.push_screen(ExportScreen(what, len(keys_), stem, directory=self.export_dir), chosen)

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def export_tasks(self, job: _ExportJob) -> None:
        """Write in a thread with its own store connection: 100,000 bodies never block the UI."""
        from tui.core.store import Store, TaskFilter
        from tui.output import WRITERS

        assert self.db_path is not None
        store = Store.open(self.db_path)
        try:
            wanted = set(job.keys)
            found = store.query(TaskFilter(ids=frozenset(k[1] for k in wanted)), with_raw=True)
        finally:
            store.close()
        by_key = {t.key: t for t in found if t.key in wanted}
        ordered = [by_key[k] for k in job.keys if k in by_key]
        tmp = job.path.with_name(f".{job.path.name}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            count = WRITERS[job.format](handle, ordered)
        os.replace(tmp, job.path)
        message = f"Exported {count:,} tasks ({job.what}) to {job.path}"
        self.call_from_thread(self._exported, message)

    def _exported(self, message: str) -> None:
        self.log_panel.add_events([Event("notice", data={"message": message})])
        self.notify(message, title="Export", markup=False)

    # -- the command palette ----------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if not isinstance(screen, DashboardScreen):
            return
        yield SystemCommand("Add task ids", "Track more tasks (a)", self.action_add_tasks)
        yield SystemCommand(
            "Pause / resume polling", "Stop or restart polls (p)", self.action_toggle_pause
        )
        yield SystemCommand("Failures", "Failed tasks grouped by reason (f)", self.action_failures)
        yield SystemCommand("Export the view", "Write csv / json / jsonl (e)", self.action_export)
        yield SystemCommand(
            "Toggle the log", "Show or hide the log panel (l)", self.action_toggle_log
        )
        yield SystemCommand(
            "Log level", "Cycle debug / info / warning / error (L)", self.action_cycle_log_level
        )
        yield SystemCommand("Help", "Every key and what it does (?)", self.action_help)
        for word, key, label in keys.STATE_FILTERS:
            yield SystemCommand(
                f"Show {label} tasks",
                f"State filter ({key})",
                lambda word=word: self.action_state_filter(word),
            )

    # -- themes -----------------------------------------------------------------------------------

    def _theme_changed(self, theme: Any) -> None:
        if not self._theme_ready or self.theme_save_path is None:
            return
        from tui.core.config import ConfigError, save_ui_theme

        try:
            save_ui_theme(self.theme_save_path, theme.name)
        except (ConfigError, OSError) as exc:
            self._warn(f"could not remember the theme: {exc}")

    # -- small terminals ------------------------------------------------------------------------

    def _check_size(self) -> None:
        width, height = self.size
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        try:
            body = self.dashboard.query_one("#body")
            message = self.dashboard.query_one("#too-small", Static)
        except NoMatches:  # a resize before the screen is composed
            return
        body.display = not small
        message.display = small
        if small:
            message.update(
                Content.assemble(
                    ("seedance-tui needs a terminal of at least ", ""),
                    (f"{MIN_WIDTH}×{MIN_HEIGHT}", "bold"),
                    f".\nThis one is {width}×{height}: make the window bigger.\n\n"
                    "Polling goes on meanwhile. q quits.",
                )
            )

    # -- helpers ----------------------------------------------------------------------------------

    def _warn(self, message: str) -> None:
        text = clean_line(message) or ""
        self.log_panel.add_events([Event("notice", data={"message": text})])
        self.notify(text, severity="warning", timeout=10, markup=False)


# ------------------------------------------------------------------------------------------------
# entry points


def run_dashboard(
    db_path: Path,
    config: Config,
    *,
    paused: bool = False,
    clock: Clock | None = None,
    theme_save_path: Path | None = None,
) -> int:
    """Open the dashboard on `db_path`: polling it (this process takes the PollerLock) or, when
    another process already polls it, viewing it read-only. Returns the exit code."""
    from tui.core.config import resolve_config_path
    from tui.core.store import Store

    clock = clock or SystemClock()
    store = Store.open(db_path)
    feed: LiveFeed | ViewerFeed | None = None
    try:
        feed = open_feed(store, db_path, config, clock)
        app = SeedanceApp(
            store,
            config,
            feed,
            clock=clock,
            db_path=db_path,
            paused=paused,
            theme_save_path=theme_save_path or config.path or resolve_config_path(None),
        )
        app.run()
        return app.return_code or 0
    finally:
        if feed is not None:
            feed.lock.release()
        store.close()


__all__ = ["EXIT_HANGUP", "SeedanceApp", "run_dashboard"]
