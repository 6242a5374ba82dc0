"""Key remapping and the help screen learn binding ids from the classes that own them.

Neither `keymap` nor the help screen keeps a list of screens: validation is handed the owners,
and the help screen reads the bindings of whatever is on screen.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Static

from tui.app.keymap import keymap_from_config
from tui.app.screens.confirm import ConfirmScreen
from tui.app.screens.help import HelpScreen
from tui.app.widgets.task_table import TaskTable


def test_an_id_is_known_when_its_owner_is_handed_in() -> None:
    wanted = {"task_table.cycle_sort": "o", "confirm.yes": "Y", "pause": " ctrl+k , P "}
    keymap, warnings = keymap_from_config(wanted, owners=(TaskTable, ConfirmScreen))
    assert keymap == {"task_table.cycle_sort": "o", "confirm.yes": "Y", "pause": "ctrl+k,P"}
    assert warnings == []


def test_an_id_no_owner_declares_is_warned_about_and_ignored() -> None:
    keymap, warnings = keymap_from_config({"task_table.cycle_sort": "o"}, owners=(ConfirmScreen,))
    assert keymap == {}
    assert len(warnings) == 1
    assert warnings[0].startswith("[ui.keys] task_table.cycle_sort is not a binding id")
    assert "confirm.no" in warnings[0]  # the known ids are listed, the owners' included


class Gadget(Static, can_focus=True):
    HELP_GROUP: ClassVar[str] = "Gadget"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("z", "zap", "Zap the gadget", id="gadget.zap"),
        Binding("ctrl+z", "unzap", "Not listed: no id"),
    ]


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "app.help", "Help", id="help"),
        Binding("o", "noop", "Open a thing", id="open_thing"),
    ]

    def compose(self) -> ComposeResult:
        yield Gadget("gadget")


class HelpApp(App[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "quit", "Quit", id="quit")]

    def on_mount(self) -> None:
        self.push_screen(MainScreen())

    def action_help(self) -> None:
        self.push_screen(HelpScreen({"gadget.zap": "ctrl+g"}))


async def test_help_lists_the_live_bindings_of_the_app_its_screens_and_widgets() -> None:
    app = HelpApp()
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.query_one("#help-text").render().plain
        lines = text.splitlines()
        zap = next(line for line in lines if "id: gadget.zap" in line)
        assert "^g" in zap and "Zap the gadget" in zap  # the user's remap, not `z`
        assert "Gadget" in lines  # the widget's own heading
        assert any("Open a thing" in line and "id: open_thing" in line for line in lines)
        assert any("id: quit" in line for line in lines)
        assert "Not listed: no id" not in text
        assert "help.close" not in text  # the help screen's own keys are not listed


def test_the_app_hands_every_screen_and_widget_that_owns_ids() -> None:
    from tui.app.app import SeedanceApp, binding_owners
    from tui.app.keymap import binding_ids

    ids = binding_ids((SeedanceApp, *binding_owners()))
    for wanted in ("task_table.cycle_sort", "confirm.yes", "help", "poll_now", "export"):
        assert wanted in ids
    keymap, warnings = keymap_from_config(
        {"task_table.cycle_sort": "o", "confirm.yes": "Y"}, owners=binding_owners()
    )
    assert warnings == [] and keymap == {"task_table.cycle_sort": "o", "confirm.yes": "Y"}
