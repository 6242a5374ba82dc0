"""The detail pane: fields, failure in plain words, history, data.data up front, the raw body."""

from __future__ import annotations

import time

import pytest
from conftest import INVALID, NASTY, Dash, at, newapi_body, screen_text, settle
from textual.widgets import Static

from tui.app.widgets.detail import (
    MAX_BODY_CHARS,
    DetailPane,
    body_content,
    body_text,
    failure_hint,
    upstream_block,
)
from tui.core.model import Failure, State, Task

SIZE = (150, 60)


async def open_detail(pilot, app, task_id: str) -> DetailPane:
    key = next(k for k in app.index if k[1] == task_id)
    assert app.table.move_cursor_to(key)
    await pilot.press("enter")
    for _ in range(40):
        await settle(pilot)
        if not app.detail.body_note and "(rendering…)" not in pane_text(app.detail):
            break
    return app.detail


def pane_text(pane: DetailPane) -> str:
    """Everything the pane holds, top to bottom, as the user reads it (also off-screen parts)."""
    parts = []
    for widget in pane.query(Static):
        if widget.display:
            parts.append(widget.render().plain if hasattr(widget.render(), "plain") else "")
    return "\n".join(parts)


async def test_enter_shows_fields_tokens_history_and_data_data(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = await open_detail(pilot, app, "asyntask_ultra1")
        assert pane.display
        text = pane_text(pane)
        assert "✔ succeeded  (upstream: SUCCESS)" in text
        assert "480p→720p" in text
        assert "50,638 · super-resolution 114,441 (billed)" in text
        assert "ran for        4m50s" in text
        # history with times, oldest first
        assert text.index("queued -> running") < text.index("running -> succeeded")
        assert "04-27 " in text
        # the newapi data.data block is pulled out above the whole body
        assert "upstream (data.data)" in text
        assert text.index("upstream (data.data)") < text.index("upstream body (raw)")
        block = text[text.index("upstream (data.data)") : text.index("upstream body (raw)")]
        assert '"super_resolution_tokens": 114441' in block
        assert '"super_resolution": "720p"' in block
        assert '"code": "success"' in text.split("upstream body (raw)")[1]
        # what is on screen: the top of the pane
        assert "asyntask_ultra1" in screen_text(app)


async def test_failure_reads_as_code_message_and_plain_words(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = await open_detail(pilot, app, "asyntask_bad1")
        text = pane_text(pane)
        assert "code           InvalidParameter" in text
        assert f"message        {INVALID}" in text
        assert "Retrying will not help" in text
        assert "running -> failed  InvalidParameter" in text


async def test_detail_follows_the_cursor_and_escape_closes(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = await open_detail(pilot, app, "video_run1")
        assert pane.task_key == ("kyy", "video_run1")
        await pilot.press("down")
        for _ in range(20):
            await settle(pilot)
            if pane.task_key != ("kyy", "video_run1"):
                break
        assert pane.task_key == app.table.cursor_key != ("kyy", "video_run1")
        await pilot.press("escape")
        await settle(pilot)
        assert not pane.display


async def test_live_change_of_the_shown_task_updates_the_pane(make_dash) -> None:
    from tui.app.feeds import FeedBatch

    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = await open_detail(pilot, app, "video_run1")
        task = dash.store.get("kyy", "video_run1")
        done = task.evolve(
            state=State.SUCCEEDED,
            progress=100,
            upstream_status="completed",
            finished_at=at(0),
            raw={"id": "video_run1", "status": "completed"},
        )
        dash.store.save(done)
        app.apply_batch(FeedBatch(tasks={done.key: done}))
        await settle(pilot)
        assert "✔ succeeded  (upstream: completed)" in pane_text(pane)


async def test_nasty_text_is_literal_and_escape_free(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = await open_detail(pilot, app, "video_nasty1")
        text = pane_text(pane)
        assert "prompt rejected [/] [@click=app.quit]" in text
        assert "\x1b" not in text and "\x07" not in text
        # the raw body keeps what was received, escaped as JSON shows it: literal, inert
        assert "\\u001b]52;c;SGVsbG8=\\u0007" in text
        screen = screen_text(app)
        assert "[@click=app.quit]" in screen
        assert "\x1b" not in screen
        await pilot.click("#detail-failure", offset=(20, 1))
        await settle(pilot)
        assert app.is_running


@pytest.mark.serial  # asserts on the loop thread's time: alone, not beside other tests
async def test_a_huge_body_is_cut_with_a_note_and_never_freezes(make_dash) -> None:
    huge = newapi_body(
        "asyntask_huge1",
        "SUCCESS",
        status="succeeded",
        frames=[{"n": n, "note": "x" * 40} for n in range(60_000)],
    )
    task = Task("anyfast", "asyntask_huge1", state=State.SUCCEEDED, created_at=at(-60), raw=huge)
    dash: Dash = make_dash([task])
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        key = ("anyfast", "asyntask_huge1")
        app.table.move_cursor_to(key)
        # the loop thread's own CPU time: what blocking it costs, whatever else loads the cores
        started = time.thread_time()
        await pilot.press("enter")
        took = time.thread_time() - started
        # the UI answers keys while the body renders in a thread
        await pilot.press("l")
        assert not app.log_panel.display
        for _ in range(100):
            await settle(pilot)
            if app.detail.body_note:
                break
        note = app.detail.body_note
        assert note is not None and "body truncated" in note and "Press y" in note
        body = app.detail.query_one("#detail-body", Static).render().plain
        assert len(body) <= MAX_BODY_CHARS + 10
        assert took < 2.0, f"opening the detail pane blocked for {took:.2f} s"
        assert "body truncated" in pane_text(app.detail)


def test_pure_helpers() -> None:
    raw = newapi_body("asyntask_x", "SUCCESS", usage={"total_tokens": 5})
    assert upstream_block(raw) == ("upstream (data.data)", {"usage": {"total_tokens": 5}})
    assert upstream_block({"id": "cgt-1", "usage": {}}) is None
    assert upstream_block("not json") is None
    assert body_text("<html>\x1b[2J oops</html>") == "<html> oops</html>"
    assert "\x9b" not in body_text({"m": "a\x9b2Jb"})
    content, note = body_content({"a": 1})
    assert note is None and '"a": 1' in content.plain
    assert failure_hint(Failure("OutputVideoSensitiveContentDetected", "x")).startswith(
        "Content policy (output)"
    )
    assert failure_hint(Failure(None, NASTY)) is None
    assert failure_hint(Failure("SomethingNew", "x")) is None


async def test_table_shows_the_short_model_and_the_pane_the_whole_name(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        row = next(line for line in screen_text(app).splitlines() if "asyntask_ultra1" in line)
        assert " turbo " in row and "seedance-turbo" not in row
        pane = await open_detail(pilot, app, "asyntask_ultra1")
        assert "model          seedance-turbo" in pane_text(pane)
