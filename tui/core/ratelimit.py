"""Pacing per provider: requests spaced out on the shared clock, and a provider-wide hold.

The contract: a provider never receives more than `rate_limit` requests in any one-second window,
paced, not burst; after a 429/503 with Retry-After it hears nothing until the time has passed.
A token bucket would allow a burst of `rate_limit` at once, so this is a pacer instead: starts
are at least 1/rate apart *and* no more than floor(rate) of them fall in any one second (which
spacing alone does not give for a fractional rate: 2.5/s spaced 0.4 s apart puts 3 in a second).

`Pacing` is the pure bookkeeping (the benchmark drives it on virtual time); `PacingLimiter` is
the async gate the poller awaits before every attempt, retries included.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque

from tui.core.clock import Clock

WINDOW = 1.0  # seconds: the contract's "any one-second window"
# Requests reach the provider a little later than they leave, and not all equally late (a new
# connection, a busy loop, the network). Pacing over a slightly longer window keeps the
# provider's own count, at arrival, inside the limit. Real seconds; see PacingLimiter.
ARRIVAL_MARGIN = 0.05
MAX_CLOCK_MARGIN = 0.5


class Pacing:
    """When the next request may start, given the starts so far. Pure; times are clock epochs.

    Windows are half-open: starts at t and t + 1.0 are never in the same window. `margin`
    stretches the window (and the spacing with it) to absorb arrival jitter.
    """

    def __init__(self, rate: float, *, margin: float = 0.0) -> None:
        if not rate > 0 or not math.isfinite(rate):
            raise ValueError(f"rate must be a positive number, not {rate!r}")
        if not 0.0 <= margin < WINDOW:
            raise ValueError(f"margin must be in [0, {WINDOW}), not {margin!r}")
        self.rate = float(rate)
        self.window = WINDOW + margin
        self.spacing = self.window / self.rate
        self.per_window = max(1, math.floor(self.rate + 1e-9))
        self._recent: deque[float] = deque(maxlen=self.per_window)
        self.blocked_until: float = float("-inf")

    def next_start(self, now: float) -> float:
        """The earliest moment >= now at which a request may start."""
        earliest = max(now, self.blocked_until)
        if self._recent:
            earliest = max(earliest, self._recent[-1] + self.spacing)
            if len(self._recent) == self.per_window:
                earliest = max(earliest, self._recent[0] + self.window)
        return earliest

    def record(self, start: float) -> None:
        """A request started at `start` (must be a time `next_start` allowed)."""
        self._recent.append(start)

    def block_until(self, epoch: float) -> None:
        """Nothing starts before `epoch` (a Retry-After). Only ever extends the hold."""
        self.blocked_until = max(self.blocked_until, epoch)


class PacingLimiter:
    """The async gate in front of one provider. Waiters are served first come, first served.

    The arrival margin is ARRIVAL_MARGIN real seconds expressed on the clock (a clock 30x
    faster turns 50 ms of jitter into 1.5 clock seconds), at most MAX_CLOCK_MARGIN; a frozen
    clock takes it as clock seconds.
    """

    def __init__(
        self,
        rate: float,
        clock: Clock,
        *,
        margin: float = ARRIVAL_MARGIN,
        rate_span: float = 10.0,
    ) -> None:
        per_real = clock.real_seconds(1.0)
        clock_margin = margin / per_real if per_real > 0 else margin
        self.pacing = Pacing(rate, margin=min(MAX_CLOCK_MARGIN, clock_margin))
        self.clock = clock
        self._lock = asyncio.Lock()
        self._rate_span = rate_span
        self._starts: deque[float] = deque()

    @property
    def rate(self) -> float:
        return self.pacing.rate

    async def acquire(self) -> float:
        """Wait for this caller's turn; returns the (clock) time the request may start, now.

        Every attempt must come through here, retries too. The lock makes waiters queue in
        order and lets only the head sleep, so a frozen clock advances exactly as needed.
        """
        async with self._lock:
            while True:
                now = self.clock.now()
                start = self.pacing.next_start(now)
                if start <= now:
                    self.pacing.record(now)
                    self._note(now)
                    return now
                # Re-checked after the sleep: a Retry-After may have arrived meanwhile.
                await self.clock.sleep(start - now)

    def block_until(self, epoch: float) -> None:
        """Hold every caller of this provider until `epoch` (clock time)."""
        self.pacing.block_until(epoch)

    @property
    def blocked_until(self) -> float | None:
        """When the current hold ends, None when there is none."""
        until = self.pacing.blocked_until
        return until if until > self.clock.now() else None

    def recent_rate(self) -> float:
        """Requests per second over the last `rate_span` seconds (for the summary bar)."""
        now = self.clock.now()
        self._forget(now)
        return len(self._starts) / self._rate_span

    def _note(self, start: float) -> None:
        self._starts.append(start)
        self._forget(start)

    def _forget(self, now: float) -> None:
        while self._starts and self._starts[0] <= now - self._rate_span:
            self._starts.popleft()
