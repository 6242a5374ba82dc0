"""Trouble on demand: the ways a provider (or the proxy in front of it) misbehaves.

A `FaultPlan` is an ordered list of rules. Each request takes the first rule that matches its
dialect kind, task id, endpoint (`on`: "status" polls or "create" calls) and the clock time, and
still has uses left; that rule decides the answer instead of the normal one. A rule with
`after_create` lets the create call make its task first and then spoils the answer: the
ambiguous case where the task exists but the client never learns its id. Thread-safe: the
server's handler threads call `take` concurrently.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from tui.sim import create as C
from tui.sim import tasks as T
from tui.sim.httpd import HTML, Reply, json_reply

# What a rule does. HTTP statuses are written as their number.
ACTIONS: tuple[str, ...] = (
    "429",  # Too Many Requests (+ Retry-After as seconds, or as an HTTP date)
    "503",  # Service Unavailable, nginx HTML page (+ Retry-After)
    "500",  # Internal Server Error, HTML page
    "502",  # Bad Gateway, HTML page
    "401",  # the provider refuses the key
    "400",  # invalid parameter, in the dialect's error body (creates only unless `on` says)
    "quota",  # insufficient balance: kyy 402, newapi 403 quota_not_enough, ark 403 (creates)
    "truncated",  # 200 with a JSON body cut in half (Content-Length matches the cut body)
    "html",  # 200 text/html: a proxy's challenge page instead of JSON
    "hang",  # no answer for `hang_s` wall seconds (longer than the client's timeout), then the
    #          normal answer; only this connection waits
    "reset",  # the connection is closed with a TCP reset, no response at all
)
_STATUS_ACTIONS = {
    429: "429", 503: "503", 500: "500", 502: "502", 401: "401", 400: "400", 402: "quota",
}  # fmt: skip
ENDPOINTS: tuple[str, ...] = ("status", "create")
_CREATE_ONLY = ("400", "quota")  # without `on`, these hit create calls only
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
    on: str | None = None  # "status", "create", or None for both
    after_create: bool = False
    hits: int = 0

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.hits >= self.count

    def matches(
        self,
        kind: str | None,
        task_id: str | None,
        now: float,
        endpoint: str = "status",
        after_create: bool = False,
    ) -> bool:
        if self.exhausted or self.after_create != after_create:
            return False
        if self.on is not None and self.on != endpoint:
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
        on: str | None = None,
        after_create: bool = False,
    ) -> Fault:
        """Append a rule and return it (its `hits` counts how often it fired).

        `action` is one of ACTIONS (or an HTTP status number); `status=429` is the same as
        `action="429"`. `retry_after` (clock seconds) adds a Retry-After header to 429/503,
        sent as an HTTP date when `retry_after_date`. `hang_s` is wall-clock seconds. `on`
        limits the rule to polls ("status") or create calls ("create"); "400" and "quota"
        default to creates. `after_create` (creates only): the task is made, then the answer
        is this fault's (a 5xx, a hang, a reset, ...) instead of the id.
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
                on=on,
                after_create=after_create,
            )
        if fault.on is None and (fault.action in _CREATE_ONLY or fault.after_create):
            fault.on = "create"
        if fault.on is not None and fault.on not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {fault.on!r}; one of {', '.join(ENDPOINTS)}")
        if fault.after_create and fault.on != "create":
            raise ValueError("after_create applies to create calls only")
        if fault.action not in ACTIONS:
            raise ValueError(f"unknown fault {fault.action!r}; one of {', '.join(ACTIONS)}")
        if fault.count is not None and fault.count < 1:
            raise ValueError("count must be >= 1 (or None for unlimited)")
        fault.hang_s = min(max(0.0, fault.hang_s), MAX_HANG_S)
        with self._lock:
            self._rules.append(fault)
        return fault

    def take(
        self,
        kind: str | None,
        task_id: str | None,
        now: float,
        endpoint: str = "status",
        after_create: bool = False,
    ) -> Fault | None:
        """The first live rule matching this request, with one use consumed; else None.

        A create call asks twice: before (`after_create=False`), and once its task is made.
        """
        with self._lock:
            for fault in self._rules:
                if fault.matches(kind, task_id, now, endpoint, after_create):
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


def fault_reply(fault: Fault, kind: str, now: float) -> Reply:
    """The answer a fault gives in place of the normal one (not for hang and reset)."""
    retry = fault.retry_after_header(now)
    headers = (("Retry-After", retry),) if retry is not None else ()
    action = fault.action
    if action == "429":
        return json_reply(*T.rate_limited(kind)).with_headers(*headers)
    if action == "503":
        return Reply(503, nginx_page(503, "Service Temporarily Unavailable"), HTML, headers)
    if action == "500":
        return Reply(500, nginx_page(500, "Internal Server Error"), HTML)
    if action == "502":
        return Reply(502, nginx_page(502, "Bad Gateway"), HTML)
    if action == "401":
        return json_reply(*T.unauthorized(kind, True))
    if action == "400":
        return json_reply(*C.invalid_parameter(kind, _INVALID_MESSAGE, "content"))
    if action == "quota":
        return json_reply(*C.out_of_quota(kind))
    if action == "html":
        return Reply(200, CHALLENGE_PAGE, HTML)
    # truncated: a well-framed 200 whose JSON stops half way
    body = json.dumps(_truncation_source(kind)).encode()
    return Reply(200, body[: max(1, len(body) // 2)])


_INVALID_MESSAGE = "The parameter `content` specified in the request is not valid."


def _truncation_source(kind: str) -> dict[str, Any]:
    """A plausible body to cut in half."""
    if kind == "newapi":
        return {
            "code": "success",
            "message": "",
            "data": {"task_id": "asyntask_x", "status": "IN_PROGRESS", "progress": "50%"},
        }
    if kind == "ark":
        return {"id": "cgt-x", "model": "doubao-seedance-2-0-260128", "status": "running"}
    return {"id": "video_x", "object": "video", "status": "processing", "video_url": None}


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
