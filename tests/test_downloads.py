"""The Downloader end to end: a real VideoHost over loopback, a real SQLite store, real files.

Every fault the issue names is played by the host (cut bodies, resets, ignored or wrong ranges,
a changing object, gzip, HTML served with 200, 403s and expired URLs), and each test reads back
the file, the store row, the events and the host's request log.

`refresh` is the engine's "ask the provider once for a fresh URL" callback; here the provider's
part is played by `Republish`, which signs a fresh URL on the host (as Ark and the newapi relay
do) and stores it. The last test runs the real Engine against the real Simulator instead.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tui.core.clock import Clock, FrozenClock, SystemClock
from tui.core.config import Config, DownloadConfig, ProviderConfig
from tui.core.downloads import Downloader
from tui.core.engine import Engine
from tui.core.expiry import needs_download, url_expiry
from tui.core.model import Download, DownloadState, Event, State, Task
from tui.core.redact import redact_url
from tui.core.store import Store, TaskFilter
from tui.sim import Simulator
from tui.sim.video_host import VideoHost

START = datetime(2026, 4, 27, 11, 15, 0, tzinfo=UTC).timestamp()
KB = 1000


# -- the world -------------------------------------------------------------------------------


@pytest.fixture
def host() -> Iterator[VideoHost]:
    with VideoHost() as server:
        yield server


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "tasks.db")
    yield opened
    opened.close()


def finished(
    store: Store,
    host: VideoHost,
    name: str,
    *,
    size: int = 200 * KB,
    provider: str = "anyfast",
    ttl: float = 86400,
    style: str = "tos",
    redirect: bool = False,
    **fields: Any,
) -> Task:
    """A task the provider says succeeded, its video published on the host."""
    url = host.publish(name, size=size, ttl=ttl, style=style, redirect=redirect)
    now = datetime.fromtimestamp(host.clock.now(), UTC)
    store.add_tasks(provider, [name], batch=fields.get("batch"), now=now)
    task = Task(
        provider,
        name,
        state=State.SUCCEEDED,
        video_url=url,
        url_expires_at=url_expiry(url),
        finished_at=now,
        first_seen_terminal_at=now,
        **fields,
    )
    store.save(task)
    got = store.get(provider, name)
    assert got is not None
    return got


class Republish:
    """The provider's side of a refresh: sign a fresh URL for the same video (or give none)."""

    def __init__(self, host: VideoHost, store: Store, *, give: bool = True, ttl: float = 86400):
        self.host, self.store, self.give, self.ttl = host, store, give, ttl
        self.calls: list[tuple[str, str]] = []

    async def __call__(self, task: Task) -> Task | None:
        self.calls.append(task.key)
        if not self.give:
            return None
        url = self.host.publish(task.id, size=self.host.video(task.id).size, ttl=self.ttl)
        fresh = task.evolve(video_url=url, url_expires_at=url_expiry(url))
        self.store.save(fresh)
        return fresh


class Kit:
    """A Downloader and what it reported."""

    def __init__(
        self,
        tmp_path: Path,
        store: Store,
        host: VideoHost,
        *,
        clock: Clock | None = None,
        refresh: Republish | None = None,
        concurrency: int = 2,
        template: str = "{provider}/{id}.mp4",
        directory: Path | None = None,
        max_attempts: int = 4,
        file_opener: Any = None,
    ) -> None:
        self.dir = directory or tmp_path / "videos"
        self.store = store
        self.events: list[Event] = []
        self.refresh = refresh or Republish(host, store, give=False)
        config = DownloadConfig(
            enabled=True, dir=self.dir, template=template, concurrency=concurrency
        )
        self.downloader = Downloader(
            config,
            store,
            clock=clock or SystemClock(),
            publish=self.events.append,
            refresh=self.refresh,
            max_attempts=max_attempts,
            retry_delay=0.01,
            file_opener=file_opener,
        )

    async def run(self, *tasks: Task, timeout: float = 30) -> None:
        for task in tasks:
            self.downloader.enqueue(task)
        runner = asyncio.create_task(self.downloader.run())
        try:
            await asyncio.wait_for(self.downloader.drain(disk_waits=False), timeout)
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            await self.downloader.aclose()

    def path(self, task: Task) -> Path:
        return self.dir / task.provider / f"{task.id}.mp4"

    def download(self, task: Task) -> Download:
        row = self.store.get(task.provider, task.id)
        assert row is not None
        return row.download

    def states(self) -> list[str]:
        return [e.data["state"] for e in self.events if e.kind == "download"]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_kept(kit: Kit, host: VideoHost, task: Task) -> None:
    """The video is whole, in place, recorded as done, and no leftovers remain."""
    path = kit.path(task)
    size = host.video(task.id).size
    assert path.read_bytes() == host.content(task.id)
    assert kit.download(task) == Download(DownloadState.DONE, path=str(path), bytes=size)
    assert not path.with_name(path.name + ".part").exists()
    assert not path.with_name(path.name + ".part.json").exists()


def gets(host: VideoHost, name: str) -> list[Any]:
    return [r for r in host.requests if r.name == name and r.method == "GET"]


# -- the ordinary path ------------------------------------------------------------------------


async def test_a_finished_video_is_kept(tmp_path: Path, store: Store, host: VideoHost) -> None:
    task = finished(store, host, "asyntask_a1")
    kit = Kit(tmp_path, store, host)
    await kit.run(task)
    assert_kept(kit, host, task)
    [event] = kit.events
    assert event.to_json() | {"ts": None} == {
        "ts": None,
        "event": "download",
        "provider": "anyfast",
        "id": "asyntask_a1",
        "state": "done",
        "path": str(kit.path(task)),
        "bytes": 200 * KB,
    }
    row = store.get("anyfast", "asyntask_a1")
    assert row is not None and row.to_json()["download"]["state"] == "done"
    [request] = host.requests
    assert request.range is None and request.accept_encoding == "identity"


async def test_template_fields_and_a_hostile_model_stay_inside_dir(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    task = finished(store, host, "cgt-77", model="../../../../tmp/evil", batch="b/../../x")
    kit = Kit(tmp_path, store, host, template="{batch}/{model}/{date}/{id}.mp4")
    await kit.run(task)
    done = kit.download(task)
    assert done.state is DownloadState.DONE and done.path is not None
    path = Path(done.path)
    assert path.is_relative_to(kit.dir)
    assert ".." not in path.parts
    assert path.read_bytes() == host.content("cgt-77")
    assert task.finished_at is not None
    assert path.parent.name == task.finished_at.strftime("%Y-%m-%d")
    assert path.relative_to(kit.dir).parts[:2] == ("b_.._.._x", "_.._.._.._tmp_evil")


async def test_soonest_expiring_goes_first(tmp_path: Path, store: Store, host: VideoHost) -> None:
    late = finished(store, host, "video_late", ttl=20 * 3600)
    soon = finished(store, host, "video_soon", ttl=1 * 3600)
    middle = finished(store, host, "video_middle", ttl=5 * 3600)
    kit = Kit(tmp_path, store, host, concurrency=1)
    await kit.run(late, soon, middle)
    assert [r.name for r in host.requests] == ["video_soon", "video_middle", "video_late"]
    assert [e.id for e in kit.events] == ["video_soon", "video_middle", "video_late"]


async def test_enqueue_many_marks_every_video_pending_in_one_transaction(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    """The engine's start offers every video not kept yet: one durable write for all of them
    (not one fsync each); videos with nothing to do are skipped as `enqueue` skips them."""
    waiting = [finished(store, host, f"video_w{n}", size=10 * KB) for n in range(3)]
    no_url = finished(store, host, "video_nourl").evolve(video_url=None)
    store.save(no_url)
    mark, _ = store.changed_since(0)
    kit = Kit(tmp_path, store, host)
    assert kit.downloader.enqueue_many([*waiting, no_url]) == 3
    after, changed = store.changed_since(mark)
    assert after == mark + 1  # one transaction
    assert sorted(t.id for t in changed) == ["video_w0", "video_w1", "video_w2"]
    assert {t.download.state for t in changed} == {DownloadState.PENDING}
    assert [t.download.path for t in changed] == [str(kit.path(t)) for t in changed]
    assert kit.downloader.enqueue_many(waiting) == 3  # still queued: nothing new to write
    assert store.changed_since(after)[1] == []
    assert kit.downloader.pending() == 3
    await kit.run()
    assert {kit.download(t).state for t in waiting} == {DownloadState.DONE}
    assert kit.downloader.enqueue_many(waiting) == 0  # kept now
    assert [e.data["state"] for e in kit.events] == ["done"] * 3


async def test_concurrency_limit_and_progress(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    tasks = [finished(store, host, f"video_s{n}", size=60 * KB) for n in range(5)]
    for task in tasks:
        host.faults.add(task.id, "slow", rate=150 * KB)
    kit = Kit(tmp_path, store, host, concurrency=2)
    assert all(kit.downloader.enqueue(task) for task in tasks)
    assert kit.downloader.pending() == 5
    queued = kit.downloader.progress()
    assert {p.state for p in queued.values()} == {DownloadState.PENDING}
    assert all(p.url_expires_at is not None for p in queued.values())
    seen: list[Any] = []

    async def watch() -> None:
        while True:
            seen.append(kit.downloader.progress())
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch())
    try:
        await kit.run()
    finally:
        watcher.cancel()
    assert host.peak_in_flight == 2
    running_now = [[p for p in snap.values() if p.state is DownloadState.RUNNING] for snap in seen]
    running = [p for now in running_now for p in now]
    assert running and all(p.total == 60 * KB for p in running if p.total)
    assert any(0 < (p.percent or 0) < 100 for p in running)
    assert any(p.speed > 0 and p.bytes > 0 for p in running)
    assert max(len(now) for now in running_now) == 2
    assert kit.downloader.pending() == 0
    assert [e.data["state"] for e in kit.events] == ["done"] * 5
    for task in tasks:
        assert_kept(kit, host, task)


# -- resuming ---------------------------------------------------------------------------------


async def test_a_part_left_by_an_earlier_run_is_resumed_with_range_and_if_range(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    task = finished(store, host, "video_r", size=300 * KB)
    host.faults.add("video_r", "truncate", at=0, times=None, skip=1)  # 2nd+ attempts get nothing
    host.faults.add("video_r", "truncate", at=120 * KB)
    first = Kit(tmp_path, store, host, max_attempts=2)
    await first.run(task)
    part = first.path(task).with_name("video_r.mp4.part")
    assert part.stat().st_size == 120 * KB
    assert part.read_bytes() == host.content("video_r", 0, 120 * KB)
    assert first.download(task).state is DownloadState.FAILED
    assert not first.path(task).exists()  # a short body is never renamed

    host.faults.clear()
    host.clear_log()
    again = Kit(tmp_path, store, host)  # "start-up": a new process finds the .part
    await again.run(store.get("anyfast", "video_r") or task)
    [request] = host.requests
    assert request.range == f"bytes={120 * KB}-"
    assert request.if_range == host.video("video_r").etag
    assert request.status == 206 and request.sent == 180 * KB
    assert_kept(again, host, task)


async def test_a_cancelled_run_leaves_a_resumable_part_and_a_pending_task(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    task = finished(store, host, "video_c", size=400 * KB)
    host.faults.add("video_c", "slow", rate=400 * KB)
    kit = Kit(tmp_path, store, host)
    kit.downloader.enqueue(task)
    runner = asyncio.create_task(kit.downloader.run())
    for _ in range(200):
        progress = kit.downloader.progress().get(task.key)
        if progress and progress.bytes > 64 * KB:
            break
        await asyncio.sleep(0.01)
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    await kit.downloader.aclose()
    assert kit.download(task).state is DownloadState.PENDING
    part = kit.path(task).with_name("video_c.mp4.part")
    kept = part.stat().st_size
    assert kept > 0 and part.read_bytes() == host.content("video_c", 0, kept)

    host.faults.clear()
    again = Kit(tmp_path, store, host)
    await again.run(store.get("anyfast", "video_c") or task)
    # (The log is in order of completion: the cut first request may end after the second.)
    [resumed] = [r for r in gets(host, "video_c") if r.range is not None]
    assert resumed.range == f"bytes={kept}-" and resumed.status == 206
    assert_kept(again, host, task)


async def test_a_cut_body_is_resumed(tmp_path: Path, store: Store, host: VideoHost) -> None:
    task = finished(store, host, "video_t", size=250 * KB)
    host.faults.add("video_t", "truncate", at=100 * KB)
    kit = Kit(tmp_path, store, host)
    await kit.run(task)
    assert [(r.status, r.range, r.sent) for r in gets(host, "video_t")] == [
        (200, None, 100 * KB),
        (206, f"bytes={100 * KB}-", 150 * KB),
    ]
    assert_kept(kit, host, task)


async def test_cut_on_every_attempt_still_finishes_through_resumes(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    task = finished(store, host, "video_tt", size=250 * KB)
    host.faults.add("video_tt", "truncate", at=100 * KB, times=None)
    kit = Kit(tmp_path, store, host, max_attempts=5)
    await kit.run(task)
    assert [r.sent for r in gets(host, "video_tt")] == [100 * KB, 100 * KB, 50 * KB]
    assert_kept(kit, host, task)


async def test_a_body_that_never_arrives_fails_and_is_never_renamed(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    task = finished(store, host, "video_z", size=50 * KB)
    host.faults.add("video_z", "truncate", at=0, times=None)
    kit = Kit(tmp_path, store, host, max_attempts=3)
    await kit.run(task)
    assert len(gets(host, "video_z")) == 3
    failed = kit.download(task)
    assert failed.state is DownloadState.FAILED
    assert failed.error is not None and "gave up after 3 attempts" in failed.error
    assert "broke off" in failed.error and "/videos/video_z" in failed.error
    assert "X-Tos" not in failed.error
    assert not kit.path(task).exists()
    assert kit.states() == ["failed"]
    assert kit.events[-1].data["error"] == failed.error


async def test_a_reset_connection_is_resumed(tmp_path: Path, store: Store, host: VideoHost) -> None:
    task = finished(store, host, "video_x", size=3_000 * KB)
    host.faults.add("video_x", "reset", at=1_000 * KB)
    kit = Kit(tmp_path, store, host)
    await kit.run(task)
    first, second = gets(host, "video_x")
    assert first.faults == ("reset",)
    assert second.status == 206 and second.range is not None
    assert_kept(kit, host, task)


async def test_a_server_that_ignores_range_restarts_from_zero(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    task = finished(store, host, "video_i", size=200 * KB)
    host.faults.add("video_i", "truncate", at=80 * KB)
    host.faults.add("video_i", "ignore_range", skip=1)
    kit = Kit(tmp_path, store, host)
    await kit.run(task)
    _, second = gets(host, "video_i")
    assert second.range == f"bytes={80 * KB}-" and second.status == 200
    assert second.sent == 200 * KB
    assert_kept(kit, host, task)  # 200 kB, not 80 kB + 200 kB


async def test_a_206_for_the_wrong_range_restarts(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    task = finished(store, host, "video_b", size=200 * KB)
    host.faults.add("video_b", "truncate", at=80 * KB)
    host.faults.add("video_b", "bad_range", skip=1)
    kit = Kit(tmp_path, store, host)
    await kit.run(task)
    assert [(r.status, r.range) for r in gets(host, "video_b")] == [
        (200, None),
        (206, f"bytes={80 * KB}-"),
        (200, None),
    ]
    assert_kept(kit, host, task)


async def test_an_object_that_changed_between_attempts_is_fetched_whole_again(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    task = finished(store, host, "video_e", size=200 * KB)
    old = host.content("video_e")
    old_etag = host.video("video_e").etag
    host.faults.add("video_e", "truncate", at=80 * KB)
    host.faults.add("video_e", "etag_change", skip=1)
    kit = Kit(tmp_path, store, host)
    await kit.run(task)
    _, second = gets(host, "video_e")
    assert second.if_range == old_etag and second.status == 200
    new = host.content("video_e")
    assert new != old
    assert kit.path(task).read_bytes() == new  # no mix of old head and new tail
    assert_kept(kit, host, task)


async def test_gzip_nobody_asked_for_is_stored_decoded(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    task = finished(store, host, "video_g", size=150 * KB)
    host.faults.add("video_g", "gzip")
    kit = Kit(tmp_path, store, host)
    await kit.run(task)
    [request] = gets(host, "video_g")
    assert request.faults == ("gzip",) and request.accept_encoding == "identity"
    assert_kept(kit, host, task)
    assert kit.events[-1].data["bytes"] == 150 * KB


async def test_a_missing_content_length_is_accepted(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    task = finished(store, host, "video_n", size=90 * KB)
    host.faults.add("video_n", "no_length")
    kit = Kit(tmp_path, store, host)
    await kit.run(task)
    assert_kept(kit, host, task)


async def test_an_html_page_served_with_200_is_not_a_video(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    once = finished(store, host, "video_h1", size=40 * KB)
    always = finished(store, host, "video_h2", size=40 * KB)
    host.faults.add("video_h1", "html")
    host.faults.add("video_h2", "html", times=None)
    kit = Kit(tmp_path, store, host, max_attempts=3)
    await kit.run(once, always)
    assert_kept(kit, host, once)
    failed = kit.download(always)
    assert failed.state is DownloadState.FAILED
    assert failed.error is not None and "text/html instead of a video" in failed.error
    assert not kit.path(always).exists()
    part = kit.path(always).with_name("video_h2.mp4.part")
    assert not part.exists() or part.read_bytes() == b""
    assert len(gets(host, "video_h2")) == 3


# -- expiry and refused URLs ------------------------------------------------------------------


async def test_a_403_asks_once_for_a_fresh_url(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    task = finished(store, host, "cgt-f")
    host.faults.add("cgt-f", "forbid")
    refresh = Republish(host, store)
    kit = Kit(tmp_path, store, host, refresh=refresh)
    await kit.run(task)
    assert refresh.calls == [("anyfast", "cgt-f")]
    assert [r.status for r in gets(host, "cgt-f")] == [403, 200]
    assert_kept(kit, host, task)


async def test_past_expiry_with_no_fresh_url_is_expired_loudly(
    tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FrozenClock(START)
    with VideoHost(clock=clock) as host:
        task = finished(store, host, "video_old", ttl=3600)
        clock.advance(7200)
        refresh = Republish(host, store, give=False)
        kit = Kit(tmp_path, store, host, clock=clock, refresh=refresh)
        with caplog.at_level(logging.WARNING, logger="tui.core.downloads"):
            await kit.run(task)
        assert refresh.calls == [task.key]  # the provider was asked exactly once
        assert [r.status for r in host.requests] == [403]
    expired = kit.download(task)
    assert expired.state is DownloadState.EXPIRED
    assert expired.error is not None
    assert "video URL expired at 2026-04-27T12:15:00Z" in expired.error
    assert "can no longer be downloaded" in expired.error
    assert "X-Tos" not in expired.error
    [event] = kit.events
    assert event.data == {"state": "expired", "path": None, "error": expired.error}
    assert kit.downloader.pending() == 0
    assert "video URL expired" in caplog.text
    assert not kit.path(task).exists()
    # Given up: enqueueing it again does not ask the provider again.
    assert not kit.downloader.enqueue(store.get("anyfast", "video_old") or task)
    assert not needs_download(store.get("anyfast", "video_old") or task)


async def test_past_expiry_with_a_fresh_url_is_kept(tmp_path: Path, store: Store) -> None:
    clock = FrozenClock(START)
    with VideoHost(clock=clock) as host:
        task = finished(store, host, "cgt-late", ttl=3600)
        clock.advance(7200)
        refresh = Republish(host, store, ttl=3600)
        kit = Kit(tmp_path, store, host, clock=clock, refresh=refresh)
        await kit.run(task)
        assert refresh.calls == [task.key]
        assert [r.status for r in host.requests] == [403, 200]
        assert_kept(kit, host, task)


async def test_a_refused_url_before_its_expiry_fails_without_calling_it_expired(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    task = finished(store, host, "video_no", ttl=3600)
    host.faults.add("video_no", "forbid", times=None)
    kit = Kit(tmp_path, store, host, refresh=Republish(host, store))
    await kit.run(task)
    failed = kit.download(task)
    assert failed.state is DownloadState.FAILED
    assert failed.error is not None and "HTTP 403 before its expiry" in failed.error
    assert [r.status for r in gets(host, "video_no")] == [403, 403]  # once, and once fresh


async def test_a_missing_video_fails_at_once(tmp_path: Path, store: Store, host: VideoHost) -> None:
    task = finished(store, host, "video_m")
    gone = task.evolve(video_url=task.video_url.replace("/videos/video_m", "/videos/nope"))  # type: ignore[union-attr]
    store.save(gone)
    kit = Kit(tmp_path, store, host)
    await kit.run(gone)
    failed = kit.download(gone)
    assert failed.state is DownloadState.FAILED and "HTTP 404" in (failed.error or "")
    assert len(host.requests) == 1


# -- already on disk ---------------------------------------------------------------------------


async def test_a_file_the_store_says_is_done_is_not_fetched_again(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    task = finished(store, host, "video_d")
    kit = Kit(tmp_path, store, host)
    await kit.run(task)
    host.clear_log()
    done = store.get("anyfast", "video_d")
    assert done is not None and not needs_download(done)
    again = Kit(tmp_path, store, host)
    assert again.downloader.enqueue(done) is False
    await again.run()
    assert host.requests == []


async def test_a_file_already_on_disk_with_the_right_size_is_only_checked(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    task = finished(store, host, "video_k", size=77 * KB)
    kit = Kit(tmp_path, store, host)
    path = kit.path(task)
    path.parent.mkdir(parents=True)
    path.write_bytes(host.content("video_k"))
    await kit.run(task)
    assert [r.method for r in host.requests] == ["HEAD"]
    assert kit.events[-1].data == {
        "state": "done",
        "path": str(path),
        "bytes": 77 * KB,
        "existing": True,
    }
    assert_kept(kit, host, task)


async def test_a_file_on_disk_with_the_wrong_size_is_replaced(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    task = finished(store, host, "video_w", size=77 * KB)
    kit = Kit(tmp_path, store, host)
    path = kit.path(task)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"half a video")
    await kit.run(task)
    assert [r.method for r in host.requests] == ["HEAD", "GET"]
    assert_kept(kit, host, task)


async def test_two_tasks_rendering_one_file_do_not_overwrite_each_other(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    one = finished(store, host, "video_one", size=10 * KB)
    two = finished(store, host, "video_two", size=20 * KB)
    kit = Kit(tmp_path, store, host, template="{provider}.mp4", concurrency=1)
    await kit.run(one, two)
    assert (kit.dir / "anyfast.mp4").read_bytes() == host.content("video_one")
    clash = kit.download(two)
    assert clash.state is DownloadState.FAILED
    assert "put {id} in [download] template" in (clash.error or "")


# -- the local side: disk full, unwritable folder ---------------------------------------------


class _FullDiskFile:
    """Used only where this test cannot mount a tiny tmpfs (not root): a real file that raises
    ENOSPC once `limit` bytes were written, as the kernel would."""

    def __init__(self, path: Path, mode: str, limit: int) -> None:
        self._file = open(path, mode)  # noqa: SIM115
        self._path, self._limit = path, limit

    def write(self, data: bytes) -> int:
        if self._file.tell() + len(data) > self._limit:
            raise OSError(errno.ENOSPC, "No space left on device", str(self._path))
        return self._file.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


@contextmanager
def tiny_disk(path: Path, size: str = "1m") -> Iterator[Any]:
    """A 1 MiB tmpfs at `path` (yields None), or, when mounting is not allowed, a file opener
    that fails like a full disk (yields it). The test runs either way; it prints which."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode != 0:
        print("disk full: simulated with an ENOSPC-raising file (no permission to mount)")

        def opener(target: Path, mode: str) -> IO[bytes]:
            return _FullDiskFile(target, mode, 1024 * 1024)  # type: ignore[return-value]

        yield opener
        return
    print("disk full: a real 1 MiB tmpfs")
    try:
        yield None
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


async def test_disk_full_names_the_path_keeps_the_task_pending_and_renames_nothing(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    task = finished(store, host, "video_full", size=3_000 * KB)
    small = tmp_path / "small"
    with tiny_disk(small) as opener:
        kit = Kit(tmp_path, store, host, directory=small, file_opener=opener)
        await kit.run(task)
        waiting = kit.download(task)
        part = kit.path(task).with_name("video_full.mp4.part")
        assert waiting.state is DownloadState.PENDING
        assert waiting.error == (
            f"no space left on device writing {part}: free space or change [download] dir"
        )
        assert kit.events[-1].data["state"] == "pending"
        assert kit.events[-1].data["error"] == waiting.error
        assert not kit.path(task).exists()
        if opener is None:
            subprocess.run(["mount", "-o", "remount,size=8m", str(small)], check=True)
        # Space freed: the next run (the next `download`, or the next start) finishes it.
        again = Kit(tmp_path, store, host, directory=small)
        await again.run(store.get("anyfast", "video_full") or task)
        assert_kept(again, host, task)
        assert gets(host, "video_full")[-1].range is not None  # resumed, not restarted


def fill_up(path: Path) -> None:
    """Write zeros to `path` until its filesystem is full."""
    with path.open("wb", buffering=0) as filler:
        try:
            while True:
                filler.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


async def test_a_disk_too_full_for_the_resume_metadata_leaves_no_temporary_file(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    """On a full disk even the `.part.json` cannot be written; its temporary file must not
    stay behind (zero-byte `*.part.json.tmp` files once piled up this way)."""
    task = finished(store, host, "video_meta", size=3_000 * KB)
    small = tmp_path / "small"
    with tiny_disk(small) as opener:
        folder = small / "anyfast"
        folder.mkdir()
        if opener is None:  # a real tmpfs: fill it to the last byte
            fill_up(small / "filler")
        kit = Kit(tmp_path, store, host, directory=small, file_opener=opener)
        await kit.run(task)
        waiting = kit.download(task)
        assert waiting.state is DownloadState.PENDING
        assert waiting.error is not None
        assert waiting.error.startswith("no space left on device writing ")
        assert not kit.path(task).exists()
        assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []


async def test_a_file_where_the_folder_should_be_is_a_clear_error(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    """Tests run as root, where chmod does not stop writes; a regular file in the way of the
    folder does stop them, for root too (ENOTDIR)."""
    task = finished(store, host, "video_u")
    (tmp_path / "afile").write_text("not a folder")
    kit = Kit(tmp_path, store, host, directory=tmp_path / "afile" / "videos")
    await kit.run(task)
    waiting = kit.download(task)
    assert waiting.state is DownloadState.PENDING
    assert waiting.error is not None
    assert waiting.error.startswith(f"cannot create the folder {tmp_path / 'afile' / 'videos'}")
    assert "change [download] dir" in waiting.error
    assert host.requests == []  # nothing fetched that could not be kept


# -- the key and the signed URLs stay home -------------------------------------------------------


async def test_no_request_to_a_video_host_ever_carries_authorization(
    tmp_path: Path, store: Store, host: VideoHost
) -> None:
    """Direct URLs and `/r/` URLs that redirect on the same origin: no Authorization header on
    any hop. The first request proves the log would see one if it were sent."""
    url = host.publish("probe", size=10)
    async with httpx.AsyncClient(headers={"Authorization": "Bearer sk-test"}) as keyed:
        await keyed.get(url)
    assert host.requests[0].has_auth is True
    host.clear_log()
    tasks = [finished(store, host, "video_p1"), finished(store, host, "video_p2", redirect=True)]
    host.faults.add("video_p1", "truncate", at=50 * KB)
    host.faults.add("video_p2", "forbid")
    kit = Kit(tmp_path, store, host, refresh=Republish(host, store))
    await kit.run(*tasks)
    for task in tasks:
        assert kit.download(task).state is DownloadState.DONE
    statuses = [r.status for r in host.requests]
    assert 302 in statuses and 206 in statuses
    assert host.requests and not any(r.has_auth for r in host.requests)


async def test_signed_query_strings_never_reach_logs_or_events(
    tmp_path: Path, store: Store, host: VideoHost, caplog: pytest.LogCaptureFixture
) -> None:
    ok = finished(store, host, "video_l1")
    bad = finished(store, host, "video_l2")
    host.faults.add("video_l2", "html", times=None)
    kit = Kit(tmp_path, store, host, max_attempts=2)
    with caplog.at_level(logging.INFO, logger="httpx"):
        await kit.run(ok, bad)
    assert "HTTP Request: GET" in caplog.text  # httpx did log every request...
    assert f"{host.base_url}/videos/video_l1" in caplog.text
    assert "X-Tos-Signature" not in caplog.text  # ...without the signature
    assert "X-Tos" not in repr(kit.events)
    assert "X-Tos" not in (kit.download(bad).error or "")
    assert redact_url(ok.video_url) == f"{host.base_url}/videos/video_l1"


async def test_engine_end_to_end_keeps_the_key_at_the_api(tmp_path: Path) -> None:
    """The real Engine, polling the real Simulator with a key, downloads from the VideoHost:
    the simulator saw the key on every poll, the video host never did."""
    keys = {"ark": "sk-sim-ark-download-secret", "newapi": "sk-sim-newapi-download-secret"}
    with VideoHost() as host, Simulator(keys=keys, video_host=host) as sim:
        # Finished before the first poll (created a minute ago): this test is about where the
        # key goes, not about the engine's scheduling of live tasks.
        ago = time.time() - 60
        ids = {
            "ark": [sim.add_task("ark", created_at=ago, queue_s=1, run_s=2, video_bytes=120_000)],
            "anyfast": [
                sim.add_task("newapi", created_at=ago, queue_s=1, run_s=2, video_bytes=90_000)
            ],
        }
        providers = {
            "ark": ProviderConfig(
                "ark", "ark", sim.provider_url("ark"), api_key=keys["ark"],
                min_interval=0.2, max_interval=0.5, rate_limit=20, timeout=5,
            ),
            "anyfast": ProviderConfig(
                "anyfast", "newapi", sim.provider_url("newapi"), api_key=keys["newapi"],
                min_interval=0.2, max_interval=0.5, rate_limit=20, timeout=5,
            ),
        }  # fmt: skip
        config = Config(providers=providers, download=DownloadConfig(dir=tmp_path / "videos"))
        with Store.open(tmp_path / "tasks.db") as store:
            for provider, task_ids in ids.items():
                store.add_tasks(provider, task_ids, batch=None, now=datetime.now(UTC))
            engine = Engine(store, config)
            events: list[Event] = []
            engine.subscribe(events.append)
            try:
                await asyncio.wait_for(engine.run(TaskFilter(), until_done=True), 30)
            finally:
                await engine.aclose()
            tasks = store.query()
        assert [t.download.state for t in tasks] == [DownloadState.DONE] * 2
        for task in tasks:
            assert task.download.path is not None
            data = Path(task.download.path).read_bytes()
            assert len(data) == task.download.bytes
        assert any(e.kind == "download" and e.data["state"] == "done" for e in events)
        assert sim.requests and all(r.has_auth for r in sim.requests)
        video_requests = host.requests
        assert video_requests and not any(r.has_auth for r in video_requests)
