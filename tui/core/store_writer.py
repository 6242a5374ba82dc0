"""Every store write of the engine: off the event loop, in order, and an outage waited out.

Why a writer of its own: a durable commit (`synchronous=FULL`) is an fsync, and a slow disk
must never freeze the dashboard's frames or delay a poll, so writes run in one thread with its
own connection, one after another in the order they were asked for. And a store can refuse
writes for a while (its disk is full, another process holds it locked past the busy timeout):
then the change is kept here, in order, retried with back-off and written as soon as the
store takes writes again. Nothing is dropped. Meanwhile `available` is False, so the engine
stops asking providers for more answers and what waits here stays bounded. After
`give_up_after` seconds of outage the writer gives up: `failure` says why, and the engine
ends its run with `StoreGaveUp` (what the store had committed is all still there).
"""

from __future__ import annotations

import asyncio
import collections
import errno
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tui.core.clock import Clock
from tui.core.store import Store, StoreError
from tui.core.store_errors import disk_is_full

log = logging.getLogger(__name__)

T = TypeVar("T")
Op = Callable[[Store], Any]

RETRY_FIRST = 0.5  # seconds before the first retry of a refused write
RETRY_CAP = 15.0  # the longest wait between two retries
_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class StoreGaveUp(Exception):
    """The store refused writes for longer than `[store] give_up_after`."""


@dataclass(frozen=True, slots=True)
class StoreOutage:
    """Why the store takes no writes now, and since when (engine clock, epoch seconds)."""

    reason: str  # "full" | "locked" | "io"
    message: str  # for people: the path and what to do
    since: float


def outage_reason(exc: BaseException) -> str | None:
    """`full`, `locked` or `io` when `exc` is a refusal that may pass (space comes back, the
    other process lets go); None for errors that waiting will not fix (a damaged store)."""
    if not isinstance(exc, StoreError):
        return None
    cause = exc.__cause__
    name = getattr(cause, "sqlite_errorname", "") or ""
    text = str(cause or exc).lower()
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return "locked"
    code = getattr(cause, "errno", None)
    if name in ("SQLITE_FULL", "SQLITE_IOERR_SHMSIZE") or code in _DISK_ERRNOS:
        return "full"
    if "disk is full" in text or "no space" in text:
        return "full"
    if name.startswith("SQLITE_IOERR") or "disk i/o error" in text:
        return "full" if disk_is_full(exc.path) else "io"
    return None


class StoreWriter:
    """One queue of writes to the store at `path`, run in order by one thread.

    `call(op)` awaits `op(store)`'s result; `submit(op)` queues it and returns at once (an
    error other than an outage is logged). `on_change(outage or None)` is called in the loop
    when the store stops or starts taking writes again.
    """

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock,
        on_change: Callable[[StoreOutage | None], None] | None = None,
        give_up_after: float = 600.0,
        opener: Callable[[Path], Store] = Store.open,
    ) -> None:
        self.path = path
        self._clock = clock
        self._on_change = on_change
        self._give_up_after = give_up_after
        self._opener = opener
        self._queue: collections.deque[tuple[Op, asyncio.Future[Any] | None]] = collections.deque()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
        self._store: Store | None = None
        self._wake: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None
        self._runner: asyncio.Task[None] | None = None
        self._available: asyncio.Event | None = None
        self._tries = 0  # retries of the write at the head of the queue, in this outage
        self.outage: StoreOutage | None = None
        self.failure: str | None = None

    # ------------------------------------------------------------------ asking

    async def call(self, op: Callable[[Store], T]) -> T:
        """Run `op(store)` in the writer's turn and return its result."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._enqueue(op, future)
        return await future

    def submit(self, op: Op) -> None:
        """Queue `op(store)`; its result is not needed (a save, an event)."""
        self._enqueue(op, None)

    @property
    def pending(self) -> int:
        """Writes asked for and not yet committed."""
        return len(self._queue)

    @property
    def available(self) -> bool:
        return self.outage is None and self.failure is None

    async def wait_available(self) -> None:
        """Return when the store takes writes (at once, normally)."""
        self._ensure_started()
        assert self._available is not None
        await self._available.wait()

    async def drain(self) -> None:
        """Wait until every write asked for so far is committed (or the writer gave up)."""
        self._ensure_started()
        assert self._idle is not None
        while self._queue and self.failure is None:
            self._idle.clear()
            await self._idle.wait()

    async def aclose(self) -> None:
        """Write what is queued (unless the store is out), then stop the thread."""
        if self._runner is not None and self.available:
            await self.drain()
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None
        store = self._store
        if store is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, store.close)
            self._store = None
        self._thread.shutdown(wait=False)

    # ------------------------------------------------------------------ the loop side

    def _enqueue(self, op: Op, future: asyncio.Future[Any] | None) -> None:
        self._ensure_started()
        self._queue.append((op, future))
        assert self._wake is not None
        self._wake.set()

    def _ensure_started(self) -> None:
        if self._runner is not None:
            return
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._available = asyncio.Event()
        self._available.set()
        self._runner = asyncio.get_running_loop().create_task(self._run(), name="store-writer")

    async def _run(self) -> None:
        assert self._wake is not None and self._idle is not None
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            op, future = self._queue[0]
            if future is not None and future.cancelled():
                self._queue.popleft()
                continue
            try:
                result = await loop.run_in_executor(self._thread, self._apply, op)
            except StoreError as exc:
                reason = outage_reason(exc)
                if reason is None:  # a damaged store: waiting will not mend it
                    self._give_up(str(exc))
                    return
                if not await self._wait_out(reason, exc):
                    return
                continue
            except Exception as exc:  # a bug in one write: that write fails, the rest go on
                self._queue.popleft()
                self._fail_one(future, exc)
                continue
            self._queue.popleft()
            if future is not None and not future.done():
                future.set_result(result)
            if self.outage is not None:
                self._set_outage(None)

    def _apply(self, op: Op) -> Any:
        """In the writer's thread: open its connection on first use, then run `op`."""
        if self._store is None:
            self._store = self._opener(self.path)
        return op(self._store)

    async def _wait_out(self, reason: str, exc: Exception) -> bool:
        """An outage: say so once, wait (growing), and say False when it is time to give up."""
        now = self._clock.now()
        if self.outage is None:
            self._set_outage(StoreOutage(reason, str(exc), now))
        assert self.outage is not None
        lasted = now - self.outage.since
        if lasted >= self._give_up_after:
            self._give_up(
                f"{self.outage.message} (the store has refused writes for {lasted:.0f} s, "
                f"longer than [store] give_up_after = {self._give_up_after:g} s)"
            )
            return False
        self._tries += 1
        wait = min(RETRY_CAP, RETRY_FIRST * 2 ** (self._tries - 1), self._give_up_after - lasted)
        await self._clock.sleep(max(0.0, wait))
        return True

    def _give_up(self, why: str) -> None:
        """Stop writing for good; what is queued stays unwritten (and is said to be)."""
        self.failure = why
        # info, not error: the engine raises StoreGaveUp with this text, and its caller says it
        log.info("store: giving up with %d change(s) unwritten: %s", len(self._queue), why)
        assert self._idle is not None and self._available is not None
        self._idle.set()
        self._available.set()  # waiters wake up and see `failure`

    def _set_outage(self, outage: StoreOutage | None) -> None:
        self.outage = outage
        self._tries = 0
        assert self._available is not None
        if outage is None:
            self._available.set()
            log.info("store: writable again")
        else:
            self._available.clear()
            log.info("store: unavailable: %s", outage.message)  # the `store` event says it
        if self._on_change is not None:
            try:
                self._on_change(outage)
            except Exception:
                log.exception("a store-outage subscriber failed")

    @staticmethod
    def _fail_one(future: asyncio.Future[Any] | None, exc: Exception) -> None:
        if future is not None:
            if not future.done():
                future.set_exception(exc)
        else:
            log.error("store: a write failed and was dropped: %s", exc)
