"""What the dashboard's keys do to tasks: poll now, stop tracking, add ids, copy, export.

A mixin of `DashboardScreen` (kept apart so the screen file holds the layout and the views):
each action acts on the task the user means (`_selected_key`), refuses politely in a read-only
viewer, goes through the feed's engine and shows its result at once, not at the next tick. The
export writes in a worker thread, so 100,000 bodies never block the UI.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from textual import work
from textual.content import Content
from textual.screen import Screen
from textual.widgets import ContentSwitcher
from textual.worker import Worker, WorkerState

from tui.app.clipboard import copy_text
from tui.app.export_job import ExportJob, json_for_copy, write_export
from tui.app.feeds import FeedBatch
from tui.app.screens import dashboard_keys
from tui.core.clean import clean_line
from tui.core.model import Event, Key

if TYPE_CHECKING:
    from tui.app.app import SeedanceApp
    from tui.app.widgets.detail import DetailPane
    from tui.app.widgets.failures import FailuresView
    from tui.app.widgets.log_panel import LogPanel
    from tui.app.widgets.task_table import TaskTable


class TaskActions(Screen[None]):
    """The task actions of the dashboard screen."""

    if TYPE_CHECKING:
        seedance: SeedanceApp

        @property
        def table(self) -> TaskTable: ...

        @property
        def detail(self) -> DetailPane: ...

        @property
        def failures(self) -> FailuresView: ...

        @property
        def log_panel(self) -> LogPanel: ...

        def load_detail(self, key: Key) -> None: ...

    def _selected_key(self) -> Key | None:
        """The task the user means: the one in the detail pane when it has focus, else the
        table's cursor."""
        if self.app.focused is self.detail and self.detail.task_key is not None:
            return self.detail.task_key
        return self.table.cursor_key

    def _refuse_read_only(self, what: str) -> bool:
        app = self.seedance
        if app.read_only:
            app.notify(
                f"Read-only: {app.feed.status()}, so {what} is up to that process.",
                title="Viewer mode",
                severity="warning",
                markup=False,
            )
            return True
        return False

    async def action_poll_now(self) -> None:
        app = self.seedance
        key = self._selected_key()
        if key is None:
            app.notify("No task selected.", severity="warning")
            return
        if self._refuse_read_only("polling"):
            return
        engine = app.engine
        assert engine is not None  # a feed that is not read-only polls
        try:
            said = await engine.poll_now(*key)
        except Exception as exc:  # any failure of one poll is the user's news, not a crash
            app.warn(f"could not poll {key[1]}: {exc}")
            return
        app.apply_pending()  # the user asked: show the answer now, not at the next tick
        message, severity = dashboard_keys.poll_answer(engine, key, said)
        app.notify(message, title="Poll", severity=severity, markup=False)
        if self.detail.display and self.detail.task_key == key:
            self.load_detail(key)  # the provider's state, as the engine knows it now

    def action_remove_task(self) -> None:
        from tui.app.screens.confirm import ConfirmScreen

        key = self._selected_key()
        if key is None:
            self.app.notify("No task selected.", severity="warning")
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

        self.app.push_screen(ConfirmScreen(question, yes="Stop tracking"), answered)

    async def remove_tasks(self, keys_: Sequence[Key]) -> int:
        app = self.seedance
        engine = app.engine
        assert engine is not None
        removed = 0
        by_provider: dict[str, list[str]] = {}
        for provider, task_id in keys_:
            by_provider.setdefault(provider, []).append(task_id)
        for provider, ids in by_provider.items():
            removed += await engine.remove(provider, ids)
        gone = set(keys_)
        app.apply_batch(FeedBatch(removed=gone))
        if self.detail.task_key in gone:
            self.detail.display = False
        app.notify(
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

        self.app.push_screen(AddTasksScreen(self.seedance.config.providers), added)

    async def add_tasks(self, groups: dict[str, list[str]], batch: str | None) -> tuple[int, int]:
        app = self.seedance
        engine = app.engine
        assert engine is not None
        added = skipped = 0
        for provider, ids in groups.items():
            result = await engine.add(provider, ids, batch)
            added += result.added
            skipped += result.skipped
        note = f"Added {added} task{'s' if added != 1 else ''}"
        if skipped:
            note += f"; {skipped} already tracked"
        self.log_panel.add_events(
            [Event("added", provider, data={"count": len(ids)}) for provider, ids in groups.items()]
        )
        app.notify(note + ".", title="Add", markup=False)
        app.apply_pending()
        return added, skipped

    def action_copy(self, what: str) -> None:
        app = self.seedance
        key = self._selected_key()
        if key is None:
            app.notify("No task selected.", severity="warning")
            return
        if what == "id":
            copy_text(app, key[1], "the task id", path=app.clipboard_file)
            return
        task = app.store.get(*key, with_raw=(what == "json"))
        if task is None:
            app.notify("That task is no longer tracked.", severity="warning")
            return
        if what == "url":
            url = clean_line(task.video_url)
            if not url:
                app.notify(f"{key[1]} has no video URL (yet).", severity="warning", markup=False)
                return
            copy_text(app, url, "the video URL", path=app.clipboard_file)
        else:
            if task.raw is None:
                app.notify(
                    f"No upstream body stored for {key[1]} yet.", severity="warning", markup=False
                )
                return
            copy_text(app, json_for_copy(task.raw), "the raw JSON", path=app.clipboard_file)

    def action_export(self) -> None:
        from tui.app.screens.export import ExportRequest, ExportScreen

        app = self.seedance
        index = app.state.index
        switcher = self.query_one(ContentSwitcher)
        stamp = datetime.fromtimestamp(app.clock.now()).strftime("%Y%m%d-%H%M%S")
        if switcher.current == "failures":
            group = self.failures.highlighted_group
            if group is None:
                app.notify("No failure group to export.", severity="warning")
                return
            keys_ = [k for k in group.keys if k in index]
            what = "failure group " + (clean_line(group.title) or "")
            stem = f"seedance-failures-{stamp}"
        else:
            keys_ = self.table.visible_keys()
            what = "the current view"
            stem = f"seedance-export-{stamp}"
        if not keys_:
            app.notify("Nothing to export: the view is empty.", severity="warning")
            return

        def chosen(request: ExportRequest | None) -> None:
            if request is not None:
                self.export_tasks(ExportJob(keys_, request.format, request.path, what))

        app.push_screen(ExportScreen(what, len(keys_), stem, directory=app.export_dir), chosen)

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def export_tasks(self, job: ExportJob) -> None:
        """Write in a thread with its own store connection: 100,000 bodies never block the UI.
        A failure ends the worker in error, which the app shows."""
        db_path = self.seedance.db_path
        assert db_path is not None
        message = write_export(db_path, job)
        self.app.call_from_thread(self._exported, message)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """An export that failed (disk full, folder gone) says so; the screen stays."""
        worker = event.worker
        if worker.group == "export" and event.state == WorkerState.ERROR:
            self.seedance.show_error(worker.error)

    def _exported(self, message: str) -> None:
        self.log_panel.add_events([Event("notice", data={"message": message})])
        self.app.notify(message, title="Export", markup=False)
