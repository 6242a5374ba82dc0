"""What the dashboard's keys may do right now, and how the footer says it.

The footer lists only keys that work: in viewer mode the keys that would change the store
(add, poll now, pause, stop tracking) are hidden (`check_action`), and pressed anyway they say
why instead of doing nothing; while paused the pause key reads "Resume". `r` on a task whose
provider is stopped (refused its key, has none, is not configured, is down) says why and what to
fix. `z` enlarges the focused panel to the whole body, the footer still below it. Under
`NARROW_BELOW` columns an open detail pane takes the whole width (the screen's `check_size` sets
the class the stylesheet reads).

Kept apart from `dashboard.py` (a mixin, `KeysTruth`) so the screen stays one readable file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events
from textual.binding import ActiveBinding

from tui.app import keymap as keys
from tui.core.clean import clean_line

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel
    from textual.widget import Widget

    from tui.app.app import SeedanceApp
    from tui.app.screens.dashboard import DashboardScreen
    from tui.core.engine import Engine
    from tui.core.model import Key

# action -> what it would do, for the viewer's refusal ("so polling is up to that process")
READ_ONLY_ACTIONS: dict[str, str] = {
    "add_tasks": "adding tasks",
    "poll_now": "polling",
    "toggle_pause": "pausing",
    "remove_task": "removing tasks",
}
STOPPED = ("auth failed", "down")
ENLARGED = "-enlarged"
NARROW_BELOW = 80  # columns


def action_allowed(app: SeedanceApp, action: str) -> bool:
    """False hides the key from the footer and keeps it from running (`on_key` explains)."""
    return not (app.read_only and action in READ_ONLY_ACTIONS)


def refused_action(app: SeedanceApp, key: str) -> str | None:
    """The read-only action `key` is bound to in viewer mode (so the screen can say why it does
    nothing), else None. The keys are the user's, remapped ones included."""
    if not app.read_only:
        return None
    for spec in keys.KEYS:
        if spec.action in READ_ONLY_ACTIONS:
            bound = app.user_keymap.get(spec.id, spec.keys)
            if key in (part.strip() for part in bound.split(",")):
                return spec.action
    return None


def pause_word(app: SeedanceApp) -> str | None:
    """What the pause key does now, when it is not "Pause"."""
    engine = app.engine
    if app.read_only or engine is None:
        return None
    if app.engine_error is not None:
        return "Restart polling"
    return "Resume" if engine.paused else None


def footer_state(app: SeedanceApp) -> tuple[bool, str | None]:
    """What the footer depends on beyond focus: refreshed only when this changes."""
    return app.read_only, pause_word(app)


def with_live_words(
    app: SeedanceApp, bindings: dict[str, ActiveBinding]
) -> dict[str, ActiveBinding]:
    """The footer's bindings, the pause key renamed to what it does now ("p Resume")."""
    word = pause_word(app)
    if word is None:
        return bindings
    from dataclasses import replace

    for key, active in list(bindings.items()):
        if active.binding.id == "pause":
            bindings[key] = active._replace(binding=replace(active.binding, description=word))
    return bindings


def poll_answer(engine: Engine, key: Key, said: str) -> tuple[str, SeverityLevel]:
    """The notification for `r` and its severity: when the task's provider is stopped, why
    and what to fix, not a cheerful "polling now"."""
    provider, task_id = key
    health, reason = engine.health().get(provider, ("ok", None))
    health = str(health)
    if health == "auth failed":
        why = clean_line(reason) or f"{provider} cannot be polled"
        return (
            f"{task_id} is not polled: {why}. Fix it in the config or the environment, then "
            f"restart: this run does not ask {provider} again.",
            "error",
        )
    if health == "down":
        return f"{task_id}: {said}. It is polled when {provider} answers again.", "warning"
    return f"{task_id}: {said}", "information"


def provider_state(engine: Engine | None, provider: str) -> tuple[str, str | None] | None:
    """(health, reason) of `provider` as this process's engine knows it; None in a viewer."""
    if engine is None:
        return None
    health = engine.health().get(provider)
    return (str(health[0]), health[1]) if health is not None else None


class KeysTruth:
    """Mixed into the dashboard screen (before `Screen`): what its keys may do now, what its
    footer says and the enlarge key. Textual calls the `on_*` handlers of
    every class in the MRO, so these run beside the screen's own."""

    _footer_state: tuple[bool, str | None] | None = None
    _enlarged: dict[str, object] | None = None  # what `z` hid: id -> its own display rule

    @property
    def _app(self) -> SeedanceApp:
        return self.seedance  # type: ignore[attr-defined,no-any-return]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Viewer mode hides (and stops) what would change the store."""
        return action_allowed(self._app, action)

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        return with_live_words(self._app, super().active_bindings)  # type: ignore[misc]

    def on_mount(self) -> None:
        self.set_interval(self._app.timings.apply, self.sync_footer)  # type: ignore[attr-defined]

    def sync_footer(self) -> None:
        """Redraw the footer when what it shows changed (viewer mode, paused), not more."""
        state = footer_state(self._app)
        if state != self._footer_state:
            self._footer_state = state
            self.refresh_bindings()  # type: ignore[attr-defined]

    def on_key(self, event: events.Key) -> None:
        """A key hidden in viewer mode still says why it does nothing."""
        action = refused_action(self._app, event.key)
        if action is not None:
            event.stop()
            event.prevent_default()
            self._refuse_read_only(READ_ONLY_ACTIONS[action])  # type: ignore[attr-defined]

    @property
    def enlarged(self) -> bool:
        return bool(self._enlarged)

    def action_enlarge(self) -> None:
        """Enlarge the focused panel (log, detail, or the table side) to the whole body, the
        footer still below it; again (or esc) puts everything back."""
        screen: DashboardScreen = self  # type: ignore[assignment]
        if self._enlarged:
            for ident, rule in self._enlarged.items():
                # back to the widget's own rule: none (the stylesheet decides, e.g. the narrow
                # layout) or what the code had set
                widget = screen.query_one(f"#{ident}")
                if rule is None:
                    widget.styles.inline.clear_rule("display")
                    widget.refresh(layout=True)
                else:
                    widget.styles.inline.set_rule("display", rule)
            for panel in screen.query(f".{ENLARGED}"):
                panel.remove_class(ENLARGED)
            self._enlarged = None
            return
        panel = _panel_of(screen, screen.focused)
        if panel is screen.detail and screen.detail.task_key is None:
            screen.open_detail(screen.table.cursor_key)
        hidden: dict[str, object] = {}
        others = {"left": ("summary", "detail", "log"), "detail": ("summary", "left", "log")}
        for other in others.get(panel.id or "", ("summary", "main")):
            widget = screen.query_one(f"#{other}")
            hidden[other] = widget.styles.inline.get_rule("display", None)
            widget.display = False
        self._enlarged = hidden
        panel.add_class(ENLARGED)


def _panel_of(screen: DashboardScreen, focused: Widget | None) -> Widget:
    """The panel holding focus: the log, the detail pane, or the table / failures side."""
    if focused is not None:
        for panel in (screen.log_panel, screen.detail):
            if panel in focused.ancestors_with_self:
                return panel
    return screen.query_one("#left")
