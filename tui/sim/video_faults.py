"""The video host's faults: what a CDN does wrong, planned per video and consumed per request.

Apart from `tui.sim.video_host` so that file reads as the CDN's normal behaviour; the names are
re-exported there.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

FAULT_KINDS: tuple[str, ...] = (
    "truncate",  # send `at` body bytes (default half), then close: a short body
    "reset",  # send `at` body bytes, then a TCP reset
    "ignore_range",  # answer every Range request with 200 and the whole body
    "bad_range",  # answer a Range request with 206 but the bytes (and Content-Range) from 0
    "etag_change",  # the object changes (new bytes, ETag and Last-Modified) before this answer
    "gzip",  # Content-Encoding: gzip whatever Accept-Encoding said (whole body, no ranges)
    "html",  # 200 text/html error page instead of the video
    "forbid",  # 403 AccessDenied even though the URL is valid
    "slow",  # `rate` bytes per second (real time)
    "no_length",  # no Content-Length: the body ends when the connection closes
)


@dataclass
class Fault:
    """One planned misbehaviour for one video's next requests."""

    kind: str
    times: int | None = 1  # how many requests it hits; None = every request
    skip: int = 0  # let this many requests through first
    at: int | None = None  # truncate/reset: body bytes sent before the cut
    rate: float | None = None  # slow: bytes per second


class FaultPlan:
    """Faults per video name, consumed request by request. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, list[Fault]] = {}

    def add(
        self,
        name: str,
        kind: str,
        *,
        times: int | None = 1,
        skip: int = 0,
        at: int | None = None,
        rate: float | None = None,
    ) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FAULT_KINDS)}")
        with self._lock:
            self._faults.setdefault(name, []).append(Fault(kind, times, skip, at, rate))

    def clear(self, name: str | None = None) -> None:
        with self._lock:
            if name is None:
                self._faults.clear()
            else:
                self._faults.pop(name, None)

    def take(self, name: str) -> dict[str, Fault]:
        """The faults that apply to this request (each one's count goes down by one)."""
        hits: dict[str, Fault] = {}
        with self._lock:
            keep: list[Fault] = []
            for fault in self._faults.get(name, []):
                if fault.skip > 0:
                    fault.skip -= 1
                    keep.append(fault)
                    continue
                hits.setdefault(fault.kind, fault)
                if fault.times is None:
                    keep.append(fault)
                elif fault.times > 1:
                    fault.times -= 1
                    keep.append(fault)
            self._faults[name] = keep
        return hits
