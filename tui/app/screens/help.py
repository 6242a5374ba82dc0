"""`?`: every key (as remapped by the user), what the states mean, and where things live.

The keys are read from the running app (the app, the screens beneath, their widgets), as posting
does, so a new screen or widget with bindings shows up here without a list kept by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.app.format import STATE_GLYPHS
from tui.app.keymap import KEYS
from tui.app.widgets.footer import keys_footer
from tui.core import APP_NAME
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


KEY_GROUPS: dict[str, str] = {spec.id: spec.group for spec in KEYS}


def live_bindings(nodes: Iterable[DOMNode]) -> list[tuple[str, Binding]]:
    """(group, binding) for every binding with an id that `nodes` answer to, in the order the
    nodes come: read from the running app, so a new screen or widget needs no list kept by hand.
    A binding of ours goes in its `KeySpec` group; any other in its owner's `HELP_GROUP`."""
    found: list[tuple[str, Binding]] = []
    seen_classes: set[type] = set()
    seen_ids: set[str] = set()
    for node in nodes:
        owner = type(node)
        if owner in seen_classes:
            continue
        seen_classes.add(owner)
        group = getattr(owner, "HELP_GROUP", owner.__name__)
        for cls in reversed(owner.__mro__):
            for binding in cls.__dict__.get("BINDINGS", ()):
                if isinstance(binding, Binding) and binding.id and binding.id not in seen_ids:
                    seen_ids.add(binding.id)
                    found.append((KEY_GROUPS.get(binding.id, group), binding))
    return found


def help_content(
    keymap: Mapping[str, str],
    bindings: Sequence[tuple[str, Binding]],
    *,
    themes_hint: str = "",
    config_hint: str = "",
) -> Content:
    lines: list[Content] = []
    heading = "bold $accent"
    groups = list(_GROUP_ORDER)
    groups += [group for group, _ in bindings if group not in groups]
    for group in dict.fromkeys(groups):
        members = [binding for in_group, binding in bindings if in_group == group]
        if not members:
            continue
        lines.append(Content.styled(group, heading))
        for binding in members:
            binding_id = binding.id or ""
            keys = key_display(keymap.get(binding_id, binding.key).split(","))
            lines.append(_key_line(keys, binding.description, binding_id))
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
    if config_hint:
        lines.append(Content("  Themes: ctrl+p, then Theme; your choice is remembered."))
    else:  # the demo: a theme picked there stays there
        lines.append(Content("  Themes: ctrl+p, then Theme (not remembered: no config file here)."))
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
        self.keymap = keymap
        self.themes_hint = themes_hint
        self.config_hint = config_hint

    def compose(self) -> ComposeResult:
        # The keys of the app and of every screen beneath this one, as they are now.
        nodes: list[DOMNode] = [self.app]
        for screen in self.app.screen_stack:
            if screen is not self:
                nodes += [screen, *screen.walk_children()]
        content = help_content(
            self.keymap,
            live_bindings(nodes),
            themes_hint=self.themes_hint,
            config_hint=self.config_hint,
        )
        with VerticalScroll() as scroll:
            scroll.border_title = f"{APP_NAME} help (esc closes)"
            yield Static(content, id="help-text")
        yield keys_footer()

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
