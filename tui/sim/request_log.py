"""What the simulated providers saw: every request, the rate-limit detector and its violations.

Tests prove the client's etiquette from here: how many requests (or creates) a provider got in
any window of clock time, and whether a configured limit was broken. The key itself is never
kept, only whether a correct one came along.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from tui.core.dialects import KINDS


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request as the provider saw it. `status` is None while in flight or after a reset."""

    ts: float  # clock epoch seconds at arrival
    method: str
    path: str
    kind: str | None
    task_id: str | None
    status: int | None
    has_auth: bool
    auth_ok: bool
    fault: str | None = None  # the fault action that shaped the answer, or "rate_limit"
    endpoint: str | None = None  # "status" (a poll), "create", or None (no such route)
    fingerprint: str | None = None  # creates: the body's fingerprint (tui.sim.create)
    created_id: str | None = None  # creates: the id of the task made, even if never told


@dataclass(frozen=True, slots=True)
class Violation:
    """A provider got more than its rate limit within one window of clock time."""

    ts: float
    kind: str
    count: int
    limit: float
    window: float


@dataclass
class RateLimit:
    limit: float
    window: float
    retry_after: float | None


class RequestLog:
    """The log and the rate-limit detector of one simulator (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._log: list[LoggedRequest] = []
        self._arrivals: dict[str, deque[float]] = {kind: deque() for kind in KINDS}
        self._limits: dict[str, RateLimit] = {}
        self._violations: list[Violation] = []

    def arrive(self, entry: LoggedRequest) -> RateLimit | None:
        """Log the request and count its arrival; the limit it breaks, if any."""
        with self._lock:
            self._log.append(entry)
            return self._over_limit(entry.kind, entry.ts)

    def finish(self, entry: LoggedRequest, **changes: Any) -> None:
        """Replace the in-flight entry by its finished form (a no-op if it was cleared)."""
        done = replace(entry, **changes)
        with self._lock:
            for i in range(len(self._log) - 1, -1, -1):
                if self._log[i] is entry:
                    self._log[i] = done
                    return

    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._log)

    def requests_for(
        self, kind: str | None = None, task_id: str | None = None, endpoint: str | None = None
    ) -> list[LoggedRequest]:
        with self._lock:
            return [
                r
                for r in self._log
                if (kind is None or r.kind == kind)
                and (task_id is None or r.task_id == task_id)
                and (endpoint is None or r.endpoint == endpoint)
            ]

    def clear(self) -> None:
        with self._lock:
            self._log.clear()
            self._violations.clear()

    def set_limit(self, kind: str, limit: RateLimit | None) -> None:
        with self._lock:
            if limit is None:
                self._limits.pop(kind, None)
            else:
                self._limits[kind] = limit

    @property
    def violations(self) -> list[Violation]:
        with self._lock:
            return list(self._violations)

    def _over_limit(self, kind: str | None, now: float) -> RateLimit | None:
        if kind is None:
            return None
        arrivals = self._arrivals[kind]
        arrivals.append(now)
        limit = self._limits.get(kind)
        horizon = limit.window if limit is not None else 1.0
        while arrivals and arrivals[0] <= now - horizon:
            arrivals.popleft()
        if limit is None or len(arrivals) <= limit.limit:
            return None
        self._violations.append(Violation(now, kind, len(arrivals), limit.limit, limit.window))
        return limit


def max_in_window(times: Iterable[float], window: float) -> int:
    """The most timestamps within any `window` seconds (half-open)."""
    ordered = sorted(times)
    best = 0
    first = 0
    for last, ts in enumerate(ordered):
        while ts - ordered[first] >= window:
            first += 1
        best = max(best, last - first + 1)
    return best
