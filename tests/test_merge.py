"""merge: folding one snapshot into a task, the only place a task's state moves."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tui.core.dialects import get_dialect
from tui.core.merge import merge
from tui.core.model import TERMINAL_STATES, Event, Failure, Snapshot, State, Task, Tokens

SEEDS = Path(__file__).parent / "fixtures" / "seeds"
T0 = datetime(2026, 4, 27, 11, 15, tzinfo=UTC)
MIN = 10.0
URL = "https://cdn.example.com/v.mp4"
SIGNED = "https://v.example/a.mp4?X-Tos-Date=20260427T111500Z&X-Tos-Expires=3600"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def new_task(**changes: Any) -> Task:
    return Task(provider="p", id="video_1", added_at=T0).evolve(**changes)


def snap(state: State = State.RUNNING, **given: Any) -> Snapshot:
    given.setdefault("upstream_status", str(state))
    given.setdefault("raw", {"status": given["upstream_status"]})
    return Snapshot(state=state, **given)


NOT_FOUND = Snapshot(state=State.UNKNOWN, not_found=True, raw={"error": "not found"})


def run(task: Task, *steps: tuple[float, Snapshot]) -> tuple[Task, list[Event]]:
    events: list[Event] = []
    for seconds, one in steps:
        task, new = merge(task, one, at(seconds), min_interval=MIN)
        events += new
    return task, events


def kinds(events: list[Event]) -> list[str]:
    return [e.kind for e in events]


def test_bookkeeping_on_every_poll() -> None:
    task, _ = run(new_task(polls=3), (5, snap(raw={"a": 1})))
    assert (task.polls, task.last_polled_at, task.raw) == (4, at(5), {"a": 1})


def test_copies_known_fields_and_keeps_old_ones_where_the_snapshot_says_nothing() -> None:
    old = new_task(
        model="m1", created_at=T0, duration=5, ratio="16:9", seed=1,
        tokens=Tokens(total=10, completion=10),
    )  # fmt: skip
    task, _ = run(old, (1, snap(model="m2", progress=40, tokens=Tokens(super_resolution=7))))
    assert (task.model, task.progress, task.created_at, task.duration) == ("m2", 40, T0, 5)
    assert (task.ratio, task.seed) == ("16:9", 1)
    assert task.tokens == Tokens(total=10, completion=10, super_resolution=7)


def test_a_state_change_emits_one_state_event() -> None:
    task, events = run(new_task(), (1, snap(State.RUNNING, upstream_status="processing")))
    assert task.state is State.RUNNING
    assert [e.to_json() for e in events] == [
        {
            "ts": "2026-04-27T11:15:01Z",
            "event": "state",
            "provider": "p",
            "id": "video_1",
            "from": "queued",
            "to": "running",
            "upstream_status": "processing",
            "failure": None,
        }
    ]


def test_no_event_when_the_state_stays() -> None:
    _, events = run(new_task(state=State.RUNNING), (1, snap(progress=10)), (20, snap(progress=60)))
    assert events == []


def test_a_failure_travels_in_the_state_event() -> None:
    failure = Failure("InvalidParameter", "img_url must be set")
    task, events = run(new_task(state=State.RUNNING), (1, snap(State.FAILED, failure=failure)))
    assert task.failure == failure
    assert events[0].data["failure"] == {
        "code": "InvalidParameter",
        "message": "img_url must be set",
    }


def test_first_seen_times() -> None:
    task, _ = run(new_task(), (1, snap(State.QUEUED)), (20, snap(State.RUNNING)))
    assert (task.first_seen_live_at, task.first_seen_terminal_at) == (at(1), None)
    task, _ = run(task, (40, snap(State.SUCCEEDED, video_url=URL)))
    assert (task.first_seen_live_at, task.first_seen_terminal_at) == (at(1), at(40))


def test_straight_to_terminal_is_never_seen_live() -> None:
    task, _ = run(new_task(), (1, snap(State.FAILED)))
    assert (task.first_seen_live_at, task.first_seen_terminal_at) == (None, at(1))


@pytest.mark.parametrize("terminal", sorted(TERMINAL_STATES))
@pytest.mark.parametrize("later", [State.RUNNING, State.QUEUED, State.UNKNOWN, State.FAILED])
def test_a_terminal_state_never_changes(terminal: State, later: State) -> None:
    if later is terminal:
        later = State.SUCCEEDED
    old = new_task(state=terminal, progress=100, model="m", first_seen_terminal_at=T0)
    later_snap = snap(
        later, upstream_status="WEIRD", progress=50, model="other", failure=Failure("X")
    )
    task, events = run(old, (30, later_snap))
    assert events == []
    assert (task.state, task.progress, task.model, task.failure) == (terminal, 100, "m", None)
    assert (task.upstream_status, task.polls, task.raw) == (None, 1, later_snap.raw)


def test_a_terminal_task_takes_a_fresh_url_with_its_own_deadline() -> None:
    old = new_task(
        state=State.SUCCEEDED, video_url=URL, url_expires_at=at(10), first_seen_terminal_at=T0
    )
    task, _ = run(old, (7200, snap(State.SUCCEEDED, video_url=SIGNED, url_expires_at=at(9000))))
    assert (task.video_url, task.url_expires_at) == (SIGNED, at(9000))


def test_a_fresh_url_without_a_deadline_lives_24h_from_now() -> None:
    old = new_task(
        state=State.SUCCEEDED, video_url=URL, url_expires_at=at(10), first_seen_terminal_at=T0
    )
    task, _ = run(old, (7200, snap(State.SUCCEEDED, video_url=URL + "?fresh=1")))
    assert task.url_expires_at == at(7200) + timedelta(hours=24)


def test_the_same_url_keeps_its_deadline() -> None:
    old = new_task(
        state=State.SUCCEEDED, video_url=URL, url_expires_at=at(10), first_seen_terminal_at=T0
    )
    task, _ = run(old, (60, snap(State.SUCCEEDED, video_url=URL)), (90, snap(State.SUCCEEDED)))
    assert (task.video_url, task.url_expires_at) == (URL, at(10))


def test_url_expiry_from_the_snapshot_wins() -> None:
    task, _ = run(
        new_task(), (60, snap(State.SUCCEEDED, video_url=SIGNED, url_expires_at=at(3600)))
    )
    assert task.url_expires_at == at(3600)


def test_url_expiry_falls_back_to_24h_after_first_seen_finished() -> None:
    task, _ = run(new_task(state=State.RUNNING), (60, snap(State.SUCCEEDED, video_url=URL)))
    assert task.url_expires_at == task.first_seen_terminal_at + timedelta(hours=24) == at(86460)


@pytest.mark.parametrize(
    "one",
    [snap(State.RUNNING, video_url=URL), snap(State.SUCCEEDED), snap(State.FAILED, video_url=URL)],
    ids=["live-with-url", "succeeded-without-url", "failed-with-url"],
)
def test_no_url_fallback_unless_succeeded_with_a_url(one: Snapshot) -> None:
    task, _ = run(new_task(), (60, one))
    assert task.url_expires_at is None


def test_first_not_found_is_only_a_strike() -> None:
    old = new_task(state=State.RUNNING, upstream_status="processing")
    task, events = run(old, (0, NOT_FOUND))
    assert (task.state, task.not_found_strikes, task.last_not_found_at) == (State.RUNNING, 1, at(0))
    assert (task.polls, task.raw, task.upstream_status, events) == (
        1,
        NOT_FOUND.raw,
        "processing",
        [],
    )


def test_second_not_found_too_soon_is_not_missing() -> None:
    task, events = run(new_task(state=State.RUNNING), (0, NOT_FOUND), (MIN - 1, NOT_FOUND))
    assert (task.state, task.not_found_strikes, task.last_not_found_at) == (State.RUNNING, 2, at(0))
    assert events == []


@pytest.mark.parametrize("gap", [MIN, MIN + 50])
def test_second_not_found_min_interval_later_is_missing(gap: float) -> None:
    task, events = run(new_task(state=State.RUNNING), (0, NOT_FOUND), (gap, NOT_FOUND))
    assert (task.state, task.first_seen_terminal_at) == (State.MISSING, at(gap))
    assert [e.data for e in events] == [
        {"from": "running", "to": "missing", "upstream_status": None, "failure": None}
    ]


def test_an_early_extra_poll_neither_resets_nor_counts() -> None:
    task, _ = run(new_task(state=State.RUNNING), (0, NOT_FOUND), (3, NOT_FOUND), (MIN, NOT_FOUND))
    assert task.state is State.MISSING


def test_a_found_answer_resets_the_strikes() -> None:
    task, _ = run(new_task(state=State.RUNNING), (0, NOT_FOUND), (10, snap()), (20, NOT_FOUND))
    assert (task.state, task.not_found_strikes, task.last_not_found_at) == (
        State.RUNNING,
        1,
        at(20),
    )
    task, _ = run(task, (25, NOT_FOUND))
    assert task.state is State.RUNNING
    task, _ = run(task, (30, NOT_FOUND))
    assert task.state is State.MISSING


def test_not_found_never_moves_a_terminal_task() -> None:
    old = new_task(state=State.SUCCEEDED, video_url=URL, first_seen_terminal_at=T0)
    task, events = run(old, (0, NOT_FOUND), (60, NOT_FOUND))
    assert (task.state, task.video_url, events) == (State.SUCCEEDED, URL, [])


def test_an_unknown_status_word_is_noticed_once() -> None:
    odd = snap(State.UNKNOWN, upstream_status="PAUSED")
    task, events = run(new_task(state=State.RUNNING), (0, odd), (20, odd), (40, odd))
    assert kinds(events) == ["state", "notice"]
    assert events[1].data == {
        "message": "unknown upstream status 'PAUSED': polling at max_interval"
    }
    assert (events[1].provider, events[1].id, events[1].ts) == ("p", "video_1", at(0))
    assert (task.state, task.upstream_status) == (State.UNKNOWN, "PAUSED")


def test_a_new_unknown_word_is_noticed_too() -> None:
    first, second = (
        snap(State.UNKNOWN, upstream_status="A"),
        snap(State.UNKNOWN, upstream_status="B"),
    )
    _, events = run(new_task(), (0, first), (20, second))
    assert kinds(events) == ["state", "notice", "notice"]
    assert "'B'" in events[2].data["message"]


def test_events_carry_the_merge_time_not_the_wall_clock() -> None:
    _, events = run(new_task(), (3600, snap(State.RUNNING)))
    assert events[0].ts == at(3600)


def test_merge_does_not_touch_its_input() -> None:
    old = new_task()
    run(old, (1, snap(State.SUCCEEDED, video_url=URL)))
    assert old == new_task()


def test_seed_ultra_becomes_the_contract_task_object() -> None:
    """Dialect + merge end to end: the contract's example task object from the ultra seed."""
    body = (SEEDS / "newapi_success_ultra.json").read_bytes()
    one = get_dialect("newapi").parse(200, body)
    seen = datetime(2026, 4, 27, 11, 20, 40, tzinfo=UTC)
    old = new_task(provider="anyfast", id="asyntask_2cEAvaCpERzvSo7wfCCPZmNlGx8cjnu4",
                   batch="spring-ads", state=State.RUNNING, polls=6)  # fmt: skip
    task, events = merge(old, one, seen, min_interval=MIN)
    out = task.to_json()
    assert out == {
        **out,
        "provider": "anyfast",
        "batch": "spring-ads",
        "state": "succeeded",
        "upstream_status": "SUCCESS",
        "progress": 100,
        "created_at": "2026-04-27T11:15:07Z",
        "started_at": "2026-04-27T11:15:09Z",
        "finished_at": "2026-04-27T11:20:34Z",
        "video_url": "https://...vod.cn-north-1.volcvideo.com/...?preview=1&auth_key=...",
        "url_expires_at": "2026-04-28T11:20:40Z",
        "duration": 5,
        "resolution": "480p",
        "super_resolution": "720p",
        "ratio": "16:9",
        "tokens": {"total": 50638, "completion": 50638, "super_resolution": 114441},
        "failure": None,
        "polls": 7,
        "last_polled_at": "2026-04-27T11:20:40Z",
        "raw": json.loads(body),
    }
    assert [e.to_json()["to"] for e in events] == ["succeeded"]
