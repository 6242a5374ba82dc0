"""Scheduler benchmark: a discrete-event simulation on virtual time (no HTTP, no sleeping).

Runs the code we ship: `schedule.next_poll_delay` and `schedule.priority` decide when and whom
to poll, `poll_queue.PollQueue` orders due tasks exactly as the engine does, and
`ratelimit.Pacing` spaces the requests. Generation times follow the seed docs' tables for a mix
of models, with realistic tails the scheduler does not know about: immediate content-policy
failures, early finishers and overruns past the documented range.

1. A batch, no rate budget: requests per finished task and detection delay (finish -> first
   seen) for a fixed 10 s interval, a fixed 30 s interval and ours.
2. 10,000 tasks at one provider with rate_limit = 5/s: request starts per one-second window
   (budget violations) and detection delay for plain round-robin and ours, with the tasks all
   live at once and with the batch arriving as a stream.

Run as a script for the full sizes (`python tests/bench/bench_schedule.py`), or under pytest
(smaller sizes). It prints figures; the only assertion is that no budget is ever exceeded.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from tui.core.model import State, Task
from tui.core.poll_queue import PollQueue
from tui.core.ratelimit import WINDOW, Pacing
from tui.core.schedule import next_poll_delay, priority, profile_for

EPOCH = 1_777_000_000.0
MIN_INTERVAL = 10.0
MAX_INTERVAL = 120.0

# (model as the provider names it, resolution, share of the batch)
MIX: tuple[tuple[str, str | None, float], ...] = (
    ("seedance_2_0", "720p", 0.22),
    ("seedance_2_0_fast", "720p", 0.18),
    ("seedance_2_0_pro", "1080p", 0.10),
    ("seedance_2_0_fast_pro", "720p", 0.10),
    ("seedance_1_5_pro", "720p", 0.08),
    ("seedance_1_5_pro", "1080p", 0.07),
    ("videos", None, 0.05),
    ("doubao-seedance-2-0-260128", "720p", 0.20),
)


@dataclass
class Truth:
    """What the provider knows and we do not (yet)."""

    model: str
    resolution: str | None
    created: float
    started: float  # leaves the queue
    finished: float  # becomes terminal
    failed: bool


def sample_truth(rng: random.Random, created: float) -> Truth:
    """One task: a model from MIX, a generation time from its documented range plus tails."""
    model, resolution, _ = rng.choices(MIX, weights=[share for *_, share in MIX])[0]
    lo, hi = profile_for(model, resolution).generation
    roll = rng.random()
    if roll < 0.04:  # content-policy failure: "failed immediately"
        duration, failed = rng.uniform(2.0, 15.0), True
    elif roll < 0.10:  # quicker than documented
        duration, failed = rng.uniform(0.75 * lo, lo), False
    elif roll < 0.18:  # slower than documented
        duration, failed = hi + rng.expovariate(1.0 / (0.3 * hi)), rng.random() < 0.2
    else:  # inside the documented range, more often in its first half
        duration, failed = rng.triangular(lo, hi, lo + 0.4 * (hi - lo)), rng.random() < 0.03
    queue = min(duration / 2, rng.uniform(1.0, 8.0))
    return Truth(model, resolution, created, created + queue, created + duration, failed)


def utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(EPOCH + epoch, UTC)


def observe(task: Task, truth: Truth, now: float) -> Task:
    """What one poll at `now` tells us, folded in the way `merge` does for these fields."""
    if now >= truth.finished:
        state = State.FAILED if truth.failed else State.SUCCEEDED
    elif now >= truth.started:
        state = State.RUNNING
    else:
        state = State.QUEUED
    relay = truth.model.startswith("doubao")  # new-api reports start_time, kyy does not
    return task.evolve(
        state=state,
        model=truth.model,
        resolution=truth.resolution,
        created_at=utc(truth.created),
        started_at=utc(truth.started) if relay and now >= truth.started else None,
        polls=task.polls + 1,
        last_polled_at=utc(now),
        first_seen_live_at=task.first_seen_live_at or (utc(now) if state.live else None),
    )


@dataclass
class Outcome:
    name: str
    requests: int
    finished: int
    delays: list[float]
    max_per_window: int = 0
    end: float = 0.0

    @property
    def per_task(self) -> float:
        return self.requests / max(1, self.finished)

    def quantile(self, q: float) -> float:
        ordered = sorted(self.delays)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    @property
    def median(self) -> float:
        return statistics.median(self.delays) if self.delays else float("nan")

    @property
    def mean(self) -> float:
        return statistics.fmean(self.delays) if self.delays else float("nan")


def max_starts_per_window(starts: list[float]) -> int:
    """The most request starts in any half-open window [s, s + 1) (windows start at a start)."""
    ordered = sorted(starts)
    best, tail = 0, 0
    for head, start in enumerate(ordered):
        while ordered[tail] + WINDOW <= start:
            tail += 1
        best = max(best, head - tail + 1)
    return best


# --------------------------------------------------------------------------- scenario 1


def batch(n: int, seed: int) -> list[Truth]:
    rng = random.Random(seed)
    return [sample_truth(rng, created=rng.uniform(0.0, 60.0)) for _ in range(n)]


def run_unbudgeted(
    name: str, truths: list[Truth], delay: Callable[[Task, float, random.Random], float], seed: int
) -> Outcome:
    """Every task on its own (no rate budget): poll at add + U(0, 1) s, then after `delay`."""
    rng = random.Random(seed)
    requests, delays = 0, []
    for index, truth in enumerate(truths):
        task = Task("sim", f"video_{index}", added_at=utc(truth.created))
        now = truth.created + rng.random()
        while True:
            task = observe(task, truth, now)
            requests += 1
            if task.terminal:
                delays.append(now - truth.finished)
                break
            now += delay(task, now, rng)
    return Outcome(name, requests, len(truths), delays)


def fixed(seconds: float) -> Callable[[Task, float, random.Random], float]:
    return lambda task, now, rng: seconds


def ours(task: Task, now: float, rng: random.Random) -> float:
    return next_poll_delay(
        task, utc(now), min_interval=MIN_INTERVAL, max_interval=MAX_INTERVAL, rng=rng
    )


# --------------------------------------------------------------------------- scenario 2


def run_round_robin(truths: list[Truth], rate: float) -> Outcome:
    """Plain round-robin at the same budget: every live task in turn, at most one request per
    1/rate s, none more often than min_interval; new tasks join the end of the round."""
    pacing = Pacing(rate)
    arrivals = sorted(range(len(truths)), key=lambda i: truths[i].created)
    ring: deque[int] = deque()
    last: dict[int, float] = {}
    starts, delays = [], []
    now, nxt = 0.0, 0
    while nxt < len(arrivals) or ring:
        if not ring:
            now = max(now, truths[arrivals[nxt]].created)
        while nxt < len(arrivals) and truths[arrivals[nxt]].created <= now:
            ring.append(arrivals[nxt])
            nxt += 1
        index = ring[0]
        now = pacing.next_start(max(now, last.get(index, -1e18) + MIN_INTERVAL))
        if nxt < len(arrivals) and truths[arrivals[nxt]].created <= now:
            continue  # someone arrived while we waited: let them join first
        ring.popleft()
        pacing.record(now)
        starts.append(now)
        last[index] = now
        if now >= truths[index].finished:
            delays.append(now - truths[index].finished)
        else:
            ring.append(index)
    return Outcome(
        "round-robin", len(starts), len(truths), delays, max_starts_per_window(starts), now
    )


def run_ours(truths: list[Truth], rate: float, seed: int) -> Outcome:
    """The engine's policy: `PollQueue` (due time, then `priority`), `next_poll_delay` after
    each answer, new tasks due at add + U(0, 1) s, requests paced by `Pacing`."""
    rng = random.Random(seed)
    tasks: dict[int, Task] = {}
    queue = PollQueue(lambda key, now: priority(tasks[key], utc(now)))
    pacing = Pacing(rate)
    arrivals = sorted(range(len(truths)), key=lambda i: truths[i].created)
    starts, delays = [], []
    now, nxt, live = 0.0, 0, 0
    while nxt < len(arrivals) or live:
        now = pacing.next_start(now)
        while nxt < len(arrivals) and truths[arrivals[nxt]].created <= now:
            index = arrivals[nxt]
            truth = truths[index]
            tasks[index] = Task("sim", f"video_{index}", added_at=utc(truth.created))
            queue.schedule("sim", index, truth.created + rng.random())
            nxt += 1
            live += 1
        index = queue.pop_ready("sim", now)
        if index is None:
            due = queue.next_due("sim")
            upcoming = truths[arrivals[nxt]].created if nxt < len(arrivals) else float("inf")
            now = max(now, min(due if due is not None else float("inf"), upcoming))
            continue
        pacing.record(now)
        starts.append(now)
        task = tasks[index] = observe(tasks[index], truths[index], now)
        if task.terminal:
            delays.append(now - truths[index].finished)
            live -= 1
            del tasks[index]
        else:
            queue.schedule("sim", index, now + ours(task, now, rng))
    return Outcome("ours", len(starts), len(truths), delays, max_starts_per_window(starts), now)


def oracle_floor(truths: list[Truth], rate: float) -> float:
    """A lower bound on any scheduler's mean detection delay at this budget: each task needs at
    least one request after it finished, and only `rate` requests fit in a second."""
    ready, spacing = float("-inf"), 1.0 / rate
    total = 0.0
    for finished in sorted(t.finished for t in truths):
        ready = max(ready + spacing, finished)
        total += ready - finished
    return total / len(truths)


def all_at_once(n: int, seed: int) -> list[Truth]:
    rng = random.Random(seed)
    return [sample_truth(rng, created=0.0) for _ in range(n)]


def stream(n: int, per_second: float, seed: int) -> list[Truth]:
    rng = random.Random(seed)
    return [sample_truth(rng, created=i / per_second) for i in range(n)]


def peak_live(truths: list[Truth]) -> int:
    """The most tasks live (created, not finished) at the same moment."""
    moments = sorted([(t.created, 1) for t in truths] + [(t.finished, -1) for t in truths])
    live = best = 0
    for _, step in moments:
        live += step
        best = max(best, live)
    return best


# --------------------------------------------------------------------------- report


def print_table(title: str, rows: list[Outcome], extra: Callable[[Outcome], str] | None = None):
    print(f"\n{title}")
    head = f"{'strategy':<14}{'req/task':>9}{'median s':>10}{'p95 s':>8}{'mean s':>9}"
    print(head + ("  " + "budget" if extra else ""))
    for row in rows:
        line = (
            f"{row.name:<14}{row.per_task:>9.2f}{row.median:>10.1f}"
            f"{row.quantile(0.95):>8.1f}{row.mean:>9.1f}"
        )
        print(line + ("  " + extra(row) if extra else ""))


def run(
    n_batch: int,
    n_big: int,
    rate: float,
    per_second: float,
    seed: int = 7,
    sweep: tuple[float, ...] = (),
) -> dict:
    """Both scenarios (and, for `sweep`, streams at other arrival rates); returns the figures
    (also printed)."""
    began = time.perf_counter()
    truths = batch(n_batch, seed)
    rows = [
        run_unbudgeted("fixed 10 s", truths, fixed(10.0), seed),
        run_unbudgeted("fixed 30 s", truths, fixed(30.0), seed),
        run_unbudgeted("ours", truths, ours, seed),
    ]
    print_table(f"1. batch of {n_batch} tasks (seed-table mix), no rate budget", rows)
    f10, _, mine = rows
    saving = 1.0 - mine.requests / f10.requests
    met = saving >= 0.40 and mine.median <= f10.median + 5.0
    print(
        f"   ours: {saving:.0%} fewer requests than fixed 10 s (target >= 40%); median delay "
        f"{mine.median:.1f} s vs {f10.median:.1f} s (target <= {f10.median + 5:.1f} s): "
        f"{'met' if met else 'NOT met'}"
    )
    figures: dict = {"batch": rows, "saving": saving}

    budget = lambda row: f"max {row.max_per_window} in 1 s (limit {rate:g})"  # noqa: E731
    for label, big in (
        (f"all {n_big} live at once", all_at_once(n_big, seed + 1)),
        (f"{n_big} arriving at {per_second:g}/s", stream(n_big, per_second, seed + 2)),
    ):
        rr, mine = run_round_robin(big, rate), run_ours(big, rate, seed)
        floor = oracle_floor(big, rate)
        title = f"2. {label}, one provider, rate_limit {rate:g}/s (peak live {peak_live(big)})"
        print_table(title, [rr, mine], budget)
        ratio = mine.mean / rr.mean
        print(
            f"   mean delay ours/round-robin = {ratio:.2f} (target <= 0.50: "
            f"{'met' if ratio <= 0.5 else 'NOT met'})"
        )
        if floor / rr.mean > 0.5:
            print(
                f"   no scheduler can average under {floor:.0f} s here = "
                f"{floor / rr.mean:.2f} x round-robin: each task needs one request after it "
                f"finished and only {rate:g} fit in a second"
            )
        figures[label] = (rr, mine, floor)
    if sweep:
        print(f"\n   streams of {n_big} tasks at rate_limit {rate:g}/s, by arrival rate:")
        head = f"{'arrivals/s':>10}{'rr mean s':>11}{'ours mean s':>13}{'ratio':>7}"
        print(f"   {head}{'ours req/task':>15}")
        for arrivals in sweep:
            big = stream(n_big, arrivals, seed + 3)
            rr, mine = run_round_robin(big, rate), run_ours(big, rate, seed)
            print(
                f"   {arrivals:>10g}{rr.mean:>11.1f}{mine.mean:>13.1f}"
                f"{mine.mean / rr.mean:>7.2f}{mine.per_task:>15.2f}"
            )
    print(f"\n(simulated in {time.perf_counter() - began:.1f} s of wall time)")
    return figures


@pytest.mark.bench
def test_bench_schedule() -> None:
    """Smaller sizes (same load per unit of budget); asserts only that no budget is exceeded."""
    figures = run(n_batch=400, n_big=1000, rate=0.5, per_second=0.2)
    for key, value in figures.items():
        if isinstance(value, tuple):
            rr, mine, _ = value
            assert rr.max_per_window <= 1, key
            assert mine.max_per_window <= 1, key
            assert len(mine.delays) == len(rr.delays) == 1000, key


if __name__ == "__main__":
    n_big = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    run(n_batch=2000, n_big=n_big, rate=5.0, per_second=2.0, sweep=(0.5, 1.0, 2.0, 3.0, 4.0))
