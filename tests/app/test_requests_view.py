"""The requests view (`v`) and `R` (retry a failed task's stored create request)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Dash, at, notifications, sample_tasks, screen_text, settle, wait_until

from tui.app.screens.confirm import ConfirmScreen
from tui.app.screens.requests import RequestsScreen
from tui.app.widgets.requests import RequestsView, read_page
from tui.core.lock import PollerLock
from tui.core.model import Failure, State, Task
from tui.core.request_lines import PlannedRequest
from tui.core.request_retry import plan_retries
from tui.core.request_store import (
    RequestFilter,
    insert_pending,
    mark_answered,
    mark_created,
    mark_sending,
    query_requests,
    record_requests,
)
from tui.core.requests import CreateRequest, RequestState, fingerprint
from tui.core.store import Store
from tui.core.store_rows import dt_out

SIZE = (140, 45)
TRANSIENT = Failure("InternalServiceError", "The service encountered an unexpected internal error.")
OVERLOADED = Failure("ServerOverloaded", "the service is busy, please retry later")


def planned(provider: str, name: str, prompt: str = "a cat") -> PlannedRequest:
    body = {"model": "doubao-seedance-2-0-260128", "content": [{"type": "text", "text": prompt}]}
    return PlannedRequest(0, provider, body, name, fingerprint(provider, body, name))


def send(store: Store, provider: str, name: str, *, attempt: int = 1) -> CreateRequest:
    """Record one request (at `attempt`) and mark it `sending`; returns it as sent."""
    item = planned(provider, name)
    body = json.dumps(item.body)
    row = (provider, item.fingerprint, name, None, attempt, None, dt_out(at(-900)), body)
    with store.transaction(durable=False) as conn:
        insert_pending(conn, [row])
    pending = frozenset({RequestState.PENDING})
    flt = RequestFilter(states=pending, fingerprints=frozenset({item.fingerprint}))
    [request] = query_requests(store, flt)
    assert mark_sending(store, request, at(-899)) is not None
    return request


def created(store: Store, task: Task, name: str, *, attempt: int = 1) -> None:
    """`task` (already tracked) came from a create request named `name`."""
    mark_created(store, send(store, task.provider, name, attempt=attempt), task.id, 200, at(-898))


def failed(provider: str, task_id: str, failure: Failure) -> Task:
    return Task(
        provider,
        task_id,
        state=State.FAILED,
        upstream_status="failed",
        created_at=at(-800),
        finished_at=at(-700),
        failure=failure,
    )


def requests_screen(app) -> RequestsScreen:
    screen = app.screen
    assert isinstance(screen, RequestsScreen)
    return screen


async def test_requests_view_lists_uncertain_and_rejected_requests_with_reasons(
    make_dash,
) -> None:
    dash: Dash = make_dash()
    store = dash.store
    record_requests(store, [planned("kyy", f"shot-{n:03}") for n in range(5)], batch="b", now=at(0))
    [first, second, *_] = query_requests(store)
    mark_sending(store, first, at(1))
    mark_answered(
        store,
        first,
        RequestState.UNCERTAIN,
        at(2),
        http_status=502,
        error=Failure(None, "Bad Gateway [bold]boom[/] \x1b[2J"),
    )
    mark_sending(store, second, at(1))
    mark_answered(
        store,
        second,
        RequestState.REJECTED,
        at(2),
        http_status=400,
        error=Failure("InvalidParameter", "duration must be 4 to 15 [@click=app.quit]x[/]"),
    )
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
        screen = requests_screen(app)
        lines = screen.view.lines()
        assert lines[0].startswith("uncertain") and "shot-000" in lines[0]
        assert "502" in lines[0] and "Bad Gateway [bold]boom[/]" in lines[0]
        assert "--resend-uncertain" in screen_text(app)  # what to do, said once above the list
        assert lines[1].startswith("rejected") and "shot-001" in lines[1] and "400" in lines[1]
        assert "InvalidParameter: duration must be 4 to 15 [@click=app.quit]x[/]" in lines[1]
        assert [line.split()[0] for line in lines[2:]] == ["pending"] * 3
        text = screen_text(app)
        assert "1 uncertain · 1 rejected · 0 sending · 3 pending · 0 created" in text
        assert "never sent again by themselves" in text  # the uncertain one is loud
        assert "\x1b" not in text and "Bad Gateway [bold]boom[/]" in text  # text, not markup

        # refreshed while shown: a request answered meanwhile moves up
        [third] = query_requests(
            store, RequestFilter(states=frozenset({RequestState.PENDING})), limit=1
        )
        mark_sending(store, third, at(3))
        mark_answered(store, third, RequestState.UNCERTAIN, at(4), error=Failure(None, "timeout"))
        assert await wait_until(pilot, lambda: "2 uncertain" in screen_text(app), timeout=5)
        assert [line.split()[0] for line in screen.view.lines()[:2]] == ["uncertain"] * 2

        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, RequestsScreen)


async def test_requests_view_reads_a_bounded_page_of_a_large_store(make_dash) -> None:
    dash: Dash = make_dash([])
    items = [planned("kyy", f"line-{n}") for n in range(2_000)]
    record_requests(dash.store, items, batch=None, now=at(0))
    page = read_page(dash.store, per_state=50)
    assert len(page.requests) == 50 and page.counts[RequestState.PENDING] == 2_000
    assert page.unlisted == 1_950
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
        view = app.screen.query_one(RequestsView)
        assert 0 < len(view.requests) < 2_000
        assert "more not listed" in screen_text(app)


async def test_R_on_a_transient_failure_records_attempt_two_after_a_confirmation(
    make_dash,
) -> None:
    tasks = [
        *sample_tasks(),
        failed("kyy", "video_flaky1", TRANSIENT),
        failed("kyy", "video_flaky2", TRANSIENT),
        failed("kyy", "video_flaky3", TRANSIENT),
    ]
    dash: Dash = make_dash(tasks)
    store = dash.store
    by_id = {t.id: t for t in tasks}
    created(store, by_id["video_flaky1"], "shot-1")
    created(store, by_id["video_flaky2"], "shot-2", attempt=3)  # max_attempts (3) reached
    # video_flaky3 was added by id: no stored request
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f")  # the failures view, down to the transient group
        await settle(pilot)
        groups = app.failures.groups
        transient = next(
            i for i, g in enumerate(groups) if any(k[1] == "video_flaky1" for k in g.keys)
        )
        await pilot.press(*["down"] * transient)
        await pilot.press("R")
        await settle(pilot)
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        question = confirm.question.plain
        assert "Retry 1 failed task" in question
        assert "Skipped: 2 tasks" in question
        assert "1 × max_attempts reached: video_flaky2" in question
        assert "1 × added by id: no stored request to send again: video_flaky3" in question
        assert store.get("kyy", "video_flaky1") is not None
        assert len(query_requests(store)) == 2  # nothing recorded before the yes

        await pilot.press("y")
        await settle(pilot)
        assert await wait_until(pilot, lambda: len(query_requests(store)) == 3)
        newest = query_requests(store)[-1]
        assert newest.state is RequestState.PENDING
        assert (newest.attempt, newest.previous_id, newest.name) == (2, "video_flaky1", "shot-1")
        assert any("recorded 1 new request" in n for n in notifications(app))

        # the same task again: its newest attempt is already recorded, nothing to retry
        await pilot.press("escape")  # back to the table
        await settle(pilot)
        app.table.set_view(text="video_flaky1")
        await settle(pilot)
        await pilot.press("R")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert any("Nothing to retry" in n and "already recorded" in n for n in notifications(app))
        assert len(query_requests(store)) == 3


async def test_R_on_a_content_policy_failure_says_why_and_asks_nothing(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.table.set_view(text="asyntask_bad0")
        await settle(pilot)
        await pilot.press("R")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        said = [n for n in notifications(app) if "Nothing to retry" in n]
        assert said and "added by id" in said[-1]
        assert query_requests(dash.store) == []


async def test_R_in_viewer_mode_is_refused(make_dash, tmp_path: Path) -> None:
    lock = PollerLock(tmp_path / "tasks.db")
    lock.acquire("seedance-tui watch")
    try:
        dash: Dash = make_dash(
            [*sample_tasks(), failed("kyy", "video_flaky1", TRANSIENT)], viewer=True
        )
        created(dash.store, failed("kyy", "video_flaky1", TRANSIENT), "shot-1")
        app = dash.app
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            app.table.set_view(text="video_flaky1")
            await settle(pilot)
            await pilot.press("R")
            await settle(pilot)
            assert not isinstance(app.screen, ConfirmScreen)
            assert any("Read-only" in n and "retrying" in n for n in notifications(app))
            assert len(query_requests(dash.store)) == 1
    finally:
        lock.release()


def test_the_confirmation_names_every_reason_plan_retries_gives(tmp_path: Path) -> None:
    from conftest import seed_store

    from tui.app.retry import skip_counts

    invalid = Failure("InvalidParameter", "img_url must be set for image to video method")
    done = Task("kyy", "video_ok2", state=State.SUCCEEDED, created_at=at(-600))
    running = Task("kyy", "video_run2", state=State.RUNNING, created_at=at(-600))
    tasks = [
        failed("kyy", "video_bad1", invalid),  # not transient
        failed("kyy", "video_old1", TRANSIENT),  # retried: attempt 2 succeeded
        done,
        failed("kyy", "video_old2", OVERLOADED),  # retried: attempt 2 still running
        running,
        failed("kyy", "video_byid", TRANSIENT),  # added by id
        failed("kyy", "video_max", TRANSIENT),  # at max_attempts
        failed("kyy", "video_good", TRANSIENT),  # retried
    ]
    with Store.open(tmp_path / "tasks.db") as store:
        seed_store(store, tasks)
        created(store, tasks[0], "bad")
        created(store, tasks[1], "old1")
        created(store, done, "old1-again", attempt=2)
        created(store, tasks[3], "old2")
        created(store, running, "old2-again", attempt=2)
        created(store, tasks[6], "max", attempt=3)
        created(store, tasks[7], "good")
        # link the second attempts to the first (as `record_retries` does)
        with store.transaction(durable=False) as conn:
            for old, new in (("video_old1", "video_ok2"), ("video_old2", "video_run2")):
                conn.execute("UPDATE requests SET previous_id = ? WHERE task_id = ?", (old, new))
        keys = [t.key for t in tasks if t.state is State.FAILED]
        plan = plan_retries(store, keys, max_attempts_of=lambda provider: 3)
    assert [r.previous_id for r in plan.requests] == ["video_good"]
    assert skip_counts(plan.skipped) == {
        "not a transient failure (content policy, invalid parameter…)": ["video_bad1"],
        "its newest attempt succeeded": ["video_old1"],
        "its newest attempt is still queued or running": ["video_old2"],
        "added by id: no stored request to send again": ["video_byid"],
        "max_attempts reached": ["video_max"],
    }


async def test_c_in_the_requests_view_lists_created_requests_with_their_task(make_dash) -> None:
    tasks = [*sample_tasks(), failed("kyy", "video_flaky1", TRANSIENT)]
    dash: Dash = make_dash(tasks)
    created(dash.store, tasks[-1], "shot-7")
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
        screen = requests_screen(app)
        assert screen.view.lines() == []
        assert "No request waits" in screen_text(app)
        await pilot.press("c")
        await settle(pilot)
        [line] = screen.view.lines()
        assert line.startswith("created") and "shot-7" in line and "video_flaky1" in line
        await pilot.press("c")
        await settle(pilot)
        assert screen.view.lines() == []
