"""The failures view: failed tasks grouped by failure code and message, biggest group first.

`InvalidParameter: img_url must be set ...  ×37` is one line, not 37. Enter on a group posts
`GroupChosen` (the app filters the table to it); the app's export key exports the highlighted
group. Groups come from `TaskIndex.failure_groups()` (the same label the table's
`ViewSpec.failure_group` matches). Labels are upstream text: cleaned, and drawn as `Content`
built from plain strings, never markup.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui.core.clean import clean_line
from tui.core.model import State

_OTHER_BAD_ENDS = (State.CANCELLED, State.EXPIRED, State.MISSING)


@dataclass(frozen=True, slots=True)
class FailureGroup:
    label: str  # exactly `Failure.label`: the key the table filters on
    count: int


def sorted_groups(groups: Mapping[str, int]) -> list[FailureGroup]:
    """Biggest group first; equal counts in label order (stable between refreshes)."""
    return [
        FailureGroup(label, count)
        for label, count in sorted(groups.items(), key=lambda item: (-item[1], item[0]))
    ]


def group_line(group: FailureGroup, width: int = 7) -> Content:
    """`    37×  InvalidParameter: img_url must be set ...` (code bold, message plain)."""
    label = clean_line(group.label) or "unknown failure"
    code, sep, message = label.partition(": ")
    head = Content.styled(f"{group.count:>{width},}× ", "bold")
    if sep and " " not in code:
        return Content.assemble(head, " ", (code, "bold $error"), sep, message)
    return Content.assemble(head, " ", (label, "$error"))


class FailuresView(OptionList):
    """Failure groups; Enter chooses one."""

    DEFAULT_CSS = """
    FailuresView, FailuresView:focus { height: 1fr; border: none; padding: 0; }
    """

    class GroupChosen(Message):
        def __init__(self, label: str) -> None:
            super().__init__()
            self.label = label

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.groups: list[FailureGroup] = []
        self._signature: tuple[tuple[str, int], ...] | None = None
        self.other_ends: dict[State, int] = {}
        self.title_text = "failures"
        self._width = 1

    def set_groups(self, groups: Mapping[str, int], counts: Mapping[State, int]) -> None:
        """Show these groups (label -> count), keeping the highlighted group where it is."""
        ordered = sorted_groups(groups)
        others = {state: counts.get(state, 0) for state in _OTHER_BAD_ENDS}
        signature = tuple((g.label, g.count) for g in ordered)
        if signature == self._signature and others == self.other_ends:
            return
        keep = self.highlighted_group
        self._signature = signature
        self.groups = ordered
        self.other_ends = others
        width = self._width = max((len(f"{g.count:,}") for g in ordered), default=1)
        options: list[Option] = [
            Option(group_line(g, width), id=f"g{i}") for i, g in enumerate(ordered)
        ]
        self.set_options(options)
        total = sum(g.count for g in ordered)
        extra = [f"{n:,} {state}" for state, n in others.items() if n]
        self.title_text = " · ".join(
            [
                f"failures: {total:,} tasks in {len(ordered):,} groups",
                *(["also " + ", ".join(extra)] if extra else []),
                "enter: show in table",
                "e: export group",
            ]
        )
        if not ordered:
            self.set_options(
                [Option(Content.styled("No failed tasks.", "$foreground-muted"), disabled=True)]
            )
            return
        labels = [g.label for g in ordered]
        self.highlighted = labels.index(keep) if keep in labels else 0

    @property
    def highlighted_group(self) -> str | None:
        index = self.highlighted
        if index is None or not 0 <= index < len(self.groups):
            return None
        return self.groups[index].label

    def lines(self) -> list[str]:
        """What the user reads, one group a line (for tests and `export`'s notification)."""
        return [group_line(g, self._width).plain for g in self.groups]

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        index = event.option_index
        if 0 <= index < len(self.groups):
            self.post_message(self.GroupChosen(self.groups[index].label))
