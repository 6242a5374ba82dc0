"""ETA benchmark: a simulated batch on virtual time, the dashboard's ETA read once a second.

The batch: the demo's model mix (`tui.sim.scenarios.MODELS`, newapi + kyy) and generation times
(`scenarios.timing_for`), created over 30 s, 4 % failing at once (content policy). Each task is
polled as the engine would (`schedule.next_poll_delay`, no rate budget), so the dashboard sees a
task finished at its first poll after it finished. Once a second the dashboard feeds the changed
tasks to `EtaTracker` and reads `estimate()`; `ThroughputEta` (the old throughput ETA) is fed
the same way. At 10 %, 25 % and 50 % of the batch seen finished, both are compared with the
real remaining time (last task seen finished minus now).

Cases: the plain batch; the same with a third provider whose key is refused (its tasks never
finish: the real remaining time is that of the others); one slow task at the end (3x its model's
range): after the others are done, the shown upper bound must never grow and ends `overdue`.
Then the cost of `update` and `estimate` at 100,000 live tasks, and of grouping 100,000 failed
tasks (10,000 each at the small size).

`python tests/bench/bench_eta.py` runs the small size (< 10 s), `--full` the 3,000-task batch.
Under pytest (`make test`) the small size runs; it prints figures and asserts only what the
design promises (never counting up, blocked tasks out), not the error figures.
"""

from __future__ import annotations

import heapq
import itertools
import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from tui.core.eta import Eta, EtaTracker
from tui.core.failure_groups import FailureIndex
from tui.core.model import Failure, State, Task
from tui.core.schedule import next_poll_delay, profile_for
from tui.sim.scenarios import MODELS, timing_for
from tui.sim.tasks import ARK_FAILURES, KYY_FAILURES

EPOCH = 1_777_000_000.0
MIN_INTERVAL, MAX_INTERVAL = 10.0, 120.0
KINDS = ("newapi", "kyy")
CHECKPOINTS = (0.10, 0.25, 0.50)
SPREAD = 30.0  # seconds over which the batch is created


class ThroughputEta:
    """The summary's ETA before `EtaTracker`: live tasks / finishes per second over the last
    10 minutes. Kept here as the baseline the figures are compared with."""

    WINDOW = 600.0

    def __init__(self) -> None:
        self.samples: list[tuple[float, int]] = []

    def sample(self, now: float, terminal: int) -> None:
        self.samples.append((now, terminal))
        while len(self.samples) > 2 and now - self.samples[1][0] >= self.WINDOW:
            self.samples.pop(0)

    def eta(self, live: int) -> float | None:
        if live == 0:
            return 0.0
        if len(self.samples) < 2:
            return None
        (t0, n0), (t1, n1) = self.samples[0], self.samples[-1]
        if t1 - t0 < 5 or n1 <= n0:
            return None
        return live / ((n1 - n0) / (t1 - t0))


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(EPOCH + seconds, UTC)


@dataclass
class Truth:
    provider: str
    model: str
    resolution: str
    created: float
    finished: float  # on the provider
    failed: bool


def batch(
    n: int, seed: int, providers: tuple[str, ...] = KINDS, *, flex: bool = True
) -> list[Truth]:
    """`n` tasks across `providers` (a provider named like a kind uses its mix; others: newapi).
    `flex=False` leaves out the flex tier (kyy's `seedance_1_5_pro_flex`)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        provider = providers[rng.randrange(len(providers))]
        mix = MODELS.get(provider, MODELS["newapi"])
        mix = tuple(pair for pair in mix if flex or "flex" not in pair[0])
        model = rng.choices([m for m, _ in mix], weights=[w for _, w in mix])[0]
        high = ("1_5" in model or "1-5" in model) and rng.random() < 0.35
        resolution = "1080p" if high else "720p"
        created = rng.uniform(0.0, SPREAD)
        if rng.random() < 0.04:  # a content-policy failure comes back at once
            out.append(
                Truth(provider, model, resolution, created, created + rng.uniform(1, 5), True)
            )
            continue
        queued, ran = timing_for(model, resolution, rng)
        failed = rng.random() < 0.08
        out.append(Truth(provider, model, resolution, created, created + queued + ran, failed))
    return out


def poll_times(truth: Truth, rng: random.Random) -> list[tuple[float, Task]]:
    """Every poll of one task as the engine spaces them: (moment, what the dashboard knows)."""
    key = f"{truth.provider}-{id(truth)}"
    task = Task(truth.provider, key, model=truth.model, resolution=truth.resolution)
    task = task.evolve(added_at=utc(truth.created), created_at=utc(truth.created))
    now = truth.created + rng.random()
    out: list[tuple[float, Task]] = []
    while True:
        done = now >= truth.finished
        state = (State.FAILED if truth.failed else State.SUCCEEDED) if done else State.RUNNING
        task = task.evolve(
            state=state,
            polls=task.polls + 1,
            last_polled_at=utc(now),
            first_seen_live_at=task.first_seen_live_at or (None if done else utc(now)),
            first_seen_terminal_at=utc(now) if done else None,
            finished_at=utc(truth.finished) if done else None,
        )
        if done:
            out.append((now, task.evolve(next_poll_at=None)))
            return out
        delay = next_poll_delay(
            task, utc(now), min_interval=MIN_INTERVAL, max_interval=MAX_INTERVAL, rng=rng
        )
        task = task.evolve(next_poll_at=utc(now + delay))
        out.append((now, task))
        now += delay


@dataclass
class Reading:
    at: float
    done: int
    eta: Eta | None
    today: float | None


def run(truths: list[Truth], seed: int, health: dict[str, str] | None = None) -> tuple:
    """Feed the dashboard once a second; returns (readings, moment the last finish was seen,
    count of tasks that can finish)."""
    health = health or {}
    rng = random.Random(seed)
    events: list[tuple[float, int, Task]] = []
    blocked = {p for p, word in health.items() if word == "auth failed"}
    for index, truth in enumerate(truths):
        if truth.provider in blocked:  # refused: one answer (401) when added, then nothing
            task = Task(truth.provider, f"refused-{index}", model=truth.model)
            task = task.evolve(created_at=utc(truth.created), added_at=utc(truth.created))
            events.append((truth.created, index, task))
            continue
        events.extend((at, index, task) for at, task in poll_times(truth, rng))
    heapq.heapify(events)
    finishing = [t for t in truths if t.provider not in blocked]
    last_seen = max(at for at, _, task in events if task.state.terminal)
    tracker, stats = EtaTracker(), ThroughputEta()
    live: dict[tuple[str, str], bool] = {}
    readings: list[Reading] = []
    second = 0.0
    while events or second <= last_seen:
        second += 1.0
        changed = []
        while events and events[0][0] <= second:
            _, _, task = heapq.heappop(events)
            changed.append(task)
            live[task.key] = task.state.live
        tracker.update(changed)
        done = sum(1 for alive in live.values() if not alive)
        stats.sample(second, done)
        still = sum(1 for alive in live.values() if alive)
        eta = tracker.estimate(EPOCH + second, health)
        readings.append(Reading(second, done, eta, stats.eta(still)))
        if second > last_seen + 5:
            break
    return readings, last_seen, len(finishing)


def errors(readings: list[Reading], last_seen: float, total: int) -> list[tuple]:
    """(fraction, real remaining, ours midpoint, ours low, ours high, today) at each checkpoint."""
    rows = []
    for fraction in CHECKPOINTS:
        reading = next((r for r in readings if r.done >= fraction * total), None)
        if reading is None:
            continue
        real = last_seen - reading.at
        eta = reading.eta
        mid, low, high = (
            (eta.midpoint, eta.low, eta.high) if eta and not eta.measuring else (None,) * 3
        )
        rows.append((fraction, real, mid, low, high, reading.today))
    return rows


def print_errors(title: str, rows: list[tuple]) -> None:
    print(f"\n{title}")
    print(
        f"{'done':>5}{'real s':>8}{'ours mid':>10}{'error':>8}{'range':>13}{'today':>9}{'error':>8}"
    )
    for fraction, real, mid, low, high, today in rows:
        ours = f"{mid:>10.0f}{(mid - real) / real:>+8.0%}" if mid is not None else f"{'-':>18}"
        span = f"{low:>6.0f}-{high:<6.0f}" if mid is not None else f"{'-':>13}"
        old = f"{today:>9.0f}{today / real:>7.1f}x" if today else f"{'-':>9}{'-':>8}"
        print(f"{fraction:>5.0%}{real:>8.0f}{ours}{span:>13}{old}")


def slow_last(n: int, seed: int) -> tuple[list[Reading], float]:
    """The batch plus one task that takes 3x its model's documented upper end, or longer: it
    finishes 2x that upper end after every other task."""
    truths = batch(n, seed)
    slow = truths[0]
    hi = profile_for(slow.model, slow.resolution).generation[1]
    end = max(slow.created + 3 * hi, max(t.finished for t in truths[1:]) + 2 * hi)
    truths[0] = Truth(slow.provider, slow.model, slow.resolution, slow.created, end, False)
    readings, last_seen, _ = run(truths, seed)
    return readings, last_seen


def tail_report(readings: list[Reading], total: int) -> dict:
    """After all but one task are seen finished: does the upper bound ever grow between two
    seconds with nothing new? When does it say overdue?"""
    tail = [r for r in readings if r.done == total - 1 and r.eta is not None]
    grew = max(
        (
            b.eta.high - a.eta.high
            for a, b in itertools.pairwise(tail)
            if not a.eta.overdue and not b.eta.overdue
        ),
        default=0.0,
    )
    overdue_at = next((r.at for r in tail if r.eta.overdue), None)
    return {
        "tail_seconds": len(tail),
        "max_growth": grew,
        "overdue_after": overdue_at,
        "first": tail[0].eta.text() if tail else "-",
        "last": tail[-1].eta.text() if tail else "-",
        "today_first": _seconds(tail[0].today if tail else None),
        "today_last": _seconds(tail[-1].today if tail else None),
    }


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}s"


def cost(n: int) -> tuple[float, float, float]:
    """(seconds to feed n live tasks, ms per estimate after 1 % of them changed, ms when the
    latest-due task moved so a group's maximum is recomputed)."""
    rng = random.Random(1)
    models = [m for kind in KINDS for m, _ in MODELS[kind]]
    tasks = [
        Task(
            "p",
            f"t{i}",
            state=State.RUNNING,
            model=rng.choice(models),
            created_at=utc(rng.uniform(0, 60)),
            next_poll_at=utc(rng.uniform(60, 200)),
        )
        for i in range(n)
    ]
    tracker = EtaTracker()
    began = time.perf_counter()
    tracker.update(tasks)
    fed = time.perf_counter() - began
    for i in range(3):  # three finishes so the estimate is not `measuring`
        tracker.observe(("p", tasks[i].model or "", "generic"), 100.0, EPOCH + 100)
    tracker.observe(("p", "x", "generic"), 100.0, EPOCH)
    tracker.estimate(EPOCH + 100, {})
    changed = [t.evolve(next_poll_at=utc(150.0)) for t in tasks[: max(1, n // 100)]]
    began = time.perf_counter()
    rounds = 20
    for _ in range(rounds):
        tracker.update(changed)
        tracker.estimate(EPOCH + 100, {})
    steady = (time.perf_counter() - began) / rounds * 1000
    latest = max(tasks, key=lambda t: t.next_poll_at)
    began = time.perf_counter()
    for step in range(rounds):
        tracker.update([latest.evolve(next_poll_at=utc(100.0 + step))])
        tracker.estimate(EPOCH + 100, {})
    rescan = (time.perf_counter() - began) / rounds * 1000
    return fed, steady, rescan


def grouping_cost(n: int) -> tuple[float, float, int]:
    """(seconds to read n failed tasks into a FailureIndex, seconds to group them, groups):
    60 % of the messages carry a request id, so almost every message text is unique."""
    rng = random.Random(2)
    tasks = []
    for i in range(n):
        roll = rng.random()
        if roll < 0.3:
            failure = Failure(None, f"internal error. Request id: {rng.getrandbits(128):032x}")
        elif roll < 0.6:
            code, message = rng.choice(ARK_FAILURES)
            failure = Failure(code, f"{message} Request id: {rng.getrandbits(96):024x}")
        else:
            failure = Failure(*rng.choice(KYY_FAILURES))
        tasks.append(Task(rng.choice("abc"), f"t{i}", state=State.FAILED, failure=failure))
    began = time.perf_counter()
    index = FailureIndex(tasks)
    fed = time.perf_counter() - began
    began = time.perf_counter()
    groups = index.groups()
    return fed, time.perf_counter() - began, len(groups)


def main(n: int, cost_n: int, seed: int = 11) -> dict:
    began = time.perf_counter()
    truths = batch(n, seed)
    readings, last_seen, total = run(truths, seed)
    rows = errors(readings, last_seen, total)
    print_errors(
        f"1. {n:,} tasks ({' + '.join(KINDS)} mix), seen finished after {last_seen:.0f} s", rows
    )

    refused = batch(n, seed + 1, providers=(*KINDS, "c"))
    r_readings, r_last, r_total = run(refused, seed + 1, {"c": "auth failed"})
    r_rows = errors(r_readings, r_last, r_total)
    blocked = len(refused) - r_total
    print_errors(
        f"2. same with provider c refusing its key ({blocked:,} tasks never finish)", r_rows
    )
    after = [r for r in r_readings if r.at > r_last]
    if after:
        ours = "no ETA" if after[0].eta is None else after[0].eta.text()
        print(f"   once the others are done: ours {ours}; today's {_seconds(after[0].today)}")

    no_flex = batch(n, seed, flex=False)
    f_readings, f_last, f_total = run(no_flex, seed)
    print_errors(
        "1b. the batch of 1 without the flex tier (no flex task finishes before 50 %, so"
        " until then the flex share is estimated from schedule.FLEX alone)",
        errors(f_readings, f_last, f_total),
    )

    s_readings, _ = slow_last(n, seed + 2)
    tail = tail_report(s_readings, n)
    print(
        f"\n3. one slow task at the end (3x its model's range): {tail['tail_seconds']} s alone;"
        f" ours: {tail['first']} -> {tail['last']}, largest rise of the upper bound between"
        f" two seconds {tail['max_growth']:.2f} s, overdue from t={tail['overdue_after']} s;"
        f" today's: {tail['today_first']} -> {tail['today_last']}"
    )
    fed, steady, rescan = cost(cost_n)
    print(
        f"\n4. cost at {cost_n:,} live tasks: feeding all {fed * 1000:.0f} ms; one second's"
        f" update (1 % changed) + estimate {steady:.2f} ms; estimate after the latest-due task"
        f" moved {rescan:.2f} ms"
    )
    fed, grouped, count = grouping_cost(cost_n)
    print(
        f"\n5. failure groups at {cost_n:,} failed tasks: reading (normalising) them"
        f" {fed * 1000:.0f} ms, once; grouping {grouped * 1000:.0f} ms -> {count} groups"
    )
    print(f"\n(simulated in {time.perf_counter() - began:.1f} s of wall time)")
    return {"plain": rows, "refused": r_rows, "refused_after": after, "tail": tail}


@pytest.mark.bench
def test_bench_eta() -> None:
    figures = main(n=600, cost_n=10_000)
    assert figures["tail"]["max_growth"] <= 0.0
    assert figures["tail"]["overdue_after"] is not None
    # the refused provider's tasks are out of the ETA: once the others are done, nothing to show
    assert all(r.eta is None for r in figures["refused_after"])


if __name__ == "__main__":
    full = "--full" in sys.argv
    main(n=3_000 if full else 600, cost_n=100_000 if full else 10_000)
