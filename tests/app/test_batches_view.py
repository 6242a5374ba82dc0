"""The batches view (issue 9, point 4): one line per batch and provider, `enter` filters the
table to it, esc goes back; summed again only while shown, at most once an interval."""

from __future__ import annotations

import pytest
from conftest import Dash, at, screen_text, settle, wait_until

from tui.app.task_view import TaskIndex, TaskView, ViewSpec
from tui.app.widgets.batches import (
    ALL_PROVIDERS,
    BatchesView,
    batch_filter_words,
    batch_lines,
    cells,
    header_text,
    plan,
)
from tui.core.batch_summary import NO_BATCH
from tui.core.model import Download, DownloadState, Failure, State, Task, Tokens

SIZE = (120, 40)


def batch_tasks() -> list[Task]:
    """`nightly` at two providers, `smoke` at one, and two tasks added without a batch."""
    tasks: list[Task] = []
    for n in range(6):
        done = n < 4
        tasks.append(
            Task(
                "ark",
                f"cgt-nightly-{n}",
                batch="nightly",
                state=State.SUCCEEDED if done else State.RUNNING,
                created_at=at(-600),
                finished_at=at(-600 + 60 * (n + 1)) if done else None,
                video_url="https://cdn.example/v.mp4" if done else None,
                tokens=Tokens(total=1000),
                download=Download(DownloadState.DONE if n < 2 else DownloadState.NONE),
            )
        )
    for n in range(3):
        tasks.append(
            Task(
                "anyfast",
                f"asyntask_nightly{n}",
                batch="nightly",
                state=State.FAILED,
                created_at=at(-300),
                finished_at=at(-100),
                failure=Failure("InvalidParameter", "img_url must be set"),
            )
        )
    tasks.append(Task("ark", "cgt-smoke-1", batch="smoke", state=State.QUEUED, created_at=at(-5)))
    tasks += [Task("kyy", f"video_{n}", state=State.QUEUED, created_at=at(-5)) for n in range(2)]
    return tasks


def test_one_line_per_batch_and_provider_and_an_all_line_for_a_batch_at_several() -> None:
    lines = batch_lines(batch_tasks())
    seen = [(line.row.label, line.row.provider) for line in lines]
    assert seen == [
        ("nightly", ALL_PROVIDERS),
        ("nightly", "anyfast"),
        ("nightly", "ark"),
        ("smoke", "ark"),
        (NO_BATCH, "kyy"),
    ]
    every = cells(lines[0])
    assert every["total"] == "9" and every["succeeded"] == "4" and every["failed"] == "3"
    assert every["progress"] == "77%"  # 7 of 9 finished, floored
    assert every["success"] == "57%"  # 4 of the 7 finished
    ark = cells(lines[2])
    assert ark["running"] == "2" and ark["progress"] == "66%"  # never rounded up
    assert ark["median"] == "2m30s"  # 1, 2, 3 and 4 minutes
    assert ark["tokens"] == "6k" and ark["kept"] == "2/4"
    assert cells(lines[1])["success"] == "0%" and cells(lines[1])["median"] == ""
    assert lines[0].provider_filter is None and lines[2].provider_filter == "ark"


@pytest.mark.parametrize("width", [60, 80, 120, 200])
def test_the_counts_and_the_progress_fit_at_every_width(width: int) -> None:
    lines = batch_lines(batch_tasks())
    columns = plan(width, lines)
    names = [column.name for column, _ in columns]
    assert {"batch", "provider", "total", "running", "succeeded", "failed", "progress"} <= set(
        names
    )
    assert len(header_text(columns)) <= width
    if width >= 120:
        assert {"median", "tokens", "kept", "success", "other", "queued"} <= set(names)


def test_the_table_title_says_which_batch_is_shown() -> None:
    assert batch_filter_words(None, None) == []
    assert batch_filter_words("nightly", "ark") == ["batch: nightly @ ark"]
    assert batch_filter_words("nightly", None) == ["batch: nightly"]


async def test_b_shows_the_batches_enter_filters_the_table_esc_goes_back(make_dash) -> None:
    dash: Dash = make_dash(batch_tasks())
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        assert app.dashboard.query_one("#switcher").current == "batches"
        text = screen_text(app)
        assert "batches: 3 · enter: show in table · esc: back" in text
        assert "nightly" in text and "(no batch)" in text and "anyfast" in text
        await pilot.press("down", "down", "enter")  # nightly at ark
        await settle(pilot)
        assert app.dashboard.query_one("#switcher").current == "table"
        assert app.focused is app.table
        assert sorted(app.table.visible_keys()) == [("ark", f"cgt-nightly-{n}") for n in range(6)]
        assert "6 of 12 tasks · batch: nightly @ ark" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert app.table.row_count == 12
        await pilot.press("b")
        await settle(pilot)
        await pilot.press("end", "enter")  # the tasks without a batch
        await settle(pilot)
        assert sorted(app.table.visible_keys()) == [("kyy", "video_0"), ("kyy", "video_1")]
        await pilot.press("b")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert app.dashboard.query_one("#switcher").current == "table"


async def test_the_batch_column_shows_each_rows_batch(make_dash) -> None:
    dash: Dash = make_dash(batch_tasks())
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        header = app.table.render_line(0).text
        assert "batch" in header.split()
        rows = [app.table.render_line(y).text for y in range(1, 13)]
        assert sum("nightly" in row for row in rows) == 9
        assert sum(" smoke " in row for row in rows) == 1


def test_summed_again_only_when_the_tasks_changed_and_the_interval_passed() -> None:
    index = TaskIndex(batch_tasks())
    view = BatchesView(index, interval=3600)
    view._draw = lambda: None  # type: ignore[method-assign]  # no screen: the numbers alone
    assert view.update_lines(force=True)
    assert not view.update_lines(force=True)  # nothing changed: no second pass
    index.upsert([Task("ark", "cgt-smoke-2", batch="smoke", state=State.QUEUED)])
    assert not view.update_lines()  # changed, but summed less than an interval ago
    assert view.update_lines(force=True)
    assert [line.row.total for line in view.lines if line.row.label == "smoke"] == [2]
    view.interval = 0.0
    view.last_pass_seconds = 1.0  # a slow pass: the next one waits ten times as long
    index.upsert([Task("ark", "cgt-smoke-3", batch="smoke", state=State.QUEUED)])
    assert not view.update_lines()
    assert view.update_count == 2


async def test_hidden_it_never_sums(make_dash) -> None:
    dash: Dash = make_dash(batch_tasks())
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        view = app.dashboard.query_one(BatchesView)
        view.interval = 0.0
        view._tick()
        assert view.lines == []  # the table is shown: nothing summed
        await pilot.press("b")
        await settle(pilot)
        assert len(view.lines) == 5
        app.index.upsert([Task("ark", "cgt-smoke-2", batch="smoke", state=State.QUEUED)])
        # the interval's timer, sped up: a pass waits ten times the last one's time at least
        assert await wait_until(pilot, lambda: (view._tick(), view.update_count)[1] == 2)
        assert "smoke" in screen_text(app)
        assert [line.row.total for line in view.lines if line.row.label == "smoke"] == [2]


def test_a_batch_filter_follows_tasks_that_join_or_leave_the_batch() -> None:
    index = TaskIndex(batch_tasks())
    view = TaskView(index, ViewSpec(batch="smoke", provider="ark"))
    assert view.keys() == [("ark", "cgt-smoke-1")]
    joined = Task("ark", "cgt-smoke-2", batch="smoke", state=State.RUNNING)
    elsewhere = Task("anyfast", "asyntask_smoke3", batch="smoke", state=State.RUNNING)
    view.update(index.upsert([joined, elsewhere]))
    assert sorted(view.keys()) == [("ark", "cgt-smoke-1"), ("ark", "cgt-smoke-2")]
    view.update(index.upsert([Task("ark", "cgt-smoke-1", batch="other", state=State.QUEUED)]))
    assert view.keys() == [("ark", "cgt-smoke-2")]
    view.set_spec(ViewSpec(batch=NO_BATCH))
    assert sorted(view.keys()) == [("kyy", "video_0"), ("kyy", "video_1")]
