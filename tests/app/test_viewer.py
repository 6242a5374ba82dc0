"""Viewer mode: another process holds the store's PollerLock, the dashboard follows read-only."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Dash, at, notifications, sample_tasks, screen_text, settle, wait_until

from tui.app.feeds import LiveFeed, ViewerFeed
from tui.core.lock import PollerLock
from tui.core.model import Event, Failure, State
from tui.core.store import Store

SIZE = (140, 45)

_HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from tui.core.lock import PollerLock
    lock = PollerLock(Path(sys.argv[1]))
    lock.acquire("seedance-tui watch")
    Path(sys.argv[2]).write_text("ready")
    while True:
        time.sleep(1)
    """
)


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real second process polling the store (as far as the lock says): a `watch`."""
    db = tmp_path / "tasks.db"
    ready = tmp_path / "holder-ready"
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(db), str(ready)])
    deadline = time.monotonic() + 20
    while not ready.exists():
        assert proc.poll() is None, "the lock holder died"
        assert time.monotonic() < deadline, "the lock holder never started"
        time.sleep(0.05)
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


async def test_viewer_follows_the_pollers_writes_read_only(make_dash, holder) -> None:
    dash: Dash = make_dash(viewer=True)
    app = dash.app
    assert isinstance(app.feed, ViewerFeed)
    writer = Store.open(dash.db_path)  # the other process's connection, as far as SQLite knows
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            text = screen_text(app)
            assert f"viewing: pid {holder.pid} polls this store" in text
            assert "9 of 9 tasks" in text

            # the poller finishes a task and logs an error: both show up within a second or two
            task = writer.get("kyy", "video_run1")
            failed = task.evolve(
                state=State.FAILED,
                upstream_status="failed",
                finished_at=at(5),
                failure=Failure(None, "viewer saw this"),
            )
            writer.save(
                failed,
                [
                    Event(
                        "state",
                        "kyy",
                        "video_run1",
                        {
                            "from": "running",
                            "to": "failed",
                            "upstream_status": "failed",
                            "failure": {"code": None, "message": "viewer saw this"},
                        },
                        ts=at(5),
                    )
                ],
            )
            writer.append_events(
                [
                    Event(
                        "http_error",
                        "kyy",
                        "video_queue1",
                        {"status": 429, "retry_after": 12.0},
                        ts=at(6),
                    )
                ]
            )
            assert await wait_until(
                pilot, lambda: app.index.get(("kyy", "video_run1")).state is State.FAILED
            )
            await settle(pilot)
            text = screen_text(app)
            assert "running -> failed  viewer saw this" in text
            assert "HTTP 429 rate limited" in text
            assert "failed 5" in text

            # read-only: actions that would change the store are refused, with the reason
            for key in ("a", "p", "r", "x"):
                await pilot.press(key)
                await settle(pilot)
            refusals = [n for n in notifications(app) if "up to that process" in n]
            assert len(refusals) == 4
            assert all(f"pid {holder.pid} polls this store" in n for n in refusals)
            assert dash.store.get("kyy", "video_queue1") is not None

            # a task removed by the poller leaves the view too (removals leave no changed row)
            writer.remove("kyy", ["video_queue1"])
            assert await wait_until(pilot, lambda: ("kyy", "video_queue1") not in app.index)
            await settle(pilot)
            assert "8 of 8 tasks" in screen_text(app)
    finally:
        writer.close()


async def test_viewer_takes_over_when_the_poller_stops(make_dash, holder) -> None:
    dash: Dash = make_dash(viewer=True)
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.read_only
        holder.kill()
        holder.wait()
        assert await wait_until(pilot, lambda: not app.read_only, timeout=8)
        assert isinstance(app.feed, LiveFeed)
        await settle(pilot)
        assert "viewing:" not in screen_text(app)
        held = PollerLock(dash.db_path).holder()
        assert held is not None and held.pid == os.getpid()
        assert any("this dashboard polls the store now" in n for n in notifications(app))
        await pilot.press("p")  # now allowed
        await settle(pilot)
        assert not any("up to that process" in n for n in notifications(app))
        assert app.engine.paused


async def test_viewer_over_a_finished_batch_sees_the_whole_summary_at_once(
    make_dash, holder
) -> None:
    """Nothing changes in a finished batch, so nothing redraws later: the very first frame
    must already give the summary its four rows (it used to draw one and keep it)."""
    dash: Dash = make_dash([t for t in sample_tasks() if t.state.terminal], viewer=True)
    async with dash.app.run_test(size=SIZE):
        lines = screen_text(dash.app).splitlines()
        assert "100% 7/7 finished" in lines[0] and "viewing: pid" in lines[0]
        words = " ".join(lines[1].split())
        assert words == "queued 0 running 0 succeeded 1 failed 4 cancelled 1 missing 1"
        assert " ".join(lines[2].split()) == "tokens 50.6k super-res 114k"
        assert lines[3].strip() == "no provider polled from here"
        assert lines[4].startswith("─")  # then the table's border: nothing cut off
