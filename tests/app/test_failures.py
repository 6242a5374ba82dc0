"""The failures view: one line per failure group, Enter filters the table, e exports a group."""

from __future__ import annotations

import csv

from conftest import INVALID, NASTY, Dash, at, notifications, screen_text, settle
from textual.widgets import Input, Label

from tui.app.screens.export import ExportScreen
from tui.app.widgets.failures import group_block, group_line
from tui.core.clean import clean_line
from tui.core.failure_groups import group_failures
from tui.core.model import Failure, State, Task

SIZE = (140, 45)


def many_failures() -> list[Task]:
    tasks = []
    for n in range(37):
        tasks.append(
            Task(
                "anyfast",
                f"asyntask_inv{n:02d}",
                state=State.FAILED,
                created_at=at(-n),
                failure=Failure("InvalidParameter", INVALID),
            )
        )
    for n in range(5):
        tasks.append(
            Task(
                "anyfast",
                f"asyntask_sens{n}",
                state=State.FAILED,
                created_at=at(-n),
                failure=Failure(
                    "OutputVideoSensitiveContentDetected",
                    "The output video may contain sensitive information.",
                ),
            )
        )
    tasks.append(
        Task(
            "kyy",
            "video_nasty1",
            state=State.FAILED,
            created_at=at(0),
            failure=Failure(None, NASTY),
        )
    )
    for n in range(4):
        tasks.append(Task("kyy", f"video_ok{n}", state=State.SUCCEEDED, created_at=at(-n)))
    tasks.append(Task("kyy", "video_cancel", state=State.CANCELLED, created_at=at(0)))
    return tasks


async def test_groups_are_one_line_each_biggest_first(make_dash) -> None:
    dash: Dash = make_dash(many_failures())
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        lines = app.failures.lines()
        assert lines[0] == f"37×  InvalidParameter: {INVALID}"
        assert lines[1].startswith(" 5×  OutputVideoSensitiveContentDetected:")
        assert lines[2] == f" 1×  {clean_line(NASTY)}"
        assert len(lines) == 3
        text = screen_text(app)
        assert f"37×  InvalidParameter: {INVALID}" in text
        assert "failures: 43 tasks in 3 groups · also 1 cancelled" in text
        assert "[@click=app.quit]" in text and "\x1b" not in text


async def test_enter_filters_the_table_to_the_group_and_escape_clears(make_dash) -> None:
    dash: Dash = make_dash(many_failures())
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        await pilot.press("down", "enter")  # the second group
        await settle(pilot)
        assert app.dashboard.query_one("#switcher").current == "table"
        assert app.focused is app.table
        assert app.table.row_count == 5
        assert all(
            app.index.get(k).failure.code == "OutputVideoSensitiveContentDetected"
            for k in app.table.visible_keys()
        )
        assert "5 of 48 tasks · failure: OutputVideoSensitiveContentDetected" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert app.table.row_count == 48


async def test_e_in_the_failures_view_exports_the_group(make_dash) -> None:
    dash: Dash = make_dash(many_failures())
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, ExportScreen)
        label = app.screen.query_one(Label).render().plain
        assert label == f"37 tasks: failure group InvalidParameter: {INVALID}"
        assert "37 tasks: failure group InvalidParameter" in screen_text(app)
        target = dash.tmp / "invalid.csv"
        app.screen.query_one("#path", Input).value = str(target)
        await pilot.press("enter")
        for _ in range(40):
            await settle(pilot)
            if target.exists():
                break
        with target.open() as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) == 37
        assert {r["failure_code"] for r in rows} == {"InvalidParameter"}
        assert {r["failure_message"] for r in rows} == {INVALID}
        await settle(pilot)
        assert any("Exported 37 tasks" in n for n in notifications(app))


async def test_the_view_updates_as_failures_arrive(make_dash) -> None:
    from tui.app.feeds import FeedBatch

    dash: Dash = make_dash(many_failures())
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        new = Task(
            "kyy",
            "video_ok0",
            state=State.FAILED,
            created_at=at(0),
            failure=Failure(None, "Reference video exceeds maximum total duration."),
        )
        app.apply_batch(FeedBatch(tasks={new.key: new}))
        await settle(pilot)
        assert " 1×  Reference video exceeds maximum total duration." in app.failures.lines()
        assert "failures: 44 tasks in 4 groups" in screen_text(app)


def failed(task_id: str, code: str | None, message: str, provider: str = "kyy") -> Task:
    return Task(provider, task_id, state=State.FAILED, failure=Failure(code, message))


def test_sorting_and_line_shape() -> None:
    tasks = [failed(f"b{n}", None, "b: x") for n in range(2)]
    tasks += [failed(f"a{n}", None, "a: y") for n in range(2)]
    tasks += [failed(f"c{n}", None, "c") for n in range(9)]
    groups = group_failures(tasks)
    assert [group_line(g, 1) for g in groups] == ["9×  c", "2×  a: y", "2×  b: x"]
    many = [failed(f"i{n}", "InvalidParameter", "img_url [b]x[/b]") for n in range(1234)]
    (group,) = group_failures(many)
    assert group_line(group, width=5) == "1,234×  InvalidParameter: img_url [b]x[/b]"
    assert group_block(group, 5).plain.startswith("1,234×  InvalidParameter: img_url [b]x[/b]")
    # a code-less message that holds ": " is not split into a fake code
    (plain,) = group_failures(
        [failed(f"p{n}", None, "Content policy violation: nudity") for n in range(3)]
    )
    assert group_line(plain, width=1) == "3×  Content policy violation: nudity"
