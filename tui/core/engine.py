"""The engine: polls live tasks politely, folds answers into the store, keeps finished videos,
and sends the store's pending create requests (`submitter`, which hands it the tasks it made).

It wires the parts together and owns no policy of its own: *when* a task is polled comes from
`schedule` (delays) and `poll_queue` (who goes first), *how* a provider is asked from
`poller.ProviderClient` (pacing, concurrency, Retry-After, back-off), *what* an answer means from
the dialects and `merge`, and *where* a video goes from `downloads`. Everything that happens
leaves as an `Event` to the subscribers (the dashboard, the `watch` printer), the same for all.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import random
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path

import httpx

from tui.core.clock import Clock, SystemClock, utc
from tui.core.config import Config, ProviderConfig
from tui.core.downloads import Downloader
from tui.core.jitter import FULL, NUDGE, jittered
from tui.core.merge import merge
from tui.core.model import LIVE_STATES, DownloadState, Event, Key, State, Task
from tui.core.poll_queue import PollQueue
from tui.core.poller import PollError, PollResult, ProviderClient, ProviderHealth
from tui.core.schedule import next_poll_delay, priority
from tui.core.store import AddResult, Store, TaskFilter
from tui.core.store_writer import StoreGaveUp, StoreOutage, StoreWriter
from tui.core.submitter import Submitter

log = logging.getLogger(__name__)

# Events that only exist as events (state changes are stored with their task).
_PERSISTED_KINDS = frozenset({"http_error", "download", "provider", "notice", "error", "removed"})
FIRST_LOOK = 3.0  # clock seconds from a create to its task's first poll (instant refusals)


class Engine:
    def __init__(
        self,
        store: Store,
        config: Config,
        *,
        clock: Clock | None = None,
        download: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        video_transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
        store_give_up_after: float | None = None,
        store_opener: Callable[[Path], Store] | None = None,
    ) -> None:
        """`store` is read on the caller's loop; every write goes through a `StoreWriter` (its
        own connection and thread, opened with `store_opener`, by default `Store.open` with
        `[store] busy_timeout`), so a slow or refusing disk never holds the loop."""
        self.store = store
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._transport = transport
        self._event_subscribers: list[Callable[[Event], None]] = []
        self._task_subscribers: list[Callable[[Task], None]] = []
        self._tasks: dict[Key, Task] = {}
        self._queue: PollQueue[Key] = PollQueue(self._priority_of)
        self._clients: dict[str, ProviderClient] = {}
        self._refused: dict[str, str] = {}  # provider -> why it cannot be polled at all
        self._last_health: dict[str, ProviderHealth] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._unpaused = asyncio.Event()
        self._unpaused.set()
        self._inflight: set[asyncio.Task[None]] = set()
        self.writer = StoreWriter(
            store.path,
            clock=self.clock,
            on_change=self._store_changed,
            give_up_after=(
                config.store.give_up_after if store_give_up_after is None else store_give_up_after
            ),
            opener=store_opener
            or functools.partial(Store.open, busy_timeout=config.store.busy_timeout),
        )
        self.submitter = Submitter(
            store, config, clock=self.clock, writer=self.writer, client_of=self._client,
            on_created=self._track_created, notify=self._notify_event, publish=self._publish,
            on_refused=self._stop_provider, unpaused=self._unpaused, rng=self._rng,
        )  # fmt: skip
        self._task_subscribers.append(self.submitter.task_changed)
        self._downloader: Downloader | None = None
        if download and config.download.enabled:
            self._downloader = Downloader(
                config.download,
                store,
                clock=self.clock,
                publish=self._publish,
                refresh=self._refresh_url,
                transport=video_transport,
                write=self.writer.submit,
            )

    # ------------------------------------------------------------------ subscriptions

    def subscribe(self, callback: Callable[[Event], None]) -> None:
        """`callback(event)` for everything that happens (called in the engine's loop)."""
        self._event_subscribers.append(callback)

    def subscribe_tasks(self, callback: Callable[[Task], None]) -> None:
        """`callback(task)` with the new task after every change that is saved."""
        self._task_subscribers.append(callback)

    # ------------------------------------------------------------------ control

    @property
    def paused(self) -> bool:
        return not self._unpaused.is_set()

    def pause(self) -> None:
        """Stop sending polls (requests in flight finish; downloads go on)."""
        self._unpaused.clear()
        self._publish(self._event("notice", message="polling paused"))

    def resume(self) -> None:
        self._unpaused.set()
        self._publish(self._event("notice", message="polling resumed"))

    def downloads(self) -> Downloader | None:
        return self._downloader

    def health(self) -> dict[str, tuple[ProviderHealth, str | None]]:
        """Each provider's health, for the summary bar and `watch`'s exit code."""
        out: dict[str, tuple[ProviderHealth, str | None]] = {
            name: (ProviderHealth.AUTH_FAILED, why) for name, why in self._refused.items()
        }
        for name, client in self._clients.items():
            out[name] = (client.health, client.health_reason)
        return out

    def requests_per_second(self) -> float:
        return sum(client.requests_per_second() for client in self._clients.values())

    def next_poll_at(self, provider: str, task_id: str) -> float | None:
        """Epoch seconds (engine clock) of the task's next poll, None if it has none."""
        return self._queue.due_at((provider, task_id))

    # ------------------------------------------------------------------ running

    async def run(self, flt: TaskFilter | None = None, *, until_done: bool = False) -> None:
        """Poll the selected tasks until cancelled or, with `until_done`, until every one of them
        is terminal (or cannot be polled), every finished video is kept and no create request
        of the filter's provider and batch is left to send (except where creating is paused
        or stopped: `submitter.left()`). Pending requests are sent meanwhile."""
        self._load(flt)
        self.submitter.select(
            provider=flt.provider if flt else None, batch=flt.batch if flt else None
        )
        background = [asyncio.create_task(self.submitter.run(), name="submit")]
        if self._downloader is not None:
            background.append(asyncio.create_task(self._downloader.run(), name="downloads"))
            # Only the videos not kept yet are read: reading every finished task to skip the
            # downloaded ones cost ~100 MB of peak memory at 100,000 tasks. They are queued in
            # one go (one durable write for all their `pending` marks).
            offer = dataclasses.replace(_with_states(flt, {State.SUCCEEDED}), undownloaded=True)
            self._downloader.enqueue_many(self.store.query(offer))
        lanes = {
            name: asyncio.create_task(self._dispatch(name), name=f"poll:{name}")
            for name in self._providers_with_work()
        }
        try:
            if until_done:
                await self._wait_until_done([*lanes.values(), background[0]])
                if self._downloader is not None:
                    await self._downloader.drain()
                await self.writer.drain()
                self._check_store()
            else:
                await self._until_store_gives_up()
        finally:
            await _quietly_gather([*lanes.values(), *background, *self._inflight])

    async def poll_once(self, flt: TaskFilter | None = None) -> None:
        """Poll every selected live task once (`status --refresh`), still within etiquette: a
        task polled less than `min_interval` ago is not asked again."""
        selected = self._load(flt)
        now = self.clock.now()
        jobs = []
        for key in selected:
            task = self._tasks[key]
            provider = self._provider_config(task.provider)
            if provider is None or task.state not in LIVE_STATES:
                continue
            if _seconds_since(task.last_polled_at, now) < provider.min_interval:
                continue
            client = self._client(task.provider)
            if client is not None:
                jobs.append(self._poll(key, client))
        await asyncio.gather(*jobs)
        await self.writer.drain()
        self._check_store()

    async def poll_now(self, provider: str, task_id: str) -> str:
        """Ask for this task at the earliest moment etiquette allows; says when that is, or
        why it is not polled at all (its provider refused its key, has no key, is not in the
        config: then `health()` names the provider too)."""
        key = (provider, task_id)
        task = self._tasks.get(key) or self.store.get(provider, task_id, with_raw=False)
        if task is None:
            return "not tracked here"
        if task.terminal:
            return f"{task.state}: a finished task is not polled again"
        client = self._client(provider)  # None (and explained once) when it cannot be polled
        if client is None or client.health is ProviderHealth.AUTH_FAILED:
            why = self._refused.get(provider) or (client and client.health_reason)
            return f"not polled: {why or provider + ' cannot be polled'}"
        config = client.config
        self._tasks[key] = task
        earliest = _epoch(task.last_polled_at) + config.min_interval
        due = max(self.clock.now(), earliest)
        self._schedule(task, due)
        wait = due - self.clock.now()
        if client.health is ProviderHealth.DOWN:
            return f"queued, but {client.health_reason}"
        hold = client.blocked_until
        if hold is not None and hold - self.clock.now() > max(wait, 0):
            return f"polling in {hold - self.clock.now():.0f} s ({provider} asked to wait)"
        return "polling now" if wait <= 0 else f"polling in {wait:.0f} s (min_interval)"

    async def add(self, provider: str, ids: Sequence[str], batch: str | None = None) -> AddResult:
        """Track new ids and poll them soon."""
        now = utc(self.clock.now())
        result = await self.writer.call(
            lambda store: store.add_tasks(provider, ids, batch=batch, now=now)
        )
        for task in self.store.query(TaskFilter(provider=provider, ids=frozenset(ids))):
            if task.key not in self._tasks:  # one query for the lot, not one per id
                self._track(task)
                self._notify_task(task)
        self._ensure_lane(provider)
        return result

    async def remove(self, provider: str, ids: Sequence[str]) -> int:
        removed = await self.writer.call(lambda store: store.remove(provider, ids))
        for task_id in ids:
            key = (provider, task_id)
            self._tasks.pop(key, None)
            self._queue.discard(key)
            self._publish(self._event("removed", provider, task_id))
        return removed

    async def aclose(self) -> None:
        """Close the clients, then write what is still queued (unless the store is out)."""
        for client in self._clients.values():
            await client.aclose()
        if self._downloader is not None:
            await self._downloader.aclose()
        await self.writer.aclose()

    @property
    def store_outage(self) -> StoreOutage | None:
        """Why the store takes no writes now (polling waits meanwhile), or None."""
        return self.writer.outage

    # ------------------------------------------------------------------ internals

    def _load(self, flt: TaskFilter | None) -> list[Key]:
        """Track the live tasks `flt` selects (those not tracked yet); their keys, in order."""
        wanted = flt.states if flt and flt.states else LIVE_STATES
        live = _with_states(flt, LIVE_STATES & wanted)
        selected = []
        for task in self.store.query(live):
            if task.key not in self._tasks:
                self._track(task)
            selected.append(task.key)
        return selected

    def _track(self, task: Task) -> None:
        """Remember a live task and schedule it. Only live tasks are kept in memory: a finished
        one is never polled again (its fresh-URL re-poll reads the store)."""
        if task.terminal:
            return
        self._tasks[task.key] = task
        if self._client(task.provider) is not None:
            now = self.clock.now()
            if task.last_polled_at is None:
                due = now + jittered(1.0, self._rng, FULL)  # new tasks: soon, not in lockstep
            else:
                due = max(now, _epoch(task.last_polled_at) + self._delay(task, now))
            self._schedule(task, due)

    def _track_created(self, task: Task) -> None:
        """A task a create request just made: first looked at a few seconds from now (content
        policy refusals come back at once), then as any other."""
        self._tasks[task.key] = task
        self._notify_task(task)
        if self._client(task.provider) is not None:
            self._schedule(task, self.clock.now() + jittered(FIRST_LOOK, self._rng, NUDGE))
        self._ensure_lane(task.provider)

    def _stop_provider(self, name: str) -> None:
        """The provider refused its key on a create: stopped as for a refused poll."""
        client = self._clients.get(name)
        if client is not None:
            self._refused.setdefault(name, client.health_reason or f"{name} refused the key")
            self._note_health(name, client)

    def _schedule(self, task: Task, due: float) -> None:
        """Queue the task's next poll and wake its lane, which may be asleep with nothing due."""
        self._queue.schedule(task.provider, task.key, due)
        self._wake_lane(task.provider)

    def _providers_with_work(self) -> list[str]:
        return sorted({task.provider for task in self._tasks.values()})

    def _ensure_lane(self, provider: str) -> None:
        """A lane for a provider that got its first task after `run` started."""
        if provider not in self._wake and self._client(provider) is not None:
            with contextlib.suppress(RuntimeError):
                task = asyncio.get_running_loop().create_task(self._dispatch(provider))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)
        self._wake_lane(provider)

    def _wake_lane(self, provider: str) -> None:
        wake = self._wake.get(provider)
        if wake is not None:
            wake.set()

    async def _dispatch(self, provider: str) -> None:
        """One provider's loop: take the most deserving due task, poll it, repeat."""
        client = self._client(provider)
        config = self._provider_config(provider)
        if client is None or config is None:
            return
        wake = self._wake.setdefault(provider, asyncio.Event())
        slots = asyncio.Semaphore(max(1, config.concurrency))
        while client.health is not ProviderHealth.AUTH_FAILED:
            await self._unpaused.wait()
            await self.writer.wait_available()  # a store outage: no new answers to keep
            if self.writer.failure is not None:
                return
            await slots.acquire()
            key = await self._next_ready(provider, wake)
            job = asyncio.create_task(self._poll(key, client))
            self._inflight.add(job)
            job.add_done_callback(self._inflight.discard)
            job.add_done_callback(lambda _: slots.release())

    async def _next_ready(self, provider: str, wake: asyncio.Event) -> Key:
        while True:
            now = self.clock.now()
            if not self.paused:
                key = self._queue.pop_ready(provider, now)
                if key is not None:
                    return key
            due = self._queue.next_due(provider)
            wait = None if due is None or self.paused else max(0.0, due - now)
            wake.clear()
            timeout = None if wait is None else max(0.001, self.clock.real_seconds(wait))
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel (bpo-42130)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await wake.wait()
            await self._unpaused.wait()

    async def _poll(self, key: Key, client: ProviderClient) -> None:
        task = self._tasks.get(key)
        if task is None:
            return
        result = await client.poll(task.id)
        task = self._tasks.get(key)  # it may have been removed while we waited
        if task is None:
            return
        now = self.clock.now()
        if result.snapshot is not None:
            self._apply(task, result, now)
        elif result.error is not None:
            self._failed_poll(task, client, result.error, now)
        self._note_health(task.provider, client)

    def _apply(self, task: Task, result: PollResult, now: float) -> None:
        config = self._provider_config(task.provider)
        assert config is not None and result.snapshot is not None
        updated, events = merge(task, result.snapshot, utc(now), min_interval=config.min_interval)
        self._save(updated, events)
        if updated.state in LIVE_STATES:
            if updated.not_found_strikes:
                delay = jittered(config.min_interval, self._rng, NUDGE)
            else:
                delay = self._delay(updated, now)
            self._schedule(updated, now + delay)
        else:
            self._queue.discard(updated.key)
            if updated.state is State.SUCCEEDED:
                self._offer_download(updated)

    def _failed_poll(
        self, task: Task, client: ProviderClient, error: PollError, now: float
    ) -> None:
        if error.sent:
            data = {
                "status": error.status,
                "retry_after": error.retry_after,
                "message": error.message,
            }
            self._publish(Event("http_error", task.provider, task.id, data, ts=utc(now)))
        if error.kind == "auth":
            if client.health is ProviderHealth.AUTH_FAILED and task.provider not in self._refused:
                self._refused[task.provider] = error.message
            return  # that provider is stopped: nothing more is scheduled for it
        config = self._provider_config(task.provider)
        assert config is not None
        delay = max(config.min_interval, client.backoff_delay(task.id))
        if error.retry_after:
            delay = max(delay, error.retry_after)
        self._schedule(task, now + min(delay, config.max_interval * 4))

    def _note_health(self, provider: str, client: ProviderClient) -> None:
        """One `provider` event each time a provider's health changes (not one per task)."""
        health = client.health
        if self._last_health.get(provider, ProviderHealth.OK) is not health:
            self._last_health[provider] = health
            self._publish(
                self._event("provider", provider, health=str(health), message=client.health_reason)
            )

    async def _refresh_url(self, task: Task) -> Task | None:
        """The video host refused an expired URL: ask the provider once for a fresh one, no
        sooner than `min_interval` after the task's previous poll (the first etiquette rule
        has no exception for this one)."""
        client = self._client(task.provider)
        config = self._provider_config(task.provider)
        if client is None or config is None:
            return None
        await self.writer.drain()  # the task's last poll may still be on its way to the store
        known = self.store.get(task.provider, task.id, with_raw=False) or task
        wait = _epoch(known.last_polled_at) + config.min_interval - self.clock.now()
        if wait > 0:
            await self.clock.sleep(wait)
        result = await client.poll(task.id)
        if result.snapshot is None:
            return None
        current = self.store.get(task.provider, task.id, with_raw=False) or known
        updated, events = merge(
            current, result.snapshot, utc(self.clock.now()), min_interval=config.min_interval
        )
        self._save(updated, events)
        return updated

    def _offer_download(self, task: Task) -> None:
        if self._downloader is not None and _wants_download(task):
            self._downloader.enqueue(task)

    def _save(self, task: Task, events: Sequence[Event]) -> None:
        """Known at once (schedule, subscribers); written in the writer's turn, in order."""
        self.writer.submit(lambda store: store.save(task, events))
        if task.terminal:
            self._tasks.pop(task.key, None)
        else:
            self._tasks[task.key] = task
        self._notify_task(task)
        for event in events:
            self._notify_event(event)

    def _delay(self, task: Task, now: float) -> float:
        config = self._provider_config(task.provider)
        assert config is not None
        return next_poll_delay(
            task,
            utc(now),
            min_interval=config.min_interval,
            max_interval=config.max_interval,
            rng=self._rng,
        )

    def _priority_of(self, key: Key, now: float) -> float:
        task = self._tasks.get(key)
        return priority(task, utc(now)) if task is not None else 0.0

    def _provider_config(self, name: str) -> ProviderConfig | None:
        return self.config.providers.get(name)

    def _client(self, name: str) -> ProviderClient | None:
        """The provider's client, or None (once explained) when it cannot be polled at all."""
        if name in self._clients:
            return self._clients[name]
        if name in self._refused:
            return None
        config = self._provider_config(name)
        if config is None:
            why = f"provider '{name}' is not in the config: add a [providers.{name}] table"
        elif not config.api_key:
            source = config.api_key_env or "api_key"
            why = f"{name} has no API key: set {source}"
        else:
            self._clients[name] = ProviderClient(
                config, clock=self.clock, transport=self._transport
            )
            return self._clients[name]
        self._refused[name] = why
        self._publish(self._event("provider", name, health="auth failed", message=why))
        return None

    async def _wait_until_done(self, lanes: list[asyncio.Task[None]]) -> None:
        while self._has_pollable_work() or self.submitter.has_work():
            self._check_store()
            finished = [lane for lane in lanes if lane.done()]
            for lane in finished:
                if not lane.cancelled() and lane.exception() is not None:
                    raise lane.exception()  # type: ignore[misc]
            await asyncio.sleep(0.1)

    async def _until_store_gives_up(self) -> None:
        """Run until cancelled; end with StoreGaveUp if the store stays out too long."""
        while True:
            await asyncio.sleep(1.0)
            self._check_store()

    def _check_store(self) -> None:
        if self.writer.failure is not None:
            raise StoreGaveUp(self.writer.failure)

    def _store_changed(self, outage: StoreOutage | None) -> None:
        """One `store` event when the store stops taking writes, one when it takes them again."""
        if outage is None:
            event = self._event("store", state="available", message="the store takes writes again")
        else:
            event = self._event(
                "store",
                state="unavailable",
                message=f"{outage.message}; polling waits, nothing is lost",
            )
        self._notify_event(event)

    def _has_pollable_work(self) -> bool:
        """Is any live task left that a provider will answer for? (Only live tasks are kept.)"""
        return any(task.provider not in self._refused for task in self._tasks.values())

    def _event(
        self, kind: str, provider: str | None = None, task_id: str | None = None, **data: object
    ) -> Event:
        """An event stamped with the engine's clock (a frozen or fast clock stays consistent)."""
        return Event(kind, provider, task_id, dict(data), ts=utc(self.clock.now()))

    def _publish(self, event: Event) -> None:
        if event.kind in _PERSISTED_KINDS:
            self.writer.submit(lambda store: store.append_events([event]))
        self._notify_event(event)

    def _notify_event(self, event: Event) -> None:
        for callback in self._event_subscribers:
            try:
                callback(event)
            except Exception:
                log.exception("an event subscriber failed")

    def _notify_task(self, task: Task) -> None:
        for callback in self._task_subscribers:
            try:
                callback(task)
            except Exception:
                log.exception("a task subscriber failed")


def _with_states(flt: TaskFilter | None, states: Iterable[State]) -> TaskFilter:
    """`flt` (or everything) narrowed to `states`."""
    return dataclasses.replace(flt or TaskFilter(), states=frozenset(states))


def _wants_download(task: Task) -> bool:
    """A video to offer the downloader (it decides the rest: kept on disk, expired, ...)."""
    return bool(task.video_url) and task.download.state is not DownloadState.DONE


def _epoch(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else float("-inf")


def _seconds_since(moment: datetime | None, now: float) -> float:
    return now - _epoch(moment)


async def _quietly_gather(tasks: Sequence[asyncio.Future]) -> None:  # type: ignore[type-arg]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
