"""Pacing: never more than rate_limit request starts in any one-second window, and Retry-After
holds every caller of the provider. All on a FrozenClock: deterministic, instant."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from tui.core.clock import FrozenClock, ScaledClock
from tui.core.ratelimit import ARRIVAL_MARGIN, MAX_CLOCK_MARGIN, WINDOW, Pacing, PacingLimiter

T0 = 1_777_288_506.0


def most_in_any_window(starts: list[float]) -> int:
    """Windows [s, s + 1) starting at every start (the worst windows start at a start)."""
    ordered = sorted(starts)
    return max(sum(1 for t in ordered if s <= t < s + WINDOW) for s in ordered)


async def test_a_thousand_acquisitions_at_rate_5_never_exceed_5_in_a_second():
    clock = FrozenClock(T0)
    limiter = PacingLimiter(5, clock)
    starts = [await limiter.acquire() for _ in range(1000)]
    assert most_in_any_window(starts) == 5
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    spacing = (WINDOW + ARRIVAL_MARGIN) / 5
    assert min(gaps) >= spacing - 1e-6  # paced, not burst
    assert starts[-1] - starts[0] == pytest.approx(999 * spacing)  # and no slower than that


async def test_concurrent_callers_are_paced_too_and_served_in_order():
    clock = FrozenClock(T0)
    limiter = PacingLimiter(5, clock)
    order: list[int] = []

    async def caller(n: int) -> float:
        start = await limiter.acquire()
        order.append(n)
        return start

    starts = await asyncio.gather(*(caller(n) for n in range(200)))
    assert most_in_any_window(starts) <= 5
    assert order == list(range(200))


@pytest.mark.parametrize(
    ("rate", "per_window", "gap"), [(2.5, 2, 0.4), (0.5, 1, 2.0), (7, 7, 1 / 7)]
)
async def test_fractional_and_slow_rates(rate, per_window, gap):
    clock = FrozenClock(T0)
    limiter = PacingLimiter(rate, clock, margin=0.0)
    starts = [await limiter.acquire() for _ in range(300)]
    assert most_in_any_window(starts) == per_window
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= gap - 1e-6  # epoch floats have ~2e-7 s resolution


async def test_retry_after_holds_every_caller_until_it_passes():
    clock = FrozenClock(T0)
    limiter = PacingLimiter(5, clock)
    await limiter.acquire()
    limiter.block_until(T0 + 30)
    assert limiter.blocked_until == T0 + 30
    starts = await asyncio.gather(*(limiter.acquire() for _ in range(10)))
    assert min(starts) >= T0 + 30
    assert most_in_any_window(starts) <= 5
    assert limiter.blocked_until is None  # the hold is over


async def test_a_hold_arriving_while_a_caller_waits_its_turn_still_holds_it():
    clock = FrozenClock(T0)
    limiter = PacingLimiter(1, clock)
    await limiter.acquire()  # the next slot is T0 + 1
    waiter = asyncio.ensure_future(limiter.acquire())
    await asyncio.sleep(0)  # the waiter is now asleep until T0 + 1 ...
    limiter.block_until(T0 + 60)  # ... when a 429 says "not before T0 + 60"
    assert await waiter >= T0 + 60


def test_a_shorter_hold_never_shortens_a_longer_one():
    pacing = Pacing(5)
    pacing.block_until(T0 + 60)
    pacing.block_until(T0 + 10)
    assert pacing.next_start(T0) == T0 + 60


def test_the_arrival_margin_is_real_time_on_the_clock():
    assert PacingLimiter(5, ScaledClock(1.0)).pacing.window == WINDOW + ARRIVAL_MARGIN
    assert PacingLimiter(5, ScaledClock(4.0)).pacing.window == WINDOW + 4 * ARRIVAL_MARGIN
    assert PacingLimiter(5, ScaledClock(60.0)).pacing.window == WINDOW + MAX_CLOCK_MARGIN
    with pytest.raises(ValueError):
        Pacing(5, margin=1.0)


def test_pacing_is_pure_bookkeeping():
    pacing = Pacing(4)
    assert pacing.next_start(T0) == T0
    pacing.record(T0)
    assert pacing.next_start(T0) == T0 + 0.25
    assert pacing.next_start(T0 + 3) == T0 + 3


@pytest.mark.parametrize("rate", [0, -1, float("nan"), float("inf")])
def test_a_rate_must_be_a_positive_number(rate):
    with pytest.raises(ValueError):
        Pacing(rate)


async def test_recent_rate_reports_the_last_ten_seconds():
    clock = FrozenClock(T0)
    limiter = PacingLimiter(5, clock)
    assert limiter.recent_rate() == 0.0
    for _ in range(20):
        await limiter.acquire()
    assert limiter.recent_rate() == pytest.approx(2.0)  # 20 starts within the last 10 s
    clock.advance(30)
    assert limiter.recent_rate() == 0.0
