"""Keep every finished video before its signed URL dies (about a day after the task finished).

A `Downloader` owns a priority queue (the URL that expires soonest goes first), a few worker
coroutines (`[download] concurrency`) and its own HTTP client, which never carries an API key:
the video hosts are other origins, and httpx only strips `Authorization` on cross-origin
redirects, so the only safe key is the one that was never there.

A video streams into `NAME.part` (bounded buffer, so memory stays flat for any size), is checked
(status, `Content-Type`, byte count against `Content-Length`/`Content-Range`), fsynced and renamed
into place atomically; only then does the store say `done`. A `.part` left by a crash or a cut
connection is resumed with `Range` + `If-Range` (its validator is kept in `NAME.part.json`); an
answer that does not honour the range restarts from zero. A 403/410 from the host asks the
provider once for a fresh URL; with none, past the URL's expiry, the download is `expired`.

Signed query strings are credentials too: events, errors and the `httpx` logger only ever see
`scheme://host/path`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import heapq
import itertools
import json
import logging
import os
import random
import re
import time
import typing
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from tui.core.clock import Clock, utc
from tui.core.config import DownloadConfig
from tui.core.expiry import url_expiry
from tui.core.model import Download, DownloadState, Event, State, Task, iso
from tui.core.paths import TemplateError, part_path
from tui.core.paths import target_path as render_target_path
from tui.core.store import Store

Key = tuple[str, str]
FileOpener = Callable[[Path, str], IO[bytes]]

FLUSH_BYTES = 1024 * 1024  # most bytes held in memory per download before they go to disk
VIDEO_TYPES = ("video/", "application/octet-stream", "binary/octet-stream", "application/mp4")
USER_AGENT = "seedance-tui (video downloader)"
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)
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
class DownloadTotals:
    """All downloads together, for the summary bar. done/failed/expired count this session."""

    queued: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    expired: int = 0
    bytes: int = 0  # received by the running downloads
    total: int | None = None  # their sizes together, when every one is known
    speed: float = 0.0


def redact_url(url: str | httpx.URL | None) -> str:
    """`scheme://host/path` only: a signed query string is a credential until it expires."""
    if url is None:
        return ""
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return "<unparseable url>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def video_expiry(task: Task) -> datetime | None:
    """When the task's video URL stops working: the URL's own word, else 24 h after finishing."""
    if task.url_expires_at is not None:
        return task.url_expires_at
    stated = url_expiry(task.video_url)
    if stated is not None:
        return stated
    finished = task.first_seen_terminal_at or task.finished_at
    return finished + timedelta(hours=24) if finished else None


def needs_download(task: Task) -> bool:
    """A finished task whose video is not kept yet (and was not given up on as expired)."""
    return (
        task.state is State.SUCCEEDED
        and bool(task.video_url)
        and task.download.state not in (DownloadState.DONE, DownloadState.EXPIRED)
    )


class RedactSignedUrls(logging.Filter):
    """Strips query strings from URLs in the `httpx` logger's records (it logs every request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                redact_url(a) if isinstance(a, httpx.URL) or _looks_like_url(a) else a
                for a in record.args
            )
        elif isinstance(record.msg, str) and _looks_like_url(record.msg):
            record.msg = re.sub(r"(https?://[^\s?\"']+)\?[^\s\"']*", r"\1", record.msg)
        return True


def quiet_httpx_urls() -> None:
    """Install `RedactSignedUrls` on the `httpx` logger once per process."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, RedactSignedUrls) for f in logger.filters):
        logger.addFilter(RedactSignedUrls())


def _looks_like_url(value: object) -> bool:
    return isinstance(value, str) and "://" in value and "?" in value


# ---------------------------------------------------------------------------- outcomes


class _Refused(Exception):
    """The host said 403/410: the URL is no good (expired, or refused)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class _Retry(Exception):
    """Worth another try after a pause: cut bodies, resets, 5xx, error pages."""


class _Restart(Exception):
    """The .part cannot be continued; start again from zero at once."""


class _Fatal(Exception):
    """Retrying will not help (404, a 4xx we do not understand)."""


class _Disk(Exception):
    """The local side failed (disk full, not writable): the download stays pending."""


@dataclass(frozen=True)
class _Queued:
    seq: int
    task: Task
    path: str | None
    expiry: datetime | None


@dataclass
class _Live:
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
    ) -> None:
        """`transport` is for tests and the embedded simulator; never pass a provider's client
        or anything holding a key. `file_opener(path, mode)` opens `.part` files (tests use it to
        inject faults a real disk cannot be made to show)."""
        self.config = config
        self.store = store
        self.clock = clock
        self._publish = publish
        self._refresh = refresh
        self._transport = transport
        self._max_attempts = max(1, max_attempts)
        self._retry_delay = retry_delay
        self._timeout = timeout
        self._open: FileOpener = file_opener or _open_buffered
        self._heap: list[tuple[float, int, Key]] = []
        self._queued: dict[Key, _Queued] = {}
        self._running: dict[Key, _Live] = {}
        self._claimed: dict[Path, Key] = {}
        self._seq = itertools.count()
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._counts = {DownloadState.DONE: 0, DownloadState.FAILED: 0, DownloadState.EXPIRED: 0}
        self._client: httpx.AsyncClient | None = None
        self._rng = random.Random()
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
        """Downloads not finished yet: queued plus running."""
        return len(self._queued) + len(self._running)

    def progress(self) -> dict[Key, DownloadProgress]:
        out = {
            key: DownloadProgress(DownloadState.PENDING, url_expires_at=job.expiry, path=job.path)
            for key, job in self._queued.items()
        }
        out.update({key: live.view() for key, live in self._running.items()})
        return out

    def totals(self) -> DownloadTotals:
        lives = list(self._running.values())
        sizes = [live.total for live in lives]
        return DownloadTotals(
            queued=len(self._queued),
            running=len(lives),
            done=self._counts[DownloadState.DONE],
            failed=self._counts[DownloadState.FAILED],
            expired=self._counts[DownloadState.EXPIRED],
            bytes=sum(live.bytes for live in lives),
            total=sum(s for s in sizes if s is not None) if None not in sizes else None,
            speed=sum(live.speed for live in lives),
        )

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
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def drain(self) -> None:
        """Wait until nothing is queued or running (needs `run()` going)."""
        while self._queued or self._running:
            self._idle.clear()
            await self._idle.wait()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _client_for_videos(self) -> httpx.AsyncClient:
        # No auth, no key-bearing default headers, and redirects followed: the video host
        # (and whatever it redirects to) is never given anything but the signed URL itself.
        if self._client is None:
            _read_in_large_chunks()
            self._client = httpx.AsyncClient(
                transport=self._transport,
                follow_redirects=True,
                timeout=httpx.Timeout(self._timeout, connect=min(15.0, self._timeout)),
                headers={"Accept-Encoding": "identity", "User-Agent": USER_AGENT},
                limits=httpx.Limits(max_connections=max(2, 2 * self.config.concurrency)),
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
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
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
        await self._fetch(live, path)

    async def _fetch(self, live: _Live, path: Path) -> None:
        refreshed = False
        attempts = restarts = 0
        while True:
            task = live.task
            url = task.video_url or ""
            try:
                size = await self._attempt(live, url, path)
            except _Refused as refused:
                if not refreshed:
                    refreshed = True
                    fresh = await self._fresh(task)
                    if fresh is not None:
                        live.task = fresh
                        continue
                self._refused(live, url, refused.status)
                return
            except _Restart as why:
                restarts += 1
                if restarts > _MAX_RESTARTS:
                    self._finish(live, DownloadState.FAILED, f"{why}; gave up after restarts")
                    return
                continue
            except _Retry as why:
                attempts += 1
                if attempts >= self._max_attempts:
                    message = f"{why} (gave up after {attempts} attempts; the .part is kept)"
                    self._finish(live, DownloadState.FAILED, message)
                    return
                delay = self._retry_delay * 2 ** (attempts - 1)
                await self.clock.sleep(delay * (0.5 + self._rng.random() / 2))
                continue
            except _Fatal as why:
                self._finish(live, DownloadState.FAILED, str(why))
                return
            except _Disk as why:
                self._finish(live, DownloadState.PENDING, str(why))
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

    async def _attempt(self, live: _Live, url: str, path: Path) -> int:
        """One request. Returns the file's size once it is complete and in place."""
        part, meta = part_path(path), _meta_path(path)
        _mkdir(path.parent)
        offset, validator, known_total = _resume_point(part, meta)
        headers: dict[str, str] = {}
        if offset and validator:
            headers = {"Range": f"bytes={offset}-", "If-Range": validator}
        safe = redact_url(url)
        client = self._client_for_videos()
        try:
            async with client.stream("GET", url, headers=headers) as response:
                status = response.status_code
                if status in (403, 410):
                    raise _Refused(status)
                if status == 416 and offset:
                    if known_total == offset:
                        return self._commit(part, meta, path, offset)
                    _discard(part, meta)
                    raise _Restart(f"{safe} refused the resume range")
                if status == 404:
                    raise _Fatal(f"the video host has no such video (HTTP 404): {safe}")
                if status in (408, 425, 429) or status >= 500:
                    raise _Retry(f"video host answered HTTP {status} for {safe}")
                if status not in (200, 206):
                    raise _Fatal(f"video host answered HTTP {status} for {safe}")
                _check_type(response, safe)
                encoded = _encoded(response)
                if status == 206:
                    if encoded or not headers:
                        _discard(part, meta)
                        raise _Restart(f"{safe} sent a partial answer nobody asked for")
                    first, total = _content_range(response)
                    if first != offset:
                        _discard(part, meta)
                        raise _Restart(f"{safe} sent bytes from {first}, not {offset}")
                    expected = total
                    start = offset
                else:
                    start = 0
                    length = response.headers.get("content-length", "")
                    expected = int(length) if length.isdigit() and not encoded else None
                    _write_meta(meta, response, expected, encoded)
                live.total = expected
                live.moved(start)
                received = await self._stream(response, part, start, live)
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            have = live.bytes
            raise _Retry(f"transfer of {safe} broke off at {have} bytes ({_why(exc)})") from None
        except httpx.HTTPError as exc:
            raise _Retry(f"download of {safe} failed: {_why(exc)}") from None
        if expected is not None and received != expected:
            raise _Retry(f"short body from {safe}: {received} of {expected} bytes")
        return self._commit(part, meta, path, received)

    async def _stream(self, response: httpx.Response, part: Path, start: int, live: _Live) -> int:
        """Body bytes into `part` from `start`, at most FLUSH_BYTES held in memory."""
        try:
            handle = self._open(part, "r+b" if start else "wb")
        except OSError as exc:
            raise _Disk(_disk_message(exc, part)) from None
        received = start
        first = True
        flusher = _BackgroundFlush(handle)
        try:
            if start:
                handle.seek(start)
            handle.truncate()
            async for chunk in _body_chunks(response):
                if first:
                    first = False
                    if "content-type" not in response.headers and chunk.lstrip()[:1] == b"<":
                        raise _Retry(
                            f"{redact_url(response.url)} sent a web page, not a video "
                            "(no Content-Type, body starts with '<'); nothing was saved"
                        )
                handle.write(chunk)  # into the file's own FLUSH_BYTES buffer
                received += len(chunk)
                live.moved(received)
                flusher.wrote(received)
            handle.flush()
            await flusher.finish()
            await asyncio.to_thread(os.fsync, handle.fileno())
        except OSError as exc:
            raise _Disk(_disk_message(exc, part)) from None
        finally:
            with contextlib.suppress(OSError):
                await flusher.finish()  # never close the file under a running flush
            with contextlib.suppress(OSError):
                handle.close()
        return received

    def _commit(self, part: Path, meta: Path, path: Path, size: int) -> int:
        """The atomic step: the finished .part becomes the video."""
        try:
            os.replace(part, path)
            _fsync_dir(path.parent)
        except OSError as exc:
            raise _Disk(_disk_message(exc, path)) from None
        with contextlib.suppress(OSError):
            meta.unlink()
        return size

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
        if state in self._counts:
            self._counts[state] += 1
        self._publish(Event("download", task.provider, task.id, data, ts=utc(self.clock.now())))

    def _set(self, task: Task, download: Download) -> None:
        try:
            self.store.set_download(task.provider, task.id, download)
        except Exception:  # a busy or broken store must not stop the downloads themselves
            log.exception("could not record the download of %s/%s", task.provider, task.id)

    def _set_many(self, marks: list[tuple[Task, Download]]) -> None:
        """`_set` for many tasks, in one transaction."""
        try:
            self.store.set_downloads([(t.provider, t.id, d) for t, d in marks])
        except Exception:  # as in _set: the downloads go on
            log.exception("could not record %d downloads as pending", len(marks))

    def _path_or_none(self, task: Task) -> str | None:
        try:
            return str(self.target_path(task))
        except TemplateError:
            return None


# ---------------------------------------------------------------------------- helpers


def _open_buffered(path: Path, mode: str) -> IO[bytes]:
    """A file whose buffer is the only place body bytes wait: FLUSH_BYTES at most."""
    return open(path, mode, buffering=FLUSH_BYTES)


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


def _meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".part.json")


def _mkdir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _Disk(_disk_message(exc, folder, making_dir=True)) from None


def _resume_point(part: Path, meta: Path) -> tuple[int, str | None, int | None]:
    """(bytes already in .part, If-Range validator, total size) or a clean start (0, None)."""
    try:
        size = part.stat().st_size
    except FileNotFoundError:
        size = 0
    except OSError as exc:
        raise _Disk(_disk_message(exc, part)) from None
    if size == 0:
        return 0, None, None
    try:
        saved = json.loads(meta.read_text(encoding="utf-8"))
        validator = saved.get("etag") or saved.get("last_modified")
        total = saved.get("total")
        if not isinstance(validator, str) or not validator:
            raise ValueError("no validator")
        if total is not None and (not isinstance(total, int) or size > total):
            raise ValueError("bigger than the video")
    except (OSError, ValueError, AttributeError):
        _discard(part, meta)  # nothing proves these bytes belong to this video
        return 0, None, None
    return size, validator, total


def _write_meta(meta: Path, response: httpx.Response, total: int | None, encoded: bool) -> None:
    """Remember what makes this .part resumable: a strong ETag or Last-Modified."""
    etag = response.headers.get("etag", "")
    saved = {
        "etag": etag if etag.startswith('"') else None,  # a weak W/ tag cannot do If-Range
        "last_modified": response.headers.get("last-modified"),
        "total": total,
        "url": redact_url(response.url),
    }
    try:
        if encoded or not (saved["etag"] or saved["last_modified"]):
            meta.unlink(missing_ok=True)  # cannot resume safely: a cut restarts from zero
            return
        tmp = meta.with_name(meta.name + ".tmp")
        tmp.write_text(json.dumps(saved), encoding="utf-8")
        os.replace(tmp, meta)
    except OSError as exc:
        raise _Disk(_disk_message(exc, meta)) from None


def _discard(part: Path, meta: Path) -> None:
    for path in (part, meta):
        with contextlib.suppress(OSError):
            path.unlink()


def _check_type(response: httpx.Response, safe: str) -> None:
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind and not kind.startswith(VIDEO_TYPES):
        raise _Retry(
            f"{safe} answered HTTP {response.status_code} with {kind} instead of a video "
            "(an error page?); nothing was saved"
        )


def _encoded(response: httpx.Response) -> bool:
    coding = response.headers.get("content-encoding", "").strip().lower()
    return coding not in ("", "identity")


def _content_range(response: httpx.Response) -> tuple[int, int | None]:
    match = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
    if not match:
        raise _Restart(f"{redact_url(response.url)} sent 206 without a usable Content-Range")
    total = None if match[3] == "*" else int(match[3])
    return int(match[1]), total


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX: fsync the directory)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _why(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return re.sub(r"(https?://[^\s?\"']+)\?[^\s\"']*", r"\1", text)


def _disk_message(exc: OSError, path: Path, *, making_dir: bool = False) -> str:
    if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
        return f"no space left on device writing {path}: free space or change [download] dir"
    if making_dir and exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return (
            f"cannot create the folder {path}: a file is in the way ({exc.strerror}); "
            "move it or change [download] dir"
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write {path}: {exc.strerror}; make it writable or change [download] dir"
    return f"cannot write {path}: {exc.strerror or exc}; check [download] dir"


# Socket reads of 1 MiB instead of httpcore's 64 KiB: on loopback the small reads cost about
# 45 % of the throughput (bench_download: 0.53x of `curl -o` with 64 KiB, 0.98x with 1 MiB).
# httpcore offers this only as a class attribute, so it also applies to the API client, where
# it changes nothing: status bodies are a few KiB.
LARGE_READ_BYTES = 1 << 20


def _read_in_large_chunks() -> None:
    from httpcore._async.http11 import AsyncHTTP11Connection

    if getattr(AsyncHTTP11Connection, "READ_NUM_BYTES", 0) < LARGE_READ_BYTES:
        AsyncHTTP11Connection.READ_NUM_BYTES = LARGE_READ_BYTES


def _body_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as it arrives; the decoder layer only when the host encoded it (gzip)."""
    return response.aiter_bytes() if _encoded(response) else response.aiter_raw()


class _BackgroundFlush:
    """Flush written data to disk in a thread while the transfer goes on, every FLUSH_EVERY
    bytes, so the final fsync (the one that makes `done` true) only has the tail left. Measured:
    a 200 MB fsync at the end costs ~0.075 s here, a quarter of the whole loopback transfer."""

    FLUSH_EVERY = 32 << 20

    def __init__(self, handle: typing.BinaryIO) -> None:
        self._handle = handle
        self._flushed_at = 0
        self._pending: asyncio.Future[None] | None = None

    def wrote(self, received: int) -> None:
        if received - self._flushed_at < self.FLUSH_EVERY:
            return
        if self._pending is not None and not self._pending.done():
            return
        self._handle.flush()
        self._flushed_at = received
        self._pending = asyncio.ensure_future(
            asyncio.to_thread(os.fdatasync, self._handle.fileno())
        )

    async def finish(self) -> None:
        if self._pending is not None:
            await self._pending
