"""A yes/no question before anything is forgotten (`x`)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui.app.widgets.footer import keys_footer


class ConfirmScreen(ModalScreen[bool]):
    """Ask `question`; dismiss with True (y / the yes button) or False (n / escape)."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 70; max-width: 90%; height: auto; padding: 1 2;
        border: thick $error 60%; background: $surface;
    }
    ConfirmScreen #question { margin-bottom: 1; }
    ConfirmScreen #keys { color: $foreground-muted; width: 1fr; }
    ConfirmScreen Horizontal { height: auto; align-horizontal: right; }
    ConfirmScreen Button { margin-left: 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: Content | str, *, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        # A str is shown as it is (never parsed as markup): it may hold a task id.
        self.question = question if isinstance(question, Content) else Content(question)
        self.yes_label = yes
        self.no_label = no

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, id="question")
            with Horizontal():
                # its keys, in the body too: the footer is easy to miss under a dialog
                yield Static(Content("y yes · n or esc no"), id="keys")
                yield Button(Content(self.no_label), id="no")
                yield Button(Content(self.yes_label), id="yes", variant="error")
        yield keys_footer()

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
