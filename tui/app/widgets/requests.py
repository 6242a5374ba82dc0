"""The requests view's list: create requests not (yet) tracked as tasks, uncertain ones first.

An `uncertain` request may have been created at the provider without us learning its id: it is
never sent again by itself, so it is drawn loudly, first. Then `rejected` (a definite refusal,
with the provider's reason), `sending` and `pending`. The store may hold 10,000 requests: each
state is read with a limit (`PER_STATE`), so a look costs the same whatever the store's size,
and the header says how many are not listed. Reasons are upstream text: cleaned, and drawn as
`Content` from plain strings, never markup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui.app.format import age_cell, epoch
from tui.core.clean import clean_line
from tui.core.request_store import RequestFilter, query_requests, request_counts
from tui.core.requests import CreateRequest, RequestState
from tui.core.store import Store
from tui.core.text_width import fit

PER_STATE = 100  # requests listed per state: screenfuls, and a redraw stays short
LISTED: tuple[RequestState, ...] = (
    RequestState.UNCERTAIN,
    RequestState.REJECTED,
    RequestState.SENDING,
    RequestState.PENDING,
)
STATE_STYLES: dict[RequestState, str] = {
    RequestState.UNCERTAIN: "bold reverse $error",
    RequestState.REJECTED: "bold $warning",
    RequestState.SENDING: "bold $accent",
    RequestState.PENDING: "$foreground-muted",
    RequestState.CREATED: "$success",
}
UNCERTAIN_REASON = "no readable answer: the task may exist at the provider"
WIDTHS = {"state": 10, "provider": 14, "name": 18, "attempt": 3, "http": 4, "age": 5}


@dataclass(frozen=True, slots=True)
class RequestsPage:
    """One look at the store: the listed requests (in `LISTED` order) and every state's count
    (all providers together)."""

    requests: list[CreateRequest]
    counts: dict[RequestState, int]

    created: bool = False  # the created ones are listed too

    @property
    def unlisted(self) -> int:
        states = (*LISTED, RequestState.CREATED) if self.created else LISTED
        listed = sum(self.counts[state] for state in states)
        return max(0, listed - len(self.requests))


def read_page(store: Store, per_state: int = PER_STATE, *, created: bool = False) -> RequestsPage:
    """The requests to list, `per_state` at most of each listed state (oldest first); with
    `created`, the created ones too (last)."""
    counts = dict.fromkeys(RequestState, 0)
    for by_state in request_counts(store).values():
        for state, count in by_state.items():
            counts[state] += count
    requests: list[CreateRequest] = []
    for state in (*LISTED, RequestState.CREATED) if created else LISTED:
        if counts[state]:
            flt = RequestFilter(states=frozenset({state}))
            requests += query_requests(store, flt, limit=per_state)
    return RequestsPage(requests, counts, created)


def reason_text(request: CreateRequest) -> str:
    """Why the request is where it is, in one cleaned line."""
    reason = clean_line(request.error.label) if request.error else ""
    if request.state is RequestState.UNCERTAIN:
        return reason or UNCERTAIN_REASON
    if request.state is RequestState.PENDING and request.error is not None:
        return f"waiting after: {reason}"  # a 429 or a connection that failed before sending
    if request.state is RequestState.CREATED:
        return f"created {clean_line(request.task_id) or ''}".strip()
    return reason or ""


def _age(request: CreateRequest, now: float) -> str:
    """How long the request has been in its state (since it was answered, sent or recorded)."""
    since = request.answered_at or request.sent_at or request.created_at
    return age_cell(epoch(since), now)


def request_line(request: CreateRequest, now: float) -> Content:
    """One request: state, provider, name, attempt, HTTP status, age, reason."""
    state = request.state
    name = clean_line(request.name) or request.fingerprint.removeprefix("sha256:")[:12]
    http = str(request.http_status) if request.http_status is not None else "-"
    cells: list[str | Content | tuple[str, str]] = [
        (fit(str(state), WIDTHS["state"]), STATE_STYLES.get(state, "")),
        " ",
        (fit(clean_line(request.provider) or "", WIDTHS["provider"]), "bold"),
        " ",
        fit(name, WIDTHS["name"], middle=True),
        " ",
        (fit(f"#{request.attempt}", WIDTHS["attempt"], align="right"), "$foreground-muted"),
        " ",
        fit(http, WIDTHS["http"], align="right"),
        " ",
        (fit(_age(request, now), WIDTHS["age"], align="right"), "$foreground-muted"),
        "  ",
    ]
    reason = reason_text(request)
    if reason:
        style = "$error" if state is RequestState.UNCERTAIN else ""
        cells.append((reason, style) if style else reason)
    return Content.assemble(*cells)


def header_line() -> Content:
    """The column names above the list."""
    cells = [
        fit("state", WIDTHS["state"]),
        fit("provider", WIDTHS["provider"]),
        fit("name", WIDTHS["name"]),
        fit("try", WIDTHS["attempt"], align="right"),
        fit("http", WIDTHS["http"], align="right"),
        fit("age", WIDTHS["age"], align="right"),
        " reason",
    ]
    return Content.styled(" ".join(cells), "bold $foreground-muted")


def counts_text(counts: Mapping[RequestState, int], unlisted: int = 0) -> str:
    """`2 uncertain · 1 rejected · 0 sending · 40 pending · 300 created`."""
    order = (*LISTED, RequestState.CREATED)
    text = " · ".join(f"{counts.get(state, 0):,} {state}" for state in order)
    if unlisted:
        text += f" · {unlisted:,} more not listed (oldest {PER_STATE} of each state shown)"
    return text


class RequestsView(OptionList):
    """The listed requests, one a line; redrawn only when what it shows changed."""

    DEFAULT_CSS = """
    RequestsView, RequestsView:focus { height: 1fr; border: none; padding: 0; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.requests: list[CreateRequest] = []
        self._signature: tuple[object, ...] | None = None
        self._plain: list[str] = []

    def show(self, requests: Sequence[CreateRequest], now: float) -> None:
        """Show these requests, keeping the highlighted one where it is. The lines are only
        drawn when something they show changed (compared on the fields, not the text)."""
        signature = tuple(
            (r.seq, r.state, r.http_status, r.error, r.attempt, r.task_id, _age(r, now))
            for r in requests
        )
        if signature == self._signature:
            return
        keep = self.highlighted_request
        self._signature = signature
        self.requests = list(requests)
        lines = [request_line(r, now) for r in requests]
        self._plain = [line.plain for line in lines]
        if not lines:
            self.set_options(
                [
                    Option(
                        Content.styled(
                            "No request waits: nothing pending, sending, rejected or uncertain.",
                            "$foreground-muted",
                        ),
                        disabled=True,
                    )
                ]
            )
            return
        self.set_options([Option(line) for line in lines])
        seqs = [r.seq for r in self.requests]
        self.highlighted = seqs.index(keep.seq) if keep is not None and keep.seq in seqs else 0

    @property
    def highlighted_request(self) -> CreateRequest | None:
        index = self.highlighted
        if index is None or not 0 <= index < len(self.requests):
            return None
        return self.requests[index]

    def lines(self) -> list[str]:
        """What the user reads, one request a line (for tests)."""
        return list(self._plain)
