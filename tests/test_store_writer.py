"""The store writer: writes in order, off the loop, and a locked or full store waited out."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from faults import fill

from tui.core.clock import FrozenClock, SystemClock
from tui.core.store import Store
from tui.core.store_writer import StoreOutage, StoreWriter

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def quick_open(path: Path) -> Store:
    """A store whose writes wait 0.2 s (not 15) for another process's lock: tests stay short."""
    store = Store.open(path)
    store._conn.execute("PRAGMA busy_timeout = 200")
    return store


def add(task_id: str) -> object:
    return lambda store: store.add_tasks("p", [task_id], batch=None, now=NOW)


def ids(path: Path) -> list[str]:
    with Store.open(path) as store:
        return sorted(t.id for t in store.query())


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[sqlite3.Connection]:
    """Another 'process' holding the store locked (BEGIN EXCLUSIVE) until the block ends."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    conn.execute("BEGIN EXCLUSIVE")
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")
        conn.close()


async def test_writes_land_in_order_in_a_thread_of_their_own(tmp_path: Path) -> None:
    db = tmp_path / "tasks.db"
    Store.open(db).close()
    writer = StoreWriter(db, clock=SystemClock())
    loop_thread = threading.get_ident()
    seen: list[int] = []
    for n in range(20):
        writer.submit(add(f"video_{n:02d}"))
    writer.submit(lambda store: seen.append(threading.get_ident()))
    result = await writer.call(lambda store: store.counts())
    await writer.aclose()
    assert sum(result.values()) == 20
    assert seen and seen[0] != loop_thread
    assert ids(db) == [f"video_{n:02d}" for n in range(20)]


async def test_a_locked_store_is_waited_out_and_nothing_is_lost(tmp_path: Path) -> None:
    db = tmp_path / "tasks.db"
    Store.open(db).close()
    changes: list[StoreOutage | None] = []
    writer = StoreWriter(db, clock=SystemClock(), on_change=changes.append, opener=quick_open)
    with exclusive_lock(db):
        for n in range(5):
            writer.submit(add(f"video_{n}"))
        await asyncio.sleep(0.8)
        assert not writer.available
        assert writer.pending == 5
        assert [c.reason for c in changes if c] == ["locked"]
    await asyncio.wait_for(writer.drain(), 10)
    await writer.aclose()
    assert writer.available
    assert changes[-1] is None and len(changes) == 2  # one 'unavailable', one 'available'
    assert ids(db) == [f"video_{n}" for n in range(5)]


async def test_the_writer_gives_up_after_the_configured_outage(tmp_path: Path) -> None:
    db = tmp_path / "tasks.db"
    Store.open(db).close()
    clock = FrozenClock(1_000.0)  # its sleep moves time on at once: 60 s pass in no time
    writer = StoreWriter(db, clock=clock, give_up_after=60, opener=quick_open)
    with exclusive_lock(db):
        writer.submit(add("video_1"))
        await asyncio.wait_for(writer.drain(), 30)
    assert writer.failure is not None
    assert "give_up_after = 60 s" in writer.failure and str(db) in writer.failure
    await writer.aclose()
    assert ids(db) == []  # not written, and said so; the store itself is intact


async def test_a_full_disk_is_an_outage_and_writes_resume_when_space_returns(
    small_disk: Path,
) -> None:
    db = small_disk / "tasks.db"
    Store.open(db).close()
    changes: list[StoreOutage | None] = []
    writer = StoreWriter(db, clock=SystemClock(), on_change=changes.append)
    await writer.call(add("video_first"))
    filler = fill(small_disk)
    big = [f"video_{n:04d}_{'x' * 100}" for n in range(3000)]
    writer.submit(lambda store: store.add_tasks("p", big, batch=None, now=NOW))
    writer.submit(add("video_last"))
    for _ in range(100):
        if changes:
            break
        await asyncio.sleep(0.05)
    assert changes and changes[0] is not None and changes[0].reason == "full"
    assert "no space" in changes[0].message or "full" in changes[0].message
    filler.unlink()
    await asyncio.wait_for(writer.drain(), 20)
    await writer.aclose()
    assert changes[-1] is None
    assert len(ids(db)) == 3002
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
