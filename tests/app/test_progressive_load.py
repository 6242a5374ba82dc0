"""A large store shows its first screenful at once, then everything, then starts polling."""

from __future__ import annotations

import asyncio

import pytest
from conftest import Dash

import tui.app.app as app_module
from tui.core.model import State, Task


def many_tasks(n: int) -> list[Task]:
    states = [State.SUCCEEDED, State.RUNNING, State.FAILED, State.QUEUED]
    return [
        Task(provider="anyfast", id=f"asyntask_{i:05d}", state=states[i % 4], progress=i % 100)
        for i in range(n)
    ]


async def test_a_large_store_is_shown_first_page_first(make_dash, monkeypatch) -> None:
    monkeypatch.setattr(app_module, "PROGRESSIVE_LOAD_ABOVE", 100)
    monkeypatch.setattr(app_module, "FIRST_PAGE", 30)
    dash: Dash = make_dash(many_tasks(400), paused=False)
    app = dash.app
    seen: list[int] = []
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(300):
            seen.append(len(app.index))
            if len(app.index) == 400:
                break
            await asyncio.sleep(0.01)
        await pilot.pause()
        # the first screenful came first, in the table's order: running tasks at the top
        assert seen[0] == 30
        assert len(app.index) == 400
        top = app.table.visible_keys()[:3]
        assert all(app.index.get(key).state is State.RUNNING for key in top)
        # and polling started once everything was shown
        assert app.engine is not None and not app.engine.paused


@pytest.mark.parametrize("count", [10, 99])
async def test_a_small_store_is_shown_at_once(make_dash, monkeypatch, count) -> None:
    monkeypatch.setattr(app_module, "PROGRESSIVE_LOAD_ABOVE", 100)
    dash: Dash = make_dash(many_tasks(count))
    async with dash.app.run_test(size=(120, 40)):
        assert len(dash.app.index) == count


async def test_the_engine_is_made_after_the_first_screenful(tmp_path, monkeypatch) -> None:
    """`seedance-tui` opens its feed with the engine still to be made: importing it (httpx and
    all) waits until the first rows are on screen, then polling starts as usual."""
    from conftest import make_config, seed_store

    from tui.app.build import build_app
    from tui.app.feeds import LiveFeed, open_feed
    from tui.core.clock import FrozenClock
    from tui.core.store import Store

    monkeypatch.setattr(app_module, "PROGRESSIVE_LOAD_ABOVE", 100)
    monkeypatch.setattr(app_module, "FIRST_PAGE", 30)
    db_path = tmp_path / "tasks.db"
    config = make_config(tmp_path)
    with Store.open(db_path) as store:
        seed_store(store, many_tasks(400), history=False)
        feed = open_feed(store, db_path, config, FrozenClock(1_777_288_500.0))
        assert isinstance(feed, LiveFeed) and not feed.engine_made
        app = build_app(
            store, config, db_path, feed=feed, clock=FrozenClock(1_777_288_500.0),
            watch_terminal=False, theme_save_path=tmp_path / "config.toml",
        )  # fmt: skip
        made_at_first_rows = None
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                for _ in range(300):
                    if made_at_first_rows is None and len(app.index):
                        made_at_first_rows = feed.engine_made
                    if len(app.index) == 400 and feed.engine_made:
                        break
                    await asyncio.sleep(0.01)
                await pilot.pause()
                assert made_at_first_rows is False
                assert feed.engine_made and not app.engine.paused  # polling started
                assert "asyntask_00001" in "\n".join(k[1] for k in app.table.visible_keys())
        finally:
            feed.lock.release()


async def test_a_feed_whose_engine_was_never_made_closes_without_making_it(tmp_path) -> None:
    from tui.app.feeds import LiveFeed

    made: list[int] = []

    def make_engine():  # would fail the test if it were ever called
        made.append(1)
        raise AssertionError("the engine was made")

    with app_module.Store.open(tmp_path / "tasks.db") as store:
        feed = LiveFeed(make_engine, store)
        await feed.close()
    assert made == []
