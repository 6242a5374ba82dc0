"""The task table: a truly virtual list of up to 100,000 tasks.

Textual's DataTable builds every row up front (seconds at 50k rows) and parses each cell as
markup (an upstream `[/]` kills the app). This widget is a `ScrollView` that only ever draws
the lines on screen: `render_line(y)` looks up the key shown at that line in a `TaskView`
(tui/app/task_view.py) and returns a `Strip` of plain `Segment`s, cached in an LRU keyed by
everything the line shows. The header is line 0 and never scrolls; rows start at line 1.

Follow mode (k9s/htop): when rows re-sort or refilter, the cursor stays on the same task and on
the same screen line. Relative times (age, next poll, URL expiry) are computed from the
injected `now()` at draw time; `tick()` redraws only the visible rows whose text actually changed.

What each cell reads is `task_cells`; how a line becomes segments is `table_strips`; which
columns show and how wide is `column_plan`. This module decides which task each line shows,
and when to draw it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.app import format as fmt
from tui.app.task_sort import SORT_COLUMNS
from tui.app.task_view import TaskIndex, TaskView, ViewSpec
from tui.app.widgets import task_cells
from tui.app.widgets.column_plan import (
    COLUMNS,
    Column,
    InView,
    Layout,
    Plan,
    layout_columns,
    plan_columns,
)
from tui.app.widgets.line_diff import DrawnLines
from tui.app.widgets.table_strips import header_strip, row_strip
from tui.app.widgets.task_cells import STATE_CLASS, Ticks
from tui.core.model import Key, Task

__all__ = ["COLUMNS", "Column", "TaskTable", "layout_columns"]


Drawn = tuple[Key, int, bool, Ticks]
"""What a screen line shows: (key, version, selected, tick texts)."""


class TaskTable(ScrollView, can_focus=True):
    """Tasks of a `TaskIndex`, filtered and sorted by a `ViewSpec`, drawn one line at a time."""

    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text(encoding="utf-8")

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "task-table--header",
        "task-table--sorted",
        "task-table--cursor",
        "task-table--dim",
        "task-table--failure",
        "task-table--expiring",
        *STATE_CLASS.values(),
    }

    HELP_GROUP: ClassVar[str] = "Table"  # the heading its keys get on the help screen
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False, id="task_table.cursor_up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="task_table.cursor_down"),
        Binding("pageup,ctrl+b", "cursor_page_up", "Page up", show=False,
                id="task_table.page_up"),
        Binding("pagedown,ctrl+f", "cursor_page_down", "Page down", show=False,
                id="task_table.page_down"),
        Binding("home,g", "cursor_home", "First", show=False, id="task_table.home"),
        Binding("end,G", "cursor_end", "Last", show=False, id="task_table.end"),
        Binding("enter", "select", "Open", show=False, id="task_table.select"),
        Binding("s", "cycle_sort", "Sort", id="task_table.cycle_sort"),
        Binding("S", "reverse_sort", "Reverse", show=False, id="task_table.reverse_sort"),
        Binding("F", "toggle_follow", "Follow", show=False, id="task_table.toggle_follow"),
    ]  # fmt: skip

    follow: reactive[bool] = reactive(False, repaint=False)
    """Keep the cursor on the same task when rows re-sort or refilter (k9s/htop).

    Off until the user picks a task (any cursor move turns it on; `F` toggles it): a fresh
    dashboard keeps showing the top of the table instead of chasing whatever task happened to be
    in the first row when the batch started moving."""

    class Highlighted(Message):
        """The cursor moved to another task (`key` None: the view is empty)."""

        def __init__(self, table: TaskTable, key: Key | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> TaskTable:
            return self.table

    class Selected(Message):
        """Enter (or a double click) on a task."""

        def __init__(self, table: TaskTable, key: Key) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> TaskTable:
            return self.table

    class ViewChanged(Message):
        """How many tasks the view shows out of how many are known, and the spec now used."""

        def __init__(self, table: TaskTable, shown: int, total: int, spec: ViewSpec) -> None:
            super().__init__()
            self.table = table
            self.shown = shown
            self.total = total
            self.spec = spec

        @property
        def control(self) -> TaskTable:
            return self.table

    def __init__(
        self,
        index: TaskIndex,
        *,
        now: Callable[[], float] | None = None,
        spec: ViewSpec | None = None,
        downloads: bool = True,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.index = index
        self.now: Callable[[], float] = now or time.time
        """The app's clock (epoch seconds), for ages and next-poll countdowns."""
        self.next_poll: Callable[[Key], float | None] | None = None
        """Epoch seconds of a task's next poll (Engine.next_poll_at); None: Task.next_poll_at."""
        self.download_progress: Callable[[Key], fmt.ProgressLike | None] | None = None
        """A running download's bytes/total/speed (Downloader.progress()[key])."""
        self.downloads = downloads
        """False when downloading is off: the download column would only ever be empty."""
        self._view = TaskView(index, spec)
        self._cursor = 0
        self._cursor_key: Key | None = None
        self._strips: LRUCache[tuple[Any, ...], Strip] = LRUCache(2048)
        self._layout: Layout = ()
        self._plan = Plan(())
        self._plan_for: tuple[Any, ...] | None = None  # what `_plan` was made from
        self._in_view: InView | None = None  # what the rows on screen hold, see `_replan`
        # screen line -> (key, version, selected, tick texts) of what is drawn there now
        self._drawn: dict[int, Drawn] = {}
        # ... and the strip itself, to send only the cells that change (line_diff)
        self._sent = DrawnLines()
        # screen line -> what a partial repaint was computed from: the frame draws exactly that
        self._pending: dict[int, Drawn] = {}
        self._frame_now: float | None = None
        self._posted_view: tuple[int, int, ViewSpec] | None = None

    # --- public API ----------------------------------------------------------------------------

    @property
    def view_spec(self) -> ViewSpec:
        return self._view.spec

    @property
    def row_count(self) -> int:
        """Tasks the view shows now."""
        return len(self._view)

    @property
    def cursor_key(self) -> Key | None:
        return self._cursor_key

    @property
    def cursor_task(self) -> Task | None:
        return None if self._cursor_key is None else self.index.get(self._cursor_key)

    @property
    def cursor_row(self) -> int:
        """The cursor's position in the view (0 = first row)."""
        return self._cursor

    def visible_keys(self) -> list[Key]:
        """The whole current view, in display order (for export)."""
        return self._view.keys()

    def refresh_tasks(self, changed: Iterable[Key]) -> None:
        """Fold changed keys (upserted or removed in the index) into the view and redraw.

        A few keys move by bisect, not by re-sorting; only visible lines that now show
        something else are redrawn. After `TaskIndex.load` any call rebuilds.
        """
        changed = set(changed)
        if not changed and not self._view.stale:
            return
        self._apply(lambda: self._view.update(changed))

    def reload(self) -> None:
        """Rebuild the view from the whole index (after `TaskIndex.load`)."""
        self._apply(self._view.rebuild)

    def set_view(self, **changes: Any) -> None:
        """Change what is shown: text, state_filter, failure_group, sort_column, sort_reverse."""
        spec = self._view.spec.replace(**changes)
        if spec == self._view.spec:
            return
        old = self._view.spec
        self._apply(lambda: self._view.set_spec(spec))
        if (old.sort_column, old.sort_reverse) != (spec.sort_column, spec.sort_reverse):
            self._refresh_screen_line(0)

    def sort_by(self, column: str) -> None:
        """Sort by `column`; sorting by the current column again reverses it."""
        spec = self._view.spec
        if column == spec.sort_column:
            self.set_view(sort_reverse=not spec.sort_reverse)
        else:
            self.set_view(sort_column=column, sort_reverse=False)

    def cycle_sort(self) -> None:
        """Sort by the next shown column (wrapping round), ascending."""
        shown = [column.name for column, _, _ in self._current_layout()] or list(SORT_COLUMNS)
        current = self._view.spec.sort_column
        following = shown[(shown.index(current) + 1) % len(shown)] if current in shown else shown[0]
        self.set_view(sort_column=following, sort_reverse=False)

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        self.notify(
            "follow on: the cursor stays on its task when rows move"
            if self.follow
            else "follow off: the cursor stays on its row",
            timeout=3,
        )

    def move_cursor_to(self, key: Key) -> bool:
        """Put the cursor on `key` if the view shows it."""
        position = self._view.position(key)
        if position is None:
            return False
        self._move_cursor(position)
        return True

    def tick(self) -> None:
        """Redraw visible rows whose relative times or download progress read differently now.

        Meant to be called once a second; costs a few string formats per visible row and
        repaints nothing when nothing reads differently (only the cells that do, otherwise).
        """
        if not self._drawn:
            return
        now = self.now()
        for y, (key, _version, _selected, ticks) in list(self._drawn.items()):
            task = self.index.get(key)
            if task is not None and self._tick_texts(key, task, now) != ticks:
                self._repaint_line(y, now)

    # --- actions -------------------------------------------------------------------------------

    def action_cursor_up(self) -> None:
        self._move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self._move_cursor(self._cursor + 1)

    def action_cursor_page_up(self) -> None:
        page = max(1, self._page_height())
        self._move_cursor(self._cursor - page, scroll_by=-page)

    def action_cursor_page_down(self) -> None:
        page = max(1, self._page_height())
        self._move_cursor(self._cursor + page, scroll_by=page)

    def action_cursor_home(self) -> None:
        self._move_cursor(0)

    def action_cursor_end(self) -> None:
        self._move_cursor(len(self._view) - 1)

    def action_select(self) -> None:
        if self._cursor_key is not None:
            self.post_message(self.Selected(self, self._cursor_key))

    def action_cycle_sort(self) -> None:
        self.cycle_sort()

    def action_reverse_sort(self) -> None:
        self.set_view(sort_reverse=not self._view.spec.sort_reverse)

    # --- events --------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self._in_view = self._rows_in_view()
        self.virtual_size = Size(0, len(self._view) + 1)
        if len(self._view):
            self._cursor = 0
        self._sync_cursor_key()
        self._post_view_changed()

    def on_resize(self, event: events.Resize) -> None:
        page = self._page_height()
        for y in [y for y in self._drawn if y > page]:
            del self._drawn[y]
        self._sent.forget()  # the whole table is drawn again
        self._pending.clear()
        self._replan()  # as many rows as now fit
        self.call_after_refresh(self._scroll_cursor_into_view)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            for column, x, width in self._current_layout():
                if x <= offset.x <= x + width:
                    event.stop()
                    self.sort_by(column.name)
                    return
            return
        position = self.scroll_offset.y + offset.y - 1
        if 0 <= position < len(self._view):
            event.stop()
            self._move_cursor(position)
            if event.chain >= 2 and self._cursor_key is not None:
                self.post_message(self.Selected(self, self._cursor_key))

    def notify_style_update(self) -> None:
        # A theme switch changes every colour: cached strips are stale.
        self._strips.clear()
        self._sent.forget()
        super().notify_style_update()

    # --- rendering -----------------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        self._frame_now = self.now()
        try:
            return super().render_lines(crop)
        finally:
            self._frame_now = None

    def render_line(self, y: int) -> Strip:
        now = self._frame_now if self._frame_now is not None else self.now()
        strip, drawn = self._line(y, now, self._pending.pop(y, None))
        if drawn is None:
            self._drawn.pop(y, None)
        else:
            self._drawn[y] = drawn
        return self._sent.drawn(y, strip)

    def _line(self, y: int, now: float, pending: Drawn | None = None) -> tuple[Strip, Drawn | None]:
        """Screen line `y` and what it shows: (key, version, selected, tick texts), None for
        the header and blank lines. With `pending` (what a partial repaint computed for this
        line) still true, its tick texts are used, so the frame matches the diff exactly."""
        layout = self._current_layout()
        width = self.scrollable_content_region.width
        if y == 0:
            return self._header_strip(layout, width), None
        position = self.scroll_offset.y + y - 1
        view = self._view
        if position >= len(view):
            return Strip.blank(width, self.rich_style), None
        key = view[position]
        task = self.index.get(key)
        if task is None:  # removed from the index, not yet folded into the view
            return Strip.blank(width, self.rich_style), None
        selected = position == self._cursor
        version = self.index.version(key)
        if pending is not None and pending[:3] == (key, version, selected):
            ticks = pending[3]
        else:
            ticks = self._tick_texts(key, task, now)
        id_head = self._plan.id_head
        cache_key = (key, version, width, layout, id_head, selected, self.has_focus, ticks)
        strip = self._strips.get(cache_key)
        if strip is None:
            strip = self._row_strip(task, ticks, layout, width, selected)
            self._strips[cache_key] = strip
        return strip, (key, version, selected, ticks)

    def _repaint_line(self, y: int, now: float) -> None:
        """Send the cells of screen line `y` that read differently now, and only those."""
        strip, drawn = self._line(y, now)
        if self._sent.repaint(self, y, strip) and drawn is not None:
            self._pending[y] = drawn

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """A scroll repaints only what reads differently (ScrollView repaints everything)."""
        if self.show_vertical_scrollbar:
            self.vertical_scrollbar.position = new_value
        if round(old_value) != round(new_value) and not self._replan():
            now = self.now()
            for y in range(1, self._page_height() + 1):
                self._repaint_line(y, now)

    def _row_strip(
        self, task: Task, ticks: Ticks, layout: Layout, width: int, selected: bool
    ) -> Strip:
        return row_strip(
            task_cells.cells(task, ticks),
            layout,
            width,
            base=self.rich_style,
            style_of=self.get_component_rich_style,
            selected=selected,
            id_head=self._plan.id_head,
        )

    def _header_strip(self, layout: Layout, width: int) -> Strip:
        header = self.rich_style + self.get_component_rich_style("task-table--header")
        spec = self._view.spec
        return header_strip(
            layout,
            width,
            header=header,
            sorted_style=header + self.get_component_rich_style("task-table--sorted"),
            sort_column=spec.sort_column,
            sort_reverse=spec.sort_reverse,
        )

    def _tick_texts(self, key: Key, task: Task, now: float) -> Ticks:
        """The texts of a row that change with time alone (age, next poll, download, expiry)."""
        return task_cells.tick_texts(
            key, task, now, self._shown_names(), self.next_poll, self.download_progress
        )

    # --- layout and cursor internals -------------------------------------------------------------

    def _current_layout(self) -> Layout:
        width = self.scrollable_content_region.width
        sort_column = self._view.spec.sort_column
        made_from = (width, self.downloads, sort_column, self._in_view)
        if made_from != self._plan_for:
            self._plan = plan_columns(
                width, self._in_view, downloads=self.downloads, sort_column=sort_column
            )
            self._plan_for = made_from
            self._layout = self._plan.layout
            self._shown = frozenset(column.name for column, _, _ in self._layout)
        return self._layout

    def _replan(self) -> bool:
        """Plan the columns again from the rows now in view; if that changes them, repaint the
        whole table (every line is drawn again) and say so."""
        before = (self._current_layout(), self._plan.id_head)
        self._in_view = self._rows_in_view()
        if (self._current_layout(), self._plan.id_head) == before:
            return False
        self._sent.forget()
        self._pending.clear()
        self.refresh()
        return True

    def _rows_in_view(self) -> InView:
        top = self.scroll_offset.y
        keys = self._view.window(top, top + max(1, self._page_height()))
        get = self.index.get
        return task_cells.in_view(task for key in keys if (task := get(key)) is not None)

    def _shown_names(self) -> frozenset[str]:
        self._current_layout()
        return self._shown

    def _page_height(self) -> int:
        """Rows visible under the header."""
        return max(0, self.scrollable_content_region.height - 1)

    def _refresh_screen_line(self, y: int) -> None:
        width = max(self.size.width, 1)
        self.refresh(Region(0, y, width, 1))

    def _refresh_row(self, position: int) -> None:
        y = position - self.scroll_offset.y + 1
        if 1 <= y <= self._page_height():
            self._refresh_screen_line(y)

    def _move_cursor(self, position: int, *, scroll_by: int = 0) -> None:
        count = len(self._view)
        if count == 0:
            return
        self.follow = True  # the user picked a task: keep it under the cursor from now on
        position = max(0, min(count - 1, position))
        if position != self._cursor:
            self._refresh_row(self._cursor)
            self._cursor = position
            self._refresh_row(position)
        if scroll_by:
            self.scroll_to(y=self.scroll_offset.y + scroll_by, animate=False, force=True)
        self._scroll_cursor_into_view()
        self._sync_cursor_key()

    def _scroll_cursor_into_view(self) -> None:
        page = self._page_height()
        if page <= 0 or not len(self._view):
            return
        top = self.scroll_offset.y
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, force=True)
        elif self._cursor >= top + page:
            self.scroll_to(y=self._cursor - page + 1, animate=False, force=True)

    def _sync_cursor_key(self) -> None:
        key = self._view[self._cursor] if 0 <= self._cursor < len(self._view) else None
        if key != self._cursor_key:
            self._cursor_key = key
            self.post_message(self.Highlighted(self, key))

    def _apply(self, change: Callable[[], None]) -> None:
        """Change the view, then put the cursor, the scroll and the screen right."""
        view = self._view
        old_count = len(view)
        old_key = self._cursor_key
        old_top = self.scroll_offset.y
        page = self._page_height()
        screen_row = self._cursor - old_top
        change()
        count = len(view)
        if count != old_count:
            self.virtual_size = Size(0, count + 1)
        top = old_top
        position = view.position(old_key) if (self.follow and old_key is not None) else None
        if position is not None:
            self._cursor = position
            if 0 <= screen_row < page:
                top = position - screen_row
        else:
            self._cursor = max(0, min(self._cursor, count - 1))
        top = max(0, min(top, count - page)) if page > 0 else 0
        if top != old_top:
            self.scroll_to(y=top, animate=False, force=True)  # repaints the whole table
        else:
            self._refresh_changed_lines()
        self._sync_cursor_key()
        self._post_view_changed()

    def _refresh_changed_lines(self) -> None:
        if self._replan():
            return
        page = self._page_height()
        top = self.scroll_offset.y
        keys = self._view.window(top, top + page)
        version = self.index.version
        now = self.now()
        for offset in range(page):
            y = offset + 1
            drawn = self._drawn.get(y)
            if offset >= len(keys):
                if drawn is not None:
                    self._repaint_line(y, now)
                continue
            key = keys[offset]
            if drawn is None or drawn[:3] != (key, version(key), top + offset == self._cursor):
                self._repaint_line(y, now)

    def _post_view_changed(self) -> None:
        state = (len(self._view), len(self.index), self._view.spec)
        if state != self._posted_view:
            self._posted_view = state
            self.post_message(self.ViewChanged(self, state[0], state[1], state[2]))
