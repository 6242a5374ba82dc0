"""Columns planned from the rows in view (issue 9, point 5): what the table shows at 60, 80, 120
and 200 columns, read from the plan and from the screen."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from textual.app import App, ComposeResult

from tui.app.task_view import TaskIndex
from tui.app.widgets import task_cells
from tui.app.widgets.column_plan import InView, cut_id, plan_columns
from tui.app.widgets.task_table import TaskTable
from tui.core.clock import FrozenClock
from tui.core.model import Failure, State, Task

T0 = datetime(2026, 4, 27, 11, 0, tzinfo=UTC)
# differ only in one character in their middle and share a long tail: a middle cut of the
# usual width made two of them read `asyntask_…000000001`
TWINS = (
    "asyntask_A_0000000000000001",
    "asyntask_B_0000000000000001",
    "asyntask_C_0000000000000002",
)
WHY = "InvalidParameter: img_url must be set for image-to-video"


def in_view(ids: tuple[str, ...], failed: bool = False, **widths: int) -> InView:
    base = {"state": 11, "id": max(len(i) for i in ids), "age": 6, "progress": 4, "model": 15}
    base.update(widths)
    if failed:
        base.setdefault("failure", len(WHY))
    return InView(tuple(sorted(base.items())), ids, failed)


def names(plan) -> list[str]:
    return [column.name for column, _, _ in plan.layout]


def width_of(plan, name: str) -> int:
    return next(w for column, _, w in plan.layout if column.name == name)


@pytest.mark.parametrize("width", [60, 80, 120, 200])
def test_a_failure_in_view_always_has_its_column(width: int) -> None:
    plan = plan_columns(width, in_view(TWINS, failed=True))
    assert names(plan)[:2] == ["state", "id"] and {"age", "failure"} <= set(names(plan))
    _, x, w = plan.layout[-1]
    assert plan.layout[-1][0].name == "failure" and x + w == width  # it takes what is left
    if width >= 120:
        assert width_of(plan, "failure") >= len(WHY)  # the whole reason


def test_a_column_empty_in_every_row_in_view_takes_no_space() -> None:
    plan = plan_columns(200, in_view(TWINS, download=0, tokens=0, next_poll=0))
    assert not {"download", "tokens", "next_poll", "failure"} & set(names(plan))
    assert {"download", "tokens"} <= set(
        names(plan_columns(200, in_view(TWINS, download=12, tokens=3)))
    )


@pytest.mark.parametrize("width", [60, 80, 120, 200])
def test_ids_in_view_never_read_the_same(width: int) -> None:
    plan = plan_columns(width, in_view(TWINS, failed=True))
    shown = [cut_id(i, width_of(plan, "id"), plan.id_head) for i in TWINS]
    assert len(set(shown)) == len(TWINS), shown
    if width >= 200:
        assert shown == list(TWINS)  # whole when they fit


def test_every_title_keeps_a_cell_for_the_sort_arrow() -> None:
    for sort_column in ("provider", "tokens", "progress", "duration"):
        plan = plan_columns(
            200, in_view(TWINS, provider=3, tokens=3, duration=2), sort_column=sort_column
        )
        for column, _, w in plan.layout:
            assert w > len(column.title), (column.name, w)


class Host(App[None]):
    def __init__(self, tasks: list[Task]) -> None:
        super().__init__()
        self.tasks = tasks

    def compose(self) -> ComposeResult:
        clock = FrozenClock((T0 + timedelta(hours=1)).timestamp())
        yield TaskTable(TaskIndex(self.tasks), now=clock.now)


def failed_twins() -> list[Task]:
    return [
        Task(
            provider="anyfast",
            id=task_id,
            state=State.FAILED,
            model="doubao-seedance-1-0-pro-250528",
            created_at=T0,
            failure=Failure("InvalidParameter", "img_url must be set for image-to-video"),
        )
        for task_id in TWINS
    ]


@pytest.mark.parametrize("width", [60, 80])
async def test_on_screen_failed_rows_say_why_and_ids_stay_apart(width: int) -> None:
    app = Host(failed_twins())
    async with app.run_test(size=(width, 10)) as pilot:
        await pilot.pause()
        table = app.query_one(TaskTable)
        lines = [table.render_line(y).text for y in range(table.size.height)]
        header = lines[0]
        assert "failure" in header and "state▲" in header
        rows = [line for line in lines[1:] if "✖ failed" in line]
        assert len(rows) == 3
        assert all("InvalidParameter" in row for row in rows)
        shown_ids = [row.split()[2] for row in rows]
        assert len(set(shown_ids)) == 3, shown_ids


def crowded_view() -> list[Task]:
    """What a real batch's screen holds: long ids, long provider names, batches, a failure,
    a video still to download and a long model name."""
    finished = T0 + timedelta(minutes=50)
    return [
        Task(
            provider="anyfast-relay-eu",
            id="asyntask_qjhX5fixXNdzpdxcaSM9nDthTiB64fN3",
            batch="nightly-2026-04-27",
            state=State.FAILED,
            model="doubao-seedance-1-0-pro-250528",
            created_at=T0,
            failure=Failure("InvalidParameter", "img_url must be set for image-to-video"),
        ),
        Task(
            provider="ark-cn-beijing",
            id="cgt-20260427110000-pmok0",
            batch="nightly-2026-04-27",
            state=State.SUCCEEDED,
            model="doubao-seedance-1-0-pro-250528",
            created_at=T0,
            finished_at=finished,
            video_url="https://cdn.example/v.mp4",
            url_expires_at=finished + timedelta(hours=24),
        ),
        Task(
            provider="kyy",
            id="video_04824f9e-b170-4050-bb50-f775cfb5d95a",
            batch="smoke",
            state=State.RUNNING,
            model="doubao-seedance-1-0-pro-250528",
            progress=40,
            created_at=T0,
        ),
    ]


@pytest.mark.parametrize("width", [60, 80, 120, 200])
def test_the_plan_with_ids_providers_batches_failures_and_expiries_in_view(width: int) -> None:
    tasks = crowded_view()
    view = task_cells.in_view(tasks)
    plan = plan_columns(width, view)
    shown = names(plan)
    _, x, w = plan.layout[-1]
    assert shown[-1] == "failure" and x + w == width  # always there, takes what is left
    assert all(view.width(name) > 0 for name in shown)  # no empty column takes room
    ids = [cut_id(t.id, width_of(plan, "id"), plan.id_head) for t in tasks]
    assert len(set(ids)) == len(ids)
    if width >= 120:
        assert {"batch", "expires", "provider"} <= set(shown)
    if width >= 200:
        assert ids == [t.id for t in tasks]  # whole
        assert width_of(plan, "provider") >= len("anyfast-relay-eu")
        assert width_of(plan, "batch") >= len("nightly-2026-04-27")
        assert width_of(plan, "failure") >= len(WHY)
    # the model never takes more than a comfortable short name while ids or providers are cut
    whole_ids = width_of(plan, "id") >= max(len(t.id) for t in tasks)
    whole_providers = "provider" in shown and width_of(plan, "provider") >= len("anyfast-relay-eu")
    if "model" in shown and width_of(plan, "model") > 16:
        assert whole_ids and whole_providers


def test_no_batch_column_when_no_row_in_view_has_a_batch() -> None:
    tasks = [replace(task, batch=None) for task in crowded_view()]
    assert "batch" not in names(plan_columns(200, task_cells.in_view(tasks)))
    assert "batch" in names(plan_columns(200, task_cells.in_view(crowded_view())))
