"""The dashboard app: a summary bar, the task table, the detail pane, the failures view, the log.

Data flow: the app owns a `DashboardState` (every task without `raw`, the batch's sums, the
downloads in flight). Changes come from a `Feed` (`tui.app.feeds`): the engine of this process
(a worker in this loop, `exit_on_error=False`: a crash in it is logged, never fatal), or another
process's writes to the store when that process holds the `PollerLock` (read-only, followed
once a second). Callbacks only collect; `tick` applies what was collected once a second inside
`batch_update()`, so a burst of 1,000 changes costs one repaint (a user's own action applies its
result at once). The screen (`screens/dashboard.py`) then redraws only the cells that changed
(`widgets/line_diff.py`, `lean_updates.py`).

Everything drawn from upstream strings is `Content` built from plain, cleaned strings: never
markup, never a raw ESC byte. The app exits cleanly on `q`, SIGHUP, SIGTERM and when its
terminal goes away (an SSH drop, `terminal.py`), closing the engine and releasing the lock; the
store already holds everything (each change is committed as it happens). Build it with
`tui.app.build.build_app`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import BindingType
from textual.css.query import NoMatches
from textual.dom import DOMNode
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from tui.app import keymap as keys
from tui.app.dashboard_state import DashboardState, SummaryData
from tui.app.feeds import Feed, FeedBatch
from tui.app.log_forward import forward_logs
from tui.app.screens.dashboard import DashboardScreen
from tui.app.submission_counts import SubmissionCounts
from tui.app.task_sort import STATE_RANK
from tui.app.task_view import TaskIndex
from tui.app.terminal import EXIT_HANGUP, EXIT_TERM, ExitSignals, leave_dead_terminal, terminal_gone
from tui.app.themes import DEFAULT_THEME, ThemeSet, load_themes, user_theme_dir
from tui.core import APP_NAME
from tui.core.clean import clean_line
from tui.core.clock import Clock, SystemClock
from tui.core.eta import EtaTracker
from tui.core.model import Event, Key, Task
from tui.core.store import Store

if TYPE_CHECKING:
    from tui.app.dashboard_state import BatchStats
    from tui.app.widgets.detail import DetailPane
    from tui.app.widgets.failures import FailuresView
    from tui.app.widgets.log_panel import LogPanel
    from tui.app.widgets.summary import SummaryBar
    from tui.app.widgets.task_table import TaskTable
    from tui.core.config import Config
    from tui.core.engine import Engine

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 1.0  # seconds between applying the engine's changes: one repaint a second
PROGRESSIVE_LOAD_ABOVE = 5_000  # a store larger than this is shown in two steps
FIRST_PAGE = 200  # tasks shown at once from a large store (more than a screenful)


@dataclass(frozen=True)
class Timings:
    """The app's clocks, in seconds. Tests shorten them and wait for idle instead of sleeping."""

    apply: float = FLUSH_INTERVAL  # fold collected changes in and repaint (over SSH each
    # repaint costs bytes: applying 4 times a second wrote 20 KiB/s while 10,000 tasks polled)
    viewer: float = 1.0  # a viewer reads the poller's writes to the store
    detail_debounce: float = 0.08  # a burst of cursor moves loads the detail pane once
    terminal_check: float = 2.0  # is the terminal still there (a hang-up without SIGHUP)
    requests: float = 1.0  # the store's create requests are counted at most this often


class SeedanceApp(App[int]):
    """The seedance-tui dashboard."""

    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses elsewhere work too
    TITLE = APP_NAME
    ENABLE_COMMAND_PALETTE = False  # its key comes from the keymap (id "palette"), like all keys
    BINDINGS: ClassVar[list[BindingType]] = keys.bindings("app")

    def __init__(
        self,
        store: Store,
        config: Config,
        feed: Feed,
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
        timings: Timings | None = None,
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
        self.timings = timings or Timings()
        self.state = DashboardState(config.providers, downloads_enabled=config.download.enabled)
        self.submissions = SubmissionCounts(
            store, config, self.state.live_from_requests, read_every=self.timings.requests
        )
        self.engine_error: str | None = None
        self._engine_worker: Worker[None] | None = None
        self._theme_ready = False
        self._shutting_down = False
        self._viewer_timer: Timer | None = None
        self._signals = ExitSignals(self._on_signal, self._terminal_gone)
        self._stop_forwarding_logs: Callable[[], None] | None = None
        self.theme_set: ThemeSet = load_themes(theme_dirs)
        for theme in self.theme_set.themes.values():
            self.register_theme(theme)
        self.user_keymap, self.keymap_warnings = keys.keymap_from_config(
            config.ui.keys, owners=(type(self), *binding_owners())
        )
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

    # -- what is where --------------------------------------------------------------------------

    def get_default_screen(self) -> Screen[None]:
        return DashboardScreen(self)

    @property
    def engine(self) -> Engine | None:
        return self.feed.engine

    @property
    def read_only(self) -> bool:
        return self.feed.read_only

    @property
    def index(self) -> TaskIndex:
        return self.state.index

    @property
    def stats(self) -> BatchStats:
        return self.state.stats

    @property
    def dashboard(self) -> DashboardScreen:
        """The main screen (the bottom of the stack, whatever dialog is open on top)."""
        screen = self.screen_stack[0]
        assert isinstance(screen, DashboardScreen)
        return screen

    @property
    def table(self) -> TaskTable:
        return self.dashboard.table

    @property
    def detail(self) -> DetailPane:
        return self.dashboard.detail

    @property
    def failures(self) -> FailuresView:
        return self.dashboard.failures

    @property
    def log_panel(self) -> LogPanel:
        return self.dashboard.log_panel

    @property
    def summary(self) -> SummaryBar:
        return self.dashboard.summary

    # -- life -----------------------------------------------------------------------------------

    def on_ready(self) -> None:
        # Started from the app (not the screen's on_mount) so the widgets' messages, created in
        # the app's context, bubble all the way up to the handlers.
        self._stop_forwarding_logs = forward_logs(self._show_logged)
        self.start_dashboard()

    def start_dashboard(self) -> None:
        """Load the store, start the feed and the timers (once the screen exists).

        A large store is shown in two steps so the first screenful appears at once: the first
        page in the table's default order now, everything else read by a thread (with its own
        Store) and swapped in; polling starts after that, so no change is lost in between.
        """
        feed = self.feed
        big = (
            feed.loads_in_steps
            and self.db_path is not None
            and feed.total() > PROGRESSIVE_LOAD_ABOVE
        )
        if big:
            states = sorted(STATE_RANK, key=STATE_RANK.__getitem__)
            self._show_tasks(feed.first_page(FIRST_PAGE, states))
            self.notify("loading every task…", timeout=2)
            self.run_worker(self._read_whole_store, thread=True, exit_on_error=False)
        else:
            self._show_tasks(feed.initial())
            self._start_following()

    def _show_tasks(self, tasks: list[Task], eta: EtaTracker | None = None) -> None:
        self.state.load(tasks, eta)
        self.table.reload()

    def _read_whole_store(self) -> None:
        """In a thread: every task, through a Store of this thread's own."""
        assert self.db_path is not None
        tasks: list[Task] | None
        eta: EtaTracker | None = None
        try:
            with Store.open(self.db_path) as store:
                tasks = store.query()
        except Exception:  # the loop thread reads it itself below, and says what went wrong
            log.warning("could not read the store in the background", exc_info=True)
            tasks = None
        else:
            eta = EtaTracker()  # fed here too: ~0.6 s at 100,000 tasks, off the loop
            eta.load(tasks)
        import tui.core.engine  # noqa: F401  the engine is made next: import it off the loop

        self.call_from_thread(self._whole_store_read, tasks, eta)

    def _whole_store_read(self, tasks: list[Task] | None, eta: EtaTracker | None) -> None:
        if tasks is None:
            self._show_tasks(self.feed.initial())
        else:
            self._show_tasks(tasks, eta)
        self._start_following()

    def _start_following(self) -> None:
        """The store is shown: start polling (or following the poller) and the timers."""
        self.log_panel.add_events(self.feed.recent_events())
        for warning in [*self.theme_set.errors, *self.keymap_warnings]:
            self.warn(warning)
        if self.theme_warning:
            self.warn(self.theme_warning)
        self._theme_ready = True
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        engine = self.feed.start_engine()
        if engine is not None:
            if self.start_paused:
                engine.pause()
            self._start_engine()
        else:
            self._viewer_timer = self.set_interval(self.timings.viewer, self._follow)
            self.notify(
                f"Read-only: {self.feed.status()}. Polling stays with that process.",
                title="Viewer mode",
                markup=False,
            )
        self.set_interval(self.timings.apply, self.tick)
        self.tick()
        self.dashboard.check_size()
        if self.handle_signals or (self.handle_signals is None and not self.is_headless):
            self._signals.install()
        if self.watch_terminal and not self.is_headless:
            self.set_interval(self.timings.terminal_check, self._check_terminal)

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
            self.tick()
        elif worker.group == "detail-body" and event.state == WorkerState.ERROR:
            self.show_error(worker.error)

    def toggle_pause(self) -> None:
        """Pause or resume polling; after the engine stopped on an error, start it again."""
        engine = self.engine
        assert engine is not None  # only a polling dashboard pauses
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
        self.refresh_summary()

    def _on_signal(self, signum: int, code: int) -> None:
        self.log_panel.add_events([Event("notice", data={"message": f"signal {signum}: exiting"})])
        self.call_later(self.shutdown, code)

    def _check_terminal(self) -> None:
        """A terminal hung up without a SIGHUP reaching us (e.g. we are not in its foreground
        group) answers EIO; leave instead of spinning."""
        if self._terminal_gone():
            leave_dead_terminal(EXIT_HANGUP)
            self.call_later(self.shutdown, EXIT_HANGUP)

    def _terminal_gone(self) -> bool:
        return not self.is_headless and terminal_gone()

    async def shutdown(self, code: int = 0) -> None:
        """Stop polling, close the engine (and its clients), release the lock, then exit."""
        if self._shutting_down:
            return
        await self._close_feed()
        self.exit(code, return_code=code)

    async def _close_feed(self) -> None:
        """Stop the engine: what its writer still holds is written, its clients and its
        thread are closed, the poller lock is released. Once, however the app ends."""
        if self._shutting_down:
            return
        self._shutting_down = True
        if self._engine_worker is not None:
            self._engine_worker.cancel()
            try:
                await self._engine_worker.wait()
            except Exception:  # the worker's own error was shown when it ended; we are leaving
                log.debug("the engine worker ended with an error", exc_info=True)
        try:
            await self.feed.close()
        except Exception:  # leave anyway: the store holds every change already
            log.warning("closing the feed failed", exc_info=True)
        self._signals.restore()

    async def on_unmount(self) -> None:
        """An app that ends without `shutdown` (Textual's own exit, an error, a test leaving
        `run_test`) still closes the engine: nothing queued is dropped, no thread is left."""
        await self._close_feed()
        self._signals.restore()
        if self._stop_forwarding_logs is not None:
            self._stop_forwarding_logs()
            self._stop_forwarding_logs = None

    async def action_quit(self) -> None:
        await self.shutdown(0)

    # -- applying changes -----------------------------------------------------------------------

    def apply_pending(self) -> None:
        if self._closing or not self.screen_stack:  # the screens are going away: nothing to draw
            return
        batch = self.feed.drain()
        if batch:
            self.apply_batch(batch)

    def apply_batch(self, batch: FeedBatch) -> None:
        """Fold a batch into the state and every view, in one repaint."""
        with self.batch_update():
            changed = self.state.apply(batch, owns_downloads=self.feed.owns_downloads)
            if batch.reload is not None:
                self.table.reload()
            self.dashboard.show_changes(changed, batch.events, batch.reload is not None)

    def _follow(self) -> None:
        """Once a second in a viewer: read what the poller wrote; take over when it left."""
        if self._closing or not self.screen_stack:  # a last tick while the app closes
            return
        feed = self.feed
        try:
            successor = feed.follow(len(self.state.index))
        except Exception as exc:  # a busy or vanished store: say so, keep the screen
            self.warn(f"could not read the store: {exc}")
            return
        if successor is not None:
            self._take_over(successor)
        self.refresh_summary()

    def _take_over(self, successor: Feed) -> None:
        """The poller went away and `successor` polls from here now."""
        self.apply_batch(self.feed.drain())
        self.feed = successor
        successor.start_engine()
        if self._viewer_timer is not None:
            self._viewer_timer.stop()
            self._viewer_timer = None
        self.dashboard.wire_table()
        self._start_engine()
        self.notify(
            "The other poller stopped; this dashboard polls the store now.",
            title="Polling",
            markup=False,
        )

    def tick(self) -> None:
        """Once a second, in one repaint: what the engine changed, the summary and the table's
        relative times."""
        if self._closing or not self.screen_stack:  # the screens are going away
            return
        try:
            table = self.table
        except NoMatches:  # the screen is not composed yet, or its widgets are being removed
            return
        with self.batch_update():
            engine = self.engine
            self.state.next_poll = self._next_poll if engine is not None else None
            self.apply_pending()
            downloader = engine.downloads() if engine is not None else None
            changed = self.state.read_progress(
                downloader.progress() if downloader is not None else None
            )
            if changed:
                table.refresh_tasks(changed)
            self.refresh_summary()
            table.tick()

    def summary_data(self) -> SummaryData:
        engine = self.engine
        note: str | None = None
        if self.read_only:
            mode, note = "viewer", self.feed.status()
        elif self.engine_error:
            mode, note = "stopped", self.engine_error
        elif engine is not None and engine.paused:
            mode = "paused"
        else:
            mode = "live"
        try:
            spec = self.table.view_spec  # the bar counts what the table shows
        except NoMatches:
            spec = None
        self.state.follow_view(spec)
        submission = self.submissions.read(time.monotonic(), engine)
        return self.state.summary_data(self.clock.now(), engine, mode, note, submission=submission)

    def _next_poll(self, key: Key) -> float | None:
        engine = self.engine
        return engine.next_poll_at(*key) if engine is not None else None

    def refresh_summary(self) -> None:
        try:
            summary = self.summary
        except NoMatches:  # not composed yet, or being taken down: nothing to draw on
            return
        summary.show(self.summary_data())

    # -- the command palette ----------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if isinstance(screen, DashboardScreen):
            yield from screen.system_commands()

    # -- themes ---------------------------------------------------------------------------------

    def _theme_changed(self, theme: Any) -> None:
        if not self._theme_ready or self.theme_save_path is None:
            return
        from tui.core.config import ConfigError, save_ui_theme

        try:
            save_ui_theme(self.theme_save_path, theme.name)
        except (ConfigError, OSError) as exc:
            self.warn(f"could not remember the theme: {exc}")

    # -- telling the user -----------------------------------------------------------------------

    def warn(self, message: str) -> None:
        text = clean_line(message) or ""
        self.log_panel.add_events([Event("notice", data={"message": text})])
        self.notify(text, severity="warning", timeout=10, markup=False)

    def show_error(self, error: BaseException | None) -> None:
        message = clean_line(str(error)) or type(error).__name__
        self.log_panel.add_events([Event("error", data={"message": message})])
        self.notify(message, title="Error", severity="error", markup=False)

    def _show_logged(self, events: list[Event]) -> None:
        """Warnings and errors logged anywhere in `tui` (see `log_forward.py`)."""
        if self._closing or not self.screen_stack:
            return
        self.log_panel.add_events(events)


__all__ = ["EXIT_HANGUP", "EXIT_TERM", "SeedanceApp", "Timings"]


def binding_owners() -> tuple[type[DOMNode], ...]:
    """Every class of ours whose BINDINGS carry ids a user may remap in `[ui.keys]`: the app
    hands them to the keymap check, so the keymap module never imports the screens."""
    from tui.app.screens.add_tasks import AddTasksScreen
    from tui.app.screens.confirm import ConfirmScreen
    from tui.app.screens.export import ExportScreen
    from tui.app.screens.help import HelpScreen
    from tui.app.screens.requests import RequestsScreen
    from tui.app.widgets.detail import DetailPane
    from tui.app.widgets.failures import FailuresView
    from tui.app.widgets.log_panel import LogFilter, LogPanel
    from tui.app.widgets.task_table import TaskTable

    return (
        DashboardScreen,
        TaskTable,
        LogPanel,
        LogFilter,
        FailuresView,
        ConfirmScreen,
        AddTasksScreen,
        ExportScreen,
        HelpScreen,
        DetailPane,
        RequestsScreen,
    )
