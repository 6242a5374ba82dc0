"""The engine against the simulator over loopback: what it asks, and when."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from tui.core.config import Config, DownloadConfig, ProviderConfig, UIConfig
from tui.core.engine import Engine
from tui.core.model import State
from tui.core.store import Store, TaskFilter
from tui.sim import Simulator

KEYS = {"kyy": "sk-engine-kyy", "newapi": "sk-engine-newapi"}


def config_for(sim: Simulator, tmp_path: Path, min_interval: float = 0.3) -> Config:
    def provider(name: str, kind: str) -> ProviderConfig:
        return ProviderConfig(
            name=name, kind=kind, base_url=sim.provider_url(kind), api_key=KEYS[kind],
            rate_limit=20, concurrency=4, min_interval=min_interval, max_interval=1.0, timeout=5,
        )  # fmt: skip

    return Config(
        providers={"kyy": provider("kyy", "kyy"), "anyfast": provider("anyfast", "newapi")},
        download=DownloadConfig(enabled=False, dir=tmp_path / "videos"),
        ui=UIConfig(),
        path=None,
    )


async def test_poll_once_asks_only_for_the_selected_tasks(tmp_path: Path) -> None:
    with Simulator(keys=KEYS) as sim, Store.open(tmp_path / "tasks.db") as store:
        kyy_id = sim.add_task("kyy", queue_s=0.1, run_s=60)
        newapi_id = sim.add_task("newapi", queue_s=0.1, run_s=60)
        now = datetime.now(UTC)
        store.add_tasks("kyy", [kyy_id], batch=None, now=now)
        store.add_tasks("anyfast", [newapi_id], batch=None, now=now)
        engine = Engine(store, config_for(sim, tmp_path), download=False)
        try:
            await engine.poll_once()  # both are tracked from now on
            assert sorted(r.task_id for r in sim.requests) == sorted([kyy_id, newapi_id])
            await asyncio.sleep(0.5)  # past min_interval: both may be asked again
            sim.clear_requests()
            await engine.poll_once(TaskFilter(provider="kyy"))
            assert [r.task_id for r in sim.requests] == [kyy_id]
        finally:
            await engine.aclose()


async def test_poll_once_respects_min_interval(tmp_path: Path) -> None:
    with Simulator(keys=KEYS) as sim, Store.open(tmp_path / "tasks.db") as store:
        task_id = sim.add_task("kyy", queue_s=0.1, run_s=60)
        store.add_tasks("kyy", [task_id], batch=None, now=datetime.now(UTC))
        engine = Engine(store, config_for(sim, tmp_path, min_interval=30), download=False)
        try:
            await engine.poll_once()
            await engine.poll_once()  # too soon: etiquette wins over the user's refresh
            assert len(sim.requests) == 1
            task = store.get("kyy", task_id)
            assert task is not None and task.polls == 1
            assert task.state in (State.QUEUED, State.RUNNING)
        finally:
            await engine.aclose()


async def test_a_refused_video_url_is_refreshed_by_one_more_poll(tmp_path: Path) -> None:
    from tui.core.model import DownloadState
    from tui.sim.video_host import VideoHost

    with VideoHost() as host, Simulator(keys=KEYS, video_host=host) as sim:
        task_id = sim.add_task("newapi", queue_s=0.0, run_s=0.2, video_bytes=20_000)
        host.faults.add(sim.task(task_id).video_name, "forbid", times=1)  # one 403
        config = config_for(sim, tmp_path)
        config = Config(
            providers=config.providers,
            download=DownloadConfig(enabled=True, dir=tmp_path / "videos"),
            ui=config.ui,
            path=None,
        )
        with Store.open(tmp_path / "tasks.db") as store:
            store.add_tasks("anyfast", [task_id], batch=None, now=datetime.now(UTC))
            await asyncio.sleep(0.3)  # finished at the provider before the first poll
            engine = Engine(store, config)
            try:
                await asyncio.wait_for(engine.run(until_done=True), timeout=30)
            finally:
                await engine.aclose()
            task = store.get("anyfast", task_id)
        assert task is not None and task.state is State.SUCCEEDED
        assert task.download.state is DownloadState.DONE and task.download.bytes == 20_000
        # one poll saw it finished, exactly one more asked for a fresh URL after the 403
        polls = sim.requests_for(task_id=task_id)
        assert len(polls) == 2
        # ... and no sooner than min_interval after the first (no exception to etiquette)
        assert polls[1].ts - polls[0].ts >= 0.3 - 0.02
        assert [r.status for r in host.requests][:1] == [403]
        assert not any(r.has_auth for r in host.requests)


async def test_run_offers_exactly_the_videos_not_kept_yet(tmp_path: Path) -> None:
    """At start the downloader is offered the succeeded tasks with a video URL whose download
    is not done (it judges the rest itself), read in one go, and only within the filter."""
    from tui.core.model import Download, DownloadState, Task

    url = "https://v.example/{}.mp4"
    cases = {
        ("kyy", "video_new"): (State.SUCCEEDED, url, Download()),
        ("kyy", "video_failed"): (State.SUCCEEDED, url, Download(DownloadState.FAILED)),
        ("kyy", "video_pending"): (State.SUCCEEDED, url, Download(DownloadState.PENDING)),
        ("kyy", "video_expired"): (State.SUCCEEDED, url, Download(DownloadState.EXPIRED)),
        ("kyy", "video_done"): (State.SUCCEEDED, url, Download(DownloadState.DONE, "/v", 1)),
        ("kyy", "video_no_url"): (State.SUCCEEDED, None, Download()),
        ("kyy", "video_lost"): (State.FAILED, url, Download()),
        ("anyfast", "task_new"): (State.SUCCEEDED, url, Download()),
    }
    offered: list[list[str]] = []
    with Store.open(tmp_path / "tasks.db") as store:
        for (provider, task_id), (state, video_url, download) in cases.items():
            store.add_tasks(provider, [task_id], batch=None, now=datetime.now(UTC))
            link = video_url.format(task_id) if video_url else None
            store.save(Task(provider, task_id, state=state, video_url=link))
            store.set_download(provider, task_id, download)
        config = Config(
            providers={},
            download=DownloadConfig(enabled=True, dir=tmp_path / "videos"),
            ui=UIConfig(),
            path=None,
        )
        for flt in (None, TaskFilter(provider="kyy")):
            engine = Engine(store, config)
            downloader = engine.downloads()
            assert downloader is not None

            def record(tasks: Iterable[Task]) -> int:
                offered.append([t.id for t in tasks])
                return 0  # queue nothing: no video is fetched here

            downloader.enqueue_many = record  # type: ignore[method-assign]
            try:
                await asyncio.wait_for(engine.run(flt, until_done=True), timeout=10)
            finally:
                await engine.aclose()
    wanted = ["video_new", "video_failed", "video_pending", "video_expired"]
    assert offered == [[*wanted, "task_new"], wanted]
