"""Resident memory of the dashboard's tasks at 100,000, without a terminal. Prints figures.

    .venv/bin/python tests/bench/bench_memory.py               # N = 100,000 (about 1 minute)
    .venv/bin/python tests/bench/bench_memory.py --n 20000 --top 15   # + tracemalloc's top lines
    .venv/bin/pytest tests/bench/bench_memory.py -q -s         # small size

The store is bench_dashboard.prepare_store's (30 % running, the rest finished, ~1.5 KB bodies,
every video already downloaded). A fresh child process then does what `seedance-tui dashboard`
does with it, step by step, and reads VmRSS / VmHWM from /proc/self/status after each step:

1. import the app's modules (Textual included);
2. read the whole store in a thread, through a Store of its own (app._read_whole_store);
3. fold it into the app's `TaskIndex`, `BatchStats` and `TaskView` (app._show_tasks), then
   drop the list (as the app does once it is shown);
4. start the engine's reads: the live tasks it polls and the videos it offers to download
   (Engine.run's first steps, no network).

bench_dashboard.py measures the real app in a pty (the issue's target: < 300 MB at 100,000);
this one says which step costs what, fast enough to iterate on. `--top N` runs the child under
tracemalloc (slower, and RSS then includes tracemalloc's own books) and prints the N source
lines holding most memory after step 3. Never fails on a figure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
if str(REPO) not in sys.path:  # run as a script: the repo's `tui` and this folder's benches
    sys.path.insert(0, str(REPO))
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


def memory_mb() -> dict[str, float]:
    """This process's VmRSS (resident now) and VmHWM (peak resident), in MB (MiB)."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0]) / 1024
    return out


# ------------------------------------------------------------------------------------------------
# the child: the dashboard's steps, measured


def child(db: Path, top: int) -> dict[str, Any]:
    """Run the steps over `db`; returns {steps: [(label, rss, hwm, seconds)], tasks, top}."""
    if top:
        import tracemalloc

        tracemalloc.start()
    steps: list[tuple[str, float, float, float]] = []
    clock = time.perf_counter()

    def step(label: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        mem = memory_mb()
        steps.append((label, mem["VmRSS"], mem["VmHWM"], now - clock))
        clock = time.perf_counter()

    step("start")
    import textual.app  # noqa: F401  (the app imports it; part of every dashboard's memory)

    from tui.app.dashboard_state import BatchStats
    from tui.app.task_view import TaskIndex, TaskView
    from tui.core.engine import Engine
    from tui.core.store import Store

    step("1. imports (textual, tui)")

    box: dict[str, Any] = {}

    def read() -> None:  # app._read_whole_store
        with Store.open(db) as store:
            box["tasks"] = store.query()

    reader = threading.Thread(target=read, name="read-whole-store")
    reader.start()
    reader.join()
    tasks = box.pop("tasks")
    count = len(tasks)
    step("2. store.query() of every task, in a thread")

    index = TaskIndex()
    index.load(tasks)  # app._show_tasks
    stats = BatchStats()
    stats.load(tasks)
    view = TaskView(index)
    del tasks
    step("3. TaskIndex + BatchStats + TaskView, list dropped")

    top_lines: list[str] = []
    if top:
        import tracemalloc

        snapshot = tracemalloc.take_snapshot()
        for stat in snapshot.statistics("lineno")[:top]:
            frame = stat.traceback[0]
            where = f"{Path(frame.filename).name}:{frame.lineno}"
            top_lines.append(f"{stat.size / 2**20:8.1f} MB {stat.count:>9,}  {where}")

    store = Store.open(db)
    engine = Engine(store, _config(db.parent), download=True)
    live, offered = _engine_start(engine)
    step("4. engine: live tasks loaded, downloads offered")
    store.close()
    return {
        "steps": steps,
        "tasks": count,
        "shown": len(view),
        "live": live,
        "offered": offered,
        "top": top_lines,
    }


def _config(folder: Path) -> Any:
    """Downloads on (the dashboard's default), no provider (nothing is polled)."""
    from tui.core.config import Config, DownloadConfig, UIConfig

    download = DownloadConfig(enabled=True, dir=folder / "videos", concurrency=3)
    return Config(providers={}, download=download, ui=UIConfig(), path=None)


def _engine_start(engine: Any) -> tuple[int, int]:
    """Engine.run's first steps: (live tasks it tracks, videos it queued for download)."""
    import asyncio

    async def start() -> tuple[int, int]:
        run = asyncio.create_task(engine.run())
        await asyncio.sleep(0.5)  # run() reads and offers before its first await
        downloader = engine.downloads()
        pending = downloader.pending() if downloader is not None else 0
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        return len(engine._tasks), pending

    return asyncio.run(start())


# ------------------------------------------------------------------------------------------------
# the parent: a store, a child, a report


def measure(n: int, top: int = 0) -> dict[str, Any]:
    """Prepare a store of `n` tasks and run the child over it; the child's figures."""
    from bench_dashboard import prepare_store

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        db = Path(tmp) / "tasks.db"
        took = prepare_store(db, n, finished=False)
        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(db), "--top", str(top)],
            capture_output=True,
            text=True,
            check=False,
            cwd=REPO,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"the child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.splitlines()[-1])
    result["prepared"] = took
    return result


def report(result: dict[str, Any]) -> str:
    lines = [
        f"dashboard memory, {result['tasks']:,} tasks (store prepared in "
        f"{result['prepared']:.0f} s), python {sys.version.split()[0]}",
        f"  {'step':<52} {'VmRSS':>8} {'VmHWM':>8} {'took':>8}",
    ]
    for label, rss, hwm, took in result["steps"]:
        lines.append(f"  {label:<52} {rss:>5.0f} MB {hwm:>5.0f} MB {took:>6.2f} s")
    lines.append(
        f"  shown {result['shown']:,}, live tasks loaded {result['live']:,}, "
        f"downloads offered {result['offered']:,}"
    )
    if result["top"]:
        lines.append("  tracemalloc after step 3 (size, blocks, where):")
        lines += [f"    {line}" for line in result["top"]]
    return "\n".join(lines)


@pytest.mark.bench
@pytest.mark.timeout(240)
def test_bench_memory() -> None:
    result = measure(5_000)
    print("\n" + report(result))
    # Facts, not figures: every task was read and shown, the running 30 % are polled, and no
    # video is offered (the prepared store has them all downloaded).
    assert result["tasks"] == result["shown"] == 5_000
    assert result["live"] == 1_500
    assert result["offered"] == 0
    assert [label[:2] for label, *_ in result["steps"]] == ["st", "1.", "2.", "3.", "4."]


def main() -> None:
    parser = argparse.ArgumentParser(description="the dashboard's memory by step: prints figures")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--top", type=int, default=0, help="tracemalloc's top N lines")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.top)))
        return
    print(report(measure(args.n, args.top)))


if __name__ == "__main__":
    main()
