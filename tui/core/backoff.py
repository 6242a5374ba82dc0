"""Back-off after errors: per task (exponential, full jitter) and per provider (a circuit breaker).

Full jitter (AWS: sleep = random(0, min(cap, base * 2**n))) spreads the retries of many tasks
that failed together, instead of sending them back in a synchronized wave. The circuit breaker
stops a provider that keeps failing from being hammered by every task in turn: after
`threshold` network errors/5xx in a row it opens (the provider is DOWN) for `cooldown` seconds,
then lets exactly one probe through; its success closes the breaker, its failure reopens it.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Hashable

from tui.core.clock import Clock
from tui.core.jitter import FULL, jittered


class Backoff:
    """Failure counts per key (a task) and the jittered delay before its next attempt."""

    def __init__(
        self, *, base: float = 10.0, cap: float = 480.0, rng: random.Random | None = None
    ) -> None:
        if base <= 0 or cap < base:
            raise ValueError("back-off needs 0 < base <= cap")
        self.base = float(base)
        self.cap = float(cap)
        self._rng = rng or random.Random()
        self._failures: dict[Hashable, int] = {}

    def failure(self, key: Hashable) -> int:
        """Count one more failure in a row for `key`; returns the count."""
        count = self._failures.get(key, 0) + 1
        self._failures[key] = count
        return count

    def success(self, key: Hashable) -> None:
        """`key` got an answer: its next failure starts from the bottom again."""
        self._failures.pop(key, None)

    def failures(self, key: Hashable) -> int:
        return self._failures.get(key, 0)

    def ceiling(self, key: Hashable) -> float:
        """The upper end of the next delay: min(cap, base * 2**(failures - 1)); 0 if none."""
        count = self._failures.get(key, 0)
        if count == 0:
            return 0.0
        return min(self.cap, self.base * 2.0 ** min(count - 1, 60))

    def delay(self, key: Hashable) -> float:
        """Seconds to wait before retrying `key`: uniform in [0, ceiling] (full jitter)."""
        return jittered(self.ceiling(key), self._rng, FULL)

    def __len__(self) -> int:
        return len(self._failures)


class BreakerState(enum.StrEnum):
    CLOSED = "closed"  # all good: requests flow
    OPEN = "open"  # down: nothing is sent until the cool-down ends
    HALF_OPEN = "half open"  # the cool-down ended: one probe is out, the rest wait for it


class CircuitBreaker:
    """One provider's breaker, on the shared clock."""

    def __init__(self, clock: Clock, *, threshold: int = 5, cooldown: float = 60.0) -> None:
        if threshold < 1 or cooldown <= 0:
            raise ValueError("a breaker needs threshold >= 1 and cooldown > 0")
        self.clock = clock
        self.threshold = threshold
        self.cooldown = float(cooldown)
        self.consecutive = 0
        self.opened_until: float | None = None
        self._probe_out = False

    @property
    def state(self) -> BreakerState:
        if self.opened_until is None:
            return BreakerState.CLOSED
        if self._probe_out or self.clock.now() >= self.opened_until:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    @property
    def blocked(self) -> bool:
        """Would `allow` say no right now? (Asks without taking the probe.)"""
        if self.opened_until is None:
            return False
        return self._probe_out or self.clock.now() < self.opened_until

    def allow(self) -> bool:
        """May a request go out now? Closed: yes. Open: no. Half-open: yes once (the probe)."""
        if self.opened_until is None:
            return True
        if self._probe_out or self.clock.now() < self.opened_until:
            return False
        self._probe_out = True
        return True

    def retry_in(self) -> float:
        """Seconds until a request may be allowed again (0 when closed)."""
        if self.opened_until is None:
            return 0.0
        if self._probe_out:
            return self.cooldown  # the probe decides; ask again later
        return max(0.0, self.opened_until - self.clock.now())

    def success(self) -> None:
        self.consecutive = 0
        self.opened_until = None
        self._probe_out = False

    def failure(self) -> None:
        """A network error, timeout or 5xx. Opens at the threshold; a failed probe reopens."""
        self.consecutive += 1
        if self._probe_out or self.consecutive >= self.threshold:
            self.opened_until = self.clock.now() + self.cooldown
            self._probe_out = False

    def release_probe(self) -> None:
        """The probe ended with neither success nor a breaker failure (e.g. a 4xx, a 429):
        let the next request probe again."""
        self._probe_out = False
