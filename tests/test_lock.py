"""The poller lock, with real second processes holding it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tui.core.lock import LockHeld, LockHolder, PollerLock, lock_path

HOLDER = """
import sys
from pathlib import Path
from tui.core.lock import PollerLock
lock = PollerLock(Path(sys.argv[1]))
lock.acquire(sys.argv[2])
print("ready", flush=True)
sys.stdin.read()   # hold until the test closes our stdin (or kills us)
"""


@contextmanager
def holder_process(db: Path, command: str = "seedance-tui watch") -> Iterator[subprocess.Popen]:
    """Another process that takes the lock and keeps it until its stdin closes."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db), command],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store" / "tasks.db"


def test_acquire_writes_who_holds_it_and_release_frees_it(db: Path) -> None:
    lock = PollerLock(db)
    assert lock.holder() is None and not lock.held
    lock.acquire("seedance-tui watch")
    assert lock.held and lock.path == lock_path(db) == db.parent / "tasks.db.lock"
    info = json.loads(lock.path.read_text())
    assert info["pid"] == os.getpid() and info["command"] == "seedance-tui watch"
    assert info["since"].endswith("Z")
    assert lock.holder() == LockHolder(os.getpid(), "seedance-tui watch", info["since"])
    lock.acquire("seedance-tui watch")  # already ours: nothing happens
    lock.release()
    assert not lock.held and lock.holder() is None
    assert lock.path.exists()  # never deleted (see lock.py)
    lock.release()  # a second release is harmless


def test_another_process_holding_it(db: Path) -> None:
    lock = PollerLock(db)
    with holder_process(db, "seedance-tui watch") as proc:
        holder = lock.holder()
        assert holder is not None
        assert (holder.pid, holder.command) == (proc.pid, "seedance-tui watch")
        with pytest.raises(LockHeld) as err:
            lock.acquire("seedance-tui")
        assert not lock.held
        assert err.value.pid == proc.pid and err.value.command == "seedance-tui watch"
        message = str(err.value)
        assert f"pid {proc.pid}" in message and "`seedance-tui watch`" in message
        assert holder.since in message and "read-only" in message
        # our failed attempt did not disturb the holder's note
        assert json.loads(lock.path.read_text())["pid"] == proc.pid
        assert proc.stdin is not None
        proc.stdin.close()  # the holder exits normally
        proc.wait(timeout=10)
    assert lock.holder() is None
    lock.acquire("seedance-tui")
    assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    lock.release()


def test_a_killed_holder_leaves_a_stale_file_that_blocks_nobody(db: Path) -> None:
    with holder_process(db, "seedance-tui status --refresh") as proc:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        stale = json.loads(lock_path(db).read_text())
        assert stale["pid"] == proc.pid  # the dead process's note is still there
    lock = PollerLock(db)
    assert lock.holder() is None
    lock.acquire("seedance-tui")
    info = json.loads(lock.path.read_text())
    assert info["pid"] == os.getpid() and info["command"] == "seedance-tui"
    lock.release()


def test_we_holding_it_blocks_another_process(db: Path) -> None:
    lock = PollerLock(db)
    lock.acquire("seedance-tui")
    try:
        probe = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from pathlib import Path; from tui.core.lock import PollerLock\n"
                "h = PollerLock(Path(sys.argv[1])).holder(); print(h.pid, h.command)",
                str(db),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert probe.stdout.split(maxsplit=1) == [str(os.getpid()), "seedance-tui\n"]
    finally:
        lock.release()


def test_two_locks_in_one_process_exclude_each_other(db: Path) -> None:
    first, second = PollerLock(db), PollerLock(db)
    with first:
        first.acquire("seedance-tui")
        with pytest.raises(LockHeld, match=f"pid {os.getpid()}"):
            second.acquire("seedance-tui watch")
        assert second.holder() == first.holder()
    second.acquire("seedance-tui watch")  # released by the with block
    assert first.holder() is not None and first.holder().command == "seedance-tui watch"  # type: ignore[union-attr]
    second.release()


def test_an_unreadable_note_still_names_a_holder(db: Path) -> None:
    """A holder whose note is garbage (not ours, or torn) still blocks, with a message."""
    with holder_process(db) as proc:
        lock_path(db).write_text("not json")
        with pytest.raises(LockHeld, match="pid 0") as err:
            PollerLock(db).acquire("seedance-tui")
        assert err.value.command == "unknown command"
        assert proc.poll() is None
