"""The log panel tails: at the bottom it follows every new line, scrolled up it holds still and
counts what came in, `End`/`G` follows again, `/` filters. Read from the screen, as a user would."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Input

from tui.app.widgets.log_panel import LogEntry, LogPanel

HEIGHT = 10  # the panel: a border row and 9 log rows
SCROLLBAR = " ▁▂▃▄▅▆▇█▔"


class LogApp(App[None]):
    CSS = f"LogPanel {{ height: {HEIGHT}; }}"

    def compose(self) -> ComposeResult:
        yield LogPanel(id="log", max_lines=1000)


def entries(start: int, count: int) -> list[LogEntry]:
    return [
        LogEntry("info", f"12:00:00 line {n:04d} happened") for n in range(start, start + count)
    ]


def screen_lines(app: App[None]) -> list[str]:
    """The screen as the user reads it, row by row."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def log_rows(app: App[None]) -> list[str]:
    """The log's text rows on screen (the border row, blank rows and the scrollbar left out)."""
    return [row.rstrip(SCROLLBAR).strip() for row in screen_lines(app) if "happened" in row]


def border(app: App[None]) -> str:
    panel = app.query_one(LogPanel)
    return screen_lines(app)[panel.region.y]


async def add(app: App[None], pilot, start: int, count: int, batch: int = 50) -> None:
    panel = app.query_one(LogPanel)
    await pilot.pause()  # lines arrive once the panel is on screen, as in the dashboard
    for first in range(start, start + count, batch):
        panel.add_entries(entries(first, min(batch, start + count - first)))
        await pilot.pause()


async def test_at_the_bottom_the_newest_line_is_the_last_one_on_screen() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await add(app, pilot, 0, 500)
        rows = log_rows(app)
        assert rows[-1].endswith("line 0499 happened")
        assert len(rows) == HEIGHT - 1  # a full panel of the newest lines
        assert rows[0].endswith("line 0491 happened")
        await add(app, pilot, 500, 1, batch=1)
        assert log_rows(app)[-1].endswith("line 0500 happened")
        assert "new line" not in border(app)


async def test_scrolled_up_it_holds_still_and_counts_new_lines_then_end_follows() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await add(app, pilot, 0, 500)
        app.query_one(LogPanel).focus()
        await pilot.press("pageup")
        await pilot.pause()
        held = log_rows(app)
        assert not held[-1].endswith("line 0499 happened")
        await add(app, pilot, 500, 7, batch=1)
        assert log_rows(app) == held  # the view did not move
        assert "7 new lines ↓" in border(app)
        await pilot.press("end")
        await pilot.pause()
        assert log_rows(app)[-1].endswith("line 0506 happened")
        assert "new line" not in border(app)
        await add(app, pilot, 507, 3, batch=1)  # and it follows again
        assert log_rows(app)[-1].endswith("line 0509 happened")


async def test_g_follows_again_and_one_new_line_is_counted_in_the_singular() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await add(app, pilot, 0, 100)
        app.query_one(LogPanel).focus()
        await pilot.press("home")
        await pilot.pause()
        assert log_rows(app)[0].endswith("line 0000 happened")
        await add(app, pilot, 100, 1, batch=1)
        assert "1 new line ↓" in border(app)
        assert log_rows(app)[0].endswith("line 0000 happened")
        await pilot.press("G")
        await pilot.pause()
        assert log_rows(app)[-1].endswith("line 0100 happened")
        assert "new line" not in border(app)


async def test_slash_filters_the_log_lines() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await add(app, pilot, 0, 300)
        app.query_one(LogPanel).focus()
        await pilot.press("slash")
        await pilot.pause()
        assert isinstance(app.focused, Input)
        await pilot.press(*"line 01")
        await pilot.pause()
        rows = log_rows(app)
        # lines 0100-0199 match; the newest of them at the bottom
        assert rows and all("line 01" in row for row in rows)
        assert rows[-1].endswith("line 0199 happened")
        await add(app, pilot, 300, 5, batch=1)  # new lines that do not match stay hidden
        assert log_rows(app)[-1].endswith("line 0199 happened")
        await pilot.press("escape")
        await pilot.pause()
        assert log_rows(app)[-1].endswith("line 0304 happened")  # the filter is gone


class SmallRingApp(LogApp):
    def compose(self) -> ComposeResult:
        yield LogPanel(id="log", max_lines=100)


async def test_scrolled_up_the_view_holds_still_while_the_full_ring_drops_old_lines() -> None:
    app = SmallRingApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await add(app, pilot, 0, 100)  # the ring is full
        app.query_one(LogPanel).focus()
        await pilot.press("pageup", "pageup")
        await pilot.pause()
        held = log_rows(app)
        await add(app, pilot, 100, 5, batch=1)  # each drops the oldest line
        assert log_rows(app) == held
        assert "5 new lines ↓" in border(app)


async def test_the_dashboards_log_filter_leaves_the_task_filter_alone(make_dash) -> None:
    dash = make_dash()
    app = dash.app
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        panel = app.log_panel
        panel.add_entries(entries(0, 60))
        panel.focus()
        await pilot.pause()
        await pilot.press("slash", *"line 003")
        await pilot.pause()
        rows = [row[-18:] for row in log_rows(app)]
        assert len(rows) >= 5  # as many as the panel holds, the newest matching ones
        assert rows == [f"line 003{n} happened" for n in range(10)][-len(rows) :]
        assert app.table.view_spec.text == ""  # the task table is not filtered
        await pilot.press("enter")  # keeps the filter, closes the input
        await pilot.pause()
        assert app.focused is panel
        assert "/line 003" in border(app)
        assert log_rows(app)[-1].endswith("line 0039 happened")
