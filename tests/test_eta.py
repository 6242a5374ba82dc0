"""The honest "what's left": blocked counts, the ETA range, its states and its guard."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from tui.core.eta import (
    KEY_REFUSED,
    MIN_FINISHED,
    PAUSED,
    PROVIDER_DOWN,
    STATUS_UNKNOWN,
    Eta,
    EtaTracker,
    count_remaining,
    percent_done,
)
from tui.core.model import State, Task

T0 = 1_777_000_000.0
FAST = "seedance_2_0_fast"  # documented 60-180 s, polled every 10-20 s


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, UTC)


def live(provider: str, task_id: str, *, created: float = 0.0, state=State.RUNNING, due=None):
    return Task(
        provider,
        task_id,
        state=state,
        model=FAST,
        created_at=at(created),
        first_seen_live_at=at(created + 1),
        next_poll_at=None if due is None else at(due),
    )


def finished(task: Task, after: float) -> Task:
    """`task` seen succeeded `after` seconds after its creation."""
    created = task.created_at.timestamp() - T0 if task.created_at else 0.0
    return task.evolve(
        state=State.SUCCEEDED,
        finished_at=at(created + after - 5),
        first_seen_terminal_at=at(created + after),
        next_poll_at=None,
    )


# -- percent --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("done", "total", "shown"),
    [(299, 300, 99), (9_999, 10_000, 99), (300, 300, 100), (0, 300, 0), (1, 3, 33), (0, 0, 0)],
)
def test_percent_never_rounds_an_unfinished_batch_up_to_100(done, total, shown) -> None:
    assert percent_done(done, total) == shown


# -- blocked --------------------------------------------------------------------------------


def test_blocked_counts_by_provider_and_reason() -> None:
    tasks = [live("a", f"a{i}") for i in range(3)]
    tasks += [live("b", "b1"), live("b", "b2", state=State.QUEUED)]
    tasks += [live("c", "c1"), live("c", "c2", state=State.UNKNOWN)]
    tasks.append(finished(live("c", "c3"), 100))
    health = {"a": "auth failed", "b": "down", "c": "ok"}

    tracker = EtaTracker()
    tracker.update(tasks)
    for left in (count_remaining(tasks, health), tracker.remaining(health)):
        assert (left.live, left.can_finish, left.blocked_count) == (7, 1, 6)
        reasons = {(b.provider, b.reason): b.count for b in left.blocked}
        assert reasons == {("a", KEY_REFUSED): 3, ("b", PROVIDER_DOWN): 2, ("c", STATUS_UNKNOWN): 1}
        assert left.text() == (
            "blocked 6 (a: key refused 3, b: provider down 2, c: status unknown 1)"
        )


def test_one_reason_reads_short_and_nothing_blocked_reads_empty() -> None:
    tasks = [live("a", f"a{i}") for i in range(3)] + [live("b", "b1")]
    assert count_remaining(tasks, {"a": "auth failed"}).text() == "blocked 3 (a: key refused)"
    assert count_remaining(tasks, {"a": "ok", "b": "backing off"}).text() == ""


def test_paused_blocks_every_live_task_but_a_refused_key_still_says_so() -> None:
    tasks = [live("a", "a1"), live("b", "b1"), live("b", "b2")]
    tracker = EtaTracker()
    tracker.update(tasks)
    left = tracker.remaining({"a": "auth failed"}, paused=True)
    assert left.can_finish == 0
    assert {(b.provider, b.reason): b.count for b in left.blocked} == {
        ("a", KEY_REFUSED): 1,
        ("b", PAUSED): 2,
    }
    assert count_remaining(tasks[1:], {}, paused=True).text() == "blocked 2 (paused)"


def test_a_finished_or_removed_task_leaves_the_counts() -> None:
    tasks = [live("a", f"a{i}") for i in range(4)]
    tracker = EtaTracker()
    tracker.update(tasks)
    tracker.update([finished(tasks[0], 90)])
    tracker.remove([tasks[1].key])
    assert tracker.remaining({}).live == 2
    tracker.load(tasks[3:])
    assert tracker.remaining({}).live == 1


# -- the ETA --------------------------------------------------------------------------------


def batch_with_finishes(n_live: int, durations: list[float], provider: str = "p") -> EtaTracker:
    tracker = EtaTracker()
    tasks = [live(provider, f"live{i}") for i in range(n_live)]
    done = [finished(live(provider, f"done{i}"), d) for i, d in enumerate(durations)]
    tracker.update(tasks + done)
    return tracker


def test_measuring_until_enough_finishes_were_seen() -> None:
    tracker = EtaTracker()
    first = live("p", "x")
    tracker.update([live("p", f"t{i}") for i in range(5)] + [first])
    eta = tracker.estimate(T0 + 30, {})
    assert eta is not None and eta.measuring and eta.text() == "measuring…"
    for _ in range(3):  # the same finish fed again is learned once
        tracker.update([finished(first, 70)])
    assert tracker.estimate(T0 + 75, {}).measuring
    tracker.update([finished(live("p", f"d{i}"), 80) for i in range(MIN_FINISHED - 1)])
    eta = tracker.estimate(T0 + 85, {})
    assert eta is not None and not eta.measuring and 0 < eta.low <= eta.high


def test_hidden_while_paused_and_when_nothing_can_finish() -> None:
    tracker = batch_with_finishes(5, [70, 80, 90])
    assert tracker.estimate(T0 + 100, {}) is not None
    assert tracker.estimate(T0 + 100, {}, paused=True) is None
    assert tracker.estimate(T0 + 100, {"p": "auth failed"}) is None
    assert tracker.estimate(T0 + 100, {"p": "down"}) is None


def test_tasks_behind_a_refused_key_are_left_out_of_the_eta() -> None:
    alone = batch_with_finishes(5, [70, 80, 90])
    mixed = batch_with_finishes(5, [70, 80, 90])
    # the refused provider's tasks are much younger: counted, they would push the end out
    mixed.update([live("r", f"r{i}", created=200.0) for i in range(50)])
    health = {"r": "auth failed"}
    assert mixed.estimate(T0 + 100, health) == alone.estimate(T0 + 100, health)
    assert mixed.estimate(T0 + 100, {}).high > alone.estimate(T0 + 100, {}).high


def test_the_range_follows_the_generation_times_seen_in_this_batch() -> None:
    """The documented range for FAST ends at 180 s; this provider takes 400."""
    slow = batch_with_finishes(0, [380, 390, 400, 395, 385, 398])
    slow.update([live("p", f"young{i}", created=200.0) for i in range(2)])
    eta = slow.estimate(T0 + 300, {})
    # documented, the young tasks would be done by 200 + 180 + a poll: 90 s from now
    assert eta is not None and eta.low > 200 and eta.high <= 200 + 400 - 300
    documented = batch_with_finishes(2, [10, 10, 10])  # instant failures say nothing of it
    assert documented.estimate(T0 + 100, {}).high <= 180 + 20 - 100


def test_an_earlier_batch_of_the_same_model_does_not_count() -> None:
    def current(tracker: EtaTracker) -> EtaTracker:
        tracker.update([live("p", f"now{i}", created=1000.0) for i in range(20)])
        tracker.update([finished(live("p", f"d{i}", created=1000.0), 70 + i) for i in range(3)])
        return tracker

    alone = current(EtaTracker())
    history = EtaTracker()
    yesterday = [live("p", f"old{i}", created=-86_400.0 + i) for i in range(200)]
    history.update([finished(task, 100 + i / 2) for i, task in enumerate(yesterday)])
    history.update([live("p", "first", created=1000.0)])
    assert history.estimate(T0 + 1010, {}).measuring  # this batch has no finish yet
    history.remove([("p", "first")])
    current(history)
    assert history.estimate(T0 + 1090, {}) == alone.estimate(T0 + 1090, {})


def test_never_before_the_latest_next_poll() -> None:
    """The last task cannot be seen finished before it is polled again."""
    tracker = batch_with_finishes(0, [70, 80, 90])
    tracker.update([live("p", "last", due=100 + 540)])
    eta = tracker.estimate(T0 + 100, {})
    assert eta is not None and eta.low >= 540
    assert "9m" in eta.text(lambda s: f"{s / 60:.0f}m")


def test_one_slow_task_left_never_counts_up_and_ends_overdue() -> None:
    tracker = batch_with_finishes(0, [70 + i for i in range(40)])
    last = live("p", "slow", due=120)
    tracker.update([last])
    shown: list[Eta] = []
    for second in range(90, 900):
        if second == 120 + 1:  # polled: still running, next look much later
            tracker.update([last.evolve(next_poll_at=at(400), polls=2)])
        eta = tracker.estimate(T0 + second, {})
        assert eta is not None
        shown.append(eta)
    ranges = [e for e in shown if not e.overdue]
    assert ranges, "a range first, while the task is inside its window"
    for before, after in itertools.pairwise(ranges):
        assert after.high <= before.high
    assert shown[-1].overdue and shown[-1].text() == "overdue"
    overdue = [e for e in shown if e.overdue]
    assert all(e.low <= 400 for e in overdue)  # a lower bound that only falls
    assert all(a.low >= b.low for a, b in itertools.pairwise(overdue))
    assert shown.index(overdue[0]) < len(shown) - 100  # said early, not at the very end


def test_nothing_new_means_no_counting_up_with_many_tasks_waiting() -> None:
    """Three early finishes and 100 tasks still running: as time passes with no new finish,
    the inference "slower than it looked" would raise the end; the figure shown only falls."""
    tracker = batch_with_finishes(100, [70, 71, 72])
    highs = [tracker.estimate(T0 + second, {}).high for second in range(80, 200)]
    assert all(after <= before for before, after in itertools.pairwise(highs))
    assert highs[-1] < highs[0]


def test_a_new_finish_may_move_the_estimate_and_the_guard_starts_again() -> None:
    tracker = batch_with_finishes(3, [70, 75, 80])
    first = tracker.estimate(T0 + 90, {})
    tracker.update([finished(live("p", "late"), 170)])  # slower than all before
    later = tracker.estimate(T0 + 91, {})
    assert first is not None and later is not None
    assert later.high > first.high - 1


def test_text() -> None:
    assert Eta(60, 60).text() == "60s"
    assert Eta(60, 120).text() == "60s-120s"
    assert Eta(30, 30, overdue=True).text() == "overdue (next look in 30s)"
    assert Eta(0, 0, measuring=True).text() == "measuring…"
    assert Eta(60, 180).midpoint == 120
