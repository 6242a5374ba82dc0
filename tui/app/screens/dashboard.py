"""The dashboard screen: what is drawn (summary, table or failures, detail, log) and what the
user's keys do there.

The app (`tui.app.app`) owns the data flow: it folds each batch into `DashboardState` and then
asks this screen to `show_changes`. The screen owns the widgets and the actions; an action that
changes tasks (add, remove, poll now) goes through the feed's engine and then shows its result
at once, not at the next tick. Groups of actions live in mixins: the task actions
(`task_actions.TaskActions`), the failures view's (`failure_actions.FailureActions`) and the
footer's truth (`dashboard_keys.KeysTruth`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Input, Static

from tui.app import keymap as keys
from tui.app.screens import dashboard_keys
from tui.app.screens.failure_actions import FailureActions
from tui.app.screens.task_actions import TaskActions
from tui.app.widgets.batches import BatchesView, batch_filter_words
from tui.app.widgets.detail import DetailPane
from tui.app.widgets.failures import FailuresView
from tui.app.widgets.footer import keys_footer
from tui.app.widgets.log_panel import LogPanel
from tui.app.widgets.summary import SummaryBar
from tui.app.widgets.task_table import TaskTable
from tui.core import APP_NAME
from tui.core.clean import clean_line
from tui.core.model import Event, Key

if TYPE_CHECKING:
    from tui.app.app import SeedanceApp

MIN_WIDTH, MIN_HEIGHT = 60, 24  # below 80 columns the detail pane takes the table's place


def _on_screen(binding: BindingType) -> BindingType:
    """The keymap names the dashboard's actions `app.<action>`; they live on this screen."""
    if isinstance(binding, Binding) and binding.action.startswith("app."):
        name = binding.action.removeprefix("app.")
        if name.split("(")[0] != "quit":
            return replace(binding, action=name)
    return binding


class DashboardScreen(FailureActions, TaskActions, dashboard_keys.KeysTruth, Screen[None]):
    """The one main screen; its bindings (remappable, see `tui.app.keymap`) drive the app."""

    BINDINGS: ClassVar[list[BindingType]] = [_on_screen(b) for b in keys.bindings("dashboard")]
    AUTO_FOCUS = "TaskTable"

    def __init__(self, seedance: SeedanceApp) -> None:
        super().__init__()
        self.seedance = seedance  # the app, typed (Screen.app is any App)
        self._detail_pending = False
        self._table_title = ""
        self._left_title: str | None = None

    # -- building -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        app = self.seedance
        with Vertical(id="body"):
            yield SummaryBar(id="summary")
            with Horizontal(id="main"):
                with Vertical(id="left"):
                    with ContentSwitcher(initial="table", id="switcher"):
                        yield self.make_table()
                        yield FailuresView(id="failures")
                        yield BatchesView(app.state.index, id="batches")
                    yield Input(
                        placeholder="filter: id, model, state, failure… "
                        "(!text hides matches; esc clears)",
                        id="filter",
                    )
                yield DetailPane(id="detail")
            yield LogPanel(id="log", max_lines=app.log_lines)
            yield keys_footer()
        yield Static(id="too-small")

    def make_table(self) -> TaskTable:
        app = self.seedance
        table = TaskTable(
            app.state.index, now=app.clock.now, downloads=app.config.download.enabled, id="table"
        )
        self.wire_table(table)
        return table

    def wire_table(self, table: TaskTable | None = None) -> None:
        """Next polls and download progress come from the engine, when this process polls.
        Until it is made (after the first frame) a row shows the next poll the store
        remembers."""
        app = self.seedance
        table = table or self.table
        if app.feed.read_only:
            return
        feed = app.feed

        def next_poll(key: Key) -> float | None:
            engine = feed.engine
            return engine.next_poll_at(*key) if engine is not None else None

        table.next_poll = next_poll
        if app.config.download.enabled:
            table.download_progress = app.state.progress.get

    def on_mount(self) -> None:
        self.query_one("#filter").display = False
        self.query_one("#detail").display = False
        self.query_one("#too-small").display = False

    def on_resize(self) -> None:
        self.check_size()

    @property
    def table(self) -> TaskTable:
        return self.query_one(TaskTable)

    @property
    def detail(self) -> DetailPane:
        return self.query_one(DetailPane)

    @property
    def failures(self) -> FailuresView:
        return self.query_one(FailuresView)

    @property
    def log_panel(self) -> LogPanel:
        return self.query_one(LogPanel)

    @property
    def summary(self) -> SummaryBar:
        return self.query_one(SummaryBar)

    # -- showing changes ------------------------------------------------------------------------

    def show_changes(self, changed: set[Key], events: Sequence[Event], reloaded: bool) -> None:
        """Redraw what `changed` tasks touch (call inside the app's `batch_update()`)."""
        if changed:
            self.table.refresh_tasks(changed)
        if events:
            self.log_panel.add_events(events)
        if changed or reloaded:
            self.note_failure_changes(changed)
            self.refresh_failures()
            key = self.detail.task_key
            if self.detail.display and key is not None and (key in changed or reloaded):
                self.load_detail(key)
            self.seedance.refresh_summary()

    def refresh_failures(self) -> None:
        if self.query_one(ContentSwitcher).current == "failures":
            self.show_failure_groups()
            self._update_left_title()

    def check_size(self) -> None:
        width, height = self.app.size
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        try:
            body = self.query_one("#body")
            message = self.query_one("#too-small", Static)
        except NoMatches:  # a resize before the screen is composed
            return
        body.display = not small
        message.display = small
        self.set_class(width < dashboard_keys.NARROW_BELOW, "-narrow")  # the detail takes it all
        self.sync_footer()  # called once polling started (paused or not), and on resizes
        if small:
            message.update(
                Content.assemble(
                    (f"{APP_NAME} needs a terminal of at least ", ""),
                    (f"{MIN_WIDTH}×{MIN_HEIGHT}", "bold"),
                    f".\nThis one is {width}×{height}: make the window bigger.\n\n"
                    "Polling goes on meanwhile. q quits.",
                )
            )

    # -- the detail pane ------------------------------------------------------------------------

    def load_detail(self, key: Key) -> None:
        app = self.seedance
        task = app.store.get(*key, with_raw=True)
        if task is None:
            task = app.state.index.get(key)
        if task is None:
            self.detail.clear()
            return
        history = app.store.history(*key)
        engine = app.engine
        next_poll = engine.next_poll_at(*key) if engine is not None else None
        progress = app.state.progress.get(key)
        state = dashboard_keys.provider_state(engine, key[0])
        self.detail.show(
            task, history, app.clock.now(), next_poll=next_poll, progress=progress,
            provider_state=state,
        )  # fmt: skip

    def _schedule_detail(self) -> None:
        """Cursor moves come in bursts (holding a key down): load the detail once they settle."""
        if self._detail_pending:
            return
        self._detail_pending = True

        def load() -> None:
            self._detail_pending = False
            key = self.table.cursor_key
            if self.detail.display and key is not None:
                self.load_detail(key)

        self.set_timer(self.seedance.timings.detail_debounce, load)

    @on(TaskTable.Highlighted)
    def _table_highlighted(self, event: TaskTable.Highlighted) -> None:
        if self.detail.display and event.key is not None:
            self._schedule_detail()

    @on(TaskTable.Selected)
    def _table_selected(self, event: TaskTable.Selected) -> None:
        self.open_detail(event.key)

    def open_detail(self, key: Key | None) -> None:
        if key is None:
            self.app.notify("No task selected.", severity="warning")
            return
        self.detail.display = True
        self.load_detail(key)

    @on(TaskTable.ViewChanged)
    def _view_changed(self, event: TaskTable.ViewChanged) -> None:
        spec = event.spec
        parts = [f"{event.shown:,} of {event.total:,} tasks"]
        if spec.state_filter != "all":
            parts.append(f"state: {spec.state_filter}")
        if spec.text:
            parts.append(f"filter: {spec.text}")
        if spec.failure_group or spec.group_title:
            group = spec.group_title or spec.failure_group or ""
            parts.append(f"failure: {group if len(group) <= 50 else group[:49] + '…'}")
        parts += batch_filter_words(spec.batch, spec.provider)
        self._table_title = clean_line(" · ".join(parts)) or ""
        self._update_left_title()

    @on(FailuresView.GroupChosen)
    def _group_chosen(self, event: FailuresView.GroupChosen) -> None:
        group = event.group
        self.table.set_view(
            failure_group=None,
            group_keys=frozenset(group.keys),
            group_title=event.label,
            state_filter="all",
        )
        self._show_table()

    def _show_table(self) -> None:
        self.query_one(ContentSwitcher).current = "table"
        self._update_left_title()
        self.table.focus()

    def _update_left_title(self) -> None:
        """The table's counts and filters, or the failures view's totals, above the list."""
        left = self.query_one("#left")
        # Content, not str: a str title is parsed as markup, and these hold upstream text.
        if self.query_one(ContentSwitcher).current == "failures":
            title = self.failures.title_text
        elif self.query_one(ContentSwitcher).current == "batches":
            title = self.query_one(BatchesView).title_text
        else:
            title = self._table_title
        if title != self._left_title:  # assigning a title repaints the whole panel
            self._left_title = title
            left.border_title = Content(title)

    # -- actions --------------------------------------------------------------------------------

    def action_help(self) -> None:
        from tui.app.screens.help import HelpScreen
        from tui.app.themes import user_theme_dir

        app = self.seedance
        if isinstance(app.screen, HelpScreen):
            return
        config_path = app.config.path or app.theme_save_path
        app.push_screen(
            HelpScreen(
                app.user_keymap,
                themes_hint=str(user_theme_dir()),
                config_hint=str(config_path) if config_path else "",
            )
        )

    def action_detail(self) -> None:
        if self.detail.display and self.app.focused is self.detail:
            self.detail.display = False
            self.table.focus()
            return
        self.open_detail(self.table.cursor_key)

    def action_go_back(self) -> None:
        """Escape: close the innermost thing open (filter, detail, failures, a group filter)."""
        filter_input = self.query_one("#filter", Input)
        switcher = self.query_one(ContentSwitcher)
        spec = self.table.view_spec
        if self.enlarged:
            self.action_enlarge()
        elif filter_input.display:
            filter_input.value = ""
            filter_input.display = False
            self.table.set_view(text="")
            self.table.focus()
        elif self.detail.display:
            self.detail.display = False
            self.table.focus()
        elif switcher.current in ("failures", "batches"):
            self._show_table()
        elif spec.failure_group is not None or spec.group_keys is not None:
            self.table.set_view(failure_group=None, group_keys=None, group_title=None)
        elif spec.batch is not None or spec.provider is not None:
            self.table.set_view(batch=None, provider=None)
        elif spec.text:
            self.table.set_view(text="")

    def action_filter(self) -> None:
        filter_input = self.query_one("#filter", Input)
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
        switcher = self.query_one(ContentSwitcher)
        if switcher.current == "failures":
            self._show_table()
            return
        switcher.current = "failures"
        self.refresh_failures()
        self.failures.focus()

    def action_toggle_log(self) -> None:
        panel = self.log_panel
        panel.display = not panel.display

    def action_cycle_log_level(self) -> None:
        panel = self.log_panel
        panel.display = True
        level = panel.cycle_level()
        self.app.notify(f"Log shows {level} and up.", title="Log")

    def action_focus_panel(self) -> None:
        order = [self.table, self.failures, self.detail, self.log_panel]
        shown = [w for w in order if w.display and w.parent is not None and w.is_on_screen]
        if not shown:
            return
        current = self.app.focused
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

    def action_toggle_pause(self) -> None:
        if self._refuse_read_only("pausing"):
            return
        self.seedance.toggle_pause()
        self.sync_footer()  # "p Resume" (dashboard_keys.KeysTruth)

    def action_requests(self) -> None:
        from tui.app.screens.requests import RequestsScreen

        self.app.push_screen(RequestsScreen(self.seedance))

    def action_retry(self) -> None:
        """`R`: the failed task (or failure group) again, after a confirmation (`tui.app.retry`)."""
        from tui.app.retry import offer_retry

        if not self._refuse_read_only("retrying"):
            offer_retry(self)

    # -- the command palette ----------------------------------------------------------------------

    def system_commands(self) -> Iterable[SystemCommand]:
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

    def action_batches(self) -> None:
        """`b`: the batches view (summed again while shown), `b` again: the table."""
        if self.query_one(ContentSwitcher).current == "batches":
            self._show_table()
        else:
            self.query_one(ContentSwitcher).current = "batches"
            self.query_one(BatchesView).show()
            self._update_left_title()

    @on(BatchesView.BatchChosen)
    def _batch_chosen(self, event: BatchesView.BatchChosen) -> None:
        self.table.set_view(failure_group=None, state_filter="all", **event.view_filter)
        self._show_table()
