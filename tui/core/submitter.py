"""The engine's sending side: create requests leave here, never twice, throttled by what runs.

One lane per provider takes the oldest pending request when three limits allow it:
`max_live` (this store's tasks at the provider from created requests that are not terminal,
plus creates in flight; uncertain requests do not count), `create_rate` (creates per any 60 s,
counting every create that left whatever its answer, and the ones waiting to leave), and the
provider's own `rate_limit` / `concurrency` / Retry-After hold, which `ProviderClient.create`
shares with polls. Each request is marked `sending` durably before its body leaves; the answer
is written by `request_store` (a created task in the same transaction as its request).

A refused key stops the provider (as for polling); no balance or quota pauses creating there
until the process restarts, with one message; polling goes on in both cases.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import random
from collections import deque
from collections.abc import Callable
from datetime import timedelta

from tui.core.clock import Clock, utc
from tui.core.config import Config, ProviderConfig
from tui.core.jitter import NUDGE, jittered
from tui.core.model import Event, Failure, Task
from tui.core.poller import CreateResult, ProviderClient, ProviderHealth
from tui.core.request_store import (
    RequestFilter,
    live_created,
    mark_answered,
    mark_created,
    mark_pending_again,
    mark_sending,
    next_pending,
    open_count,
    request_counts,
    sending_to_uncertain,
)
from tui.core.requests import CreateRequest, RequestState, Stop, Verdict, read_create_answer
from tui.core.store import Store
from tui.core.store_writer import StoreWriter

log = logging.getLogger(__name__)

WINDOW = 60.0  # clock seconds of `create_rate`
RECHECK = 1.0  # clock seconds between two looks of an idle lane (new submits, not_before)
CONNECT_RETRY = 5.0  # clock seconds before a create whose connection failed goes again
ARRIVAL_MARGIN = 0.05  # real seconds added to the window: creates arrive a little late


class Submitter:
    """Sends the store's pending create requests; see the module doc.

    `client_of(name)` is the engine's client for a provider (None when it cannot be asked);
    `on_created(task)` hands a created task to the poller; `notify(event)` tells subscribers
    of an event already stored; `publish(event)` stores and tells one; `on_refused(name)`
    says a provider refused its key on a create.
    """

    def __init__(
        self,
        store: Store,
        config: Config,
        *,
        clock: Clock,
        writer: StoreWriter,
        client_of: Callable[[str], ProviderClient | None],
        on_created: Callable[[Task], None],
        notify: Callable[[Event], None],
        publish: Callable[[Event], None],
        on_refused: Callable[[str], None],
        unpaused: asyncio.Event,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.writer = writer
        self._client_of = client_of
        self._on_created = on_created
        self._notify = notify
        self._publish = publish
        self._on_refused = on_refused
        self._unpaused = unpaused
        self._rng = rng or random.Random()
        self.paused: dict[str, str] = {}  # provider -> why creating waits for a restart
        self.stopped: dict[str, str] = {}  # provider -> why nothing can be sent to it
        self._inflight: dict[str, int] = {}
        self._waiting: dict[str, int] = {}  # creates in flight that have not left yet
        self._starts: dict[str, deque[float]] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._jobs: set[asyncio.Task[None]] = set()
        self._providers: list[str] = []
        self._batch: str | None = None
        per_real = clock.real_seconds(1.0)
        self._margin = min(5.0, ARRIVAL_MARGIN / per_real if per_real > 0 else ARRIVAL_MARGIN)

    # ------------------------------------------------------------------ what others read

    def has_work(self) -> bool:
        """Requests still to send (pending or sending) at a provider that can take them, or
        creates in flight: `run(until_done=True)` waits for these."""
        if any(self._inflight.values()):
            return True
        sendable = [p for p in self._providers if p not in self.paused and p not in self.stopped]
        return bool(sendable) and open_count(self.store, sendable, batch=self._batch) > 0

    def left(self) -> dict[str, tuple[int, str]]:
        """Per provider that cannot take them (creating paused or stopped, or not in the
        config): how many requests are left unsent, and why."""
        why_not = {**self.paused, **self.stopped}
        open_states = frozenset({RequestState.PENDING, RequestState.SENDING})
        flt = RequestFilter(states=open_states, batch=self._batch)
        out: dict[str, tuple[int, str]] = {}
        for name, counts in request_counts(self.store, flt).items():
            if name not in self.config.providers:
                why = f"provider '{name}' is not in the config: add a [providers.{name}] table"
            elif name in why_not:
                why = why_not[name]
            else:
                continue
            out[name] = (sum(counts.values()), why)
        return out

    def live(self, provider: str) -> int:
        """What `max_live` is held against now: live created tasks plus creates in flight."""
        return live_created(self.store, provider) + self._inflight.get(provider, 0)

    def wake(self, provider: str) -> None:
        """Look again now (a task finished and freed a slot, a request was recorded)."""
        event = self._wake.get(provider)
        if event is not None:
            event.set()

    def task_changed(self, task: Task) -> None:
        """Engine task subscriber: a created task that finished frees a slot."""
        if task.terminal and task.request is not None:
            self.wake(task.provider)

    # ------------------------------------------------------------------ running

    def select(self, *, provider: str | None = None, batch: str | None = None) -> None:
        """Send only the pending requests of `provider` and `batch` (all when None); call it
        before `run` (and before asking `has_work`)."""
        self._batch = batch
        self._providers = [
            name for name in self.config.providers if provider is None or name == provider
        ]

    async def run(self) -> None:
        """Send until cancelled. First, every `sending` request (a crash mid-send) becomes
        `uncertain`: it may have been created, so it is never sent again by itself."""
        now = utc(self.clock.now())
        for event in await self.writer.call(lambda store: sending_to_uncertain(store, now)):
            self._notify(event)
        lanes = [asyncio.create_task(self._lane(name)) for name in self._providers]
        try:
            await asyncio.gather(*lanes)
            await asyncio.Event().wait()  # every lane ended: nothing more to send until cancelled
        finally:
            for job in [*lanes, *self._jobs]:
                job.cancel()
            await asyncio.gather(*lanes, *self._jobs, return_exceptions=True)

    async def _lane(self, name: str) -> None:
        try:
            await self._send_loop(name, self.config.providers[name])
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not stop polling: say so, stop sending here
            log.exception("submitting to %s failed", name)
            self.stopped[name] = f"creating stopped by an internal error: {exc}"
            self._publish(self._event("error", name, message=self.stopped[name]))

    async def _send_loop(self, name: str, config: ProviderConfig) -> None:
        path = config.create_endpoint
        wake = self._wake.setdefault(name, asyncio.Event())
        starts = self._starts.setdefault(name, deque())
        while name not in self.paused and name not in self.stopped:
            wake.clear()
            await self._unpaused.wait()
            await self.writer.wait_available()
            if self.writer.failure is not None:
                return
            now = self.clock.now()
            pending = next_pending(self.store, name, utc(now), batch=self._batch)
            request = pending[0] if pending else None
            if request is None:
                await self._sleep(wake, RECHECK)
                continue
            client = self._client_of(name)
            if client is None or client.health is ProviderHealth.AUTH_FAILED or path is None:
                why = "no create path" if path is None else "the provider cannot be asked"
                self.stopped[name] = (client.health_reason if client else None) or why
                return
            wait = self._wait_for_room(name, config, now, starts)
            if wait > 0:
                await self._sleep(wake, wait)
                continue
            sending = await self.writer.call(
                functools.partial(mark_sending, request=request, now=utc(now))
            )
            if sending is None:
                continue  # no longer pending (resent or changed elsewhere): look again
            self._notify(sending)
            self._inflight[name] = self._inflight.get(name, 0) + 1
            self._waiting[name] = self._waiting.get(name, 0) + 1
            job = asyncio.create_task(self._send(name, client, path, request))
            self._jobs.add(job)
            job.add_done_callback(self._job_done)

    def _job_done(self, job: asyncio.Task[None]) -> None:
        """A create whose answer could not be written stays `sending` in the store (it becomes
        `uncertain` at the next start, never sent again): say why."""
        self._jobs.discard(job)
        if not job.cancelled() and job.exception() is not None:
            log.error("a create's answer was not recorded", exc_info=job.exception())

    def _wait_for_room(
        self, name: str, config: ProviderConfig, now: float, starts: deque[float]
    ) -> float:
        """Clock seconds until `max_live` and `create_rate` allow one more create (0: now)."""
        if self.live(name) >= max(1, config.max_live):
            return RECHECK  # a finishing task wakes the lane sooner
        window = WINDOW + self._margin
        while starts and starts[0] <= now - window:
            starts.popleft()
        allowed = max(1, math.floor(config.create_rate + 1e-9))
        if len(starts) + self._waiting.get(name, 0) < allowed:
            return 0.0
        if not starts:
            return RECHECK  # all the window's creates are still waiting to leave
        return max(0.01, starts[0] + window - now)

    async def _sleep(self, wake: asyncio.Event, seconds: float) -> None:
        timeout = max(0.01, self.clock.real_seconds(seconds))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await wake.wait()

    # ------------------------------------------------------------------ one create

    async def _send(
        self, name: str, client: ProviderClient, path: str, request: CreateRequest
    ) -> None:
        left = False

        def started() -> None:
            nonlocal left
            left = True
            self._waiting[name] -= 1
            self._starts[name].append(self.clock.now())

        try:
            result = await client.create(path, request.body, started=started)
            await self._settle(name, client, request, result)
        finally:
            if not left:
                self._waiting[name] -= 1
            self._inflight[name] -= 1
            self.wake(name)

    async def _settle(
        self, name: str, client: ProviderClient, request: CreateRequest, result: CreateResult
    ) -> None:
        now = utc(self.clock.now())
        if result.status is None:
            error = Failure(None, result.error or "no answer")
            if result.sent:
                event = await self._answered(request, RequestState.UNCERTAIN, None, error)
            else:
                delay = result.retry_after or jittered(CONNECT_RETRY, self._rng, NUDGE)
                event = await self.writer.call(
                    lambda store: mark_pending_again(
                        store, request, now + timedelta(seconds=delay), now, error=error
                    )
                )
            self._notify(event)
            return
        answer = read_create_answer(result.status, result.body, result.retry_after)
        status = result.status
        if answer.verdict is Verdict.CREATED:
            assert answer.task_id is not None
            task_id = answer.task_id
            event, task = await self.writer.call(
                lambda store: mark_created(store, request, task_id, status, now)
            )
            self._notify(event)
            if task is not None:
                self._on_created(task)
            return
        if answer.verdict is Verdict.RETRY_LATER:
            hold = answer.retry_after or result.retry_after or RECHECK
            event = await self.writer.call(
                lambda store: mark_pending_again(
                    store,
                    request,
                    now + timedelta(seconds=hold),
                    now,
                    http_status=status,
                    error=answer.error,
                )
            )
            self._notify(event)
            return
        to = RequestState.REJECTED if answer.verdict is Verdict.REJECTED else RequestState.UNCERTAIN
        self._notify(await self._answered(request, to, status, answer.error))
        if answer.stop is Stop.STOP_PROVIDER:
            client.refuse_key(status)
            self.stopped[name] = client.health_reason or f"{name} refused the API key"
            self._on_refused(name)
        elif answer.stop is Stop.PAUSE_CREATES and name not in self.paused:
            reason = answer.error.label if answer.error else f"HTTP {status}"
            self.paused[name] = (
                f"{name}: no balance or quota ({reason}): creating is paused until seedance-tui "
                "restarts; polling goes on"
            )
            self._publish(
                self._event("provider", name, health="creating paused", message=self.paused[name])
            )

    async def _answered(
        self,
        request: CreateRequest,
        to: RequestState,
        http_status: int | None,
        error: Failure | None,
    ) -> Event:
        now = utc(self.clock.now())
        return await self.writer.call(
            lambda store: mark_answered(
                store, request, to, now, http_status=http_status, error=error
            )
        )

    def _event(self, kind: str, provider: str, **data: object) -> Event:
        return Event(kind, provider, None, dict(data), ts=utc(self.clock.now()))
