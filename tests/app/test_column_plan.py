"""Columns planned from the rows in view (issue 9, point 5): what the table shows at 60, 80, 120
and 200 columns, read from the plan and from the screen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from textual.app import App, ComposeResult

from tui.app.task_view import TaskIndex
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
