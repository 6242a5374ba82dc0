"""Every key the dashboard answers to, in one table, each with an id users can remap.

Remapping works as in posting: the config's `[ui.keys]` table maps a binding id to keys
(`add = "ctrl+a"`, several keys comma-separated: `quit = "q,ctrl+q"`), applied with
`App.set_keymap`. The ids are the contract for users; the default keys may change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.binding import Binding, BindingType

if TYPE_CHECKING:
    from textual.dom import DOMNode

# (state filter word, key, label): the quick state filters, in `tab` order.
STATE_FILTERS: tuple[tuple[str, str, str], ...] = (
    ("all", "1", "all"),
    ("live", "2", "live"),
    ("running", "3", "running"),
    ("queued", "4", "queued"),
    ("succeeded", "5", "succeeded"),
    ("failed", "6", "failed"),
    ("cancelled", "7", "cancelled"),
    ("expired", "8", "expired"),
    ("missing", "9", "missing"),
    ("unknown", "0", "unknown"),
)


@dataclass(frozen=True)
class KeySpec:
    """One binding: where it lives ("app" or "dashboard"), id, default keys, action, words."""

    scope: str
    id: str
    keys: str
    action: str
    description: str
    show: bool = True
    priority: bool = False
    group: str = "Tasks"

    def binding(self) -> Binding:
        # Dashboard bindings live on the screen (so `tab` beats focus-cycling and no key acts
        # while a dialog is open) but their actions are the app's.
        action = self.action if self.scope == "app" else f"app.{self.action}"
        return Binding(
            self.keys,
            action,
            self.description,
            show=self.show,
            priority=self.priority,
            id=self.id,
        )


KEYS: tuple[KeySpec, ...] = (
    # the app: anywhere, also over dialogs
    KeySpec(
        "app",
        "palette",
        "ctrl+p",
        "command_palette",
        "Commands",
        show=False,
        priority=True,
        group="App",
    ),
    # the dashboard screen: not while a dialog is open (a `q` typed there must not quit)
    KeySpec("dashboard", "quit", "q", "quit", "Quit", group="App"),
    KeySpec("dashboard", "help", "question_mark", "help", "Help", group="App"),
    KeySpec("dashboard", "detail", "enter", "detail", "Detail", show=False, group="Views"),
    KeySpec("dashboard", "back", "escape", "go_back", "Back", show=False, group="Views"),
    KeySpec("dashboard", "filter", "slash", "filter", "Filter", group="Views"),
    KeySpec("dashboard", "failures", "f", "failures", "Failures", group="Views"),
    KeySpec("dashboard", "batches", "b", "batches", "Batches", group="Views"),
    KeySpec("dashboard", "log", "l", "toggle_log", "Log", group="Views"),
    KeySpec(
        "dashboard", "log_level", "L", "cycle_log_level", "Log level", show=False, group="Views"
    ),
    KeySpec("dashboard", "focus_next", "w", "focus_panel", "Next panel", show=False, group="Views"),
    KeySpec("dashboard", "enlarge", "z", "enlarge", "Enlarge panel", show=False, group="Views"),
    KeySpec(
        "dashboard",
        "state_next",
        "tab",
        "state_step(1)",
        "Next state filter",
        show=False,
        group="Views",
    ),
    KeySpec(
        "dashboard",
        "state_prev",
        "shift+tab",
        "state_step(-1)",
        "Previous state filter",
        show=False,
        group="Views",
    ),
    KeySpec("dashboard", "add", "a", "add_tasks", "Add"),
    KeySpec("dashboard", "poll_now", "r", "poll_now", "Poll now"),
    KeySpec("dashboard", "remove", "x", "remove_task", "Stop tracking", show=False),
    KeySpec("dashboard", "pause", "p", "toggle_pause", "Pause"),
    KeySpec("dashboard", "copy_id", "c", "copy('id')", "Copy id", show=False),
    KeySpec("dashboard", "copy_url", "u", "copy('url')", "Copy URL", show=False),
    KeySpec("dashboard", "copy_json", "y", "copy('json')", "Copy JSON", show=False),
    KeySpec("dashboard", "export", "e", "export", "Export"),
    KeySpec("dashboard", "requests", "v", "requests", "Requests", show=False, group="Views"),
    KeySpec("dashboard", "retry", "R", "retry", "Retry failed", show=False),
    *(
        KeySpec(
            "dashboard",
            f"state_{word}",
            key,
            f"state_filter('{word}')",
            f"Show {label}",
            show=False,
            group="State filters",
        )
        for word, key, label in STATE_FILTERS
    ),
)

BINDING_IDS: frozenset[str] = frozenset(spec.id for spec in KEYS)


def binding_ids(owners: Iterable[type[DOMNode]]) -> frozenset[str]:
    """The ids of every binding `owners` declare (their own and inherited `BINDINGS`)."""
    ids: set[str] = set()
    for owner in owners:
        for cls in owner.__mro__:
            for binding in cls.__dict__.get("BINDINGS", ()):
                if isinstance(binding, Binding) and binding.id:
                    ids.add(binding.id)
    return frozenset(ids)


def bindings(scope: str) -> list[BindingType]:
    """The Textual bindings of one scope ("app" or "dashboard")."""
    return [spec.binding() for spec in KEYS if spec.scope == scope]


def keymap_from_config(
    keys: Mapping[str, str], owners: Iterable[type[DOMNode]] = ()
) -> tuple[dict[str, str], list[str]]:
    """The `[ui.keys]` table as a Textual keymap, and a warning for every id we do not know.

    `owners` are the classes whose `BINDINGS` carry ids (the app, its screens, the table): the
    caller knows them, so this module never has to import every screen to learn their ids.
    """
    keymap: dict[str, str] = {}
    warnings: list[str] = []
    known = BINDING_IDS | binding_ids(owners)
    for binding_id, keystr in keys.items():
        if binding_id not in known:
            warnings.append(
                f"[ui.keys] {binding_id} is not a binding id (ignored); known ids: "
                + ", ".join(sorted(known))
            )
            continue
        cleaned = ",".join(part.strip() for part in str(keystr).split(",") if part.strip())
        if cleaned:
            keymap[binding_id] = cleaned
    return keymap, warnings
