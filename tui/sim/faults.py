"""Trouble on demand: the ways a provider (or the proxy in front of it) misbehaves.

A `FaultPlan` is an ordered list of rules. Each request takes the first rule that matches its
dialect kind, task id and the clock time, and still has uses left; that rule decides the answer
instead of the normal one. Thread-safe: the server's handler threads call `take` concurrently.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from email.utils import formatdate

# What a rule does. HTTP statuses are written as their number.
ACTIONS: tuple[str, ...] = (
    "429",  # Too Many Requests (+ Retry-After as seconds, or as an HTTP date)
    "503",  # Service Unavailable, nginx HTML page (+ Retry-After)
    "500",  # Internal Server Error, HTML page
    "502",  # Bad Gateway, HTML page
    "401",  # the provider refuses the key
    "truncated",  # 200 with a JSON body cut in half (Content-Length matches the cut body)
    "html",  # 200 text/html: a proxy's challenge page instead of JSON
    "hang",  # no answer for `hang_s` wall seconds (longer than the client's timeout), then the
    #          normal answer; only this connection waits
    "reset",  # the connection is closed with a TCP reset, no response at all
)
_STATUS_ACTIONS = {429: "429", 503: "503", 500: "500", 502: "502", 401: "401"}
MAX_HANG_S = 120.0  # a hang never outlives this (and stop() cuts it short)


@dataclass
class Fault:
    """One rule. `count=None` fires forever; `start`/`end` are clock epoch seconds, [start, end)."""

    action: str
    kind: str | None = None
    task_id: str | None = None
    count: int | None = 1
    start: float | None = None
    end: float | None = None
    retry_after: float | None = None
    retry_after_date: bool = False
    hang_s: float = 5.0
    hits: int = 0

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.hits >= self.count

    def matches(self, kind: str | None, task_id: str | None, now: float) -> bool:
        if self.exhausted:
            return False
        if self.kind is not None and self.kind != kind:
            return False
        if self.task_id is not None and self.task_id != task_id:
            return False
        if self.start is not None and now < self.start:
            return False
        return not (self.end is not None and now >= self.end)

    def retry_after_header(self, now: float) -> str | None:
        """`Retry-After` as whole seconds (rounded up) or as an HTTP date `now + retry_after`."""
        if self.retry_after is None:
            return None
        if self.retry_after_date:
            return formatdate(math.ceil(now + self.retry_after), usegmt=True)
        return str(math.ceil(self.retry_after))


class FaultPlan:
    """The ordered fault rules of one simulator."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []

    def add(
        self,
        action: str | int | Fault | None = None,
        *,
        status: int | None = None,
        kind: str | None = None,
        task_id: str | None = None,
        count: int | None = 1,
        start: float | None = None,
        end: float | None = None,
        retry_after: float | None = None,
        retry_after_date: bool = False,
        hang_s: float = 5.0,
    ) -> Fault:
        """Append a rule and return it (its `hits` counts how often it fired).

        `action` is one of ACTIONS (or an HTTP status number); `status=429` is the same as
        `action="429"`. `retry_after` (clock seconds) adds a Retry-After header to 429/503,
        sent as an HTTP date when `retry_after_date`. `hang_s` is wall-clock seconds.
        """
        if isinstance(action, Fault):
            fault = action
        else:
            fault = Fault(
                action=_action(action, status),
                kind=kind,
                task_id=task_id,
                count=count,
                start=start,
                end=end,
                retry_after=retry_after,
                retry_after_date=retry_after_date,
                hang_s=hang_s,
            )
        if fault.action not in ACTIONS:
            raise ValueError(f"unknown fault {fault.action!r}; one of {', '.join(ACTIONS)}")
        if fault.count is not None and fault.count < 1:
            raise ValueError("count must be >= 1 (or None for unlimited)")
        fault.hang_s = min(max(0.0, fault.hang_s), MAX_HANG_S)
        with self._lock:
            self._rules.append(fault)
        return fault

    def take(self, kind: str | None, task_id: str | None, now: float) -> Fault | None:
        """The first live rule matching this request, with one use consumed; else None."""
        with self._lock:
            for fault in self._rules:
                if fault.matches(kind, task_id, now):
                    fault.hits += 1
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> list[Fault]:
        with self._lock:
            return list(self._rules)

    def pending(self) -> int:
        """How many rules can still fire."""
        with self._lock:
            return sum(1 for fault in self._rules if not fault.exhausted)


def _action(action: str | int | None, status: int | None) -> str:
    if action is not None and status is not None:
        raise ValueError("give either an action or a status, not both")
    if status is not None:
        action = status
    if isinstance(action, int):
        if action not in _STATUS_ACTIONS:
            raise ValueError(f"no fault for HTTP {action}; one of {sorted(_STATUS_ACTIONS)}")
        return _STATUS_ACTIONS[action]
    if action is None:
        raise ValueError("a fault needs an action or a status")
    return action


# -- the pages proxies and CDNs answer with ------------------------------------------------
def nginx_page(status: int, reason: str) -> bytes:
    return (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


CHALLENGE_PAGE = (
    b'<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>'
    b'<meta http-equiv="Content-Type" content="text/html; charset=UTF-8"></head>'
    b"<body><noscript>Enable JavaScript and cookies to continue</noscript>"
    b'<div id="challenge">Checking your browser before accessing the API.</div></body></html>'
)
