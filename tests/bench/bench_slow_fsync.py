"""A slow disk (issue 10.2): every store commit made to take 100 ms longer, as a slow fsync
would, and what it does to the poller's requests and to the dashboard's keys. Prints figures.

    .venv/bin/python tests/bench/bench_slow_fsync.py          # 12 s of polling, 40 key presses
    .venv/bin/pytest tests/bench/bench_slow_fsync.py -q -s    # smaller

The slow commit is `SlowCommitStore`: the engine's store writer opens its connection with it
(`Engine(store_opener=...)`, the injection point the engine already has), and it sleeps 100 ms
inside each write transaction, just before COMMIT, holding the write lock as an fsync does.

1. The poller: the engine alone polls 40 long-running simulator tasks for a while, once with
   normal commits and once with slow ones; the simulator's request log gives the intervals
   between two requests, per task and overall, and the event loop's lag is sampled (a 10 ms
   sleep, how late it wakes up).
2. The dashboard: the real app (Pilot, headless) polls the same kind of batch while every
   answer is saved; `j` is pressed again and again, and the time from the key press to the
   first frame whose cursor is on the next row is read from the frames the app hands to its
   terminal driver.

Never fails on a figure (the target: input-to-frame under 50 ms, request timing unchanged).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tui.core.clock import SystemClock  # noqa: E402
from tui.core.config import Config, DownloadConfig, ProviderConfig  # noqa: E402
from tui.core.model import State, Task  # noqa: E402
from tui.core.store import Store  # noqa: E402
from tui.sim import Simulator  # noqa: E402

SLOW_COMMIT = 0.100  # seconds added to every commit
KEY = "sk-sim-kyy-slow-fsync"


class SlowCommitStore(Store):
    """A store whose every write transaction takes `SLOW_COMMIT` longer, lock held: a slow
    fsync at COMMIT, without a slow disk."""

    @contextlib.contextmanager
    def transaction(self, *, durable: bool) -> Iterator[Any]:
        with super().transaction(durable=durable) as conn:
            yield conn
            time.sleep(SLOW_COMMIT)


@dataclass
class Polling:
    label: str
    requests: int = 0
    seconds: float = 0.0
    task_gaps: list[float] = field(default_factory=list)  # between two polls of one task
    gaps: list[float] = field(default_factory=list)  # between two requests, any task
    lag_ms: list[float] = field(default_factory=list)  # event loop: how late a 10 ms sleep woke
    backlog: int = 0  # most writes waiting in the writer at once
    commits: int = 0


@dataclass
class Keys:
    label: str
    latencies_ms: list[float] = field(default_factory=list)
    saves: int = 0


def config_for(sim: Simulator, folder: Path) -> Config:
    provider = ProviderConfig(
        "kyy",
        "kyy",
        sim.provider_url("kyy"),
        api_key=KEY,
        min_interval=1.0,
        max_interval=2.0,
        rate_limit=8,
    )
    return Config(
        providers={"kyy": provider}, download=DownloadConfig(enabled=False, dir=folder / "videos")
    )


def long_batch(sim: Simulator, store: Store, n: int) -> list[Task]:
    """`n` tasks that stay running for an hour: polled, and saved, all along."""
    ids = [sim.add_task("kyy", queue_s=0, run_s=3600) for _ in range(n)]
    store.add_tasks("kyy", ids, batch=None, now=time_now())
    return [Task("kyy", task_id, state=State.QUEUED) for task_id in ids]


def time_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ------------------------------------------------------------------------------------------------
# 1. the poller


async def measure_polling(folder: Path, *, slow: bool, seconds: float, n: int) -> Polling:
    from tui.core.engine import Engine

    folder.mkdir(parents=True)
    result = Polling("100 ms commits" if slow else "normal commits")
    commits = 0

    class Counting(SlowCommitStore if slow else Store):  # type: ignore[misc]
        @contextlib.contextmanager
        def transaction(self, *, durable: bool) -> Iterator[Any]:
            nonlocal commits
            with super().transaction(durable=durable) as conn:
                yield conn
            commits += 1

    with Simulator(keys={"kyy": KEY}, seed=7) as sim:
        store = Store.open(folder / "tasks.db")
        long_batch(sim, store, n)
        engine = Engine(
            store, config_for(sim, folder), clock=SystemClock(), store_opener=Counting.open
        )
        runner = asyncio.create_task(engine.run())
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            if before - start > 1.0:  # past the engine's start (imports, first reads)
                result.lag_ms.append((time.perf_counter() - before - 0.01) * 1000)
            result.backlog = max(result.backlog, engine.writer.pending)
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await engine.aclose()
        store.close()
        log = sim.requests_for(kind="kyy")
    result.commits = commits
    result.requests = len(log)
    result.seconds = seconds
    times = sorted(r.ts for r in log)
    result.gaps = [b - a for a, b in itertools.pairwise(times)]
    by_task: dict[str | None, list[float]] = {}
    for request in log:
        by_task.setdefault(request.task_id, []).append(request.ts)
    for task_times in by_task.values():
        result.task_gaps += [b - a for a, b in itertools.pairwise(sorted(task_times))]
    return result


# ------------------------------------------------------------------------------------------------
# 2. the dashboard


async def measure_keys(folder: Path, *, slow: bool, presses: int, n: int) -> Keys:
    from tui.app.build import build_app
    from tui.core.engine import Engine

    folder.mkdir(parents=True)
    result = Keys("100 ms commits" if slow else "normal commits")
    with Simulator(keys={"kyy": KEY}, seed=7) as sim:
        db = folder / "tasks.db"
        store = Store.open(db)
        long_batch(sim, store, n)
        config = config_for(sim, folder)
        clock = SystemClock()
        opener = SlowCommitStore.open if slow else Store.open

        def make_engine() -> Engine:
            return Engine(store, config, clock=clock, store_opener=opener)

        app = build_app(
            store,
            config,
            db,
            make_engine=make_engine,
            clock=clock,
            watch_terminal=False,
            theme_save_path=folder / "config.toml",
            clipboard_file=folder / "clipboard.txt",
            export_dir=folder,
        )
        frames: list[tuple[float, int]] = []
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                table = app.table
                show = app._display

                def spy(screen: Any, renderable: Any) -> None:
                    if renderable is not None:
                        frames.append((time.perf_counter(), table.cursor_row))
                    show(screen, renderable)

                app._display = spy  # type: ignore[method-assign]
                await pilot.pause()
                while len(sim.requests) < 10:  # the engine is polling, and saving
                    await asyncio.sleep(0.05)
                for i in range(presses):
                    row = table.cursor_row
                    if row >= n - 2:
                        await pilot.press("g")
                        await asyncio.sleep(0.1)
                        row = table.cursor_row
                    pressed = time.perf_counter()
                    await pilot.press("j")
                    if i < 2:  # warming up: the first frames after start
                        await asyncio.sleep(0.1)
                        continue
                    deadline = pressed + 2.0
                    while time.perf_counter() < deadline:
                        shown = [t for t, r in frames if t >= pressed and r == row + 1]
                        if shown:
                            result.latencies_ms.append((shown[0] - pressed) * 1000)
                            break
                        await asyncio.sleep(0.002)
                    await asyncio.sleep(0.08 + (i % 5) * 0.02)  # presses land at any moment
                engine = app.engine
                assert engine is not None
                result.saves = len(sim.requests)
        finally:
            if app.feed.lock is not None:
                app.feed.lock.release()
            store.close()
    return result


# ------------------------------------------------------------------------------------------------


def report(polling: list[Polling], keys: list[Keys]) -> str:
    lines = [f"every store commit slowed by {SLOW_COMMIT * 1000:.0f} ms (SlowCommitStore)", ""]
    lines.append(
        "poller    | requests/s | per-task gap median / p95 | any-request gap median / p95 "
        "| loop lag p99 / max | writer backlog max | commits"
    )
    for p in polling:
        lines.append(
            f"{p.label:<15} | {p.requests / p.seconds:5.2f} | "
            f"{statistics.median(p.task_gaps):.2f} / {pct(p.task_gaps, 0.95):.2f} s | "
            f"{statistics.median(p.gaps):.3f} / {pct(p.gaps, 0.95):.3f} s | "
            f"{pct(p.lag_ms, 0.99):.1f} / {max(p.lag_ms):.1f} ms | {p.backlog} | {p.commits}"
        )
    lines += [
        "",
        "dashboard | key press (j) to the frame with the cursor moved: median / p95 / max",
    ]
    for k in keys:
        got = k.latencies_ms
        lines.append(
            f"{k.label:<15} | {statistics.median(got):.1f} / {pct(got, 0.95):.1f} / "
            f"{max(got):.1f} ms over {len(got)} presses (target < 50 ms)"
            if got
            else f"{k.label:<15} | no frame seen"
        )
    return "\n".join(lines)


async def run_all(folder: Path, *, seconds: float, presses: int, n: int) -> str:
    polling = [
        await measure_polling(folder / f"poll-{slow}", slow=slow, seconds=seconds, n=n)
        for slow in (False, True)
    ]
    keys = [
        await measure_keys(folder / f"keys-{slow}", slow=slow, presses=presses, n=n)
        for slow in (False, True)
    ]
    return report(polling, keys)


@pytest.mark.bench
@pytest.mark.timeout(180)
async def test_bench_slow_fsync(tmp_path: Path) -> None:
    print("\n" + await run_all(tmp_path, seconds=5, presses=15, n=30))


def main() -> None:
    parser = argparse.ArgumentParser(description="100 ms commits: the poller and the keys")
    parser.add_argument("--seconds", type=float, default=12.0, help="of polling, per run")
    parser.add_argument("--presses", type=int, default=40)
    parser.add_argument("--tasks", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="seedance-slow-fsync-") as folder:
        text = asyncio.run(
            run_all(Path(folder), seconds=args.seconds, presses=args.presses, n=args.tasks)
        )
    print(text)


if __name__ == "__main__":
    main()
