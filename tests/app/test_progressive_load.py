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
