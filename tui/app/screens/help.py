"""`?`: every key (as remapped by the user), what the states mean, and where things live."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.app.format import STATE_GLYPHS
from tui.app.keymap import KEYS, effective_keys
from tui.core.model import State

_GROUP_ORDER = ("Tasks", "Views", "State filters", "App")
_STATE_WORDS = {
    State.QUEUED: "accepted, waiting for a worker",
    State.RUNNING: "being generated",
    State.SUCCEEDED: "done; the video is kept if downloads are on",
    State.FAILED: "the provider gave up (see the failure in the detail pane)",
    State.CANCELLED: "cancelled upstream",
    State.EXPIRED: "expired upstream before it ran",
    State.MISSING: "the provider says the id does not exist (asked twice)",
    State.UNKNOWN: "a status word we do not know; polled slowly, logged once",
}


def key_display(keys: list[str]) -> str:
    """`question_mark` -> `?`, `ctrl+p` -> `^p`: how keys read on a keyboard."""
    names = {"question_mark": "?", "slash": "/", "escape": "esc", "enter": "enter"}
    shown = []
    for key in keys:
        key = names.get(key, key)
        if key.startswith("ctrl+"):
            key = "^" + key[5:]
        shown.append(key)
    return ", ".join(shown)


def _key_line(keys: str, description: str, binding_id: str) -> Content:
    """One row of the key list: keys, what they do, the id to remap them by."""
    return Content.assemble(
        (f"  {keys:<14}", "bold $primary"),
        (f"{description:<24}", ""),
        (f"id: {binding_id}", "$foreground-muted"),
    )


def _table_bindings() -> list[Binding]:
    """The task table's own keys (cursor, sort, follow), read from the widget itself."""
    from tui.app.widgets.task_table import TaskTable

    return [b for b in TaskTable.BINDINGS if isinstance(b, Binding) and b.id]


def help_content(
    keymap: Mapping[str, str], *, themes_hint: str = "", config_hint: str = ""
) -> Content:
    lines: list[Content] = []
    heading = "bold $accent"
    for group in _GROUP_ORDER:
        lines.append(Content.styled(group, heading))
        for spec in KEYS:
            if spec.group != group:
                continue
            keys = key_display(effective_keys(spec, keymap))
            lines.append(_key_line(keys, spec.description, spec.id))
        lines.append(Content(""))
    lines.append(Content.styled("Table", heading))
    for binding in _table_bindings():
        keys = key_display(keymap.get(binding.id, binding.key).split(","))
        lines.append(_key_line(keys, binding.description, binding.id or ""))
    lines.append(Content(""))
    lines.append(Content.styled("States", heading))
    for state, words in _STATE_WORDS.items():
        lines.append(Content.assemble((f"  {STATE_GLYPHS[state]} {state:<11}", "bold"), words))
    lines.append(Content(""))
    lines.append(Content.styled("Filter (/)", heading))
    lines.append(Content("  text matches id, provider, batch, model, state and failure;"))
    lines.append(Content("  start with ! to hide the matches instead. esc clears."))
    lines.append(Content(""))
    lines.append(Content.styled("Remapping keys and themes", heading))
    lines.append(Content("  In the config file, a [ui.keys] table maps a binding id to keys:"))
    lines.append(
        Content.styled('    [ui.keys]\n    add = "ctrl+a"\n    quit = "q,ctrl+q"', "$primary")
    )
    if config_hint:
        lines.append(Content(f"  config: {config_hint}"))
    lines.append(Content("  Themes: ctrl+p, then Theme; your choice is remembered."))
    if themes_hint:
        lines.append(Content(f"  Your own themes (*.toml): {themes_hint}"))
    return Content("\n").join(lines)


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 84; max-width: 95%; height: 90%; padding: 0 1;
        border: thick $primary 60%; background: $surface;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss_help", "Close", id="help.close")
    ]

    def __init__(
        self, keymap: Mapping[str, str], *, themes_hint: str = "", config_hint: str = ""
    ) -> None:
        super().__init__()
        self.content = help_content(keymap, themes_hint=themes_hint, config_hint=config_hint)

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "seedance-tui help (esc closes)"
            yield Static(self.content, id="help-text")

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
