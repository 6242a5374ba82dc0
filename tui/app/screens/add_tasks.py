"""`a`: paste many ids (or create-call JSON lines), pick a provider or let the prefix pick.

The rules are `seedance-tui add`'s: `tui.core.ids.parse_id_lines` reads the lines, and without a
chosen provider each id's prefix picks the one configured provider of its kind. Bad lines (not an
id, or an id no configured provider takes) are listed with their line numbers and nothing is
added until the user chooses: fix the text and add again, or press "Add the N valid ids, skip M
bad lines". `ctrl+a` selects the whole text area (to replace a paste at once).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from tui.app.widgets.footer import keys_footer
from tui.core.clean import clean_line
from tui.core.config import ProviderConfig
from tui.core.ids import parse_id_lines

AUTO = "__auto__"
MAX_PROBLEMS = 12  # shown in the dialog; the count says how many more


@dataclass(frozen=True)
class AddRequest:
    """What to add: provider -> ids (in paste order), and the batch label."""

    groups: dict[str, list[str]]
    batch: str | None

    @property
    def count(self) -> int:
        return sum(len(ids) for ids in self.groups.values())


def assign_providers(
    ids: list[str], providers: Mapping[str, ProviderConfig], chosen: str | None
) -> tuple[dict[str, list[str]], list[str]]:
    """Each id's provider (the chosen one, else the one of its prefix's kind) and the problems."""
    if chosen is not None:
        if chosen not in providers:
            return {}, [f"unknown provider {chosen!r}"]
        return ({chosen: list(ids)} if ids else {}), []
    from tui.core.routing import route_ids

    routing = route_ids(ids, providers)
    problems = [
        f"{task_id}: several providers fit ({', '.join(names)}): pick one above"
        for task_id, names in routing.ambiguous
    ]
    problems += [
        f"{task_id}: a {' or '.join(kinds)} id, but no such provider is configured"
        for task_id, kinds in routing.unconfigured
    ]
    problems += [
        f"{task_id}: its prefix names no provider kind: pick one above"
        for task_id in routing.unknown_prefix
    ]
    return routing.assigned, problems


def id_line_numbers(lines: list[str]) -> dict[str, int]:
    """Each id's line number (its first line): problems found after parsing name their line."""
    numbers: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        ids, _ = parse_id_lines([line])
        if ids:
            numbers.setdefault(ids[0], number)
    return numbers


def _skip_label(valid: int, bad: int) -> str:
    ids = f"{valid} valid id{'s' if valid != 1 else ''}"
    return f"Add the {ids}, skip {bad} bad line{'s' if bad != 1 else ''}"


def check_batch(label: str) -> str | None:
    """The problem with a batch label, or None (same rule as `add --batch`)."""
    if len(label) > 128 or any(ord(ch) < 32 or ord(ch) == 127 for ch in label):
        return "batch: use a short label of printable characters, e.g. spring-ads"
    return None


class AddTasksScreen(ModalScreen[AddRequest | None]):
    DEFAULT_CSS = """
    AddTasksScreen { align: center middle; }
    AddTasksScreen > Vertical {
        width: 90; max-width: 95%; height: auto; max-height: 95%; padding: 0 1;
        border: thick $primary 60%; background: $surface;
    }
    AddTasksScreen TextArea { height: 10; }
    AddTasksScreen Horizontal { height: auto; }
    AddTasksScreen #row-options > * { width: 1fr; }
    AddTasksScreen #problems { color: $error; height: auto; max-height: 12; }
    AddTasksScreen #buttons { align-horizontal: right; }
    AddTasksScreen #add-valid { display: none; }
    AddTasksScreen Button { margin-left: 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Add", id="add_tasks.submit"),
        Binding("escape", "cancel", "Cancel", id="add_tasks.cancel"),
        # priority: the text area's own ctrl+a (start of line) would win otherwise
        Binding("ctrl+a", "select_all", "Select all", id="add_tasks.select_all", priority=True),
    ]

    def __init__(self, providers: Mapping[str, ProviderConfig]) -> None:
        super().__init__()
        self.providers = dict(providers)
        self.valid_part: AddRequest | None = None  # what "Add the N valid ids" adds

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Add task ids"
            yield Label(
                Content("Paste ids, one a line (or the JSON a create call answered). ctrl+s adds.")
            )
            yield TextArea(id="ids", soft_wrap=False, show_line_numbers=True)
            with Horizontal(id="row-options"):
                options = [(Content("by id prefix"), AUTO)]
                options += [
                    (Content(f"{name} ({p.kind})"), name) for name, p in self.providers.items()
                ]
                yield Select(options, value=AUTO, allow_blank=False, id="provider")
                yield Input(placeholder="batch label (optional)", id="batch")
            yield Static(id="problems")
            with Horizontal(id="buttons"):
                yield Button(Content("Cancel"), id="cancel")
                yield Button(Content("Add valid"), id="add-valid", variant="warning")
                yield Button(Content("Add"), id="add", variant="primary")
        yield keys_footer()

    def on_mount(self) -> None:
        self.query_one("#problems", Static).display = False
        self.query_one("#ids", TextArea).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "add":
            self.action_submit()
        elif event.button.id == "add-valid" and self.valid_part is not None:
            self.dismiss(self.valid_part)
        else:
            self.action_cancel()

    def action_select_all(self) -> None:
        """All of the focused field: the batch label, or else every pasted line."""
        focused = self.focused
        if isinstance(focused, Input):
            focused.select_all()
            return
        area = self.query_one("#ids", TextArea)
        area.focus()
        area.select_all()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        request, problems = self.build_request()
        if problems:
            self.show_problems(problems, request)
            return
        self.dismiss(request)

    def build_request(self) -> tuple[AddRequest | None, list[str]]:
        """What to add and the problems. With problems, the request holds only the valid ids
        (None when there are none, or when the problem is the batch label, not a line)."""
        lines = self.query_one("#ids", TextArea).text.splitlines()
        ids, errors = parse_id_lines(lines)
        problems = [f"line {number}: {reason}: {line}" for number, line, reason in errors]
        batch = self.query_one("#batch", Input).value.strip() or None
        if batch is not None and (why := check_batch(batch)):
            return None, [why, *problems]
        if not ids:
            return None, [*problems, "no ids: paste at least one id"]
        value = self.query_one("#provider", Select).value
        chosen = None if value == AUTO else str(value)
        groups, unrouted = assign_providers(ids, self.providers, chosen)
        if unrouted:
            numbers = id_line_numbers(lines)
            for problem in unrouted:
                number = numbers.get(problem.split(": ", 1)[0])
                problems.append(f"line {number}: {problem}" if number else problem)
            problems.sort(key=_line_number)
        request = AddRequest(groups=groups, batch=batch) if groups else None
        return request, problems

    def show_problems(self, problems: list[str], valid_part: AddRequest | None = None) -> None:
        """The bad lines by number; when some ids are fine, the choice to add only those."""
        shown = [clean_line(p) or "" for p in problems[:MAX_PROBLEMS]]
        if len(problems) > MAX_PROBLEMS:
            shown.append(f"… and {len(problems) - MAX_PROBLEMS} more")
        bad = len(problems)
        head = f"Nothing added yet: {bad} problem{'s' if bad != 1 else ''}"
        if valid_part is not None:
            n = valid_part.count
            head += f"; {n} id{'s are' if n != 1 else ' is'} fine"
        widget = self.query_one("#problems", Static)
        widget.update(Content("\n").join([Content.styled(head, "bold"), *map(Content, shown)]))
        widget.display = True
        self.valid_part = valid_part
        button = self.query_one("#add-valid", Button)
        button.display = valid_part is not None
        if valid_part is not None:
            button.label = Content(_skip_label(valid_part.count, bad))


def _line_number(problem: str) -> int:
    """`line 12: …` sorts by 12; a problem without a line goes last."""
    head = problem.split(":", 1)[0]
    return int(head[5:]) if head.startswith("line ") and head[5:].isdigit() else 1 << 30
