"""`watch` (a real subprocess) against the simulator while the local machine misbehaves: the
download folder on a full tmpfs, the store's disk full past `give_up_after`, SIGTERM and SIGHUP
mid-download (issue 10, points 1, 3 and 6)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from faults import fill, mounted_disk, temporary_files

from tui.core.lock import PollerLock
from tui.sim import Simulator
from tui.sim.video_host import VideoHost

pytestmark = pytest.mark.slow  # `watch` processes wait out real faults

KEYS = {"kyy": "sk-sim-kyy-faults", "newapi": "sk-sim-newapi-faults"}


class World:
    """The simulator, its video host, and the config and store a `watch` runs with."""

    def __init__(self, sim: Simulator, host: VideoHost, tmp: Path, videos: Path, db: Path):
        self.sim, self.host, self.tmp, self.videos, self.db = sim, host, tmp, videos, db
        config = tmp / "config.toml"
        config.write_text(
            f'[providers.kyy]\nkind = "kyy"\nbase_url = "{sim.provider_url("kyy")}"\n'
            'api_key_env = "FAULTS_KYY"\nmin_interval = 0.3\nmax_interval = 0.6\n'
            "rate_limit = 20\ntimeout = 5\n\n"
            f'[download]\ndir = "{videos}"\ntemplate = "{{id}}.mp4"\n\n'
            "[store]\ngive_up_after = 1\n"
        )
        self.env = {
            **os.environ,
            "SEEDANCE_TUI_CONFIG": str(config),
            "SEEDANCE_TUI_DB": str(db),
            "FAULTS_KYY": KEYS["kyy"],
        }

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tui", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
        )

    def add(self, *ids: str) -> None:
        added = self.cli("add", *ids)
        assert added.returncode == 0, added.stderr

    def watch(self, *args: str) -> Watch:
        return Watch(self.env, args)

    def tasks(self) -> dict[str, dict]:
        status = self.cli("status", "--json")
        assert status.returncode == 0, status.stderr
        return {task["id"]: task for task in json.loads(status.stdout)}


class Watch:
    """`seedance-tui watch --json ARGS` running; its stdout read as events as they come."""

    def __init__(self, env: dict[str, str], args: tuple[str, ...]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tui", "watch", "--json", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: list[dict] = []
        self._err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=self._read_err, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.append(json.loads(line))

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        self._err.extend(self.proc.stderr)

    def until(self, check, timeout: float = 15) -> dict:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in list(self.events):
                if check(event):
                    return event
            assert self.proc.poll() is None, f"watch ended early: {self.finish()}"
            time.sleep(0.02)
        raise AssertionError(f"not seen within {timeout} s: {self.events}")

    def finish(self, timeout: float = 30) -> tuple[int, str]:
        """Exit code and stderr, once it ended."""
        try:
            self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            for reader in self._readers:
                reader.join(timeout=5)
        return self.proc.returncode, "".join(self._err)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with VideoHost() as host, Simulator(keys=KEYS, video_host=host) as sim:
        yield World(sim, host, tmp_path, tmp_path / "videos", tmp_path / "tasks.db")


def downloads(state: str):  # type: ignore[no-untyped-def]
    return lambda e: e["event"] == "download" and e["state"] == state


# -- the download folder on a full disk --------------------------------------------------------


def test_watch_waits_for_a_full_download_disk_and_keeps_every_video(world: World) -> None:
    ids = [world.sim.add_task("kyy", queue_s=0.1, run_s=0.3, video_bytes=300_000) for _ in range(3)]
    world.add(*ids)
    with mounted_disk(world.videos, "1m"):
        filler = fill(world.videos)
        # --timeout still wins (exit 3), and says which videos are missing.
        code, err = world.watch("--timeout", "2.5").finish()
        assert code == 3, err
        assert "3 finished video(s) not kept yet: no space left on device writing" in err
        assert "Traceback" not in err
        assert {t["download"]["state"] for t in world.tasks().values()} == {"pending"}
        # `download` is one go: it stops once only disk waits remain, and says so.
        fetched = world.cli("download", "--exit-status")
        assert fetched.returncode == 1, fetched.stderr
        assert "3 finished video(s) not kept yet" in fetched.stderr
        assert "Traceback" not in fetched.stderr

        watch = world.watch("--exit-status")
        waiting = watch.until(lambda e: e["event"] == "notice" and "local disk" in e["message"])
        assert waiting["pending"] == 3
        time.sleep(1.0)
        assert watch.proc.poll() is None  # no `done` while videos are missing
        filler.unlink()  # space is back
        code, err = watch.finish()
        assert code == 0, err
        assert "Traceback" not in err
        summary = watch.events[-1]
        assert summary["event"] == "summary"
        assert summary["counts"] == {"succeeded": 3} and summary["downloads"] == {"done": 3}
        for task_id in ids:
            assert (world.videos / f"{task_id}.mp4").read_bytes() == world.host.content(
                f"{task_id}.mp4"
            )
        assert {t["download"]["state"] for t in world.tasks().values()} == {"done"}
        assert temporary_files(world.videos) == []
        assert sorted(p.name for p in world.videos.iterdir()) == sorted(f"{i}.mp4" for i in ids)


# -- the store's disk full for longer than give_up_after -----------------------------------------


def test_watch_ends_with_exit_2_when_the_store_refuses_writes_too_long(tmp_path: Path) -> None:
    with (
        VideoHost() as host,
        Simulator(keys=KEYS, video_host=host) as sim,
        mounted_disk(tmp_path / "disk", "4m") as disk,
    ):
        if True:
            world = World(sim, host, tmp_path, tmp_path / "videos", disk / "tasks.db")
            ids = [sim.add_task("kyy", queue_s=0.5, run_s=30, video_bytes=2048) for _ in range(3)]
            world.add(*ids)
            watch = world.watch()
            watch.until(lambda e: e["event"] == "state" and e["to"] == "running")
            filler = fill(disk)
            outage = watch.until(lambda e: e["event"] == "store")
            code, err = watch.finish()
            filler.unlink()
            assert outage["state"] == "unavailable"
            assert "no space left" in outage["message"] and str(disk) in outage["message"]
            assert code == 2, err
            assert "give_up_after" in err and "Traceback" not in err
            assert "everything the store had committed is kept" in err
            assert watch.events[-1]["event"] == "summary"
            counts = watch.events[-1]["counts"]
            assert sum(counts.values()) == 3 and set(counts) <= {"queued", "running"}
            tasks = world.tasks()
            assert sorted(tasks) == sorted(ids)  # nothing the store had committed is lost
            assert sum(t["state"] == "running" for t in tasks.values()) == counts.get("running", 0)
            assert PollerLock(world.db).holder() is None
            assert temporary_files(disk) == []


def test_store_events_read_as_a_line_with_their_state() -> None:
    from tui import output
    from tui.core.model import Event

    down = Event("store", data={"state": "unavailable", "message": "no space left on /x/tasks.db"})
    back = Event("store", data={"state": "available", "message": "the store takes writes again"})
    assert output.event_line(down).endswith("store  unavailable: no space left on /x/tasks.db")
    assert output.event_line(back).endswith("store  available: the store takes writes again")


# -- SIGTERM and SIGHUP mid-download ----------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_mid_download_ends_watch_cleanly_and_the_part_resumes(
    world: World, signum: signal.Signals
) -> None:
    task_id = world.sim.add_task("kyy", queue_s=0.1, run_s=0.3, video_bytes=3_000_000)
    world.host.faults.add(
        f"{task_id}.mp4", "slow", rate=500_000, times=None
    )  # 6 s for the whole video
    world.add(task_id)
    watch = world.watch()
    deadline = time.monotonic() + 15
    while world.host.peak_in_flight < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.8)  # some hundreds of KB on their way
    watch.proc.send_signal(signum)
    code, err = watch.finish(timeout=15)
    assert code == 128 + signum, err
    assert f"stopped by {signum.name}" in err and "Traceback" not in err
    summary = watch.events[-1]
    assert summary["event"] == "summary" and summary["downloads"] == {"pending": 1}
    assert world.tasks()[task_id]["download"]["state"] == "pending"  # not `running`
    assert PollerLock(world.db).holder() is None
    part = world.videos / f"{task_id}.mp4.part"
    assert part.stat().st_size > 0
    assert temporary_files(world.videos) == []

    world.host.faults.clear()
    code, err = world.watch().finish()
    assert code == 0, err
    video = world.videos / f"{task_id}.mp4"
    assert video.read_bytes() == world.host.content(f"{task_id}.mp4")
    last = [r for r in world.host.requests if r.method == "GET" and r.name == video.name][-1]
    assert last.range is not None  # resumed from the .part, not fetched again from zero
    assert sorted(p.name for p in world.videos.iterdir()) == [video.name]


def test_a_watch_started_under_nohup_keeps_ignoring_sighup(world: World) -> None:
    """`nohup seedance-tui watch &` ignores SIGHUP so it outlives the terminal: it must stay
    that way (SIGTERM still ends it cleanly)."""
    slow = world.sim.add_task("kyy", queue_s=0.0, run_s=600)
    world.add(slow)
    proc = subprocess.Popen(
        ["sh", "-c", 'trap "" HUP; exec "$@"', "sh", sys.executable, "-m", "tui", "watch"],
        env=world.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while not world.sim.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGHUP)
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=1.5)  # still polling
        proc.terminate()
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "summary" in out.splitlines()[-1] and "1 running" in out.splitlines()[-1]
    assert "stopped by SIGTERM" in err and "Traceback" not in err
