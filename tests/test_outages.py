"""`watch` (a real subprocess) while the store says no for a while (issue 10.1): another process
holds it with `BEGIN EXCLUSIVE` within `[store] busy_timeout` and past it (an outage), and its
disk fills up and gets space back. Each time: no traceback, nothing
lost, polling goes on or resumes, every task ends in the simulator's state and every video is
kept."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from faults import fill, mounted_disk, resize, store_locked, temporary_files
from test_watch_faults import Watch

from tui.core.lock import PollerLock
from tui.core.store import Store
from tui.sim import Simulator
from tui.sim.video_host import VideoHost

pytestmark = pytest.mark.slow  # `watch` processes wait out real outages

KEY = "sk-sim-kyy-outages"
OUTCOMES = {"succeeded": "succeeded", "failed": "failed", "cancelled": "cancelled"}


class World:
    """The simulator, its video host, and a config whose store may refuse writes for 2 min and
    whose writes wait `busy_timeout` seconds for another process's lock."""

    def __init__(
        self, sim: Simulator, host: VideoHost, tmp: Path, db: Path, busy_timeout: float = 15
    ) -> None:
        self.sim, self.host, self.db = sim, host, db
        self.videos = tmp / "videos"
        config = tmp / "config.toml"
        config.write_text(
            f'[providers.kyy]\nkind = "kyy"\nbase_url = "{sim.provider_url("kyy")}"\n'
            'api_key_env = "OUTAGES_KYY"\nmin_interval = 0.3\nmax_interval = 0.6\n'
            "rate_limit = 20\ntimeout = 5\n\n"
            f'[download]\ndir = "{self.videos}"\ntemplate = "{{id}}.mp4"\n\n'
            f"[store]\ngive_up_after = 120\nbusy_timeout = {busy_timeout}\n"
        )
        self.env = {
            **os.environ,
            "SEEDANCE_TUI_CONFIG": str(config),
            "SEEDANCE_TUI_DB": str(db),
            "OUTAGES_KYY": KEY,
        }

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tui", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
        )

    def batch(self, run_seconds: list[float], video_bytes: int = 20_000) -> list[str]:
        """One task per run time, every fifth one failing; all tracked by `add`."""
        ids = []
        for n, run_s in enumerate(run_seconds):
            outcome = "failed" if n % 5 == 4 else "succeeded"
            ids.append(
                self.sim.add_task(
                    "kyy", queue_s=0.2, run_s=run_s, outcome=outcome, video_bytes=video_bytes
                )
            )
        added = self.cli("add", *ids)
        assert added.returncode == 0, added.stderr
        return ids

    def watch(self) -> Watch:
        return Watch(self.env, ())

    def polls(self) -> int:
        return len(self.sim.requests_for(kind="kyy"))

    def assert_all_right(self, watch: Watch, ids: list[str]) -> None:
        """Exit 0, every task in the simulator's state with its state change stored, every
        video kept whole, the store intact, nothing temporary left, the lock released."""
        code, err = watch.finish(timeout=90)
        assert code == 0, err
        assert "Traceback" not in err and "never retrieved" not in err
        want = {task_id: OUTCOMES[self.sim.task(task_id).outcome] for task_id in ids}
        with Store.open(self.db) as store:
            tasks = {t.id: t for t in store.query()}
            stored_changes = {
                event.id: str(event.data["to"])
                for _, event in store.events_after(0, limit=100_000)
                if event.kind == "state" and event.data.get("to") in OUTCOMES
            }
        assert {t: str(task.state) for t, task in tasks.items()} == want
        assert stored_changes == want  # the answers kept during the outage were all written
        for task_id, state in want.items():
            video = self.videos / f"{task_id}.mp4"
            if state == "succeeded":
                assert video.read_bytes() == self.host.content(video.name)
                assert str(tasks[task_id].download.state) == "done"
            else:
                assert not video.exists()
        summary = watch.events[-1]
        assert summary["event"] == "summary"
        assert summary["downloads"] == {"done": sum(s == "succeeded" for s in want.values())}
        with sqlite3.connect(self.db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert temporary_files(self.videos) == [] and temporary_files(self.db.parent) == []
        assert PollerLock(self.db).holder() is None
        assert self.sim.errors == []


@pytest.fixture
def sim_and_host() -> Iterator[tuple[Simulator, VideoHost]]:
    with VideoHost() as host, Simulator(keys={"kyy": KEY}, video_host=host) as sim:
        yield sim, host


def store_events(watch: Watch) -> list[str]:
    return [e["state"] for e in watch.events if e["event"] == "store"]


# -- another process holds the store locked -----------------------------------------------------


def test_a_lock_within_the_busy_wait_is_waited_out_while_polling_goes_on(
    tmp_path: Path, sim_and_host: tuple[Simulator, VideoHost]
) -> None:
    """Within the busy wait (3 s of the default 15 s) the writes queue up in the writer's
    thread: polling does not stop (the bug was that it stopped completely), no outage."""
    world = World(*sim_and_host, tmp_path, tmp_path / "tasks.db")
    ids = world.batch([0.5, 1.0, 2.0, 2.5, 3.0, 4.0, 5.0])
    watch = world.watch()
    watch.until(lambda e: e["event"] == "state" and e["to"] == "running")
    with store_locked(world.db):
        before = world.polls()
        time.sleep(3)
        during = world.polls() - before
    assert during >= 5, f"only {during} polls in 3 s of lock: polling stopped"
    world.assert_all_right(watch, ids)
    assert store_events(watch) == []


def test_a_lock_past_the_busy_wait_is_an_outage_that_ends_and_loses_nothing(
    tmp_path: Path, sim_and_host: tuple[Simulator, VideoHost]
) -> None:
    """Past `[store] busy_timeout` (here 2 s; the lock lasts 10 s): one `store unavailable`
    event, polling waits, then `available`, everything kept meanwhile is written in order and
    polling resumes."""
    world = World(*sim_and_host, tmp_path, tmp_path / "tasks.db", busy_timeout=2)
    ids = world.batch([0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 12.0, 14.0])
    watch = world.watch()
    watch.until(lambda e: e["event"] == "state" and e["to"] == "running")
    with store_locked(world.db):
        locked_at = time.monotonic()
        down = watch.until(lambda e: e["event"] == "store", timeout=12)
        assert time.monotonic() - locked_at >= 2  # not before the busy wait is over
        assert down["state"] == "unavailable" and "locked" in down["message"]
        assert "for 2 s" in down["message"] and str(world.db) in down["message"]
        time.sleep(1.5)  # polls sent as the outage began come back
        waiting = world.polls()
        time.sleep(3.0)
        assert world.polls() == waiting  # polling waits: no answer it could not keep
        time.sleep(max(0.0, 10 - (time.monotonic() - locked_at)))
    watch.until(lambda e: e["event"] == "store" and e["state"] == "available", timeout=20)
    resumed = world.polls()
    watch.until(lambda e: e["event"] == "summary", timeout=60)
    assert world.polls() > resumed  # polling resumed
    world.assert_all_right(watch, ids)
    assert store_events(watch) == ["unavailable", "available"]


# -- the store's disk fills up ------------------------------------------------------------------


def test_a_full_store_disk_is_an_outage_until_space_returns(
    tmp_path: Path, sim_and_host: tuple[Simulator, VideoHost]
) -> None:
    with mounted_disk(tmp_path / "disk", "4m") as disk:
        world = World(*sim_and_host, tmp_path, disk / "tasks.db")
        ids = world.batch([0.5, 1.0, 2.0, 4.0, 5.0, 6.5, 8.0])
        watch = world.watch()
        watch.until(lambda e: e["event"] == "state" and e["to"] == "running")
        fill(disk)
        down = watch.until(lambda e: e["event"] == "store", timeout=30)
        assert down["state"] == "unavailable"
        assert "no space left" in down["message"] and str(disk) in down["message"]
        time.sleep(1.5)  # polls sent as the outage began come back
        waiting = world.polls()
        time.sleep(2.0)
        assert world.polls() == waiting  # polling waits while the store is full
        resize(disk, "16m")  # space comes back; the filler stays
        watch.until(lambda e: e["event"] == "store" and e["state"] == "available", timeout=30)
        world.assert_all_right(watch, ids)
        assert store_events(watch) == ["unavailable", "available"]


# -- another process's connection closing ----------------------------------------------------


def test_a_status_in_another_terminal_never_deletes_the_wal_of_a_running_process(
    tmp_path: Path,
) -> None:
    """A process holding the store twice (watch: the loop's reads and the writer's thread; the
    dashboard: its workers) must keep its SQLite locks: reading the header of the second open
    with open()/close() dropped them, and a `status` closing in another terminal then took
    itself for the last connection and deleted the WAL and `-shm` under the running process
    (its later writes lost, its reads failing with a disk I/O error). Found by the lock tests."""
    from datetime import UTC, datetime

    now = datetime(2026, 12, 1, tzinfo=UTC)
    db = tmp_path / "tasks.db"
    reads = Store.open(db)
    writes = Store.open(db)  # the second open of the same file in this process
    try:
        writes.add_tasks("kyy", ["video_before"], batch=None, now=now)
        status = subprocess.run(
            [sys.executable, "-m", "tui", "--db", str(db), "status"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 0, status.stderr
        assert db.with_name("tasks.db-shm").exists() and db.with_name("tasks.db-wal").exists()
        writes.add_tasks("kyy", ["video_after"], batch=None, now=now)
        assert sorted(t.id for t in reads.query()) == ["video_after", "video_before"]
    finally:
        writes.close()
        reads.close()
    with Store.open(db) as again:
        assert sorted(t.id for t in again.query()) == ["video_after", "video_before"]


# -- SIGKILL mid-batch ----------------------------------------------------------------------------


def test_a_sigkill_mid_download_loses_nothing_and_the_next_watch_finishes(
    tmp_path: Path, sim_and_host: tuple[Simulator, VideoHost]
) -> None:
    """No handler runs on SIGKILL: what the store had committed is what the next run starts
    from, a `.part` is resumed and no video ends up wrong."""
    sim, host = sim_and_host
    world = World(sim, host, tmp_path, tmp_path / "tasks.db")
    # videos larger than the downloader's in-memory buffer (1 MiB), so bytes of one in flight
    # reach the disk before it ends: 3 MiB at 2 MiB/s
    ids = world.batch([0.3, 0.5, 0.8, 1.0, 1.2, 30.0], video_bytes=3 * 1024 * 1024)
    for task_id in ids:
        host.faults.add(f"{task_id}.mp4", "slow", rate=2_000_000, times=None)
    watch = world.watch()
    watch.until(lambda e: e["event"] == "download" and e["state"] == "done", timeout=20)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # until some bytes of a download in flight are on disk
        if any(p.stat().st_size for p in world.videos.glob("*.part")):
            break
        time.sleep(0.005)
    watch.proc.kill()
    code, _ = watch.finish()
    assert code == -9
    parts = [p.name.removesuffix(".part") for p in world.videos.glob("*.part")]
    assert parts, "no download was in flight"
    begun = [p.name.removesuffix(".part") for p in world.videos.glob("*.part") if p.stat().st_size]
    host.faults.clear()
    sim.complete_now(ids[-1])
    world.assert_all_right(world.watch(), ids)
    assert begun, "no bytes of the download in flight reached the disk"
    for name in begun:  # resumed where the killed run stopped
        gets = [r for r in host.requests if r.method == "GET" and r.name == name]
        assert gets[-1].range is not None, name
