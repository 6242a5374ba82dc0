"""Keep every finished video before its signed URL dies (about a day after the task finished).

A `Downloader` owns a priority queue (the URL that expires soonest goes first), a few worker
coroutines (`[download] concurrency`) and its own HTTP client, which never carries an API key:
the video hosts are other origins, and httpx only strips `Authorization` on cross-origin
redirects, so the only safe key is the one that was never there.

This module decides; `transfer` moves the bytes (one request into `NAME.part`, checked, fsynced,
renamed into place) and says how each attempt ended. Only a file in place makes the store say
`done`. Cut bodies, resets, 5xx and error pages are retried after a jittered pause; a `.part`
that cannot be continued starts over at once (a few times at most); a 403/410 from the host asks
the provider once for a fresh URL, and with none, past the URL's expiry, the download is
`expired`. Disk trouble (full, read-only, not writable) leaves the task pending, loudly, and
it is tried again with back-off while the process runs (`disk_waits`): `drain` waits for it,
so `watch` never says done while a video that can still be fetched is missing.

Signed query strings are credentials too: events, errors and the `httpx` logger only ever see
`scheme://host/path` (see `redact`).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import os
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tui.core.clock import Clock, utc
from tui.core.config import DownloadConfig
from tui.core.disk_waits import NOTICE_EVERY, DiskWaits
from tui.core.expiry import video_expiry
from tui.core.httpcore_reads import read_sockets_in_large_chunks
from tui.core.jitter import EQUAL, jittered
from tui.core.model import Download, DownloadState, Event, Key, State, Task, iso
from tui.core.part_files import DiskError
from tui.core.paths import TemplateError
from tui.core.paths import target_path as render_target_path
from tui.core.redact import quiet_httpx_urls, redact_url
from tui.core.store import Store, StoreError
from tui.core.tls import tls_context
from tui.core.transfer import (
    Fatal,
    FileOpener,
    Refused,
    Restart,
    Retry,
    fetch,
    open_buffered,
)

USER_AGENT = "seedance-tui (video downloader)"
_MAX_RESTARTS = 3

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------- public values


@dataclass(frozen=True)
class DownloadProgress:
    """One download as the dashboard row shows it."""

    state: DownloadState
    bytes: int = 0
    total: int | None = None
    speed: float = 0.0  # bytes per second over the last few seconds
    url_expires_at: datetime | None = None
    path: str | None = None

    @property
    def percent(self) -> float | None:
        if not self.total:
            return None
        return min(100.0, 100.0 * self.bytes / self.total)


@dataclass(frozen=True)
class _Queued:
    """A waiting download; `seq` tells its current heap entry from stale ones."""

    seq: int
    task: Task
    path: str | None
    expiry: datetime | None


@dataclass
class _Live:
    """A running download: what `progress()` shows, and the `transfer.Progress` it fills."""

    task: Task
    path: Path | None = None
    state: DownloadState = DownloadState.PENDING
    bytes: int = 0
    total: int | None = None
    samples: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=64))

    def moved(self, received: int) -> None:
        self.bytes = received
        now = time.monotonic()
        if not self.samples or now - self.samples[-1][0] >= 0.1:
            self.samples.append((now, received))
            while len(self.samples) > 2 and now - self.samples[0][0] > 3.0:
                self.samples.popleft()

    @property
    def speed(self) -> float:
        if len(self.samples) < 2:
            return 0.0
        (t0, b0), (t1, b1) = self.samples[0], self.samples[-1]
        if self.state is DownloadState.RUNNING and time.monotonic() - t1 > 3.0:
            return 0.0  # stalled
        return max(0.0, (b1 - b0) / (t1 - t0)) if t1 > t0 else 0.0

    def view(self) -> DownloadProgress:
        return DownloadProgress(
            state=self.state,
            bytes=self.bytes,
            total=self.total,
            speed=self.speed,
            url_expires_at=video_expiry(self.task),
            path=str(self.path) if self.path else None,
        )


# ---------------------------------------------------------------------------- the downloader


class Downloader:
    """Fetches finished videos to `[download] dir`, soonest-expiring first, N at a time."""

    def __init__(
        self,
        config: DownloadConfig,
        store: Store,
        *,
        clock: Clock,
        publish: Callable[[Event], None],
        refresh: Callable[[Task], Awaitable[Task | None]],
        transport: httpx.AsyncBaseTransport | None = None,
        max_attempts: int = 5,
        retry_delay: float = 2.0,
        timeout: float = 30.0,
        file_opener: FileOpener | None = None,
        write: Callable[[Callable[[Store], object]], None] | None = None,
    ) -> None:
        """`transport` is for tests and the embedded simulator; never pass a provider's client
        or anything holding a key. `file_opener(path, mode)` opens `.part` files (tests use it to
        inject faults a real disk cannot be made to show). `write(op)` runs `op(store)` for every
        change the downloader records (the engine's StoreWriter: off the loop, in order, an
        outage waited out); without it the changes are written to `store` at once."""
        self.config = config
        self.store = store
        self._write = write or (lambda op: op(store))
        self.clock = clock
        self._publish = publish
        self._refresh = refresh
        self._transport = transport
        self._max_attempts = max(1, max_attempts)
        self._retry_delay = retry_delay
        self._timeout = timeout
        self._open: FileOpener = file_opener or open_buffered
        self._heap: list[tuple[float, int, Key]] = []
        self._queued: dict[Key, _Queued] = {}
        self._running: dict[Key, _Live] = {}
        self._claimed: dict[Path, Key] = {}
        self._seq = itertools.count()
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._client: httpx.AsyncClient | None = None
        self._rng = random.Random()
        self._disk = DiskWaits(self._rng)  # downloads waiting for the local disk
        self._disk_wake = asyncio.Event()
        quiet_httpx_urls()

    # -- the queue --------------------------------------------------------------------------
    def enqueue(self, task: Task) -> bool:
        """Queue a succeeded task's video. Returns False when there is nothing to do: no URL,
        already kept (as the store says now: the caller's copy may be older than ours), or
        already given up as expired with no newer URL."""
        return self.enqueue_many([task]) == 1

    def enqueue_many(self, tasks: Iterable[Task]) -> int:
        """`enqueue` each task; returns how many were queued. Their `pending` marks are written
        in one durable transaction: the engine offers every video not kept yet at start, and
        one fsync per task would hold its loop for minutes when thousands wait."""
        marks: list[tuple[Task, Download]] = []
        queued = 0
        try:
            for task in tasks:
                queued += self._queue(task, marks)
        finally:  # a failed read mid-way: what was queued is still recorded and worked on
            if marks:
                self._set_many(marks)
            if queued:
                self._idle.clear()
                self._ready.set()
        return queued

    def _queue(self, task: Task, marks: list[tuple[Task, Download]]) -> bool:
        """Put one task on the heap (see `enqueue`); the store write it needs goes to `marks`."""
        if task.state is not State.SUCCEEDED or not task.video_url:
            return False
        key = task.key
        if key in self._running:
            return False
        stored = self.store.get(task.provider, task.id, with_raw=False)
        download = stored.download if stored is not None else task.download
        task = task.evolve(download=download)
        if download.state is DownloadState.DONE and _kept(task):
            return False
        expiry = video_expiry(task)
        if download.state is DownloadState.EXPIRED and (
            expiry is None or expiry.timestamp() <= self.clock.now()
        ):
            return False  # given up loudly already; only a fresh URL brings it back
        path = self._path_or_none(task)
        seq = next(self._seq)
        self._queued[key] = _Queued(seq, task, path, expiry)
        heapq.heappush(self._heap, (expiry.timestamp() if expiry else float("inf"), seq, key))
        if download.state is not DownloadState.PENDING or download.path != path:
            marks.append((task, Download(DownloadState.PENDING, path=path, error=download.error)))
        return True

    def pending(self) -> int:
        """Downloads not finished yet: queued, running, or waiting for the disk."""
        waiting = sum(1 for key in self._disk if self._idle_key(key))
        return len(self._queued) + len(self._running) + waiting

    def waiting_for_disk(self) -> int:
        """Downloads that failed on the local disk and wait for their next try."""
        return len(self._disk)

    def _idle_key(self, key: Key) -> bool:
        return key not in self._queued and key not in self._running

    def progress(self) -> dict[Key, DownloadProgress]:
        out = {
            key: DownloadProgress(DownloadState.PENDING, path=self._disk.path(key))
            for key in self._disk
            if self._idle_key(key)
        }
        out.update(
            (key, DownloadProgress(DownloadState.PENDING, url_expires_at=job.expiry, path=job.path))
            for key, job in self._queued.items()
        )
        out.update({key: live.view() for key, live in self._running.items()})
        return out

    def target_path(self, task: Task) -> Path:
        """Where this task's video goes (raises TemplateError for an unusable template)."""
        return render_target_path(Path(self.config.dir), self.config.template, task)

    # -- running ----------------------------------------------------------------------------
    async def run(self) -> None:
        """The worker pool. Runs until cancelled; a .part being written stays for a resume."""
        workers = [
            asyncio.create_task(self._worker(), name=f"download-{n}")
            for n in range(max(1, self.config.concurrency))
        ]
        workers.append(asyncio.create_task(self._retry_disk_waits(), name="download-disk-waits"))
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def drain(self, *, disk_waits: bool = True) -> None:
        """Wait until nothing is queued or running (needs `run()` going) and, with `disk_waits`,
        until no download waits for the disk either: those are tried again with back-off, and
        while only they remain, a `notice` says so every minute. A URL that dies meanwhile
        ends its download as `expired`, so this ends too."""
        while True:
            while self._queued or self._running:
                self._idle.clear()
                await self._idle.wait()
            if not disk_waits or not self._disk:
                return
            line = self._disk.notice(self.clock.now())
            if line is not None:
                data = {"message": line, "pending": len(self._disk)}
                self._publish(Event("notice", data=data, ts=utc(self.clock.now())))
            self._idle.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.001, self.clock.real_seconds(NOTICE_EVERY))):
                    await self._idle.wait()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _client_for_videos(self) -> httpx.AsyncClient:
        # No auth, no key-bearing default headers, and redirects followed: the video host
        # (and whatever it redirects to) is never given anything but the signed URL itself.
        if self._client is None:
            read_sockets_in_large_chunks()
            self._client = httpx.AsyncClient(
                transport=self._transport,
                follow_redirects=True,
                timeout=httpx.Timeout(self._timeout, connect=min(15.0, self._timeout)),
                headers={"Accept-Encoding": "identity", "User-Agent": USER_AGENT},
                limits=httpx.Limits(max_connections=max(2, 2 * self.config.concurrency)),
                verify=tls_context(),
            )
        return self._client

    async def _worker(self) -> None:
        while True:
            await self._ready.wait()
            job = self._pop()
            if job is None:
                self._ready.clear()
                self._maybe_idle()
                continue
            live = _Live(task=job)
            self._running[job.key] = live
            try:
                await self._process(live)
            except asyncio.CancelledError:  # stopped mid-transfer: pending again, .part kept
                self._set(live.task, Download(DownloadState.PENDING, path=_str(live.path)))
                raise
            except Exception as exc:  # a bug must not stop the other downloads
                log.exception("download of %s/%s crashed", job.provider, job.id)
                self._finish(
                    live,
                    DownloadState.FAILED,
                    f"internal error while downloading: {type(exc).__name__}: {exc}",
                )
            finally:
                self._running.pop(job.key, None)
                self._maybe_idle()

    def _pop(self) -> Task | None:
        while self._heap:
            _, seq, key = heapq.heappop(self._heap)
            job = self._queued.get(key)
            if job is not None and job.seq == seq:
                del self._queued[key]
                return job.task
        return None

    def _maybe_idle(self) -> None:
        if not self._queued and not self._running:
            self._idle.set()

    # -- one download -----------------------------------------------------------------------
    async def _process(self, live: _Live) -> None:
        task = live.task
        try:
            path = self.target_path(task)
        except TemplateError as exc:
            self._finish(live, DownloadState.FAILED, str(exc))
            return
        live.path = path
        owner = self._claimed.setdefault(path, task.key)
        if owner != task.key:
            self._finish(
                live,
                DownloadState.FAILED,
                f"{path} is already the file of {owner[0]}/{owner[1]}: "
                "put {id} in [download] template so every task gets its own file",
            )
            return
        existing = await self._already_kept(task, path)
        if existing is not None:
            live.bytes = live.total = existing
            self._finish(live, DownloadState.DONE, size=existing, existing=True)
            return
        live.state = DownloadState.RUNNING
        self._set(task, Download(DownloadState.RUNNING, path=str(path)))
        await self._fetch_with_retries(live, path)

    async def _fetch_with_retries(self, live: _Live, path: Path) -> None:
        """`transfer.fetch` until the video is in place or an outcome says stop; every end is
        recorded by `_finish`."""
        refreshed = False
        attempts = restarts = 0
        while True:
            task = live.task
            url = task.video_url or ""
            try:
                size = await fetch(self._client_for_videos(), url, path, live, self._open)
            except Refused as refused:
                if not refreshed:
                    refreshed = True
                    fresh = await self._fresh(task)
                    if fresh is not None:
                        live.task = fresh
                        continue
                self._refused(live, url, refused.status)
                return
            except Restart as why:
                restarts += 1
                if restarts > _MAX_RESTARTS:
                    self._finish(live, DownloadState.FAILED, f"{why}; gave up after restarts")
                    return
                continue
            except Retry as why:
                attempts += 1
                if attempts >= self._max_attempts:
                    message = f"{why} (gave up after {attempts} attempts; the .part is kept)"
                    self._finish(live, DownloadState.FAILED, message)
                    return
                delay = self._retry_delay * 2 ** (attempts - 1)
                await self.clock.sleep(jittered(delay, self._rng, EQUAL))
                continue
            except Fatal as why:
                self._finish(live, DownloadState.FAILED, str(why))
                return
            except DiskError as why:
                self._disk_failed(live, str(why))
                return
            self._finish(live, DownloadState.DONE, size=size)
            return

    async def _fresh(self, task: Task) -> Task | None:
        """Ask the provider (once) for a fresh URL; None when it has none that could work."""
        try:
            fresh = await self._refresh(task)
        except Exception as exc:  # the engine's poll failing is just "no fresh URL"
            log.warning("fresh URL for %s/%s failed: %s", task.provider, task.id, exc)
            return None
        if fresh is None or not fresh.video_url:
            return None
        if fresh.video_url == task.video_url:
            expiry = video_expiry(fresh)
            if expiry is not None and expiry.timestamp() <= self.clock.now():
                return None  # the same dead URL: no point asking the host again
        return fresh

    def _refused(self, live: _Live, url: str, status: int) -> None:
        task = live.task
        expiry = video_expiry(task)
        now = self.clock.now()
        if status == 410 or expiry is None or expiry.timestamp() <= now:
            when = f"at {iso(expiry)}" if expiry else "(its expiry is unknown)"
            self._finish(
                live,
                DownloadState.EXPIRED,
                f"video URL expired {when}: {redact_url(url)} answered HTTP {status} and "
                f"{task.provider} gave no fresh URL; this video can no longer be downloaded",
            )
            return
        self._finish(
            live,
            DownloadState.FAILED,
            f"video host refused {redact_url(url)} with HTTP {status} before its expiry "
            f"({iso(expiry)}) and {task.provider} gave no fresh URL; try `seedance-tui download`",
        )

    async def _already_kept(self, task: Task, path: Path) -> int | None:
        """The size of a complete file already at `path`, else None. The store's word is
        enough; without it, the host's Content-Length (HEAD) must match the file."""
        try:
            size = path.stat().st_size if path.is_file() else None
        except OSError:
            return None
        if size is None:
            return None
        if task.download.state is DownloadState.DONE and task.download.bytes == size:
            return size
        try:
            response = await self._client_for_videos().head(task.video_url or "")
        except httpx.HTTPError:
            return None
        encoded = response.headers.get("content-encoding", "identity").lower() != "identity"
        length = response.headers.get("content-length")
        if response.status_code == 200 and not encoded and length and length.isdigit():
            return size if int(length) == size else None
        return None

    # -- the disk said no --------------------------------------------------------------------
    def _disk_failed(self, live: _Live, error: str) -> None:
        """Pending, with the reason; tried again later. The event only when the reason is new:
        a disk full for an hour is one line, not one per try."""
        task = live.task
        live.state = DownloadState.PENDING
        path = _str(live.path)
        self._set(task, Download(DownloadState.PENDING, path=path, error=error))
        if self._disk.park(task, error, self.clock.now(), path):
            data = {"state": "pending", "path": path, "error": error}
            self._publish(Event("download", task.provider, task.id, data, ts=utc(self.clock.now())))
        self._disk_wake.set()

    async def _retry_disk_waits(self) -> None:
        """Queue each download waiting for the disk again when its back-off is over (or at
        once when another download's file was written)."""
        while True:
            now = self.clock.now()
            for task in self._disk.take_due(now):
                if not self.enqueue(task):  # kept or given up meanwhile: nothing to wait for
                    self._disk.forget(task.key)
            due = self._disk.next_due()
            self._disk_wake.clear()
            wait = None if due is None else max(0.001, self.clock.real_seconds(due - now))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._disk_wake.wait()

    # -- results ----------------------------------------------------------------------------
    def _finish(
        self,
        live: _Live,
        state: DownloadState,
        error: str | None = None,
        *,
        size: int | None = None,
        existing: bool = False,
    ) -> None:
        task = live.task
        live.state = state
        path = _str(live.path)
        self._disk.forget(task.key)
        if state is DownloadState.DONE and not existing:
            self._disk.hurry(self.clock.now())  # the disk took a file: space may be back
            self._disk_wake.set()
        if state is DownloadState.DONE:
            self._set(task, Download(state, path=path, bytes=size))
            data: dict[str, Any] = {"state": "done", "path": path, "bytes": size}
            if existing:
                data["existing"] = True
        elif state is DownloadState.EXPIRED:
            self._set(task, Download(state, path=None, error=error))
            data = {"state": "expired", "path": None, "error": error}
            log.warning("download %s/%s: %s", task.provider, task.id, error)
        else:
            # FAILED, or PENDING for local trouble (disk full, not writable): the task keeps
            # waiting for a later try and the event says why, loudly.
            self._set(task, Download(state, path=path, error=error))
            data = {"state": str(state), "path": path, "error": error}
        self._publish(Event("download", task.provider, task.id, data, ts=utc(self.clock.now())))

    def _set(self, task: Task, download: Download) -> None:
        provider, task_id = task.key
        try:
            self._write(lambda store: store.set_download(provider, task_id, download))
        except StoreError:  # a busy or broken store must not stop the downloads themselves
            log.exception("could not record the download of %s/%s", provider, task_id)

    def _set_many(self, marks: list[tuple[Task, Download]]) -> None:
        """`_set` for many tasks, in one transaction."""
        items = [(t.provider, t.id, d) for t, d in marks]
        try:
            self._write(lambda store: store.set_downloads(items))
        except StoreError:  # as in _set: the downloads go on
            log.exception("could not record %d downloads as pending", len(marks))

    def _path_or_none(self, task: Task) -> str | None:
        try:
            return str(self.target_path(task))
        except TemplateError:
            return None


# ---------------------------------------------------------------------------- helpers


def _kept(task: Task) -> bool:
    """The store says done and the file is still there with that size."""
    if not task.download.path or task.download.bytes is None:
        return False
    try:
        return os.stat(task.download.path).st_size == task.download.bytes
    except OSError:
        return False


def _str(path: Path | None) -> str | None:
    return str(path) if path is not None else None
