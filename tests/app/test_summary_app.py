"""The summary bar in the running dashboard: it follows the table's filter, says a store outage
loudly while the dashboard keeps working read-only, and counts the create requests; at 80x24,
120x40 and 200x50 its lines fit and keep what matters."""

from __future__ import annotations

import json

import pytest

from tests.app.conftest import Dash, applied, screen_text, settle, wait_until
from tui.app.app import Timings
from tui.core.store_writer import StoreOutage

FULL = "no space left on device for /home/me/.local/share/seedance-tui/tasks.db: free some space"


def summary_lines(dash: Dash) -> list[str]:
    return dash.app.summary.text.splitlines()


def add_requests(dash: Dash, states: dict[str, int]) -> None:
    with dash.store.transaction(durable=False) as conn:
        for state, count in states.items():
            conn.executemany(
                "INSERT INTO requests (provider, fingerprint, state, created_at, body) "
                "VALUES ('kyy', ?, ?, '2026-04-27T00:00:00Z', ?)",
                [(f"{state}{n}", state, json.dumps({"model": "m"})) for n in range(count)],
            )


async def test_paused_shows_no_eta(make_dash) -> None:
    dash: Dash = make_dash()
    async with dash.app.run_test(size=(120, 40)) as pilot:
        await applied(pilot)
        first = summary_lines(dash)[0]
        assert "PAUSED" in first and "ETA" not in first and " 77% 7/9" in first


async def test_the_bar_follows_the_tables_filter(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=(120, 40)) as pilot:
        await applied(pilot)
        await pilot.press("6")  # failed only
        await applied(pilot)
        first, second = summary_lines(dash)[:2]
        assert "100% 4/4" in first
        assert second.startswith("state failed · 4 tasks │")
        assert "failed 4" in second and "running 0" in second
        await pilot.press("slash", *"spring", "enter")
        await applied(pilot)
        second = summary_lines(dash)[1]
        assert second.startswith("filter spring · state failed · 0 tasks")
        await pilot.press("escape", "1")  # back to every task
        await applied(pilot)
        first, second = summary_lines(dash)[:2]
        assert " 77% 7/9" in first and second.split()[:2] == ["queued", "1"]


async def test_a_store_outage_is_shown_and_the_dashboard_keeps_working(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=(120, 40)) as pilot:
        await applied(pilot)
        app.engine.writer.outage = StoreOutage("full", FULL, dash.clock.now())
        await applied(pilot)
        lines = screen_text(app).splitlines()
        assert lines[0].strip().startswith("⚠ store unavailable: no space left on device")
        assert lines[0].rstrip().endswith("; polling waits")
        assert "7/9 finished" in lines[1]
        # browsing, filters and the detail pane still work
        await pilot.press("6")
        await applied(pilot)
        assert app.table.row_count == 4 and summary_lines(dash)[2].startswith("state failed")
        await pilot.press("enter")
        await settle(pilot)
        assert app.detail.display and app.table.cursor_task is not None
        assert app.table.cursor_task.id in screen_text(app)
        app.engine.writer.outage = None  # the store takes writes again: nothing more is said
        await applied(pilot)
        assert "store unavailable" not in screen_text(app)
        assert len(summary_lines(dash)) == 4


async def test_the_create_requests_are_counted(make_dash) -> None:
    dash: Dash = make_dash(timings=Timings(viewer=0.05, detail_debounce=0.001, requests=0.0))
    app = dash.app
    async with app.run_test(size=(120, 40)) as pilot:
        await applied(pilot)
        assert not any(line.startswith("requests") for line in summary_lines(dash))
        add_requests(dash, {"created": 12, "pending": 5, "uncertain": 1, "rejected": 2})
        assert await wait_until(pilot, lambda: len(summary_lines(dash)) == 5)
        lines = screen_text(app).splitlines()
        assert lines[4].strip() == "requests sent 12 · pending 5 · uncertain 1 · rejected 2"
        assert lines[5].startswith("─")  # the table moved down by one line, nothing cut


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 50)])
async def test_every_line_fits_and_keeps_what_matters(make_dash, size) -> None:
    dash: Dash = make_dash(timings=Timings(viewer=0.05, detail_debounce=0.001, requests=0.0))
    app = dash.app
    async with app.run_test(size=size) as pilot:
        await applied(pilot)
        add_requests(dash, {"created": 1200, "pending": 780, "uncertain": 2, "rejected": 18})
        assert await wait_until(pilot, lambda: len(summary_lines(dash)) == 5)
        app.engine.writer.outage = StoreOutage("locked", FULL, dash.clock.now())
        await pilot.press("6")
        assert await wait_until(pilot, lambda: len(summary_lines(dash)) == 6)
        lines = summary_lines(dash)
        width = size[0] - 2  # the bar's padding
        assert all(len(line) <= width for line in lines), lines
        assert "store unavailable: no space" in lines[0] and lines[0].endswith("polling waits ")
        assert "4/4" in lines[1] and "PAUSED" in lines[1]
        assert lines[2].startswith("state failed · 4 tasks │") and "failed 4" in lines[2]
        assert lines[5] == "requests sent 1,200 · pending 780 · uncertain 2 · rejected 18"
        screen = screen_text(app).splitlines()
        assert screen[6].startswith("─4 of 9 tasks")  # the table right below, nothing wrapped
