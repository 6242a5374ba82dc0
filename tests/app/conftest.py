"""Fixtures for the dashboard tests: a real store with real tasks, a real engine, the real app.

The engine starts paused and its providers point at a closed port unless a test brings the
simulator, so nothing is polled behind a test's back; downloads are off (no CDN here).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tui.app.app import SeedanceApp, Timings
from tui.app.build import build_app
from tui.app.feeds import ViewerFeed
from tui.core.clock import Clock, FrozenClock
from tui.core.config import Config, DownloadConfig, ProviderConfig, StoreConfig, UIConfig
from tui.core.model import DownloadState, Event, Failure, State, Task, Tokens
from tui.core.store import Store

T0 = 1_777_288_500.0  # 2026-04-27T11:15:00Z
NASTY = "prompt rejected [/] [@click=app.quit] \x1b]52;c;SGVsbG8=\x07\x1b[2J end"
INVALID = "img_url must be set for image to video method"


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, UTC)


def newapi_body(task_id: str, relay_status: str, **inner: Any) -> dict[str, Any]:
    """The newapi relay's answer: its own status outside, the Ark task object in data.data."""
    return {
        "code": "success",
        "message": "",
        "data": {"task_id": task_id, "status": relay_status, "progress": "100%", "data": inner},
    }


def sample_tasks() -> list[Task]:
    """A small batch with every state, three identical failures and one nasty message."""
    ultra_raw = newapi_body(
        "asyntask_ultra1",
        "SUCCESS",
        id="cgt-20260427191507-f5n97",
        resolution="480p",
        super_resolution="720p",
        status="succeeded",
        usage={
            "completion_tokens": 50638,
            "total_tokens": 50638,
            "super_resolution_tokens": 114441,
        },
    )
    tasks = [
        Task(
            "anyfast",
            "asyntask_ultra1",
            batch="spring",
            state=State.SUCCEEDED,
            upstream_status="SUCCESS",
            model="seedance-turbo",
            progress=100,
            created_at=at(-600),
            started_at=at(-590),
            finished_at=at(-300),
            video_url="https://cdn.example/v/ultra1.mp4?X-Tos-Expires=86400",
            url_expires_at=at(86_000),
            duration=5,
            resolution="480p",
            super_resolution="720p",
            ratio="16:9",
            fps=24,
            seed=4304,
            generate_audio=True,
            tokens=Tokens(total=50638, completion=50638, super_resolution=114441),
            polls=7,
            last_polled_at=at(-300),
            raw=ultra_raw,
        ),
        Task(
            "kyy",
            "video_run1",
            state=State.RUNNING,
            model="seedance_2_0",
            progress=40,
            created_at=at(-120),
            polls=2,
            last_polled_at=at(-20),
            raw={"id": "video_run1", "status": "processing"},
        ),
        Task(
            "kyy",
            "video_queue1",
            state=State.QUEUED,
            created_at=at(-30),
            polls=1,
            last_polled_at=at(-10),
            raw={"id": "video_queue1", "status": "queued"},
        ),
        Task(
            "anyfast",
            "task_cancel1",
            state=State.CANCELLED,
            created_at=at(-900),
            raw=newapi_body("task_cancel1", "IN_PROGRESS", status="cancelled"),
        ),
        Task("kyy", "video_gone1", state=State.MISSING, created_at=at(-900)),
    ]
    for n in range(3):
        task_id = f"asyntask_bad{n}"
        tasks.append(
            Task(
                "anyfast",
                task_id,
                state=State.FAILED,
                upstream_status="FAILURE",
                created_at=at(-400 + n),
                finished_at=at(-395 + n),
                failure=Failure("InvalidParameter", INVALID),
                polls=2,
                last_polled_at=at(-390),
                raw={
                    "code": "success",
                    "data": {
                        "task_id": task_id,
                        "status": "FAILURE",
                        "fail_reason": f"task failed, code: InvalidParameter, message: {INVALID}",
                    },
                },
            )
        )
    tasks.append(
        Task(
            "kyy",
            "video_nasty1",
            state=State.FAILED,
            upstream_status="failed",
            created_at=at(-200),
            failure=Failure(None, NASTY),
            raw={"id": "video_nasty1", "status": "failed", "error": NASTY},
        )
    )
    return tasks


def seed_store(store: Store, tasks: list[Task], *, history: bool = True) -> None:
    """Put `tasks` in the store the way the engine would: add, then save with state events."""
    by_provider: dict[str, list[str]] = {}
    for task in tasks:
        by_provider.setdefault(task.provider, []).append(task.id)
    for provider, ids in by_provider.items():
        store.add_tasks(provider, ids, batch=None, now=at(-1000))
    items = []
    for task in tasks:
        events: list[Event] = []
        if history and task.state is not State.QUEUED:
            events.append(
                Event(
                    "state",
                    task.provider,
                    task.id,
                    {"from": "queued", "to": "running", "upstream_status": None, "failure": None},
                    ts=at(-500),
                )
            )
            if task.state is not State.RUNNING:
                events.append(
                    Event(
                        "state",
                        task.provider,
                        task.id,
                        {
                            "from": "running",
                            "to": str(task.state),
                            "upstream_status": task.upstream_status,
                            "failure": task.failure.to_json() if task.failure else None,
                        },
                        ts=at(-300),
                    )
                )
        items.append((task, events))
    store.save_many(items)
    for task in tasks:
        if task.download.state is not DownloadState.NONE:
            store.set_download(task.provider, task.id, task.download)


def make_config(
    tmp_path: Path,
    *,
    providers: dict[str, ProviderConfig] | None = None,
    ui: UIConfig | None = None,
    store: StoreConfig | None = None,
) -> Config:
    providers = providers or {
        "anyfast": ProviderConfig("anyfast", "newapi", "http://127.0.0.1:9", api_key="sk-test"),
        "kyy": ProviderConfig("kyy", "kyy", "http://127.0.0.1:9", api_key="sk-test"),
    }
    return Config(
        providers=providers,
        download=DownloadConfig(enabled=False, dir=tmp_path / "videos"),
        store=store or StoreConfig(),
        ui=ui or UIConfig(),
        path=None,
    )


# The app's clocks in tests: changes applied as soon as the loop is idle, the detail pane loaded
# at once. Tests wait for idle (`pilot.pause()`, `workers.wait_for_complete()`), never a delay.
FAST = Timings(viewer=0.05, detail_debounce=0.001)


@dataclass
class Dash:
    """What a test needs around one app."""

    app: SeedanceApp
    store: Store
    db_path: Path
    tmp: Path
    config: Config
    clock: Clock
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def clipboard_file(self) -> Path:
        return self.tmp / "clipboard.txt"


async def settle(pilot: Any) -> None:
    """Wait until the app has nothing left to do: every message handled and the process idle
    (`pilot.pause()`), every thread worker (detail body, export, store reader) finished. No
    fixed delay: this answers as soon as the app is idle."""
    app = pilot.app
    await pilot.pause()
    busy = [w for w in app.workers if w.group != "engine" and not w.is_finished]
    if busy:
        await app.workers.wait_for_complete(busy)
        await pilot.pause()


async def applied(pilot: Any) -> None:
    """`settle`, then apply what the engine collected (the once-a-second tick, at once)."""
    await settle(pilot)
    app = pilot.app
    if isinstance(app, SeedanceApp) and app.is_running and app.screen_stack:
        app.tick()
        await pilot.pause()


async def wait_until(pilot: Any, condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """For what another process or a running clock brings: settle, look, and again, until
    `condition()` holds or `timeout` seconds passed."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await applied(pilot)
        await asyncio.sleep(0.02)  # let the other process (or the simulator's thread) run
    return True


def screen_text(app: SeedanceApp) -> str:
    """The screen as the user reads it: the same lines `export_screenshot()` is drawn from."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def notifications(app: SeedanceApp) -> list[str]:
    return [n.message for n in app._notifications]


@pytest.fixture
def make_dash(tmp_path: Path) -> Iterator[Callable[..., Dash]]:
    opened: list[tuple[Store, Any]] = []

    def make(
        tasks: list[Task] | None = None,
        *,
        ui: UIConfig | None = None,
        providers: dict[str, ProviderConfig] | None = None,
        clock: Clock | None = None,
        paused: bool = True,
        viewer: bool = False,
        theme_dirs: list[Path] | None = None,
        store_config: StoreConfig | None = None,
        **options: Any,
    ) -> Dash:
        db_path = tmp_path / "tasks.db"
        store = Store.open(db_path)
        seed_store(store, sample_tasks() if tasks is None else tasks)
        config = make_config(tmp_path, providers=providers, ui=ui, store=store_config)
        clock = clock or FrozenClock(T0)
        options.setdefault("theme_save_path", tmp_path / "config.toml")
        options.setdefault("clipboard_file", tmp_path / "clipboard.txt")
        options.setdefault("export_dir", tmp_path)
        options.setdefault("watch_terminal", False)
        options.setdefault("timings", FAST)
        app = build_app(
            store,
            config,
            db_path,
            command="tests",
            clock=clock,
            paused=paused,
            theme_dirs=theme_dirs,
            **options,
        )
        opened.append((store, app.feed.lock))
        # a viewer only where a test brings another process that holds the lock
        assert isinstance(app.feed, ViewerFeed) is viewer
        return Dash(app, store, db_path, tmp_path, config, clock)

    yield make
    for store, lock in opened:
        if lock is not None:
            lock.release()
        store.close()


__all__ = [
    "INVALID",
    "NASTY",
    "T0",
    "Dash",
    "applied",
    "at",
    "make_config",
    "newapi_body",
    "notifications",
    "sample_tasks",
    "screen_text",
    "seed_store",
    "settle",
    "timedelta",
    "wait_until",
]
