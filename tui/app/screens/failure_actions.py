"""What the dashboard's keys do while the failures view is shown: they act on the highlighted
group, never on the hidden table's cursor row.

A mixin of `DashboardScreen` (kept apart so the screen stays one readable file): copy the
group's ids, stop tracking it (asking with the count first), re-poll it (through the engine's
`poll_now`, which keeps every etiquette rule, and saying what was scheduled and what was not),
and `check_action` hides the keys that act on one task, so the footer shows only what works.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from textual.content import Content
from textual.screen import Screen
from textual.widgets import ContentSwitcher

from tui.app.clipboard import copy_text
from tui.app.widgets.failures import FailuresView, group_title
from tui.core.failure_groups import FailureGroup

if TYPE_CHECKING:
    from tui.app.app import SeedanceApp

# Screen actions that mean "the task under the table's cursor": off while failures are shown
# (the view's own `r x c e` act on the group instead).
ONE_TASK_ACTIONS = frozenset({"poll_now", "remove_task", "copy", "detail"})
GROUP_ACTIONS = frozenset({"group_poll", "group_remove", "group_copy_ids"})
_TITLE_CUT = 60


def short_title(group: FailureGroup, limit: int = _TITLE_CUT) -> str:
    title = group_title(group)
    return title if len(title) <= limit else title[: limit - 1] + "…"


class FailureActions(Screen[None]):
    """The failures view's part of the dashboard screen."""

    if TYPE_CHECKING:
        seedance: SeedanceApp

        @property
        def failures(self) -> FailuresView: ...

        def _refuse_read_only(self, what: str) -> bool: ...

        def _update_left_title(self) -> None: ...

        async def remove_tasks(self, keys_: Sequence[tuple[str, str]]) -> int: ...

    def failures_shown(self) -> bool:
        return self.query_one(ContentSwitcher).current == "failures"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide (False) what does not apply here, so the footer shows only keys that work."""
        shown = self.failures_shown()
        if shown and action in ONE_TASK_ACTIONS:
            return False
        if action in GROUP_ACTIONS:
            return shown
        return super().check_action(action, parameters)  # type: ignore[misc, no-any-return]

    def show_failure_groups(self) -> None:
        """Redraw the failures view (the first call starts grouping in a thread)."""
        view = self.failures
        view.attach(self.seedance.state.index)
        view.show(self.seedance.state.index.counts())

    def note_failure_changes(self, changed: set[tuple[str, str]]) -> None:
        self.failures.note_changes(changed)

    def on_failures_view_grouped(self, event: FailuresView.Grouped) -> None:
        event.stop()
        if self.failures_shown():
            self.show_failure_groups()
            self._update_left_title()

    def _chosen_group(self) -> FailureGroup | None:
        group = self.failures.highlighted_group
        if group is None:
            self.app.notify("No failure group selected.", severity="warning")
        return group

    # -- the group actions -------------------------------------------------------------------

    def action_group_copy_ids(self) -> None:
        group = self._chosen_group()
        if group is None:
            return
        app = self.seedance
        ids = "\n".join(task_id for _, task_id in group.keys)
        what = f"{group.count:,} task id{'s' if group.count != 1 else ''}"
        copy_text(app, ids, what, path=app.clipboard_file)

    def action_group_remove(self) -> None:
        from tui.app.screens.confirm import ConfirmScreen

        group = self._chosen_group()
        if group is None or self._refuse_read_only("removing tasks"):
            return
        tasks = f"{group.count:,} task{'s' if group.count != 1 else ''}"
        question = Content.assemble(
            "Stop tracking ",
            (tasks, "bold"),
            " of group ",
            (short_title(group), "bold"),
            "?\n\nThey are only forgotten here: the provider keeps the tasks, and no video is "
            "deleted. You can add the ids again later.",
        )
        keys_ = list(group.keys)

        async def answered(yes: bool | None) -> None:
            if yes:
                await self.remove_tasks(keys_)

        self.app.push_screen(ConfirmScreen(question, yes=f"Stop tracking {tasks}"), answered)

    async def action_group_poll(self) -> None:
        group = self._chosen_group()
        if group is None or self._refuse_read_only("polling"):
            return
        app = self.seedance
        engine = app.engine
        assert engine is not None  # a feed that is not read-only polls
        now = later = 0
        refused: Counter[str] = Counter()
        for provider, task_id in group.keys:
            try:
                said = await engine.poll_now(provider, task_id)
            except Exception as exc:  # one task's trouble is counted and told, not a crash
                app.warn(f"could not poll {task_id}: {exc}")
                refused["could not poll (see the log)"] += 1
                continue
            if said == "polling now":
                now += 1
            elif said.startswith("polling"):
                later += 1  # etiquette (min_interval) decides when
            else:
                refused[said] += 1
        app.apply_pending()
        scheduled = now + later
        note = f"{scheduled:,} of {group.count:,} tasks scheduled"
        if later:
            note += f" ({now:,} now, {later:,} when min_interval allows)"
        if refused:
            reasons = "; ".join(f"{n:,} {why}" for why, n in refused.most_common())
            note += f". Not scheduled: {reasons}"
        app.notify(note + ".", title=f"Re-poll {short_title(group, 40)}", markup=False)
