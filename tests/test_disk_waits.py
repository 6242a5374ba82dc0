"""Downloads that fail on the local disk wait and are tried again while the process runs (issue
10.3): on a real full tmpfs, nothing is left behind, and `drain` (what `watch` waits on) ends
only when every video is kept or its URL is dead."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from faults import fill, mounted_disk, resize, temporary_files

from tui.core.clock import SystemClock
from tui.core.config import DownloadConfig
from tui.core.disk_waits import LONGEST_RETRY, DiskWaits
from tui.core.downloads import Downloader
from tui.core.expiry import url_expiry
from tui.core.model import Download, DownloadState, Event, State, Task
from tui.core.store import Store
from tui.sim.video_host import VideoHost

pytestmark = pytest.mark.slow  # downloads wait for a real full disk

KB = 1000


@pytest.fixture
def host() -> Iterator[VideoHost]:
    with VideoHost() as server:
        yield server


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "tasks.db")
    yield opened
    opened.close()


def finished(store: Store, host: VideoHost, name: str, *, size: int, ttl: float = 86400) -> Task:
    url = host.publish(name, size=size, ttl=ttl)
    now = datetime.fromtimestamp(host.clock.now(), UTC)
    store.add_tasks("anyfast", [name], batch=None, now=now)
    task = Task(
        "anyfast",
        name,
        state=State.SUCCEEDED,
        video_url=url,
        url_expires_at=url_expiry(url),
        finished_at=now,
        first_seen_terminal_at=now,
    )
    store.save(task)
    return task


class StretchedClock(SystemClock):
    """Real time, but each wait it is asked for lasts 1000 times longer: a back-off never ends
    by itself within a test, so only something else can start the next try."""

    def real_seconds(self, seconds: float) -> float:
        return seconds * 1000


class Run:
    """A running Downloader into `folder` and the events it published."""

    def __init__(self, store: Store, folder: Path, clock: SystemClock) -> None:
        self.events: list[Event] = []
        self.store = store
        self.folder = folder
        self.downloader = Downloader(
            DownloadConfig(enabled=True, dir=folder, template="{id}.mp4", concurrency=2),
            store,
            clock=clock,
            publish=self.events.append,
            refresh=self.no_fresh_url,
            retry_delay=0.01,
        )

    @staticmethod
    async def no_fresh_url(task: Task) -> Task | None:
        return None

    async def until(self, seen: str, timeout: float = 10) -> Event:
        """The first event whose kind/state reads `seen` (`download:pending`, `notice`)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            for event in self.events:
                if f"{event.kind}:{event.data.get('state', '')}".rstrip(":") == seen:
                    return event
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {seen} event in {[e.to_json() for e in self.events]}")

    def download(self, task: Task) -> Download:
        row = self.store.get(task.provider, task.id)
        assert row is not None
        return row.download


async def test_a_video_waiting_for_a_full_disk_is_kept_once_space_returns(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    task = finished(store, host, "video_full", size=1_500 * KB)
    with mounted_disk(tmp_path / "disk", "1m") as disk:
        run = Run(store, disk, SystemClock())
        run.downloader.enqueue(task)
        worker = asyncio.create_task(run.downloader.run())
        drained = asyncio.create_task(run.downloader.drain())
        try:
            pending = await run.until("download:pending")
            assert pending.data["error"].startswith("no space left on device writing ")
            notice = await run.until("notice")  # only disk waits remain: said at once
            assert notice.data["pending"] == 1
            assert "not kept yet because of the local disk" in notice.data["message"]
            await asyncio.sleep(1.5)  # a try or two more, on a disk still full
            assert not drained.done()  # `watch` would still be running
            assert run.downloader.waiting_for_disk() == 1
            assert run.download(task).state is DownloadState.PENDING
            assert (
                len([e for e in run.events if e.kind == "download"]) == 1
            )  # one line, not one per try
            resize(disk, "4m")
            await asyncio.wait_for(drained, 10)
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
            await run.downloader.aclose()
        path = disk / "video_full.mp4"
        assert path.read_bytes() == host.content("video_full")
        assert run.download(task) == Download(DownloadState.DONE, path=str(path), bytes=1_500 * KB)
        gets = [r for r in host.requests if r.method == "GET"]
        assert len(gets) >= 2 and gets[-1].range is not None  # resumed where the disk ran out
        assert temporary_files(disk) == []
        assert sorted(p.name for p in disk.iterdir()) == ["video_full.mp4"]


async def test_another_kept_video_starts_the_next_try_at_once(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    """The back-off would last for ages here (a stretched clock): the waiting video is fetched
    anyway, right after another download's file was written, which says space is back."""
    big = finished(store, host, "video_big", size=1_500 * KB)
    small = finished(store, host, "video_small", size=50 * KB)
    with mounted_disk(tmp_path / "disk", "1m") as disk:
        run = Run(store, disk, StretchedClock())
        run.downloader.enqueue(big)
        worker = asyncio.create_task(run.downloader.run())
        try:
            await run.until("download:pending")
            resize(disk, "4m")
            await asyncio.sleep(0.3)
            assert run.download(big).state is DownloadState.PENDING  # still waiting its turn
            run.downloader.enqueue(small)
            await asyncio.wait_for(run.downloader.drain(), 10)
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
            await run.downloader.aclose()
        assert (disk / "video_big.mp4").read_bytes() == host.content("video_big")
        assert run.download(big).state is DownloadState.DONE
        assert run.download(small).state is DownloadState.DONE
        assert temporary_files(disk) == []


async def test_a_url_that_dies_while_the_disk_is_full_ends_as_expired(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    """Waiting for the disk ends when the video can no longer be fetched: `watch` ends too."""
    task = finished(store, host, "video_short", size=200 * KB, ttl=1.5)
    with mounted_disk(tmp_path / "disk", "1m") as disk:
        fill(disk)
        run = Run(store, disk, SystemClock())
        run.downloader.enqueue(task)
        worker = asyncio.create_task(run.downloader.run())
        try:
            await run.until("download:pending")
            await asyncio.wait_for(run.downloader.drain(), 10)
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
            await run.downloader.aclose()
        gone = run.download(task)
        assert gone.state is DownloadState.EXPIRED
        assert "can no longer be downloaded" in (gone.error or "")
        assert run.downloader.waiting_for_disk() == 0
        assert temporary_files(disk) == []


def test_disk_waits_back_off_up_to_a_minute_and_say_so_once_a_minute() -> None:
    task = Task("p", "t1", state=State.SUCCEEDED, video_url="http://h/v.mp4")
    waits = DiskWaits(random.Random(1))
    error = "no space left on device writing /v/t1.mp4.part: free space or change [download] dir"
    assert waits.park(task, error, 0.0, "/v/t1.mp4") is True
    assert waits.park(task, error, 0.0, "/v/t1.mp4") is False  # the same news: no new line
    delays = []
    for _ in range(12):
        waits.park(task, error, 0.0, "/v/t1.mp4")
        delays.append(waits.next_due() or 0.0)
    assert delays[0] < delays[3] <= LONGEST_RETRY
    assert max(delays) <= LONGEST_RETRY and delays[-1] >= LONGEST_RETRY / 2
    assert waits.take_due(1.0) == []
    waits.hurry(1.0)  # another file was written
    assert waits.take_due(1.0) == [task]
    first = waits.notice(100.0)
    assert first is not None and first.startswith("1 finished video not kept yet")
    assert waits.notice(130.0) is None
    assert waits.notice(160.0) is not None
    waits.forget(task.key)
    assert len(waits) == 0 and waits.notice(300.0) is None


async def test_temporary_files_a_killed_run_left_are_removed(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    """A SIGKILL in the middle of writing the resume metadata leaves `.NAME.part.json.PID.tmp`;
    the next try of that video clears it (and never touches other files)."""
    task = finished(store, host, "video_k[1]", size=100 * KB)
    folder = tmp_path / "videos"
    folder.mkdir()
    stale = folder / ".video_k[1].mp4.part.json.4242.tmp"
    stale.write_bytes(b"")
    other = folder / "notes.tmp"
    other.write_text("the user's own file")
    run = Run(store, folder, SystemClock())
    run.downloader.enqueue(task)
    worker = asyncio.create_task(run.downloader.run())
    try:
        await asyncio.wait_for(run.downloader.drain(), 10)
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
        await run.downloader.aclose()
    assert run.download(task).state is DownloadState.DONE
    assert temporary_files(folder) == ["notes.tmp"]
