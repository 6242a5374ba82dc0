"""`e`: write the current view (or a failure group) to a file, csv / json / jsonl.

The writers are the CLI's (`tui.output.WRITERS`), so a dashboard export and `seedance-tui
export` produce the same file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from tui.app.widgets.footer import keys_footer

FORMATS: tuple[str, ...] = ("csv", "json", "jsonl")


@dataclass(frozen=True)
class ExportRequest:
    format: str
    path: Path


def default_export_path(stem: str, fmt: str, directory: Path | None = None) -> Path:
    return (directory or Path.cwd()) / f"{stem}.{fmt}"


class ExportScreen(ModalScreen[ExportRequest | None]):
    DEFAULT_CSS = """
    ExportScreen { align: center middle; }
    ExportScreen > Vertical {
        width: 80; max-width: 95%; height: auto; padding: 0 1;
        border: thick $primary 60%; background: $surface;
    }
    ExportScreen RadioSet { layout: horizontal; height: auto; width: 100%; }
    ExportScreen Horizontal { height: auto; align-horizontal: right; }
    ExportScreen #problem { color: $error; height: auto; }
    ExportScreen Button { margin-left: 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="export.cancel")
    ]

    def __init__(
        self, what: str, count: int, stem: str, *, fmt: str = "csv", directory: Path | None = None
    ) -> None:
        super().__init__()
        self.what = what
        self.count = count
        self.stem = stem
        self.fmt = fmt
        self.directory = directory or Path.cwd()

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Export"
            yield Label(Content(f"{self.count:,} tasks: {self.what}"))
            with RadioSet(id="format"):
                for fmt in FORMATS:
                    yield RadioButton(
                        Content(fmt), value=fmt == self.fmt, name=fmt, id=f"fmt-{fmt}"
                    )
            yield Input(str(default_export_path(self.stem, self.fmt, self.directory)), id="path")
            yield Static(id="problem")
            with Horizontal():
                yield Button(Content("Cancel"), id="cancel")
                yield Button(Content("Export"), id="export", variant="primary")
        yield keys_footer()  # the dialog's own keys, not the dashboard's beneath

    def on_mount(self) -> None:
        self.query_one("#problem", Static).display = False
        self.query_one("#path", Input).focus()

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        fmt = event.pressed.name or "csv"
        path_input = self.query_one("#path", Input)
        path = Path(path_input.value)
        if path.suffix.lstrip(".") in FORMATS:
            path_input.value = str(path.with_suffix("." + fmt))
        self.fmt = fmt

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "export":
            self.action_submit()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        raw = self.query_one("#path", Input).value.strip()
        problem = None
        if not raw:
            problem = "give a file path"
        else:
            path = Path(raw).expanduser()
            if not path.is_absolute():
                path = self.directory / path
            if path.is_dir():
                problem = f"{path} is a folder: give a file name"
            elif not path.parent.is_dir():
                problem = f"no folder {path.parent}: create it first or pick another path"
        if problem:
            widget = self.query_one("#problem", Static)
            widget.update(Content(problem))
            widget.display = True
            return
        self.dismiss(ExportRequest(format=self.fmt, path=path))
