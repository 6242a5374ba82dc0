"""The store's create requests, counted for the summary bar at most once a second, cheaply.

Why its own reader: a `GROUP BY` over every request costs ~10 ms at 100,000 requests, and the
join that `Submitter.live` uses ~77 ms; once a second, that is a visible share of a core. So:

- the requests that are not `created` (pending, sending, uncertain, rejected: the few that
  matter) are counted each second through the `requests_open` index (0.9 ms at 10,000 open);
- the `created` count changes only when one of those leaves `pending`/`sending`, so it is read
  again only when the open counts moved (or every `CREATED_RECHECK` seconds, for removals);
- live tasks per provider come from the dashboard's own index (`live_from_requests`).

Nothing is read while the store refuses writes (a locked store can make a read wait too): the
last numbers stay. No Textual here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from tui.app.dashboard_state import Submission
from tui.core.clean import clean_line
from tui.core.request_store import RequestFilter, request_counts
from tui.core.requests import RequestState
from tui.core.store_errors import StoreError

if TYPE_CHECKING:
    from tui.core.config import Config
    from tui.core.engine import Engine
    from tui.core.store import Store

log = logging.getLogger(__name__)

READ_EVERY = 1.0  # seconds between two reads of the store's request counts
CREATED_RECHECK = 30.0  # seconds after which `created` is counted again even if nothing moved
NOT_CREATED = RequestFilter(
    states=frozenset(RequestState) - {RequestState.CREATED},
)
CREATED = RequestFilter(states=frozenset({RequestState.CREATED}))

Counts = dict[str, dict[RequestState, int]]


class SubmissionCounts:
    """`read(now)` -> the bar's `Submission` (None while the store has no request)."""

    def __init__(
        self,
        store: Store,
        config: Config,
        live_from_requests: Callable[[str], int],
        *,
        read_every: float = READ_EVERY,
    ) -> None:
        self.store = store
        self.read_every = read_every
        self.config = config
        self.live_from_requests = live_from_requests
        self._read_at: float | None = None
        self._open: Counts = {}
        self._created: dict[str, int] = {}
        self._created_at: float | None = None
        self._created_for: Counts | None = None  # the open counts `_created` was read with
        self._last: Submission | None = None

    def read(self, now: float, engine: Engine | None) -> Submission | None:
        """The counts, read off the store at most once every `read_every` seconds (`now`:
        any monotonic clock in seconds). Between reads, and while the store is out, the last
        numbers stay; the live counts are the dashboard's own, always current."""
        outage = engine is not None and engine.store_outage is not None
        due = self._read_at is None or now - self._read_at >= self.read_every
        if due and not outage:
            self._read_at = now
            try:
                self._read_store(now)
            except StoreError as exc:  # busy or gone for a moment: keep the last numbers
                log.debug("could not count the create requests: %s", exc)
        if not self._open and not self._created:
            return None
        return self._submission(engine)

    def _read_store(self, now: float) -> None:
        opened = request_counts(self.store, NOT_CREATED)
        stale = self._created_at is None or now - self._created_at >= CREATED_RECHECK
        if stale or opened != self._created_for:
            created = request_counts(self.store, CREATED)
            self._created = {name: c[RequestState.CREATED] for name, c in created.items()}
            self._created_at = now
            self._created_for = opened
        self._open = opened

    def _submission(self, engine: Engine | None) -> Submission:
        def total(*states: RequestState) -> int:
            return sum(counts[s] for counts in self._open.values() for s in states)

        providers = sorted(set(self._open) | set(self._created))
        live = {
            name: (self.live_from_requests(name), self.config.providers[name].max_live)
            for name in providers
            if name in self.config.providers
        }
        waiting: Mapping[str, str] = {}
        if engine is not None:
            submitter = engine.submitter
            why = {**submitter.paused, **submitter.stopped}
            has_open = {
                name
                for name, counts in self._open.items()
                if counts[RequestState.PENDING] or counts[RequestState.SENDING]
            }
            waiting = {
                name: clean_line(reason) or "" for name, reason in why.items() if name in has_open
            }
        return Submission(
            sent=sum(self._created.values()),
            pending=total(RequestState.PENDING, RequestState.SENDING),
            uncertain=total(RequestState.UNCERTAIN),
            rejected=total(RequestState.REJECTED),
            live=live,
            waiting=waiting,
        )
