"""The log panel: what happened, newest at the bottom, bounded, filterable by level.

Every engine event becomes one line in the very words `watch` prints (`tui.output.event_line`)
plus a level (`event_level`: failures and dead providers are errors, retries warnings). Lines
are kept in a ring of `max_lines`; the panel is a virtual
`ScrollView` that draws only the rows on screen, so 1,000 lines cost what 10 do. Every upstream
string is cleaned and drawn as plain `Content` (never markup): a provider's `[/]` or ESC byte
shows as text or not at all.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.content import Content
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.visual import Visual
from textual.widget import Widget
from textual.widgets import Input

from tui.app.widgets.line_diff import DrawnLines
from tui.core.clean import clean_line
from tui.core.model import Event
from tui.core.text_width import cell_width, cut
from tui.output import event_line as output_event_line

LEVELS: tuple[str, ...] = ("debug", "info", "warning", "error")
_LEVEL_RANK = {name: rank for rank, name in enumerate(LEVELS)}
_LEVEL_STYLE = {
    "debug": "$foreground-muted",
    "info": "",
    "warning": "$warning",
    "error": "bold $error",
}
_LEVEL_TAG = {"debug": "dbg", "info": "inf", "warning": "WRN", "error": "ERR"}
_BAD_END = {"failed": "error", "expired": "warning", "cancelled": "warning", "missing": "warning"}


ID_MIN = 12  # a task id shortened to fit a narrow log keeps at least this many cells


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of the log: its level, its text (already safe for a terminal) and the task id
    in it, if any."""

    level: str
    text: str
    task_id: str | None = None

    def fitted(self, width: int) -> LogEntry:
        """This line in `width` cells if it can be: a long task id gives way in its middle
        first (`video_90c…66cad4a26`), so an 80-column log still says what happened to it."""
        overflow = cell_width(self.plain) - width
        task_id = self.task_id
        if overflow <= 0 or not task_id or task_id not in self.text:
            return self
        room = max(ID_MIN + 1, cell_width(task_id) - overflow)  # ID_MIN cells + the ellipsis
        short = cut(task_id, room, middle=True)
        if short == task_id:
            return self
        return LogEntry(self.level, self.text.replace(task_id, short, 1), task_id)

    def content(self) -> Content:
        style = _LEVEL_STYLE[self.level]
        time, _, rest = self.text.partition(" ")
        return Content.assemble(
            (time, "$foreground-muted"),
            " ",
            (_LEVEL_TAG[self.level], style),
            " ",
            (rest, style if self.level != "info" else ""),
        )

    @property
    def plain(self) -> str:
        time, _, rest = self.text.partition(" ")
        return f"{time} {_LEVEL_TAG[self.level]} {rest}"


def event_level(event: Event) -> str:
    """How loud an event is: failures and dead providers are errors, retries are warnings."""
    data = event.data or {}
    kind = event.kind
    if kind == "state":
        return _BAD_END.get(str(data.get("to")), "info")
    if kind == "http_error":
        return "warning"
    if kind == "download":
        state = str(data.get("state"))
        return "error" if state in ("failed", "expired") else "info" if state == "done" else "debug"
    if kind == "provider":
        health = str(data.get("health") or "")
        if health in ("", "ok"):
            return "info"
        return "error" if health in ("auth failed", "down") else "warning"
    if kind == "error":
        return "error"
    if kind == "poll":
        return "debug"
    return "info"


def event_line(event: Event) -> LogEntry:
    """One event as the log shows it: the same words `watch` prints, plus a level."""
    text = output_event_line(event)
    if event.kind == "http_error" and event.data.get("status") == 429:
        text = text.replace("HTTP 429", "HTTP 429 rate limited", 1)
    task_id = clean_line(event.id) if event.id else None
    return LogEntry(level=event_level(event), text=clean_line(text) or "", task_id=task_id)


class LogFilter(Input):
    """The log's filter as it is typed: shown under the panel only while it has the focus.
    Enter keeps the filter (the panel's title shows it), escape clears it."""

    DEFAULT_CSS = """
    LogFilter { height: 1; border: none; padding: 0 1; background: $boost; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "clear_filter", "Clear filter", id="log.clear_filter"),
    ]

    def __init__(self, panel: LogPanel) -> None:
        super().__init__(
            value=panel.filter_text,
            placeholder="filter the log (enter keeps it, esc clears it)",
            id="log-filter",
        )
        self.panel = panel

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()  # the dashboard's own filter input listens for Changed too
        self.panel.filter_text = event.value

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.panel.focus()  # the blur below closes this input

    def action_clear_filter(self) -> None:
        self.panel.filter_text = ""
        self.panel.focus()

    def on_blur(self) -> None:
        self.remove()


class LogPanel(ScrollView, can_focus=True):
    """A bounded, level-filtered log that draws only what is on screen and tails.

    At the bottom it follows every new line. Scrolled up, it holds still and its title counts
    the lines that came in ("7 new lines ↓"); `end` or `G` (or scrolling back to the bottom)
    follows again. `/` filters the lines by text.
    """

    DEFAULT_CSS = """
    LogPanel { height: 8; border-top: solid $border-blurred; }
    """
    HELP_GROUP: ClassVar[str] = "Log (when focused)"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("end,G", "follow", "Follow new lines", show=False, id="log.follow"),
        Binding("slash", "open_filter", "Filter the log", id="log.filter"),
    ]

    level: reactive[str] = reactive("info")
    filter_text: reactive[str] = reactive("")

    def __init__(self, *, max_lines: int = 1000, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.max_lines = max_lines
        self._entries: deque[LogEntry] = deque(maxlen=max_lines)
        self._shown: deque[LogEntry] = deque(maxlen=max_lines)
        self._strips: LRUCache[tuple[int, int], Strip] = LRUCache(256)
        self._sent = DrawnLines()
        self.following = True
        """At the bottom, showing each new line; False once the user scrolls up."""
        self.unseen = 0
        """Lines shown below the view since the user scrolled up."""
        self._scrolling = False

    # -- feeding ----------------------------------------------------------------------------

    def add_events(self, events: Iterable[Event]) -> None:
        self.add_entries(event_line(event) for event in events)

    def add_entries(self, entries: Iterable[LogEntry]) -> None:
        before = len(self._shown)
        added = 0
        for entry in entries:
            self._entries.append(entry)
            if self._wanted(entry):
                self._shown.append(entry)
                added += 1
        if not added:
            return
        self._strips.clear()  # cached by index, and a full ring shifts every index
        self._set_line_count(len(self._shown))
        if self.following:
            if self.scroll_y != self._bottom():
                self._scroll_quietly(self._bottom())  # repaints through watch_scroll_y
            else:
                self._repaint_changed()
            return
        # Scrolled up: the view holds still, also when the full ring drops its oldest lines.
        dropped = max(0, before + added - self.max_lines)
        self.unseen += added
        if dropped and self.scroll_y > 0:
            self._scroll_quietly(max(0, round(self.scroll_y) - dropped))
        else:
            self._repaint_changed()
        self._update_title()

    def _wanted(self, entry: LogEntry) -> bool:
        if _LEVEL_RANK[entry.level] < _LEVEL_RANK[self.level]:
            return False
        needle = self.filter_text.strip().lower()
        return not needle or needle in entry.plain.lower()

    def _bottom(self) -> int:
        return max(0, len(self._shown) - self.scrollable_content_region.height)

    def _scroll_quietly(self, y: int) -> None:
        """Scroll by the program, not the user: following stays as it is. `force`: a scrollbar
        that appears in this very update is not laid out yet, and an unforced scroll would be
        refused (the log then stayed on its first lines)."""
        self._scrolling = True
        try:
            self.scroll_to(y=y, animate=False, immediate=True, force=True)
        finally:
            self._scrolling = False

    def _set_line_count(self, count: int) -> None:
        """Grow the scrollable height. Assigning `virtual_size` re-lays out the whole screen
        (and repaints every scrollbar on it); only the scrollbar's coming or going needs that.
        Otherwise the size is set without a layout: `max_scroll_y` reads it directly, and the
        scrollbar is told its new length here."""
        size = Size(0, count)
        if size == self.virtual_size:
            return
        bar = count > self.scrollable_content_region.height
        if not self.is_mounted or bar != self.show_vertical_scrollbar:
            self.virtual_size = size
            if bar:  # made by the coming layout, at position 0: put its thumb where we are
                self.call_after_refresh(self._place_thumb)
            return
        self.set_reactive(LogPanel.virtual_size, size)
        if bar:
            self.vertical_scrollbar.window_virtual_size = count

    def _place_thumb(self) -> None:
        if self.show_vertical_scrollbar:
            self.vertical_scrollbar.position = self.scroll_y

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        if self.show_vertical_scrollbar:
            self.vertical_scrollbar.position = new_value
        if not self._scrolling:  # the user scrolled: follow only from the bottom
            self._set_following(round(new_value) >= self.max_scroll_y)
        if round(old_value) != round(new_value):
            self._repaint_changed()

    def _set_following(self, following: bool) -> None:
        if following:
            self.unseen = 0
        if following != self.following:
            self.following = following
            self._update_title()

    def action_follow(self) -> None:
        """`end` / `G`: to the newest line, and follow from now on."""
        self._set_following(True)
        self._scroll_quietly(self._bottom())
        self._update_title()

    def action_open_filter(self) -> None:
        if self.parent is None:
            return
        parent = self.parent
        if not isinstance(parent, Widget):
            return
        existing = parent.query_children(LogFilter)
        box = existing.first() if existing else LogFilter(self)
        if not existing:
            parent.mount(box, after=self)
        box.focus()

    def _repaint_changed(self) -> None:
        """Send only the cells that read differently now (a scrolled line keeps its time
        prefix and its blank tail): about half the bytes of repainting the panel."""
        for y in range(self.scrollable_content_region.height):
            self._sent.repaint(self, y, self._line_strip(y))

    def lines(self) -> list[str]:
        """The shown lines as plain text (what the user reads), oldest first."""
        return [entry.plain for entry in self._shown]

    def cycle_level(self) -> str:
        self.level = LEVELS[(_LEVEL_RANK[self.level] + 1) % len(LEVELS)]
        return self.level

    def watch_level(self) -> None:
        self._reselect()

    def watch_filter_text(self) -> None:
        self._reselect()

    def _reselect(self) -> None:
        """Choose the shown lines again (level or filter changed) and follow the newest."""
        self._shown = deque((e for e in self._entries if self._wanted(e)), self.max_lines)
        self._strips.clear()
        self._sent.forget()
        self.virtual_size = Size(0, len(self._shown))
        self._set_following(True)
        self._scroll_quietly(self._bottom())
        self._update_title()
        self.refresh()

    _title: str | None = None

    def _update_title(self) -> None:
        # No line count in it while following: a new count each second would repaint the
        # border row (~360 B). Scrolled up, the count of new lines is worth that.
        title = f"log: {self.level} and up · L: level"
        if self.filter_text.strip():
            title += f" · /{self.filter_text.strip()}"
        if not self.following and self.unseen:
            title += f" · {self.unseen} new line{'s' if self.unseen != 1 else ''} ↓"
        if title != self._title:  # assigning a title repaints the whole panel
            self._title = title
            self.border_title = Content(title)

    def on_mount(self) -> None:
        self._update_title()

    def on_resize(self) -> None:
        self._strips.clear()
        self._sent.forget()
        self.virtual_size = Size(0, len(self._shown))
        if self.following:
            self._scroll_quietly(self._bottom())

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self._sent.forget()

    # -- drawing ----------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        return self._sent.drawn(y, self._line_strip(y))

    def _line_strip(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        if index >= len(self._shown) or width <= 0:
            return Strip.blank(width, self.rich_style)
        key = (index, width)
        cached = self._strips.get(key)
        if cached is not None:
            return cached
        content = self._shown[index].fitted(width).content().truncate(width, ellipsis=True)
        strips = Visual.to_strips(self, content, width, 1, self.visual_style, pad=True)
        strip = strips[0] if strips else Strip.blank(width, self.rich_style)
        self._strips[key] = strip
        return strip
