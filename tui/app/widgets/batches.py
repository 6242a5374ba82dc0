"""The batches view: one line per batch label and provider, with what a person watching a long
batch asks first (how many in each state, how far, how well, how fast, what it cost, what is
kept).

The numbers come from `tui.core.batch_summary.summarise`, one pass over every task: 80 to 300 ms
at 100,000 tasks on a busy 2-core machine (measured). So it runs only while this view is shown,
only when the index changed since the last pass (`stamp`), and at most once per `interval` or
ten times the last pass's time, whichever is longer. A batch at several providers also gets an
`all` line first. Enter on a line posts `BatchChosen` (the screen filters the table to that
batch, and provider).

Batch labels and provider names are upstream or user text: cleaned, and drawn as `Content`
built from plain strings, never markup.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui.app import format as fmt
from tui.app.task_view import TaskIndex
from tui.core.batch_summary import BatchRow, summarise
from tui.core.clean import clean_line
from tui.core.model import DownloadState, State, Task
from tui.core.text_width import cell_width, fit

ALL_PROVIDERS = "all"
"""The provider word of a batch's line over every provider (it filters on the batch alone)."""
_OTHER_ENDS = (State.CANCELLED, State.EXPIRED, State.MISSING, State.UNKNOWN)


@dataclass(frozen=True, slots=True)
class BatchLine:
    """One line of the view: a `BatchRow` and whether it stands for every provider."""

    row: BatchRow
    every_provider: bool = False

    @property
    def provider_filter(self) -> str | None:
        return None if self.every_provider else self.row.provider


@dataclass(frozen=True, slots=True)
class BatchColumn:
    name: str
    title: str
    width: int
    align: Literal["left", "right"] = "right"


# Display order; `batch` takes the width the others leave. Narrow, the last of `_DROP_ORDER`
# goes first: the counts and the progress stay.
_COLUMNS = (
    BatchColumn("batch", "batch", 0, "left"),
    BatchColumn("provider", "provider", 8, "left"),
    BatchColumn("total", "tasks", 6),
    BatchColumn("queued", "queue", 5),
    BatchColumn("running", "run", 5),
    BatchColumn("succeeded", "ok", 6),
    BatchColumn("failed", "fail", 5),
    BatchColumn("other", "other", 5),
    BatchColumn("progress", "prog", 4),
    BatchColumn("success", "ok%", 4),
    BatchColumn("median", "median", 6),
    BatchColumn("tokens", "tokens", 6),
    BatchColumn("kept", "kept", 4),
)
_DROP_ORDER = ("other", "tokens", "median", "kept", "queued")
BATCH_MIN, BATCH_MAX = 8, 32
PROVIDER_MAX = 16
BUSY_SHARE_INVERSE = 10  # wait ten times as long as the last pass took before the next one


def merged(rows: Sequence[BatchRow]) -> BatchRow:
    """One batch over every provider: the rows' counts added up, their times pooled."""
    total = BatchRow(rows[0].batch, ALL_PROVIDERS, states=Counter(), downloads=Counter())
    for row in rows:
        total.states.update(row.states)
        total.downloads.update(row.downloads)
        total.tokens += row.tokens
        total.tokens_super += row.tokens_super
        total.generation_seconds.extend(row.generation_seconds)
    return total


def batch_lines(tasks: Iterable[Task]) -> list[BatchLine]:
    """Every (batch, provider) line, a batch at several providers led by its `all` line."""
    lines: list[BatchLine] = []
    rows = summarise(tasks)
    start = 0
    while start < len(rows):
        end = start
        while end < len(rows) and rows[end].batch == rows[start].batch:
            end += 1
        if end - start > 1:
            lines.append(BatchLine(merged(rows[start:end]), every_provider=True))
        lines.extend(BatchLine(row) for row in rows[start:end])
        start = end
    return lines


def cells(line: BatchLine) -> dict[str, str]:
    """Column name -> text for one line (plain, cleaned)."""
    row = line.row
    states = row.states
    rate = row.success_rate
    median = row.median_generation
    succeeded = states[State.SUCCEEDED]
    return {
        "batch": clean_line(row.label) or "",
        "provider": clean_line(row.provider) or "",
        "total": f"{row.total:,}",
        "queued": _count(states[State.QUEUED]),
        "running": _count(states[State.RUNNING]),
        "succeeded": _count(succeeded),
        "failed": _count(states[State.FAILED]),
        "other": _count(sum(states[state] for state in _OTHER_ENDS)),
        "progress": f"{row.progress}%",
        "success": "" if rate is None else f"{int(rate * 100)}%",  # floored, like progress
        "median": "" if median is None else fmt.compact_duration(median),
        "tokens": fmt.count_cell(row.tokens) if row.tokens else "",
        "kept": f"{row.kept:,}/{succeeded:,}" if succeeded else "",
    }


def _count(n: int) -> str:
    return f"{n:,}" if n else "·"


def plan(width: int, lines: Sequence[BatchLine]) -> list[tuple[BatchColumn, int]]:
    """The columns that fit in `width` and their widths: numbers whole, the batch label gets
    what is left (at least `BATCH_MIN`), whole columns dropped from the end of `_DROP_ORDER`."""
    texts = [cells(line) for line in lines]

    def natural(column: BatchColumn) -> int:
        longest = max((cell_width(t[column.name]) for t in texts), default=0)
        return max(column.width, cell_width(column.title), longest)

    widths = {c.name: natural(c) for c in _COLUMNS if c.name != "batch"}
    widths["provider"] = min(widths["provider"], PROVIDER_MAX)
    batch = min(BATCH_MAX, max(BATCH_MIN, *(cell_width(t["batch"]) for t in texts), 5))
    for name in _DROP_ORDER:
        if batch + sum(widths.values()) + len(widths) <= width:
            break
        del widths[name]
    spare = width - (sum(widths.values()) + len(widths))
    widths["batch"] = max(BATCH_MIN, min(batch, spare))
    return [(c, widths[c.name]) for c in _COLUMNS if c.name in widths]


def header_text(columns: Sequence[tuple[BatchColumn, int]]) -> str:
    return " ".join(fit(column.title, width, align=column.align) for column, width in columns)


def line_content(line: BatchLine, columns: Sequence[tuple[BatchColumn, int]]) -> Content:
    """One line: failures in the error colour, the `all` line bold, no markup anywhere."""
    texts = cells(line)
    parts: list[Content | str | tuple[str, str]] = []
    for i, (column, width) in enumerate(columns):
        if i:
            parts.append(" ")
        text = fit(texts[column.name], width, align=column.align, middle=column.name == "batch")
        style = ""
        if column.name == "failed" and line.row.states[State.FAILED]:
            style = "$text-error"
        elif column.name == "kept" and line.row.downloads[DownloadState.FAILED]:
            style = "$text-warning"
        elif column.name == "provider":
            style = "bold" if line.every_provider else "$text-muted"
        parts.append((text, style) if style else text)
    return Content.assemble(*parts)


class BatchesList(OptionList):
    """The lines; enter chooses one (the screen's escape leaves the view)."""

    DEFAULT_CSS = """
    BatchesList, BatchesList:focus { height: 1fr; border: none; padding: 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [  # as in the table
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "first", "First", show=False),
        Binding("G", "last", "Last", show=False),
    ]


class BatchesView(Vertical):
    """A header line over the batch lines; recomputed while shown, at most once an interval."""

    DEFAULT_CSS = """
    BatchesView { height: 1fr; }
    BatchesView > #batches-header { height: 1; background: $panel; text-style: bold; }
    """

    class BatchChosen(Message):
        """Enter on a line: show this batch (`NO_BATCH` for unlabelled tasks) in the table,
        at this provider (None: every provider)."""

        def __init__(self, batch: str, provider: str | None) -> None:
            super().__init__()
            self.batch = batch
            self.provider = provider

        @property
        def view_filter(self) -> dict[str, str | None]:
            """The `ViewSpec` fields that show this batch."""
            return {"batch": self.batch, "provider": self.provider}

    def __init__(self, index: TaskIndex, *, interval: float = 1.0, id: str | None = None) -> None:
        super().__init__(id=id)
        self.index = index
        self.interval = interval
        self.lines: list[BatchLine] = []
        self._made_from: object = None
        self._last_pass = float("-inf")
        self._drawn: tuple[int, tuple[tuple[object, ...], ...]] | None = None
        self.title_text = "batches"
        self.update_count = 0
        """Passes made so far (the tests count them)."""
        self.last_pass_seconds = 0.0
        """How long the last `summarise` pass took: the next waits ten times that at least."""

    def compose(self) -> ComposeResult:
        yield Static(id="batches-header", markup=False)
        yield BatchesList(id="batches-list")

    @property
    def option_list(self) -> BatchesList:
        return self.query_one(BatchesList)

    def on_mount(self) -> None:
        self.set_interval(self.interval, self._tick)

    def on_resize(self, event: events.Resize) -> None:
        self._draw()

    def on_focus(self) -> None:
        self.option_list.focus()

    def show(self) -> None:
        """Just opened: summarise now (unless nothing changed) and take the focus."""
        self.update_lines(force=True)
        self.option_list.focus()

    def _tick(self) -> None:
        if self.display:
            self.update_lines()

    def update_lines(self, *, force: bool = False) -> bool:
        """Summarise again if the tasks changed and the last pass is `interval` old; True when
        it ran. `force`: now, whatever the clock says (the view was just opened)."""
        now = time.monotonic()
        # a pass that took 0.2 s (100,000 tasks on a busy machine) waits 2 s: at most a tenth
        # of a core goes to this view, however many tasks there are
        wait = max(self.interval, BUSY_SHARE_INVERSE * self.last_pass_seconds)
        if not force and now - self._last_pass < wait:
            return False
        stamp = self.index.stamp
        if stamp == self._made_from:
            return False
        started = time.perf_counter()
        self.lines = batch_lines(self.index.tasks())
        self.last_pass_seconds = time.perf_counter() - started
        self.update_count += 1
        self._made_from = stamp
        self._last_pass = now
        batches = len({line.row.batch for line in self.lines})
        self.title_text = f"batches: {batches:,} · enter: show in table · esc: back"
        self._draw()
        return True

    def chosen_line(self) -> BatchLine | None:
        index = self.option_list.highlighted
        return self.lines[index] if index is not None and 0 <= index < len(self.lines) else None

    def rendered_lines(self) -> list[str]:
        """What the user reads, header first (for tests)."""
        header = self.query_one("#batches-header", Static)
        options = self.option_list
        texts = [str(header.render())]
        for i in range(options.option_count):
            prompt = options.get_option_at_index(i).prompt
            texts.append(prompt.plain if isinstance(prompt, Content) else str(prompt))
        return texts

    def _draw(self) -> None:
        width = self.option_list.scrollable_content_region.width or self.size.width
        if width <= 0:
            return
        signature = (width, tuple(_line_signature(line) for line in self.lines))
        if signature == self._drawn:
            return
        self._drawn = signature
        columns = plan(width, self.lines)
        self.query_one("#batches-header", Static).update(header_text(columns))
        options = self.option_list
        keep = options.highlighted
        if not self.lines:
            options.set_options(
                [Option(Content.styled("No tasks yet.", "$foreground-muted"), disabled=True)]
            )
        else:
            options.set_options([Option(line_content(line, columns)) for line in self.lines])
            options.highlighted = min(keep or 0, len(self.lines) - 1)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        index = event.option_index
        if 0 <= index < len(self.lines):
            line = self.lines[index]
            self.post_message(self.BatchChosen(line.row.label, line.provider_filter))


def batch_filter_words(batch: str | None, provider: str | None) -> list[str]:
    """`batch: nightly-42 @ ark` for the table's title while a batch filter is on."""
    if batch is None:
        return [] if provider is None else [f"provider: {provider}"]
    shown = batch if len(batch) <= 40 else batch[:39] + "…"
    return [f"batch: {shown}" + (f" @ {provider}" if provider else "")]


def _line_signature(line: BatchLine) -> tuple[object, ...]:
    return (line.every_provider, *cells(line).values())
