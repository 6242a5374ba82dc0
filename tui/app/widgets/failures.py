"""The failures view: failed tasks grouped by cause (`tui.core.failure_groups`), biggest first.

30 "internal error. Request id: <hex>" failures are one group, not 30: messages are normalised
before grouping, and a code groups its messages. Each group is one block: the count and the
cause, the providers and batches in it, one full example message, and for a kind of failure
we can explain, what it means in plain words.

The first grouping of a large store runs in a thread (`FailureSync`); until it lands the view
says so instead of freezing the screen. Keys here act on the highlighted group (the screen's
`group_*` actions); `enter` posts `GroupChosen` and the screen filters the table to the
group's tasks. Messages are upstream text: cleaned, and drawn as `Content` from plain strings,
never markup. The highlighted group is drawn without colours of its own, in the theme's cursor
colours, so it stays readable in every theme (see tests/app/test_failure_groups_view.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from tui.app.failure_sync import FailureSync, build_index
from tui.app.task_view import TaskIndex
from tui.core.clean import clean_line
from tui.core.failure_groups import UNKNOWN_FAILURE, FailureGroup, FailureIndex
from tui.core.model import Key, State

_log = logging.getLogger(__name__)
_OTHER_BAD_ENDS = (State.CANCELLED, State.EXPIRED, State.MISSING)
MAX_SHOWN = 300  # groups drawn; the rest are counted in one line (each group is 3-5 lines)


def group_title(group: FailureGroup) -> str:
    """The cause as one safe line: `Code: normalised message`."""
    return clean_line(group.title) or UNKNOWN_FAILURE


def group_line(group: FailureGroup, width: int = 7) -> str:
    """`37×  InvalidParameter: img_url must be set ...`: the group's first line, as read."""
    return f"{group.count:>{width},}×  {group_title(group)}"


def _details(group: FailureGroup) -> list[tuple[str, str]]:
    """(line, role) under the title: where, one full example, plain words. The example is left
    out when it reads exactly like the title (the title is then the full message)."""
    where = [", ".join(group.providers)]
    batches = [clean_line(batch) or "" for batch in group.batches]
    if batches:
        shown = ", ".join(batches[:5]) + (f" +{len(batches) - 5}" if len(batches) > 5 else "")
        where.append(("batch " if len(batches) == 1 else "batches ") + shown)
    if group.variants > 1:
        where.append(f"{group.variants} different messages")
    lines = [(" · ".join(where), "where")]
    example = clean_line(group.example) or UNKNOWN_FAILURE
    if example != group_title(group):
        lines.append(("e.g. " + example, "example"))
    if group.plain_words:
        lines.append(("in plain words: " + group.plain_words, "plain"))
    return lines


_STYLES = {  # role -> (style in colour, style when highlighted: no colour of its own)
    "where": ("$text-muted", ""),
    "example": ("$foreground", ""),
    "plain": ("italic $text-muted", "italic"),
}


def group_block(group: FailureGroup, width: int, *, plain: bool = False, wrap: int = 0) -> Content:
    """One group as drawn: the title after the count, the details under it, every wrapped line
    indented under the title. `wrap` is the width to wrap at (0: do not wrap). `plain` (the
    highlighted group): bold and italic only, no colours, so the theme's cursor colours decide
    and the text keeps its contrast."""
    indent = " " * (width + 3)
    title = group_title(group)
    code, sep, message = title.partition(": ")
    if group.code and sep:
        head = Content.assemble((code, "bold" if plain else "bold $text-error"), sep, message)
    else:
        head = Content.styled(title, "" if plain else "$text-error")
    count = Content.styled(f"{group.count:>{width},}× ", "bold")
    blocks = [(head, True)]
    for line, role in _details(group):
        blocks.append((Content.styled(line, _STYLES[role][1 if plain else 0]), False))
    lines: list[Content] = []
    room = wrap - len(indent)
    for content, first in blocks:
        parts = content.wrap(room) if room >= 20 else [content]
        for number, part in enumerate(parts):
            lead = Content.assemble(count, " ") if first and number == 0 else Content(indent)
            lines.append(lead + part)
    return Content("\n").join(lines)


class FailuresView(OptionList):
    """Failure groups. Keys act on the highlighted group; `enter` shows it in the table."""

    DEFAULT_CSS = """
    FailuresView, FailuresView:focus { height: 1fr; border: none; padding: 0; }
    """
    HELP_GROUP: ClassVar[str] = "Failures view (f)"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "cursor_down", "Down", show=False, id="failures_view.cursor_down"),
        Binding("up,k", "cursor_up", "Up", show=False, id="failures_view.cursor_up"),
        Binding("home,g", "first", "First", show=False, id="failures_view.first"),
        Binding("end,G", "last", "Last", show=False, id="failures_view.last"),
        Binding("enter", "select", "Show in table", id="failures_view.select"),
        Binding("r", "screen.group_poll", "Re-poll group", id="failures_view.poll"),
        Binding("x", "screen.group_remove", "Stop tracking group", id="failures_view.remove"),
        Binding("c", "screen.group_copy_ids", "Copy ids", id="failures_view.copy_ids"),
        Binding("e", "screen.export", "Export group", id="failures_view.export"),
    ]  # fmt: skip

    class GroupChosen(Message):
        def __init__(self, group: FailureGroup) -> None:
            super().__init__()
            self.group = group
            self.label = group_title(group)

    class Grouped(Message):
        """A grouping thread finished (the screen redraws the view)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.sync: FailureSync | None = None
        self.groups: list[FailureGroup] = []
        self.other_ends: dict[State, int] = {}
        self.title_text = "failures"
        self._shown: list[FailureGroup] | None = None  # the list last drawn (groups() caches)
        self._width = 1
        self._plain_at: int | None = None
        self._wrapped_at = 0

    # -- data -------------------------------------------------------------------------------------

    def attach(self, index: TaskIndex) -> None:
        """The tasks to group (once; the screen calls it before the first `show`)."""
        if self.sync is None or self.sync.index is not index:
            self.sync = FailureSync(index)

    def note_changes(self, keys: set[Key]) -> None:
        """Tasks that changed since the last call (cheap: only failed ones are normalised)."""
        if self.sync is not None:
            self.sync.changed(keys)

    def show(self, counts: Mapping[State, int]) -> None:
        """Draw the groups as they are now; start the first grouping in a thread if needed."""
        sync = self.sync
        if sync is None:
            return
        groups = sync.groups()
        if groups is None:
            self._start_build()
            return
        if sync.wants_regroup:
            self.run_worker(
                sync.start_regroup(),
                name="regroup",
                group="failures",
                thread=True,
                exclusive=True,
                exit_on_error=False,
            )
        self._set_groups(groups, counts)

    def _start_build(self) -> None:
        assert self.sync is not None
        job = self.sync.start_build()
        if job is None:
            return
        tasks, generation = job
        self.title_text = f"failures: grouping {len(tasks):,} failed tasks by cause…"
        self._shown = None
        self.groups = []
        self.set_options(
            [Option(Content.styled(self.title_text, "$foreground-muted"), disabled=True)]
        )
        self.run_worker(
            lambda: build_index(tasks),
            name=f"build:{generation}",
            group="failures",
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != "failures" or self.sync is None:
            return
        event.stop()
        kind, _, generation = (worker.name or "").partition(":")
        if event.state == WorkerState.SUCCESS:
            result = worker.result
            if kind == "build" and isinstance(result, FailureIndex):
                self.sync.finish_build(result, int(generation))
            elif kind == "regroup" and isinstance(result, list):
                self.sync.finish_regroup(result)
            self.post_message(self.Grouped())
        elif event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            self.sync.abandon()
            if event.state == WorkerState.ERROR:
                _log.error("grouping failures failed: %r", worker.error)

    def _set_groups(self, groups: list[FailureGroup], counts: Mapping[State, int]) -> None:
        others = {state: counts.get(state, 0) for state in _OTHER_BAD_ENDS}
        if groups is self._shown and others == self.other_ends:
            return  # FailureIndex.groups() returns the same list until something changed
        keep = self.highlighted_group
        self._shown = groups
        self.groups = groups[:MAX_SHOWN]
        self.other_ends = others
        self._width = max((len(f"{g.count:,}") for g in self.groups), default=1)
        total = sum(g.count for g in groups)
        extra = [f"{n:,} {state}" for state, n in others.items() if n]
        self.title_text = " · ".join(
            [
                f"failures: {total:,} tasks in {len(groups):,} groups",
                *(["also " + ", ".join(extra)] if extra else []),
                "enter: show in table",
            ]
        )
        if not groups:
            self._plain_at = None
            self.set_options(
                [Option(Content.styled("No failed tasks.", "$foreground-muted"), disabled=True)]
            )
            return
        keys = [g.key for g in self.groups]
        at = keys.index(keep.key) if keep is not None and keep.key in keys else 0
        options = [
            Option(self._block(i, plain=(i == at)), id=f"g{i}") for i in range(len(self.groups))
        ]
        if len(groups) > MAX_SHOWN:
            rest = groups[MAX_SHOWN:]
            more = f"… {len(rest):,} more groups ({sum(g.count for g in rest):,} tasks)"
            options.append(Option(Content.styled(more, "$foreground-muted"), disabled=True))
        self._wrapped_at = self._wrap_width()
        self.set_options(options)
        self._plain_at = at
        self.highlighted = at

    def watch_highlighted(self, highlighted: int | None) -> None:
        """Redraw the old highlighted group in colour and the new one plain (see module doc)."""
        super().watch_highlighted(highlighted)
        old = self._plain_at
        shown = min(len(self.groups), self.option_count)  # set_options clears first
        if highlighted == old or not shown:
            return
        if old is not None and 0 <= old < shown:
            self.replace_option_prompt_at_index(old, self._block(old))
        if highlighted is not None and 0 <= highlighted < shown:
            self.replace_option_prompt_at_index(highlighted, self._block(highlighted, plain=True))
            self._plain_at = highlighted
        else:
            self._plain_at = None

    def _wrap_width(self) -> int:
        """The width the lines are wrapped at: the scrollbar's room kept whether or not it is
        shown yet (it appears once the groups are in; wrapped at the wider width, the list
        would wrap again and lose the indent)."""
        return max(0, self.size.width - self.styles.scrollbar_size_vertical)

    def _block(self, index: int, *, plain: bool = False) -> Content:
        wrap = self._wrap_width()
        return group_block(self.groups[index], self._width, plain=plain, wrap=wrap)

    def on_resize(self) -> None:
        """Wrapped lines keep their indent: wrap again at the new width."""
        if self.groups and self._wrapped_at != self._wrap_width():
            self._rewrap()

    def _rewrap(self) -> None:
        self._wrapped_at = self._wrap_width()
        for index in range(min(len(self.groups), self.option_count)):
            prompt = self._block(index, plain=(index == self._plain_at))
            self.replace_option_prompt_at_index(index, prompt)

    # -- reading ----------------------------------------------------------------------------------

    @property
    def highlighted_group(self) -> FailureGroup | None:
        index = self.highlighted
        if index is None or not 0 <= index < len(self.groups):
            return None
        return self.groups[index]

    def lines(self) -> list[str]:
        """Each group's first line as the user reads it (for tests and notifications)."""
        return [group_line(g, self._width) for g in self.groups]

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        index = event.option_index
        if 0 <= index < len(self.groups):
            self.post_message(self.GroupChosen(self.groups[index]))
