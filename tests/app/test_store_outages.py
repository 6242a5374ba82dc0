"""The dashboard, polling the simulator, while its store says no (issue 10.1): the disk of the
store fills up, another process holds the store with `BEGIN EXCLUSIVE` past SQLite's busy wait.
The app keeps answering keys, shows the outage, and once the store takes writes again polling
resumes and every task ends in the simulator's state, all of it in the store."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Dash, screen_text, wait_until
from faults import fill, mounted_disk, resize, store_locked

from tui.core.clock import SystemClock
from tui.core.config import ProviderConfig, StoreConfig
from tui.core.model import State, Task
from tui.core.store import Store
from tui.core.store_errors import BUSY_TIMEOUT
from tui.sim import Simulator

pytestmark = pytest.mark.slow  # the dashboard waits out real outages

SIZE = (140, 45)
KEY = "sk-sim-kyy-dash-outages"


def batch(sim: Simulator, run_seconds: list[float]) -> list[Task]:
    tasks = []
    for n, run_s in enumerate(run_seconds):
        outcome = "failed" if n % 4 == 3 else "succeeded"
        task_id = sim.add_task("kyy", queue_s=0.2, run_s=run_s, outcome=outcome)
        tasks.append(Task("kyy", task_id, state=State.QUEUED))
    return tasks


def providers(sim: Simulator) -> dict[str, ProviderConfig]:
    return {
        "kyy": ProviderConfig(
            "kyy",
            "kyy",
            sim.provider_url("kyy"),
            api_key=KEY,
            min_interval=0.3,
            max_interval=0.6,
            rate_limit=20,
        )
    }


async def keys_still_work(pilot, dash: Dash) -> None:  # type: ignore[no-untyped-def]
    """The cursor moves to the next task and back (to the one before, on the last row) while
    the store takes no writes. Told by the task under the cursor changing each time, not by
    row numbers: the cursor follows its task, which a state change may sort elsewhere."""
    table = dash.app.table
    there, back = ("k", "j") if table.cursor_row == table.row_count - 1 else ("j", "k")
    for key in (there, back):
        before = table.cursor_key
        await pilot.press(key)
        assert await wait_until(
            pilot, lambda before=before: table.cursor_key not in (before, None), timeout=5
        ), (key, before, table.cursor_row, table.row_count)


async def everything_lands(pilot, dash: Dash, sim: Simulator, tasks: list[Task]) -> None:  # type: ignore[no-untyped-def]
    """Every task ends in the simulator's state, on screen and in the store."""
    want = {t.id: sim.task(t.id).outcome for t in tasks}
    app = dash.app

    def shown() -> dict[str, str]:
        return {key[1]: str(app.index.get(key).state) for key in app.index}  # type: ignore[union-attr]

    assert await wait_until(pilot, lambda: shown() == want, timeout=60), shown()
    await dash.app.engine.writer.drain()  # type: ignore[union-attr]
    with Store.open(dash.db_path) as store:
        assert {t.id: str(t.state) for t in store.query()} == want
    with sqlite3.connect(dash.db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


async def test_the_dashboard_rides_out_a_full_store_disk(
    tmp_path: Path, make_dash: Callable[..., Dash]
) -> None:
    with Simulator(keys={"kyy": KEY}) as sim, mounted_disk(tmp_path, "6m"):
        tasks = batch(sim, [0.5, 1.0, 2.0, 4.0, 5.0, 6.0, 7.0, 8.0])
        dash = make_dash(tasks, providers=providers(sim), clock=SystemClock(), paused=False)
        app = dash.app
        async with app.run_test(size=SIZE) as pilot:
            assert await wait_until(pilot, lambda: len(sim.requests) > 3, timeout=10)
            fill(tmp_path)
            assert await wait_until(
                pilot, lambda: "unavailable: no space left" in screen_text(app), timeout=30
            ), screen_text(app)
            bar = screen_text(app)  # the summary bar's outage line
            assert "store unavailable: no space left" in bar and "polling waits" in bar
            assert "Traceback" not in screen_text(app)
            await keys_still_work(pilot, dash)
            resize(tmp_path, "32m")
            assert await wait_until(
                pilot, lambda: "available: the store takes writes" in screen_text(app), timeout=30
            )
            await everything_lands(pilot, dash, sim, tasks)
            assert "polling waits" not in screen_text(app)
            assert app.engine_error is None


# A lock within the busy wait (3 s of the default 15 s) and one past it (6 s of 1 s): the same
# two cases as SQLite's default wait with 5 s and 30 s locks, in a fifth of the time.
@pytest.mark.parametrize(
    ("seconds", "busy_timeout"), [(3, BUSY_TIMEOUT), (6, 1.0)], ids=["within", "past"]
)
async def test_the_dashboard_rides_out_a_locked_store(
    seconds: int, busy_timeout: float, tmp_path: Path, make_dash: Callable[..., Dash]
) -> None:
    """Within `[store] busy_timeout`, polling goes on (the writes wait in their thread); past
    it, an outage, shown, then over. Keys work throughout."""
    with Simulator(keys={"kyy": KEY}) as sim:
        tasks = batch(sim, [0.5, 1.0, 2.0, 3.0, seconds / 2, seconds - 1, seconds + 3])
        dash = make_dash(
            tasks,
            providers=providers(sim),
            clock=SystemClock(),
            paused=False,
            store_config=StoreConfig(busy_timeout=busy_timeout),
        )
        app = dash.app
        async with app.run_test(size=SIZE) as pilot:
            assert await wait_until(pilot, lambda: len(sim.requests) > 3, timeout=10)
            with store_locked(dash.db_path):
                locked_at = time.monotonic()
                before = len(sim.requests)
                await keys_still_work(pilot, dash)
                if seconds > busy_timeout:
                    assert await wait_until(
                        pilot,
                        lambda: (
                            "store unavailable:" in screen_text(app)
                            and "polling waits" in screen_text(app)
                        ),
                        timeout=busy_timeout + 10,
                    ), screen_text(app)
                    assert "unavailable: the store" in screen_text(app)  # the log line
                    assert "locked" in screen_text(app)
                    await keys_still_work(pilot, dash)
                else:
                    await asyncio.sleep(seconds / 2)
                    assert len(sim.requests) > before + 3  # polling goes on meanwhile
                await asyncio.sleep(max(0.0, seconds - (time.monotonic() - locked_at)))
            await everything_lands(pilot, dash, sim, tasks)
            assert "polling waits" not in screen_text(app)
            assert app.engine_error is None
