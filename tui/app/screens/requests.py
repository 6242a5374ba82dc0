"""`v`: the create requests not tracked as tasks (yet): uncertain, rejected, sending, pending
(`c` lists the created ones too, each with its task id).

A screen of its own over the dashboard (polling and submitting go on beneath it); it reads the
store at most once a second while it is shown, a bounded page each time (see
`tui.app.widgets.requests`), in a thread with its own connection, so 10,000 pending requests
never freeze it. esc goes back.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from tui.app.widgets.footer import keys_footer
from tui.app.widgets.requests import (
    RequestsPage,
    RequestsView,
    counts_text,
    header_line,
    read_page,
)
from tui.core.requests import RequestState
from tui.core.store import Store

if TYPE_CHECKING:
    from tui.app.app import SeedanceApp

REFRESH = 1.0  # seconds between two looks at the store while the view is shown


class RequestsScreen(Screen[None]):
    """The requests view; esc (or the key that opened it) goes back to the dashboard."""

    HELP_GROUP: ClassVar[str] = "Requests view"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,v", "close", "Back", id="requests.close"),
        Binding("c", "toggle_created", "Show created", id="requests.created"),
    ]
    DEFAULT_CSS = """
    RequestsScreen { layout: vertical; }
    RequestsScreen #requests-title { height: auto; padding: 0 1; background: $boost; }
    RequestsScreen #requests-head { height: 1; }
    RequestsScreen #requests-box { height: 1fr; border-top: solid $primary; padding: 0 1; }
    """

    def __init__(self, seedance: SeedanceApp, *, refresh_every: float = REFRESH) -> None:
        super().__init__()
        self.seedance = seedance
        self.refresh_every = refresh_every
        self.title_text = ""
        self.show_created = False
        self._reading = False

    def compose(self) -> ComposeResult:
        yield Static(id="requests-title")
        with Vertical(id="requests-box"):
            yield Static(header_line(), id="requests-head")
            yield RequestsView(id="requests-list")
        yield keys_footer()

    @property
    def view(self) -> RequestsView:
        return self.query_one(RequestsView)

    def on_mount(self) -> None:
        self.reload()
        self.set_interval(self.refresh_every, self.reload)
        self.view.focus()

    def reload(self) -> None:
        """Read a page of requests in a thread (its own store connection: decoding hundreds of
        bodies never holds the screen) and show it; one read at a time."""
        if self._reading:
            return
        db_path = self.seedance.db_path
        if db_path is None:  # a store without a file (tests): read it here
            self._read_here()
            return
        self._reading = True
        self.run_worker(
            lambda: self._read_in_thread(db_path, self.show_created),
            thread=True,
            group="requests-read",
            exit_on_error=False,
        )

    def _read_here(self) -> None:
        try:
            page = read_page(self.seedance.store, created=self.show_created)
        except Exception as exc:  # a busy or vanished store: say so, keep the view
            self._read_failed(exc)
            return
        self.show_page(page)

    def _read_in_thread(self, db_path: Path, created: bool) -> None:
        try:
            with Store.open(db_path) as store:
                page = read_page(store, created=created)
        except Exception as exc:  # a busy or vanished store: said on the screen's thread
            self.app.call_from_thread(self._read_failed, exc)
            return
        self.app.call_from_thread(self.show_page, page)

    def _read_failed(self, exc: Exception) -> None:
        self._reading = False
        self.seedance.warn(f"could not read the requests: {exc}")

    def show_page(self, page: RequestsPage) -> None:
        """Draw one look at the store (redrawn only where something changed)."""
        self._reading = False
        if not self.is_mounted or page.created != self.show_created:
            return  # closed while the thread read, or read before `c` changed what to list
        app = self.seedance
        self.view.show(page.requests, app.clock.now())
        title = "requests: " + counts_text(page.counts, page.unlisted)
        if title != self.title_text:
            self.title_text = title
            loud = page.counts[RequestState.UNCERTAIN] > 0
            parts: list[Content | str] = [Content(title)]
            if loud:
                parts.append(
                    Content.styled(
                        "\nuncertain: the provider may have created these; they are never sent "
                        "again by themselves (check its console, then `seedance-tui submit "
                        "--resend-uncertain`)",
                        "bold $error",
                    )
                )
            self.query_one("#requests-title", Static).update(Content.assemble(*parts))

    def action_toggle_created(self) -> None:
        """Created requests too (each with its task id), or only those still waiting."""
        self.show_created = not self.show_created
        self._reading = False  # a read in flight has the old choice: read again now
        self.reload()
        shown = "listed too" if self.show_created else "hidden"
        self.app.notify(f"Created requests {shown}.", title="Requests")

    def action_close(self) -> None:
        self.dismiss()
