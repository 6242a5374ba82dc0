"""The scheduler: sparse before a task can be done, dense when it likely is, never out of bounds."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, datetime, timedelta

import pytest

from tui.core import schedule as s
from tui.core.model import State, Task
from tui.core.schedule import (
    anchor,
    finish_probability,
    next_poll_delay,
    planned_delay,
    priority,
    profile_for,
)

T0 = datetime(2026, 4, 27, 11, 15, 6, tzinfo=UTC)
MIN, MAX = 10.0, 120.0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def task(
    model: str | None = "seedance_2_0",
    *,
    state: State = State.RUNNING,
    polled: float | None = 0.0,
    polls: int = 3,
    **fields,
) -> Task:
    """A task created at T0, last polled `polled` seconds after that."""
    return Task(
        "kyy",
        "video_1",
        model=model,
        state=state,
        created_at=fields.pop("created_at", T0),
        last_polled_at=None if polled is None else at(polled),
        polls=polls if polled is not None else 0,
        **fields,
    )


def plan(t: Task, now: float, lo: float = MIN, hi: float = MAX) -> float:
    return planned_delay(t, at(now), min_interval=lo, max_interval=hi)


# ----------------------------------------------------------------------------- profiles


@pytest.mark.parametrize(
    ("model", "resolution", "generation", "poll"),
    [
        ("seedance_2_0", None, (120, 300), (20, 40)),
        ("seedance_2_0_fast", None, (60, 180), (10, 20)),
        ("seedance_2_0_pro", None, (180, 360), (20, 40)),
        ("seedance_2_0_fast_pro", None, (120, 240), (10, 20)),
        ("seedance_1_5_pro", "720p", (120, 300), (30, 60)),
        ("seedance_1_5_pro", "1080p", (180, 480), (30, 60)),
        ("Seedance-1.5-pro", None, (120, 300), (30, 60)),
        ("doubao-seedance-1-5-pro-251215", "1080p", (180, 480), (30, 60)),
        ("seedance_1_5_pro_flex", None, s.FLEX.generation, (60, 120)),
        ("videos", None, (60, 300), (30, 60)),
        ("videos_fast", None, (60, 300), (30, 60)),
        ("doubao-seedance-2-0-260128", "720p", (60, 300), (15, 15)),
        ("seedance-turbo", None, (60, 300), (15, 15)),
        ("some-new-model", None, (60, 300), (20, 40)),
        (None, None, (60, 300), (20, 40)),
        ("", None, (60, 300), (20, 40)),
    ],
)
def test_profiles_follow_the_seed_tables(model, resolution, generation, poll):
    profile = profile_for(model, resolution)
    assert profile.generation == generation
    assert profile.poll == poll


def test_a_date_stamp_is_not_mistaken_for_version_1_5():
    assert profile_for("doubao-seedance-2-0-211505") is s.NEWAPI_SEEDANCE_2_0


def test_the_finish_model_rises_from_0_to_1_through_the_documented_window():
    profile = s.SEEDANCE_2_0
    values = [finish_probability(profile, t) for t in range(0, 2000, 5)]
    assert values == sorted(values)
    assert values[0] == 0.0
    assert finish_probability(profile, 120) == pytest.approx(s.P_EARLY)
    assert finish_probability(profile, 300) == pytest.approx(1 - s.P_LATE)
    assert 0.999 < finish_probability(profile, 5000) < 1.0


# ----------------------------------------------------------------------------- the anchor


def test_the_anchor_prefers_the_start_then_creation_then_first_sight():
    seen, added = at(5), at(7)
    started = at(3)
    full = task(started_at=started, first_seen_live_at=seen, added_at=added)
    assert anchor(full) == started
    assert anchor(task(first_seen_live_at=seen, added_at=added)) == T0
    assert anchor(task(created_at=None, first_seen_live_at=seen, added_at=added)) == seen
    assert anchor(task(created_at=None, added_at=added)) == added
    assert anchor(task(created_at=None)) is None


def test_a_task_still_queued_at_its_last_poll_had_not_started_then():
    queued = task(state=State.QUEUED, polled=90.0)
    assert anchor(queued) == at(90)
    # 10 s after that poll it is 10 s into its generation, not 100: still sparse
    assert plan(queued, 100.0) == pytest.approx(s.LEAD * 120 - 10)


# ----------------------------------------------------------------------------- delays


def test_right_after_creation_one_early_look_for_immediate_failures():
    fresh = task("seedance_2_0_fast", polls=1, polled=1.0)
    assert plan(fresh, 1.0) == pytest.approx(s.EARLY_CHECK - 1.0)


def test_before_the_window_polls_are_sparse_and_aim_just_before_it_opens():
    fast = task("seedance_2_0_fast", polled=20.0)
    assert plan(fast, 20.0) == pytest.approx(s.LEAD * 60 - 20)  # 31 s: next look at 51 s
    pro = task("seedance_2_0_pro", polled=20.0)
    assert plan(pro, 20.0) == MAX  # 133 s away: max_interval caps it


def test_inside_the_window_polls_get_denser_as_it_runs_out():
    standard = task("seedance_2_0")
    delays = [plan(standard, t) for t in (120, 180, 240, 280)]
    assert delays[0] == pytest.approx(20.0)  # the documented interval as the window opens
    assert delays == sorted(delays, reverse=True)
    assert delays[-1] == MIN  # near its end: as dense as min_interval allows


def test_a_task_longer_than_documented_is_polled_less_and_less_often():
    standard = task("seedance_2_0")
    delays = [plan(standard, t) for t in (300, 400, 500, 700, 2000)]
    assert delays == sorted(delays)
    assert delays[1] > delays[0]
    assert delays[-1] == MAX


def test_reported_progress_near_the_end_means_poll_densely():
    early = task("doubao-seedance-2-0-260128", progress=60)
    nearly = task("doubao-seedance-2-0-260128", progress=95)
    assert plan(nearly, 30.0) == MIN
    assert plan(early, 30.0) > MIN


def test_unknown_state_is_polled_at_exactly_max_interval():
    weird = task(state=State.UNKNOWN)
    for now in (0.0, 150.0, 10_000.0):
        assert (
            next_poll_delay(
                weird, at(now), min_interval=MIN, max_interval=MAX, rng=random.Random(now)
            )
            == MAX
        )


def test_delays_always_stay_inside_the_providers_bounds():
    rng = random.Random(3)
    models = [p.name for p in s.PROFILES] + ["seedance_1_5_pro", "mystery", None]
    for _ in range(3000):
        lo = rng.choice([0.5, 5.0, 10.0, 30.0])
        hi = lo * rng.choice([1.0, 1.5, 4.0, 12.0])
        t = task(
            rng.choice(models),
            state=rng.choice(list(State)),
            polled=rng.uniform(0, 900),
            polls=rng.randint(1, 30),
            progress=rng.choice([None, 0, 50, 90, 100]),
        )
        now = (t.last_polled_at - T0).total_seconds() + rng.uniform(0, 200)
        delay = next_poll_delay(t, at(now), min_interval=lo, max_interval=hi, rng=rng)
        assert lo <= delay <= hi


def test_jitter_spreads_tasks_added_together_within_ten_percent():
    t = task("seedance_2_0", polled=200.0)
    base = plan(t, 200.0)
    rng = random.Random(11)
    delays = [
        next_poll_delay(t, at(200.0), min_interval=MIN, max_interval=MAX, rng=rng)
        for _ in range(1000)
    ]
    assert all(base * (1 - s.JITTER) <= d <= base * (1 + s.JITTER) for d in delays)
    assert len(set(delays)) > 990  # no lockstep
    assert statistics.pstdev(delays) > base * s.JITTER / 3


def test_jitter_on_a_bound_is_folded_inward():
    rng = random.Random(5)
    dense = task("seedance_2_0", polled=290.0)  # planned exactly min_interval
    sparse = task("seedance_2_0_pro", polled=5.0)  # planned exactly max_interval
    at_min = [
        next_poll_delay(dense, at(290.0), min_interval=MIN, max_interval=MAX, rng=rng)
        for _ in range(500)
    ]
    at_max = [
        next_poll_delay(sparse, at(5.0), min_interval=MIN, max_interval=MAX, rng=rng)
        for _ in range(500)
    ]
    assert min(at_min) >= MIN and max(at_min) <= MIN * (1 + 2 * s.JITTER)
    assert max(at_min) > MIN * 1.1
    assert min(at_max) >= MAX * (1 - 2 * s.JITTER) and max(at_max) <= MAX
    assert min(at_max) < MAX * 0.9


def test_a_typical_task_needs_far_fewer_polls_than_every_ten_seconds():
    """One seedance_2_0 task finishing at 210 s, polled by the real policy."""
    rng = random.Random(1)
    finish, now, polls = 210.0, 0.5, 0
    t = Task("kyy", "video_1", model="seedance_2_0", created_at=T0, added_at=T0)
    while True:
        polls += 1
        done = now >= finish
        t = t.evolve(
            state=State.SUCCEEDED if done else State.RUNNING,
            polls=t.polls + 1,
            last_polled_at=at(now),
        )
        if done:
            break
        now += next_poll_delay(t, at(now), min_interval=MIN, max_interval=MAX, rng=rng)
    fixed_ten = int(finish // 10) + 1
    assert polls <= fixed_ten * 0.6
    assert now - finish <= 20.0  # seen within one in-window interval


# ----------------------------------------------------------------------------- priority


def test_terminal_tasks_have_no_claim():
    assert priority(task(state=State.SUCCEEDED), at(500)) == 0.0


def test_a_task_never_polled_may_already_be_done():
    new = task(None, state=State.QUEUED, polled=None, created_at=None, added_at=T0)
    assert priority(new, T0) == pytest.approx(s.P_DONE_BEFORE_ADDED)
    assert priority(new, at(200)) > priority(new, T0)


def test_likely_done_tasks_come_first():
    now = 250.0
    just_polled = task("seedance_2_0", polled=now)
    before_window = task("seedance_2_0", polled=now - 20, created_at=at(now - 60))
    in_window_waiting = task("seedance_2_0", polled=200.0)
    overdue_long_unpolled = task("seedance_2_0_fast", polled=100.0, created_at=at(-200))
    order = sorted(
        [just_polled, before_window, in_window_waiting, overdue_long_unpolled],
        key=lambda t: priority(t, at(now)),
        reverse=True,
    )
    assert order == [overdue_long_unpolled, in_window_waiting, before_window, just_polled]
    assert priority(just_polled, at(now)) == 0.0


def test_a_waiting_tasks_claim_only_grows():
    t = task("seedance_2_0", polled=150.0)
    claims = [priority(t, at(now)) for now in range(150, 1000, 10)]
    assert claims == sorted(claims)
    assert all(0.0 <= c <= 1.0 for c in claims)


def test_progress_near_the_end_is_at_least_an_even_chance():
    t = task("doubao-seedance-2-0-260128", polled=30.0, progress=95)
    assert priority(t, at(31.0)) >= 0.5
