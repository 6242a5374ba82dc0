"""The crash test: a sending engine SIGKILLed at random moments and restarted until done never
creates a request twice unless it is marked `uncertain`, never loses a created task, and
leaves a sound store every time."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest
from crash_submit_runner import KEY_ENV, PROVIDER_ENV
from submit_helpers import planned

from tui.core.clock import SystemClock
from tui.core.request_store import mark_sending, next_pending, query_requests, record_requests
from tui.core.requests import RequestState
from tui.core.store import Store
from tui.core.store_writer import StoreWriter
from tui.sim import Simulator, fingerprint

pytestmark = pytest.mark.slow  # `submit --watch` processes killed and started again

RUNNER = Path(__file__).with_name("crash_submit_runner.py")
REQUESTS = 60
KILLS = 10


def start(db: Path, sim: Simulator) -> subprocess.Popen[bytes]:
    settings = {
        "name": "ark", "kind": "ark", "base_url": sim.provider_url("ark"), "rate_limit": 50,
        "concurrency": 8, "min_interval": 0.2, "max_interval": 0.5, "timeout": 1,
        "max_live": 8, "create_rate": 6000,
    }  # fmt: skip
    env = {**os.environ, PROVIDER_ENV: json.dumps(settings), KEY_ENV: sim.key("ark")}
    env["PYTHONPATH"] = os.pathsep.join([str(RUNNER.parent.parent), env.get("PYTHONPATH", "")])
    return subprocess.Popen(
        [sys.executable, str(RUNNER), str(db)], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip


def integrity(db: Path) -> str:
    """Closed here, not by the garbage collector: a connection left open would stay open while
    the next runner runs (sqlite3's `with` only commits), and close at a random moment."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def files_held_open(folder: Path) -> set[str]:
    """Names of the files in `folder` this process has a descriptor of."""
    held = set()
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):  # the listing's own descriptor is gone already
            target = Path(os.readlink(fd))
            if target.parent == folder:
                held.add(target.name)
    return held


def test_the_check_between_two_runners_holds_nothing_open_while_the_next_one_runs(
    tmp_path: Path,
) -> None:
    """A connection of this process left open would still hold the store while the next runner
    writes, and close whenever the garbage collector gets to it (sqlite3's `with` only
    commits): the store's `-wal` and `-shm` must be let go of before the next runner starts."""
    db = tmp_path / "tasks.db"
    with Store.open(db) as store:
        record_requests(store, planned("ark", 2), batch="crash", now=datetime.now(UTC))
    collecting = gc.isenabled()
    gc.disable()  # only an explicit close lets go now
    try:
        assert integrity(db) == "ok"
        assert not files_held_open(tmp_path) & {"tasks.db-wal", "tasks.db-shm"}
    finally:
        if collecting:
            gc.enable()


def test_sigkill_at_random_moments_never_creates_twice(tmp_path: Path) -> None:
    rng = random.Random(11)
    db = tmp_path / "tasks.db"
    lines = planned("ark", REQUESTS)
    with Simulator(seed=5) as sim:
        sim.shape_creates("ark", queue_s=0.2, run_s=0.6)
        sim.faults.add(502, kind="ark", after_create=True, count=2)
        sim.faults.add("hang", kind="ark", after_create=True, count=1, hang_s=2)
        with Store.open(db) as store:
            record_requests(store, lines, batch="crash", now=datetime.now(UTC))
        for _ in range(KILLS):
            process = start(db, sim)
            time.sleep(rng.uniform(0.3, 2.0))  # start-up takes ~0.3 s of it
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            assert integrity(db) == "ok"
        process = start(db, sim)
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr.decode()[-2000:]
        assert integrity(db) == "ok"
        with Store.open(db) as store:
            requests = query_requests(store)
            tracked = {task.id for task in store.query()}
        counts = sim.create_counts("ark")
        by_body = {fingerprint(line.body): line.fingerprint for line in lines}
        state_of = {r.fingerprint: r.state for r in requests}
        assert len(requests) == REQUESTS
        assert all(r.state not in (RequestState.PENDING, RequestState.SENDING) for r in requests)
        for body_fp, count in counts.items():
            if state_of[by_body[body_fp]] is not RequestState.UNCERTAIN:
                assert count <= 1, f"{by_body[body_fp]} created {count} times"
        uncertain = {r.fingerprint for r in requests if r.state is RequestState.UNCERTAIN}
        for record in sim.created("ark"):
            assert record.task_id in tracked or by_body[record.fingerprint] in uncertain
        # Every request ends created or uncertain (no refusal in this run), and the batch gets
        # done: each kill may leave the creates it had in flight uncertain (up to max_live), so
        # how many end uncertain depends on the machine's load; most are created.
        created = sum(1 for r in requests if r.state is RequestState.CREATED)
        assert created + len(uncertain) == REQUESTS
        assert created >= REQUESTS // 2


READ_STATES = (
    "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
    "print(' '.join(s for (s,) in c.execute('select state from requests order by seq'))); "
    "c.close()"
)


def test_a_reader_closing_in_another_process_never_takes_the_senders_commits(
    tmp_path: Path,
) -> None:
    """The engine's two connections (the loop's, and the writer thread's opened beside it) keep
    this process's locks on the store the whole time: another process that reads the store
    and closes (the dashboard, a check between two runners) must never take itself for the
    last connection and delete the `-wal` that `sending` marks are still written to (a crash
    after that would lose them, and the requests would be sent again)."""
    db = tmp_path / "tasks.db"
    now = datetime.now(UTC)
    with Store.open(db) as store:
        record_requests(store, planned("ark", 2), batch="crash", now=now)

    def others_see() -> str:
        done = subprocess.run(
            [sys.executable, "-c", READ_STATES, str(db)], capture_output=True, check=True
        )
        return done.stdout.decode().strip()

    async def send_two() -> str:
        with Store.open(db) as store:
            first, second = next_pending(store, "ark", now, limit=2)
            writer = StoreWriter(db, clock=SystemClock())
            try:
                assert await writer.call(partial(mark_sending, request=first, now=now))
                others_see()  # opens, reads and closes while both of ours are open
                assert await writer.call(partial(mark_sending, request=second, now=now))
                return others_see()
            finally:
                await writer.aclose()

    assert asyncio.run(send_two()) == "sending sending"
