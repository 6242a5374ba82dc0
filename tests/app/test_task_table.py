"""TaskTable in a tiny host app: what the user sees (rendered lines) and the messages it posts."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from rich.style import Style
from textual import events
from textual.app import App, ComposeResult
from textual.strip import Strip

from tui.app.task_view import TaskIndex
from tui.app.widgets.task_table import TaskTable, layout_columns
from tui.core.clock import FrozenClock
from tui.core.model import Download, DownloadState, Failure, State, Task, Tokens

T0 = datetime(2026, 4, 27, 11, 0, tzinfo=UTC)
CYCLE = (State.RUNNING, State.QUEUED, State.SUCCEEDED, State.FAILED)
EVIL = "[/] [@click=app.quit] \x1b]52;c;SGVsbG8=\x07"


def make_tasks(n: int = 60) -> list[Task]:
    """ids are shuffled against the add order, so sorting by id visibly reorders rows."""
    tasks = []
    for i in range(n):
        state = CYCLE[i % 4]
        tasks.append(
            Task(
                provider=("anyfast", "kyy", "ark")[i % 3],
                id=f"task_{(i * 37) % n:03d}",
                state=state,
                model=f"model-{i % 5}",
                progress=i % 100,
                created_at=T0 + timedelta(seconds=i),
                duration=5.0,
                resolution="480p",
                super_resolution="720p" if i % 2 else None,
                tokens=Tokens(total=1000 * i),
                failure=Failure("InvalidParameter", f"bad input {i}")
                if state is State.FAILED
                else None,
            )
        )
    return tasks


class Host(App[None]):
    def __init__(self, index: TaskIndex, clock: FrozenClock, table_class: type = TaskTable):
        super().__init__()
        self.index = index
        self.clock = clock
        self.table_class = table_class
        self.messages: list[tuple] = []

    def compose(self) -> ComposeResult:
        yield self.table_class(self.index, now=self.clock.now)

    def on_task_table_highlighted(self, message: TaskTable.Highlighted) -> None:
        self.messages.append(("highlighted", message.key))

    def on_task_table_selected(self, message: TaskTable.Selected) -> None:
        self.messages.append(("selected", message.key))

    def on_task_table_view_changed(self, message: TaskTable.ViewChanged) -> None:
        self.messages.append(("view", message.shown, message.total))


class CountingTable(TaskTable):
    """Records which screen lines were drawn: to check that only changed lines redraw."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.drawn_lines: list[int] = []

    def render_line(self, y: int) -> Strip:
        self.drawn_lines.append(y)
        return super().render_line(y)


def screen(table: TaskTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


def cursor_lines(table: TaskTable) -> list[int]:
    """Screen lines painted with the cursor's background."""
    cursor = table.get_component_rich_style("task-table--cursor").bgcolor
    return [
        y
        for y in range(1, table.size.height)
        if any(seg.style and seg.style.bgcolor == cursor for seg in table.render_line(y))
    ]


def ids_on_screen(table: TaskTable) -> list[str]:
    lines = screen(table)[1:]
    return [word for line in lines for word in line.split() if word.startswith("task_")]


def expected_default_order(tasks: list[Task]) -> list[Task]:
    rank = {State.RUNNING: 0, State.QUEUED: 1, State.FAILED: 3, State.SUCCEEDED: 7}
    return sorted(tasks, key=lambda t: rank[t.state])  # stable: add order within a state


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock((T0 + timedelta(hours=1)).timestamp())


async def test_renders_header_rows_and_ages_at_120(clock: FrozenClock) -> None:
    tasks = make_tasks()
    app = Host(TaskIndex(tasks), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.query_one(TaskTable)
        lines = screen(table)
        titles = lines[0].split()
        # no download column: no row in view has a download
        assert titles == [
            "state▲", "id", "provider", "model", "prog", "age", "dur", "res", "tokens",
            "next", "failure",
        ]  # fmt: skip
        order = expected_default_order(tasks)
        first = order[0]
        assert lines[1].startswith("◐ running")
        assert first.id in lines[1] and first.provider in lines[1]
        assert "1h00m" in lines[1]  # created at T0, now T0 + 1 h
        assert "480p" in lines[1]
        assert ids_on_screen(table) == [t.id for t in order[:39]]
        failed_line = next(line for line in lines if "✖ failed" in line)
        assert "InvalidParameter: bad input" in failed_line  # whole: it has the room
        assert ("view", 60, 60) in app.messages
        assert (
            app.messages[0] == ("highlighted", first.key)
            or (
                "highlighted",
                first.key,
            )
            in app.messages
        )


async def test_80_columns_keep_the_essentials(clock: FrozenClock) -> None:
    app = Host(TaskIndex(make_tasks()), clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.query_one(TaskTable)
        titles = screen(table)[0].split()
        for essential in ("state▲", "id", "model", "prog", "age"):
            assert essential in titles
        # empty in every row in view (running and queued tasks): no room taken
        for hidden in ("download", "failure"):
            assert hidden not in titles
        assert all(len(line) <= 80 for line in screen(table))
        assert "task_" in screen(table)[1]
        table.set_view(state_filter="failed")
        await pilot.pause()
        titles = screen(table)[0].split()
        for essential in ("state▲", "id", "age", "failure"):  # a failure in view: its reason
            assert essential in titles
        assert all(len(line) <= 80 for line in screen(table))
        failed_line = next(line for line in screen(table) if "✖ failed" in line)
        assert "InvalidParameter: bad input" in failed_line


def test_layout_widths() -> None:
    for width in (80, 100, 120, 160, 240):
        layout = layout_columns(width)
        _, x, w = layout[-1]
        assert x + w <= width
        assert [c.name for c, _, _ in layout][:2] == ["state", "id"]
    assert len(layout_columns(120)) == 12
    assert {c.name for c, _, _ in layout_columns(80)} >= {
        "state", "id", "model", "progress", "age", "download",
    }  # fmt: skip


def finished_tasks() -> list[Task]:
    """Finished videos from Ark's models, every value as long as its column's minimum."""
    models = ("doubao-seedance-2-0-fast-260128", "doubao-seedance-2-0-260128")
    return [
        Task(
            provider="ark",
            id=f"cgt-20260427191455-k8c{i:02d}",
            state=State.SUCCEEDED,
            model=models[i % 2],
            progress=100,
            created_at=T0 + timedelta(seconds=i),
            download=Download(DownloadState.DONE),
            failure=None,
        )
        for i in range(30)
    ]


@pytest.mark.parametrize(
    ("width", "titles"),
    [
        (40, ["state▲", "id", "prog", "age"]),  # the detail pane open at 80 columns
        (60, ["state▲", "id", "model", "prog", "age"]),  # ... and at 120
    ],
)
async def test_a_narrow_table_drops_whole_columns(
    clock: FrozenClock, width: int, titles: list[str]
) -> None:
    app = Host(TaskIndex(finished_tasks()), clock)
    async with app.run_test(size=(width, 20)) as pilot:
        await pilot.pause()
        table = app.query_one(TaskTable)
        lines = screen(table)
        assert lines[0].split() == titles
        for line in lines[1:]:
            words = line.split()
            assert words[:2] == ["✔", "succeeded"]
            assert "100%" in words  # never `10`: a column shown shows whole values
            assert re.fullmatch(r"59m|1h00m", words[-1])  # the age, whole
            assert len(line) <= width
        if "model" in titles:
            assert {line.split()[3] for line in lines[1:]} == {"2-0-fast-260128", "2-0-260128"}


async def test_model_column_shows_what_tells_models_apart(clock: FrozenClock) -> None:
    app = Host(TaskIndex(finished_tasks()), clock)
    async with app.run_test(size=(120, 20)) as pilot:
        await pilot.pause()
        lines = screen(app.query_one(TaskTable))
        models = {line.split()[4] for line in lines[1:]}
        assert models == {"2-0-fast-260128", "2-0-260128"}  # whole: the column has the room
        assert not any("doubao" in line for line in lines)


async def test_no_download_column_when_downloading_is_off(clock: FrozenClock) -> None:
    tasks = [replace(t, download=Download(DownloadState.DONE)) for t in make_tasks(8)]
    for downloads, size in ((False, (80, 12)), (False, (120, 12)), (True, (120, 12))):
        app = Host(TaskIndex(tasks), clock, partial(TaskTable, downloads=downloads))
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            titles = screen(app.query_one(TaskTable))[0].split()
            assert ("download" in titles) is downloads
            # rows in view have failed: their reasons show at any width
            assert "failure" in titles


async def test_cursor_keys_move_and_post_highlighted(clock: FrozenClock) -> None:
    tasks = make_tasks()
    order = expected_default_order(tasks)
    app = Host(TaskIndex(tasks), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.query_one(TaskTable)
        assert cursor_lines(table) == [1]
        await pilot.press("down", "down", "j")
        assert table.cursor_key == order[3].key
        assert cursor_lines(table) == [4]
        assert order[3].id in screen(table)[4]
        await pilot.press("up", "k")
        assert table.cursor_task == order[1]
        highlighted = [m[1] for m in app.messages if m[0] == "highlighted"]
        assert highlighted == [t.key for t in (order[0], order[1], order[2], order[3])] + [
            order[2].key,
            order[1].key,
        ]
        await pilot.press("end")
        assert table.cursor_key == order[-1].key
        assert order[-1].id in screen(table)[39] and cursor_lines(table) == [39]
        await pilot.press("home")
        assert table.cursor_key == order[0].key and cursor_lines(table) == [1]
        await pilot.press("pagedown")
        page = 39  # 40 lines less the header
        assert table.cursor_key == order[page].key
        assert order[page].id in screen(table)[cursor_lines(table)[0]]
        await pilot.press("pageup")
        assert table.cursor_key == order[0].key
        await pilot.press("up")  # already at the top: stays
        assert table.cursor_key == order[0].key


async def test_enter_and_double_click_post_selected(clock: FrozenClock) -> None:
    tasks = make_tasks()
    order = expected_default_order(tasks)
    app = Host(TaskIndex(tasks), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("down", "enter")
        assert app.messages[-1] == ("selected", order[1].key)
        await pilot.click(TaskTable, offset=(3, 5))  # line 5 = row 4
        table = app.query_one(TaskTable)
        assert table.cursor_key == order[4].key
        assert ("highlighted", order[4].key) in app.messages
        assert app.messages[-1][0] == "highlighted"
        await pilot.double_click(TaskTable, offset=(3, 6))
        assert app.messages[-1] == ("selected", order[5].key)


async def test_sort_keys_cycle_and_reverse(clock: FrozenClock) -> None:
    tasks = make_tasks()
    app = Host(TaskIndex(tasks), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.query_one(TaskTable)
        await pilot.press("s")
        header = screen(table)[0].split()
        assert "id▲" in header and "state" in header
        assert ids_on_screen(table) == sorted(t.id for t in tasks)[:39]
        await pilot.press("S")
        assert "id▼" in screen(table)[0].split()
        # nobody picked a task yet (follow is off): the view shows the top of the new order
        assert ids_on_screen(table) == sorted((t.id for t in tasks), reverse=True)[:39]
        await pilot.press("down", "up")  # now the user has picked one: follow is on
        assert table.follow
        await pilot.press("S")
        # follow mode: the cursor stayed on its task, now the last row, so the view is at the end
        first = sorted((t.id for t in tasks), reverse=True)[0]
        assert ids_on_screen(table)[-1] == first and table.cursor_key[1] == first
        await pilot.press("S")
        await pilot.press("home")
        assert ids_on_screen(table) == sorted((t.id for t in tasks), reverse=True)[:39]
        # `s` walks every shown column and comes back to state
        for _ in range(len(screen(table)[0].split()) - 1):
            await pilot.press("s")
        assert "state▲" in screen(table)[0].split()


async def test_header_click_sorts_and_toggles(clock: FrozenClock) -> None:
    tasks = make_tasks()
    app = Host(TaskIndex(tasks), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.query_one(TaskTable)
        x = screen(table)[0].index("tokens")
        await pilot.click(TaskTable, offset=(x + 1, 0))
        assert "tokens▲" in screen(table)[0]  # the arrow has its own cell, after the title
        by_tokens = sorted(tasks, key=lambda t: t.tokens.total)
        assert ids_on_screen(table) == [t.id for t in by_tokens[:39]]
        x = screen(table)[0].index("tokens")  # columns are planned from the rows in view
        await pilot.click(TaskTable, offset=(x + 1, 0))
        assert "tokens▼" in screen(table)[0]
        await pilot.press("home")
        assert ids_on_screen(table)[0] == by_tokens[-1].id
        assert table.view_spec.sort_column == "tokens" and table.view_spec.sort_reverse


async def test_mouse_wheel_scrolls_without_moving_the_cursor(clock: FrozenClock) -> None:
    tasks = make_tasks(300)
    order = expected_default_order(tasks)
    app = Host(TaskIndex(tasks), clock)
    async with app.run_test(size=(120, 20)) as pilot:
        await pilot.pause()
        table = app.query_one(TaskTable)
        for _ in range(3):
            table.post_message(events.MouseScrollDown(table, 5, 5, 0, 1, 0, False, False, False))
        await pilot.pause()
        shown = ids_on_screen(table)
        assert shown[0] != order[0].id
        start = [t.id for t in order].index(shown[0])
        assert shown == [t.id for t in order[start : start + 19]]
        assert table.cursor_key == order[0].key
        await pilot.press("down")  # the cursor moves on from where it was, back into view
        assert table.cursor_key == order[1].key
        assert ids_on_screen(table)[0] == order[1].id


async def test_filter_as_you_type_and_invert(clock: FrozenClock) -> None:
    tasks = make_tasks()
    app = Host(TaskIndex(tasks), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.query_one(TaskTable)
        for text in ("F", "Fa", "FAIL", "failed"):
            table.set_view(text=text)
        await pilot.pause()
        rows = [line for line in screen(table)[1:] if line.strip()]
        assert len(rows) == 15 and all("✖ failed" in row for row in rows)
        assert app.messages[-1] == ("view", 15, 60)
        table.set_view(text="!failed")
        await pilot.pause()
        rows = [line for line in screen(table)[1:] if line.strip()]
        assert len(rows) == 39 and not any("failed" in row for row in rows)
        assert app.messages[-1] == ("view", 45, 60)
        table.set_view(text="input 7")  # failure message text
        await pilot.pause()
        assert ids_on_screen(table) == [tasks[7].id]
        table.set_view(text="", state_filter="succeeded")
        await pilot.pause()
        rows = [line for line in screen(table)[1:] if line.strip()]
        assert len(rows) == 15 and all("✔ succeeded" in row for row in rows)
        table.set_view(state_filter="all", failure_group="InvalidParameter: bad input 3")
        await pilot.pause()
        assert ids_on_screen(table) == [tasks[3].id]
        assert table.visible_keys() == [tasks[3].key]


async def test_follow_mode_keeps_the_task_under_the_cursor(clock: FrozenClock) -> None:
    tasks = make_tasks(400)
    index = TaskIndex(tasks)
    order = expected_default_order(tasks)
    app = Host(index, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.query_one(TaskTable)
        await pilot.press(*["down"] * 5)
        target = order[5]
        assert cursor_lines(table) == [6]
        # it finishes: re-sorts from the running section to the succeeded section
        table.refresh_tasks(index.upsert([target.evolve(state=State.SUCCEEDED, progress=100)]))
        await pilot.pause()
        assert table.cursor_key == target.key
        assert cursor_lines(table) == [6]  # same task, same screen line
        line = screen(table)[6]
        assert target.id in line and "✔ succeeded" in line
        assert [m for m in app.messages if m[0] == "highlighted"][-1] == (
            "highlighted",
            target.key,
        )
        # a filter keeps it too, while it still matches
        table.set_view(text="succeeded")
        await pilot.pause()
        assert table.cursor_key == target.key and target.id in screen(table)[6]

        # follow off: the cursor keeps its row, and whatever task moves there is highlighted
        table.set_view(text="")
        await pilot.pause()
        table.follow = False
        row = table.cursor_row
        table.refresh_tasks(index.upsert([target.evolve(state=State.RUNNING)]))
        await pilot.pause()
        assert table.cursor_row == row
        assert table.cursor_key != target.key
        assert app.messages[-1][0] in ("highlighted", "view")
        assert ("highlighted", table.cursor_key) in app.messages


async def test_follow_mode_keeps_cursor_on_reversed_sort(clock: FrozenClock) -> None:
    tasks = make_tasks()
    app = Host(TaskIndex(tasks), clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.query_one(TaskTable)
        await pilot.press("down", "down")
        key = table.cursor_key
        await pilot.press("S")
        assert table.cursor_key == key
        line = screen(table)[cursor_lines(table)[0]]
        assert key[1] in line


async def test_upstream_text_is_inert(clock: FrozenClock) -> None:
    evil = Task(
        provider="kyy",
        id="task_evil",
        state=State.FAILED,
        model="[bold]m[/bold] \x1b[31mred",  # as if the core had let an ESC through
        created_at=T0,
        failure=Failure("InvalidParameter", EVIL),
    )
    app = Host(TaskIndex([evil, *make_tasks(5)]), clock)
    async with app.run_test(size=(240, 20)) as pilot:
        await pilot.pause()
        table = app.query_one(TaskTable)
        line_no = next(y for y, line in enumerate(screen(table)) if "task_evil" in line)
        strip = table.render_line(line_no)
        assert "InvalidParameter: [/] [@click=app.quit]" in strip.text
        assert "[bold]m[/bold] red" in strip.text
        for segment in strip:
            assert "\x1b" not in segment.text and "\x07" not in segment.text
            assert not segment.style or not segment.style.meta  # no @click actions in styles
        ansi = strip.render(app.console)  # what the terminal would get: colours only
        assert "\x1b]" not in ansi and "\x07" not in ansi and "52;c" not in ansi
        assert "[@click=app.quit]" in app.export_screenshot()
        # clicking the text does nothing but select the row
        x = strip.text.index("[@click")
        await pilot.click(TaskTable, offset=(x + 2, line_no))
        await pilot.pause()
        assert app.is_running and table.cursor_key == evil.key


async def test_tick_redraws_only_rows_whose_time_text_changed(clock: FrozenClock) -> None:
    tasks = make_tasks(100)
    # two hours old: the age reads `2h00m` and changes once a minute
    clock = FrozenClock((T0 + timedelta(hours=2, seconds=100)).timestamp())
    app = Host(TaskIndex(tasks), clock, table_class=CountingTable)
    async with app.run_test(size=(120, 12)) as pilot:
        await pilot.pause()
        table = app.query_one(CountingTable)
        assert "2h01m" in screen(table)[1]
        table.drawn_lines.clear()
        table.tick()
        await pilot.pause()
        assert table.drawn_lines == []  # idle: nothing reads differently
        clock.advance(1)
        table.tick()
        await pilot.pause()
        assert table.drawn_lines == []  # still 2h01m / 2h00m everywhere
        clock.advance(60)
        table.tick()
        await pilot.pause()
        assert sorted(set(table.drawn_lines)) == list(range(1, 12))
        assert "2h02m" in screen(table)[1]


async def test_refresh_tasks_redraws_only_changed_visible_lines(clock: FrozenClock) -> None:
    tasks = make_tasks(400)
    index = TaskIndex(tasks)
    order = expected_default_order(tasks)
    app = Host(index, clock, table_class=CountingTable)
    async with app.run_test(size=(120, 20)) as pilot:
        await pilot.pause()
        table = app.query_one(CountingTable)
        table.drawn_lines.clear()
        visible, hidden = order[3], order[300]
        changed = index.upsert(
            [visible.evolve(progress=99), hidden.evolve(progress=98, model="other")]
        )
        table.refresh_tasks(changed)
        await pilot.pause()
        assert table.drawn_lines == [4]
        assert " 99%" in screen(table)[4]
        table.drawn_lines.clear()
        table.refresh_tasks(index.upsert([order[250].evolve(progress=1)]))
        await pilot.pause()
        assert table.drawn_lines == []


async def test_removed_and_added_tasks_show(clock: FrozenClock) -> None:
    tasks = make_tasks(20)
    index = TaskIndex(tasks)
    order = expected_default_order(tasks)
    app = Host(index, clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        table = app.query_one(TaskTable)
        table.refresh_tasks(index.remove([order[0].key]))
        await pilot.pause()
        assert order[0].id not in ids_on_screen(table)
        assert table.cursor_key == order[1].key  # the next task takes the cursor
        new = order[0].evolve(id="task_new", state=State.RUNNING)
        table.refresh_tasks(index.upsert([new]))
        await pilot.pause()
        assert "task_new" in ids_on_screen(table)
        assert app.messages[-1] == ("view", 20, 20)
        index.load(tasks[:3])  # a full reload
        table.reload()
        await pilot.pause()
        assert sorted(ids_on_screen(table)) == sorted(t.id for t in tasks[:3])
        assert table.move_cursor_to(tasks[2].key)
        assert table.cursor_task == tasks[2]


async def test_empty_table(clock: FrozenClock) -> None:
    app = Host(TaskIndex(), clock)
    async with app.run_test(size=(80, 10)) as pilot:
        await pilot.pause()
        table = app.query_one(TaskTable)
        lines = screen(table)
        assert "state▲" in lines[0] and all(not line.strip() for line in lines[1:])
        await pilot.press("down", "end", "enter", "s")
        assert table.cursor_task is None and table.visible_keys() == []
        assert not [m for m in app.messages if m[0] == "selected"]


async def test_colours_follow_the_theme(clock: FrozenClock) -> None:
    app = Host(TaskIndex(make_tasks(8)), clock)
    async with app.run_test(size=(120, 12)) as pilot:
        app.theme = "textual-dark"
        await pilot.pause()
        table = app.query_one(TaskTable)

        def failed_colour() -> Style | None:
            y = next(y for y, line in enumerate(screen(table)) if "✖ failed" in line)
            strip = table.render_line(y)
            return next(seg.style for seg in strip if "failed" in seg.text)

        dark = failed_colour()
        assert dark.color == table.get_component_rich_style("task-table--failed").color
        app.theme = "textual-light"
        await pilot.pause()
        light = failed_colour()
        assert light.color == table.get_component_rich_style("task-table--failed").color
        assert light.color != dark.color


def expiring_tasks() -> list[Task]:
    """Succeeded tasks whose videos are not kept yet, their URLs dying at different times
    (the clock fixture reads T0 + 1 h), and tasks with nothing to race against."""
    now = T0 + timedelta(hours=1)
    url = "https://cdn.example/v.mp4"

    def succeeded(task_id: str, left: timedelta | None, **changes) -> Task:
        return Task(
            provider="ark",
            id=task_id,
            state=State.SUCCEEDED,
            created_at=T0,
            finished_at=T0,
            video_url=url,
            url_expires_at=None if left is None else now + left,
            **changes,
        )

    return [
        succeeded("cgt-day", timedelta(hours=23, minutes=30)),
        succeeded("cgt-soon", timedelta(minutes=40)),
        succeeded("cgt-gone", timedelta(minutes=-5)),
        succeeded("cgt-kept", timedelta(minutes=10), download=Download(DownloadState.DONE)),
        Task(provider="ark", id="cgt-live", state=State.RUNNING, created_at=T0),
    ]


def row_of(table: TaskTable, task_id: str) -> int:
    return next(y for y, line in enumerate(screen(table)) if f" {task_id} " in line)


def cell_under(table: TaskTable, y: int, title: str) -> tuple[str, Style]:
    """The text under a column's title on line `y`, and its style."""
    header = screen(table)[0]
    start = header.index(title)
    x = 0
    for segment in table.render_line(y):
        if x <= start < x + len(segment.text):
            break
        x += len(segment.text)
    text = table.render_line(y).text[start - 1 : start + len(title) + 1].strip()
    return text, segment.style


async def test_url_expires_in_shows_for_videos_still_to_download(clock: FrozenClock) -> None:
    app = Host(TaskIndex(expiring_tasks()), clock)
    async with app.run_test(size=(120, 12)) as pilot:
        await pilot.pause()
        table = app.query_one(TaskTable)
        assert "expires" in screen(table)[0]
        expected = {"cgt-day": "23h", "cgt-soon": "40m", "cgt-gone": "expired"}
        for task_id, text in expected.items():
            assert cell_under(table, row_of(table, task_id), "expires")[0] == text
        for task_id in ("cgt-kept", "cgt-live"):  # kept already, or not finished
            assert cell_under(table, row_of(table, task_id), "expires")[0] == ""
        warning = table.get_component_rich_style("task-table--expiring").color
        assert cell_under(table, row_of(table, "cgt-soon"), "expires")[1].color == warning
        assert cell_under(table, row_of(table, "cgt-gone"), "expires")[1].color == warning
        assert cell_under(table, row_of(table, "cgt-day"), "expires")[1].color != warning
        clock.advance(23 * 3600)  # the day-long URL has half an hour left now
        table.tick()
        await pilot.pause()
        assert cell_under(table, row_of(table, "cgt-day"), "expires")[0] == "30m"


async def test_url_expires_in_sorts_soonest_first(clock: FrozenClock) -> None:
    app = Host(TaskIndex(expiring_tasks()), clock)
    async with app.run_test(size=(120, 12)) as pilot:
        await pilot.pause()
        table = app.query_one(TaskTable)
        header = screen(table)[0]
        await pilot.click(TaskTable, offset=(header.index("expires") + 2, 0))
        await pilot.pause()
        assert "expires▲" in screen(table)[0]
        assert [key[1] for key in table.visible_keys()][:3] == ["cgt-gone", "cgt-soon", "cgt-day"]
        await pilot.press("S")
        await pilot.pause()
        assert "expires▼" in screen(table)[0]
        assert table.visible_keys()[-1][1] == "cgt-gone"


async def test_no_expires_column_when_no_row_in_view_needs_it(clock: FrozenClock) -> None:
    app = Host(TaskIndex(make_tasks()), clock)
    async with app.run_test(size=(200, 12)) as pilot:
        await pilot.pause()
        header = screen(app.query_one(TaskTable))[0]
        assert "expires" not in header and "batch" not in header
