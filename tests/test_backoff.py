"""Back-off with full jitter per task, and the circuit breaker per provider."""

from __future__ import annotations

import random

import pytest

from tui.core.backoff import Backoff, BreakerState, CircuitBreaker
from tui.core.clock import FrozenClock

T0 = 1_777_288_506.0


def test_the_ceiling_doubles_per_failure_up_to_the_cap():
    backoff = Backoff(base=10, cap=300, rng=random.Random(1))
    ceilings = []
    for _ in range(8):
        backoff.failure("a")
        ceilings.append(backoff.ceiling("a"))
    assert ceilings == [10, 20, 40, 80, 160, 300, 300, 300]


def test_full_jitter_spreads_delays_over_zero_to_the_ceiling():
    backoff = Backoff(base=10, cap=300, rng=random.Random(2))
    for _ in range(3):
        backoff.failure("a")  # ceiling 40
    delays = [backoff.delay("a") for _ in range(2000)]
    assert all(0.0 <= d <= 40.0 for d in delays)
    assert min(delays) < 2.0 and max(delays) > 38.0  # the whole range, not a fixed wave
    assert 17.0 < sum(delays) / len(delays) < 23.0


def test_success_resets_and_keys_are_independent():
    backoff = Backoff(base=5, cap=100, rng=random.Random(3))
    for _ in range(4):
        backoff.failure("a")
    backoff.failure("b")
    assert backoff.ceiling("a") == 40 and backoff.ceiling("b") == 5
    backoff.success("a")
    assert backoff.failures("a") == 0
    assert backoff.delay("a") == 0.0
    assert backoff.failure("a") == 1 and backoff.ceiling("a") == 5
    assert backoff.ceiling("b") == 5


def test_a_huge_failure_count_stays_at_the_cap():
    backoff = Backoff(base=1, cap=60, rng=random.Random(4))
    for _ in range(5000):
        backoff.failure("a")
    assert backoff.ceiling("a") == 60


def test_the_same_seed_gives_the_same_delays():
    def run(seed: int) -> list[float]:
        backoff = Backoff(base=2, cap=50, rng=random.Random(seed))
        out = []
        for _ in range(6):
            backoff.failure("k")
            out.append(backoff.delay("k"))
        return out

    assert run(7) == run(7)
    assert run(7) != run(8)


@pytest.mark.parametrize(("base", "cap"), [(0, 10), (-1, 10), (10, 5)])
def test_nonsense_settings_are_refused(base, cap):
    with pytest.raises(ValueError):
        Backoff(base=base, cap=cap)


# ----------------------------------------------------------------------------- breaker


def test_the_breaker_opens_after_n_failures_in_a_row():
    clock = FrozenClock(T0)
    breaker = CircuitBreaker(clock, threshold=3, cooldown=60)
    for _ in range(2):
        breaker.failure()
        assert breaker.allow()
    breaker.failure()
    assert breaker.state is BreakerState.OPEN
    assert breaker.blocked and not breaker.allow()
    assert breaker.retry_in() == 60
    clock.advance(59.9)
    assert not breaker.allow()


def test_a_success_in_between_keeps_it_closed():
    breaker = CircuitBreaker(FrozenClock(T0), threshold=3, cooldown=60)
    for _ in range(10):
        breaker.failure()
        breaker.failure()
        breaker.success()
    assert breaker.state is BreakerState.CLOSED


def test_after_the_cooldown_exactly_one_probe_goes_out():
    clock = FrozenClock(T0)
    breaker = CircuitBreaker(clock, threshold=2, cooldown=30)
    breaker.failure()
    breaker.failure()
    clock.advance(30)
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.blocked
    assert breaker.allow()  # the probe
    assert breaker.blocked
    assert not breaker.allow()  # everyone else waits for it
    breaker.success()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()


def test_a_failed_probe_reopens_for_another_cooldown():
    clock = FrozenClock(T0)
    breaker = CircuitBreaker(clock, threshold=2, cooldown=30)
    breaker.failure()
    breaker.failure()
    clock.advance(31)
    assert breaker.allow()
    breaker.failure()
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_in() == 30
    clock.advance(30)
    assert breaker.allow()


def test_a_probe_that_settles_nothing_lets_the_next_one_probe():
    clock = FrozenClock(T0)
    breaker = CircuitBreaker(clock, threshold=1, cooldown=5)
    breaker.failure()
    clock.advance(5)
    assert breaker.allow()
    breaker.release_probe()  # e.g. the probe was cancelled, or answered 429
    assert breaker.allow()
