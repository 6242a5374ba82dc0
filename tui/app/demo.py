"""`seedance-tui demo`: the real dashboard over the built-in simulator. No key, no network.

Everything is real except the providers: the simulator (`tui.sim.Simulator`) answers on
127.0.0.1 in all three dialects, a `VideoHost` serves the videos (a second origin, signed
expiring URLs), the store is a throw-away SQLite file in a temp dir, and the engine polls with
its usual etiquette. The batch starts as a `submit` does: its create requests are recorded in
the store (`tui.app.demo_batch`) and the engine creates the tasks on the simulator, at most
`max_live` live per provider, more as tasks finish. A `ScaledClock` runs the batch 5x faster
than real time, so a realistic mix of successes, failures and super-resolution jobs plays out
in a few minutes.

The simulator's keys go to the engine in memory (`ProviderConfig.api_key`): never through argv,
the environment or a file. With a `FrozenClock`, a fixed seed and `prefill=True` the screen is
the same on every run (for screenshots): the requests are sent (up to `max_live`) and every task
is polled once before the app opens, and the app starts paused.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import tempfile
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.core.clock import Clock, FrozenClock, ScaledClock
from tui.core.config import Config, DownloadConfig, ProviderConfig, UIConfig

if TYPE_CHECKING:
    from tui.app.app import SeedanceApp
    from tui.core.store import Store

DEMO_KINDS: tuple[str, ...] = ("newapi", "kyy", "ark")
PROVIDER_NAMES = {"newapi": "anyfast-sim", "kyy": "kyy-sim", "ark": "ark-sim"}
DEFAULT_TASKS = 300
DEFAULT_SPEED = 5.0  # a 3-minute generation takes 36 s: fast enough to watch, slow enough to read
DEFAULT_SEED = 7
# Per provider: most live tasks from the demo's store (the batch waits for room beyond it) and
# creates per clock minute (12 real seconds at 5x).
DEMO_MAX_LIVE = 60
DEMO_CREATE_RATE = 600.0
FIRST_WAVE = 20  # tasks a provider created before the live demo opens: its first frame has some
# (tasks, seed, frozen instant) -> the store after `prefill`: a still picture polls 300 tasks
# once (2 s), and the screenshots and snapshot tests draw the same picture eight times.
_PREFILLED: dict[tuple[int, int, float], bytes] = {}


@dataclass
class DemoSession:
    """The simulator, video host, store and app of one demo; `close()` removes every trace."""

    tasks: int = DEFAULT_TASKS
    seed: int = DEFAULT_SEED
    clock: Clock | None = None
    speed: float = DEFAULT_SPEED
    ui: UIConfig = field(default_factory=UIConfig)
    prefill: bool = False
    max_live: int = DEMO_MAX_LIVE  # per provider (a load test may want every task live at once)
    reuse_prefill: bool = False  # a still picture built again reuses the store polled first
    paused: bool = False
    theme_save_path: Path | None = None
    app_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from tui.sim import Simulator
        from tui.sim.video_host import VideoHost

        self.clock = self.clock or ScaledClock(self.speed)
        self._tmp = Path(tempfile.mkdtemp(prefix="seedance-demo-"))
        self._store_dir = _memory_dir()
        self.db_path = (self._store_dir or self._tmp) / "tasks.db"
        self.video_host = VideoHost(clock=self.clock).start()
        self.sim = Simulator(clock=self.clock, seed=self.seed, video_host=self.video_host).start()
        self.config = demo_config(self.sim, self._tmp / "videos", self.ui, max_live=self.max_live)
        if self.prefill:  # a still picture: nothing may move after the first frame
            self.config = replace(
                self.config, download=replace(self.config.download, enabled=False)
            )
        self._store: Store | None = None
        self.app: SeedanceApp | None = None

    def build(self) -> Any:
        """Fill the store with a demo batch and return the (not yet running) app."""
        from tui.app.build import build_app
        from tui.app.demo_batch import demo_lines, submit_demo_batch
        from tui.app.feeds import engine_factory
        from tui.core.clock import utc
        from tui.core.store import Store

        assert self.clock is not None
        still = (self.tasks, self.seed, self.clock.now()) if self._frozen_prefill() else None
        if still is not None and still in _PREFILLED:
            self.db_path.write_bytes(_PREFILLED[still])  # the same picture, already polled
        store = self._store = Store.open(self.db_path)
        if still is None or still not in _PREFILLED:
            submit_demo_batch(
                self.sim,
                store,
                demo_lines(self.tasks, self.seed, DEMO_KINDS),
                PROVIDER_NAMES,
                now=utc(self.clock.now()),
            )
            # The first wave is created before the app opens (a batch already under way on
            # the first frame); the app's engine sends the rest as tasks finish.
            prefill(self.db_path, self.config, self.clock, poll=self.prefill)
            if still is not None:
                _PREFILLED[still] = _store_image(self.db_path)
        # a seeded rng: poll jitter (next-poll countdowns) is the same on every run
        make_engine = engine_factory(store, self.config, self.clock, random.Random(self.seed))
        self.app = build_app(
            store,
            self.config,
            self.db_path,
            make_engine=make_engine,
            command="seedance-tui demo",
            clock=self.clock,
            paused=self.paused or self.prefill,
            theme_save_path=self.theme_save_path,
            **self.app_options,
        )
        return self.app

    def _frozen_prefill(self) -> bool:
        """A still picture (frozen clock, prefilled, so paused): its store is the same on every
        build with the same tasks, seed and instant."""
        return self.reuse_prefill and self.prefill and isinstance(self.clock, FrozenClock)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        self.sim.stop()
        self.video_host.stop()
        shutil.rmtree(self._tmp, ignore_errors=True)
        if self._store_dir is not None:
            shutil.rmtree(self._store_dir, ignore_errors=True)

    def __enter__(self) -> DemoSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _memory_dir() -> Path | None:
    """A temp dir in memory (Linux's /dev/shm) for the throw-away store, None where there is
    none: a create is two durable commits (`sending`, then `created`), and on a disk their
    fsyncs made sending the demo's first wave take seconds; nothing here must survive a crash."""
    shm = Path("/dev/shm")
    if not shm.is_dir():
        return None
    try:
        return Path(tempfile.mkdtemp(prefix="seedance-demo-", dir=shm))
    except OSError:  # not writable here: the disk is only slower
        return None


def demo_config(
    sim: Any, download_dir: Path, ui: UIConfig | None = None, *, max_live: int = DEMO_MAX_LIVE
) -> Config:
    """One provider per dialect, all pointing at the simulator, keys held in memory only."""
    providers = {
        PROVIDER_NAMES[kind]: ProviderConfig(
            name=PROVIDER_NAMES[kind],
            kind=kind,
            base_url=sim.provider_url(kind),
            api_key=sim.key(kind),
            rate_limit=20.0,
            concurrency=8,
            max_live=max_live,
            create_rate=DEMO_CREATE_RATE,
        )
        for kind in DEMO_KINDS
    }
    download = DownloadConfig(enabled=True, dir=download_dir, concurrency=3)
    return Config(providers=providers, download=download, ui=ui or UIConfig(), path=None)


def prefill(db_path: Path, config: Config, clock: Clock, *, poll: bool = True) -> None:
    """Send the recorded requests until `max_live` tasks are live at each provider and, with
    `poll`, poll every new task once after each round (a task that ended at once frees its slot
    for the next round). Without `poll` (the live demo's first wave) at most FIRST_WAVE a
    provider, all providers at once. In a thread with its own loop and its own store
    connection, so it works inside a running event loop (tests) as well as before one (the
    CLI); the same store functions as the engine's submitter, one create at a time."""
    from tui.core.engine import Engine
    from tui.core.poller import ProviderClient
    from tui.core.store import Store, TaskFilter

    # Its own frozen clock: pacing sleeps advance a FrozenClock, and the simulator must keep
    # answering at the same instant (whatever order the answers come back in).
    own_clock: Clock = FrozenClock(clock.now()) if isinstance(clock, FrozenClock) else clock
    fast = {
        name: replace(
            p,
            rate_limit=1000.0,
            concurrency=1,
            max_live=p.max_live if poll else min(p.max_live, FIRST_WAVE),
        )
        for name, p in config.providers.items()
    }
    quick = replace(config, providers=fast, download=replace(config.download, enabled=False))

    async def send_and_poll() -> None:
        store = Store.open(db_path)
        engine = Engine(store, quick, clock=own_clock, rng=random.Random(0)) if poll else None
        clients = {name: ProviderClient(p, clock=own_clock) for name, p in fast.items()}
        try:
            if engine is None:
                jobs = [_create_up_to(store, clients[n], fast[n], own_clock) for n in sorted(fast)]
                await asyncio.gather(*jobs)
                return
            # One provider after another (all at once, their answers and so their events,
            # reach the store and the log in a different order on every run), and one request
            # in flight at a time: the same order every time.
            for name in sorted(fast):
                while await _create_up_to(store, clients[name], fast[name], own_clock):
                    await engine.poll_once(TaskFilter(provider=name))
        finally:
            for client in clients.values():
                await client.aclose()
            if engine is not None:
                await engine.aclose()
            store.close()

    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(send_and_poll())
        except BaseException as exc:  # handed to the caller below
            errors.append(exc)

    thread = threading.Thread(target=run, name="demo-prefill")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


async def _create_up_to(store: Any, client: Any, provider: ProviderConfig, clock: Clock) -> int:
    """Send the provider's pending requests, oldest first, one at a time, while fewer than its
    `max_live` tasks are live; returns how many tasks were created."""
    from tui.core.clock import utc
    from tui.core.model import Failure
    from tui.core.request_store import (
        live_created,
        mark_answered,
        mark_created,
        mark_pending_again,
        mark_sending,
        next_pending,
    )
    from tui.core.requests import RequestState, Verdict, read_create_answer

    path = provider.create_endpoint
    made = 0
    while path is not None and live_created(store, provider.name) < provider.max_live:
        due = next_pending(store, provider.name, utc(clock.now()))
        if not due or mark_sending(store, due[0], utc(clock.now())) is None:
            break
        request = due[0]
        result = await client.create(path, request.body)
        now = utc(clock.now())
        if result.status is None:
            lost = Failure(None, result.error or "no answer")
            mark_answered(store, request, RequestState.UNCERTAIN, now, error=lost)
            break
        answer = read_create_answer(result.status, result.body, result.retry_after)
        status, error = result.status, answer.error
        if answer.verdict is Verdict.RETRY_LATER:  # sent again by the app's engine
            mark_pending_again(store, request, now, now, http_status=status, error=error)
            break
        if answer.verdict is not Verdict.CREATED or answer.task_id is None:
            # the demo's simulator refuses nothing: should it, the request shows why
            to = RequestState.REJECTED
            if answer.verdict is not Verdict.REJECTED:
                to = RequestState.UNCERTAIN
            mark_answered(store, request, to, now, http_status=status, error=error)
            break
        mark_created(store, request, answer.task_id, result.status, now)
        made += 1
    return made


def _store_image(db_path: Path) -> bytes:
    """The whole SQLite database (its WAL included) as the bytes of one file."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        return conn.serialize()


def demo_session(
    tasks: int = DEFAULT_TASKS,
    *,
    config: Config | None = None,
    seed: int = DEFAULT_SEED,
    speed: float = DEFAULT_SPEED,
    clock: Clock | None = None,
    **options: Any,
) -> DemoSession:
    """The session `seedance-tui demo` opens. Of the user's `config` only its [ui] part (theme,
    keys) is used, and nothing is written back: a theme picked in the demo stays in the demo
    (no `theme_save_path`), the user's config file is never touched."""
    ui = config.ui if config is not None else UIConfig()
    return DemoSession(tasks=tasks, seed=seed, speed=speed, clock=clock, ui=ui, **options)


def run_demo(
    tasks: int = DEFAULT_TASKS,
    *,
    config: Config | None = None,
    seed: int = DEFAULT_SEED,
    speed: float = DEFAULT_SPEED,
    clock: Clock | None = None,
) -> int:
    """Open the dashboard on a fresh simulated batch of `tasks`; returns the exit code."""
    with demo_session(tasks, config=config, seed=seed, speed=speed, clock=clock) as session:
        app = session.build()
        app.run()
        return app.return_code or 0
