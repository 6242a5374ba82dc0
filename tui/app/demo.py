"""`seedance-tui demo`: the real dashboard over the built-in simulator. No key, no network.

Everything is real except the providers: the simulator (`tui.sim.Simulator`) answers on
127.0.0.1 in all three dialects, a `VideoHost` serves the videos (a second origin, signed
expiring URLs), the store is a throw-away SQLite file in a temp dir, and the engine polls with
its usual etiquette. A `ScaledClock` runs the batch 20x faster than real time, so a realistic
mix of successes, failures and super-resolution jobs plays out in a few minutes.

The simulator's keys go to the engine in memory (`ProviderConfig.api_key`): never through argv,
the environment or a file. With a `FrozenClock`, a fixed seed and `prefill=True` the screen is
the same on every run (for screenshots): every task is polled once before the app opens, and the
app starts paused.
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
from typing import Any

from tui.core.clock import Clock, FrozenClock, ScaledClock
from tui.core.config import Config, DownloadConfig, ProviderConfig, UIConfig

DEMO_KINDS: tuple[str, ...] = ("newapi", "kyy", "ark")
PROVIDER_NAMES = {"newapi": "anyfast-sim", "kyy": "kyy-sim", "ark": "ark-sim"}
DEFAULT_TASKS = 300
DEFAULT_SPEED = 5.0  # a 3-minute generation takes 36 s: fast enough to watch, slow enough to read
DEFAULT_SEED = 7
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
    reuse_prefill: bool = False  # a still picture built again reuses the store polled first
    paused: bool = False
    theme_save_path: Path | None = None
    app_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from tui.sim import Simulator
        from tui.sim.video_host import VideoHost

        self.clock = self.clock or ScaledClock(self.speed)
        self._tmp = Path(tempfile.mkdtemp(prefix="seedance-demo-"))
        self.db_path = self._tmp / "tasks.db"
        self.video_host = VideoHost(clock=self.clock).start()
        self.sim = Simulator(clock=self.clock, seed=self.seed, video_host=self.video_host).start()
        self.config = demo_config(self.sim, self._tmp / "videos", self.ui)
        if self.prefill:  # a still picture: nothing may move after the first frame
            self.config = replace(
                self.config, download=replace(self.config.download, enabled=False)
            )
        self._store = None
        self.app = None

    def build(self) -> Any:
        """Fill the store with a demo batch and return the (not yet running) app."""
        from tui.app.build import build_app
        from tui.app.feeds import engine_factory
        from tui.core.store import Store

        assert self.clock is not None
        still = (self.tasks, self.seed, self.clock.now()) if self._frozen_prefill() else None
        if still is not None and still in _PREFILLED:
            self.db_path.write_bytes(_PREFILLED[still])  # the same picture, already polled
        store = self._store = Store.open(self.db_path)
        if still is None or still not in _PREFILLED:
            add_demo_batch(self.sim, store, self.tasks, self.clock)
            if self.prefill:
                prefill(self.db_path, self.config, self.clock)
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

    def __enter__(self) -> DemoSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def demo_config(sim: Any, download_dir: Path, ui: UIConfig | None = None) -> Config:
    """One provider per dialect, all pointing at the simulator, keys held in memory only."""
    providers = {
        PROVIDER_NAMES[kind]: ProviderConfig(
            name=PROVIDER_NAMES[kind],
            kind=kind,
            base_url=sim.provider_url(kind),
            api_key=sim.key(kind),
            rate_limit=20.0,
            concurrency=8,
        )
        for kind in DEMO_KINDS
    }
    download = DownloadConfig(enabled=True, dir=download_dir, concurrency=3)
    return Config(providers=providers, download=download, ui=ui or UIConfig(), path=None)


def add_demo_batch(sim: Any, store: Any, n: int, clock: Clock) -> int:
    """Create `n` simulated tasks and track them, like `add` after a real batch was submitted."""
    from tui.core.clock import utc

    by_kind: dict[str, list[str]] = {}
    for kind, task_id in sim.demo_batch(n, kinds=DEMO_KINDS):
        by_kind.setdefault(kind, []).append(task_id)
    added = 0
    for kind, ids in by_kind.items():
        result = store.add_tasks(PROVIDER_NAMES[kind], ids, batch="demo", now=utc(clock.now()))
        added += result.added
    return added


def prefill(db_path: Path, config: Config, clock: Clock) -> None:
    """Poll every task once, in a thread with its own loop and its own store connection, so it
    works inside a running event loop (tests) as well as before one (the CLI)."""
    from tui.core.engine import Engine
    from tui.core.store import Store, TaskFilter

    # Its own frozen clock: pacing sleeps advance a FrozenClock, and the simulator must keep
    # answering at the same instant (whatever order the answers come back in).
    own_clock: Clock = FrozenClock(clock.now()) if isinstance(clock, FrozenClock) else clock
    fast = {
        name: replace(p, rate_limit=1000.0, concurrency=1) for name, p in config.providers.items()
    }
    quick = replace(config, providers=fast, download=replace(config.download, enabled=False))

    async def poll_once() -> None:
        store = Store.open(db_path)
        engine = Engine(store, quick, clock=own_clock, rng=random.Random(0))
        try:
            # One provider after another (all at once, their answers and so their state events,
            # reach the store and the log in a different order on every run), and one request
            # in flight each: the same order every time.
            for name in sorted(quick.providers):
                await engine.poll_once(TaskFilter(provider=name))
        finally:
            await engine.aclose()
            store.close()

    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(poll_once())
        except BaseException as exc:  # handed to the caller below
            errors.append(exc)

    thread = threading.Thread(target=run, name="demo-prefill")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


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
