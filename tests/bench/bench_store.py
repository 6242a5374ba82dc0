"""Store figures for a batch of 100,000 tasks. Prints; never fails on a timing.

    python tests/bench/bench_store.py                 # N = 100,000 (BENCH_N to change)
    pytest tests/bench/bench_store.py -s -m bench      # N = 20,000 unless BENCH_N is set

The issue's targets: `add_tasks` of 100,000 ids well under 5 s; `query()` of 100,000 tasks
+ `to_json()` + `json.dumps` (the `status --json` path) under 2 s.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tui.core.model import Event, Failure, State, Task, Tokens
from tui.core.store import Store, TaskFilter

START = datetime(2026, 4, 27, 11, 15, 6, tzinfo=UTC)
URL = (
    "https://ark-acg-cn-beijing.tos-cn-beijing.volces.com/doubao-seedance-2-0/{id}.mp4"
    "?X-Tos-Algorithm=TOS4-HMAC-SHA256&X-Tos-Credential=AKLTYWJkZTExNjA1ZDM0NDE4YzljNjI5"
    "%2F20260427%2Fcn-beijing%2Ftos%2Frequest&X-Tos-Date=20260427T111500Z&X-Tos-Expires=86400"
    "&X-Tos-Signature=4c0ffee8d1c5b2a3e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9"
    "&X-Tos-SignedHeaders=host"
)


def _body(task_id: str, i: int, status: str, url: str | None) -> dict[str, Any]:
    """A newapi (anyfast) body of realistic size (about 1.5 KB for a success)."""
    return {
        "code": "success",
        "message": "",
        "data": {
            "task_id": task_id,
            "action": "generate",
            "status": status,
            "result_url": url,
            "fail_reason": url or "",
            "submit_time": 1777288506 + i,
            "start_time": 1777288508 + i,
            "finish_time": 1777288800 + i,
            "progress": "100%",
            "request_id": f"20260427111505260254{i:011d}",
            "data": {
                "content": {"video_url": url},
                "id": f"cgt-20260427191505-{i:05d}",
                "model": "doubao-seedance-2-0-260128",
                "duration": 5,
                "ratio": "16:9",
                "resolution": "720p",
                "framespersecond": 24,
                "generate_audio": True,
                "seed": 4304 + i,
                "status": "succeeded",
                "usage": {"completion_tokens": 108900, "total_tokens": 108900},
            },
        },
    }


def _polled(task: Task, i: int) -> tuple[Task, list[Event]]:
    """What a poll would make of task i: a mix of every common state, all fields filled."""
    now = START + timedelta(minutes=3, seconds=i % 600)
    kind = i % 10
    state = (
        State.SUCCEEDED if kind < 6 else State.FAILED if kind == 6 else State.RUNNING
    )  # 60 % done, 10 % failed, 30 % still running
    url = URL.format(id=task.id) if state is State.SUCCEEDED else None
    upstream = {State.SUCCEEDED: "SUCCESS", State.FAILED: "FAILURE"}.get(state, "IN_PROGRESS")
    done = state.terminal
    new = task.evolve(
        state=state,
        upstream_status=upstream,
        model="doubao-seedance-2-0-260128",
        progress=100 if done else 40,
        created_at=START,
        started_at=START + timedelta(seconds=2),
        finished_at=now if done else None,
        video_url=url,
        url_expires_at=START + timedelta(days=1) if url else None,
        duration=5.0,
        resolution="720p",
        ratio="16:9",
        fps=24,
        seed=4304 + i,
        generate_audio=True,
        tokens=Tokens(108900, 108900, None) if done else Tokens(),
        failure=Failure("InputImageSensitiveContentDetected", "the image may contain real people")
        if state is State.FAILED
        else None,
        polls=task.polls + 1,
        last_polled_at=now,
        first_seen_live_at=START,
        first_seen_terminal_at=now if done else None,
        next_poll_at=None if done else now + timedelta(seconds=30),
        raw=_body(task.id, i, upstream, url),
    )
    events = [
        Event(
            "state",
            task.provider,
            task.id,
            {"from": "queued", "to": str(state), "upstream_status": upstream, "failure": None},
            ts=now,
        )
    ]
    return new, events


@contextmanager
def _timed(label: str, lines: list[str]) -> Iterator[None]:
    """Wall time, and this process's CPU time (steadier on a busy machine)."""
    began, cpu = time.perf_counter(), time.process_time()
    yield
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    line = f"store: {label}: {wall:.2f} s (cpu {cpu:.2f} s)"
    lines.append(line)
    print(line, flush=True)


def _report(label: str, value: str, lines: list[str]) -> None:
    line = f"store: {label}: {value}"
    lines.append(line)
    print(line, flush=True)


def run(n: int, folder: Path) -> dict[str, Any]:
    """Measure the store at batch size n in `folder`; returns a few results for sanity checks."""
    lines: list[str] = []
    ids = [f"asyntask_{i:08d}h81efT0qwtLnzyt6VENmCZ6V" for i in range(n)]
    results: dict[str, Any] = {}
    with Store.open(folder / "bench.db") as store:
        with _timed(f"add {n:,} ids", lines):
            results["add"] = store.add_tasks("anyfast", ids, batch="bench", now=START)
        with _timed(f"add the same {n:,} ids again (all skipped)", lines):
            results["re-add"] = store.add_tasks("anyfast", ids, batch="bench", now=START)

        with _timed(f"query {n:,} just-added tasks + to_json + json.dumps", lines):
            text = json.dumps([t.to_json() for t in store.query()])

        fresh = store.query()
        chunk = 5000
        with _timed(f"save_many {n:,} polled tasks (new bodies, {chunk:,} a transaction)", lines):
            for lo in range(0, n, chunk):
                store.save_many([_polled(t, lo + j) for j, t in enumerate(fresh[lo : lo + chunk])])
        polled = store.query(with_raw=True)
        with _timed(f"save_many {n:,} unchanged bodies (no new snapshots)", lines):
            for lo in range(0, n, chunk):
                store.save_many([(t, []) for t in polled[lo : lo + chunk]])
        del fresh, polled

        # the status --json path, on polled tasks (every field filled, 60 % with a signed URL)
        with _timed(f"query {n:,} (no raw)", lines):
            tasks = store.query()
        results["tasks"] = len(tasks)
        with _timed(f"query {n:,} (no raw) + to_json + json.dumps", lines):
            text = json.dumps([t.to_json() for t in store.query()])
        with _timed(f"query_json {n:,} (no raw) + json.dumps", lines):
            fast = json.dumps(store.query_json(with_raw=False))
        results["same_json"] = fast == text
        _report("  output without raw", f"{len(text) / 1e6:.1f} MB", lines)
        with _timed(f"query {n:,} with raw", lines):
            tasks = store.query(with_raw=True)
        results["raw_ok"] = all(t.raw is not None for t in tasks)
        del tasks
        with _timed(f"query {n:,} with raw + to_json + json.dumps (status --json)", lines):
            text = json.dumps([t.to_json() for t in store.query(with_raw=True)])
        with _timed(f"query_json {n:,} with raw + json.dumps (status --json)", lines):
            fast = json.dumps(store.query_json(with_raw=True))
        results["same_json"] = results["same_json"] and fast == text
        with _timed(f"iter_json {n:,} with raw, joined (streaming status --json)", lines):
            streamed = list(store.iter_json())
            text = "[" + ", ".join(streamed) + "]"
        sample = [json.loads(line) for line in streamed[:200]]
        expected = store.query_json(TaskFilter(ids=frozenset(ids[:200])))
        results["same_json"] = results["same_json"] and sample == expected
        _report("  output with raw (streamed form)", f"{len(text) / 1e6:.1f} MB", lines)
        del streamed, text, fast

        with _timed("query state=running (filter)", lines):
            results["running"] = len(store.query(TaskFilter(states=frozenset({State.RUNNING}))))
        some = frozenset(ids[::10])
        with _timed(f"query {len(some):,} ids (filter)", lines):
            results["by_ids"] = len(store.query(TaskFilter(ids=some)))
        with _timed("counts", lines):
            results["counts"] = store.counts()
        with _timed(f"changed_since(0) ({n:,} tasks)", lines):
            results["high"], changed = store.changed_since(0)
        results["changed"] = len(changed)

        singles = min(1000, n)
        batch = store.query(TaskFilter(states=frozenset({State.RUNNING})), with_raw=True)[:singles]
        began = time.perf_counter()
        for i, task in enumerate(batch):
            store.save(task.evolve(polls=task.polls + 1, raw={"poll": i}))
        per = (time.perf_counter() - began) / max(1, len(batch)) * 1000
        _report(f"save() one routine poll (NORMAL), mean of {len(batch):,}", f"{per:.2f} ms", lines)
        began = time.perf_counter()
        for task in batch[:200]:
            event = Event("state", task.provider, task.id, {"from": "running", "to": "failed"})
            store.save(task.evolve(state=State.FAILED), [event])
        per = (time.perf_counter() - began) / max(1, min(200, len(batch))) * 1000
        _report("save() one state change (FULL), mean of 200", f"{per:.2f} ms", lines)

        with _timed("get one task with raw, x1000", lines):
            for task_id in ids[:1000]:
                store.get("anyfast", task_id)
        size = sum(p.stat().st_size for p in folder.iterdir() if p.name.startswith("bench.db"))
        _report("file size (db + wal)", f"{size / 1e6:.0f} MB", lines)
    results["lines"] = lines
    return results


def _check(results: dict[str, Any], n: int) -> None:
    """Correctness only (a bench that measured nothing must not pass quietly)."""
    assert results["add"].added == n and results["add"].skipped == 0
    assert results["re-add"].added == 0 and results["re-add"].skipped == n
    assert results["tasks"] == n
    assert results["raw_ok"]
    assert results["same_json"]
    assert results["running"] == sum(1 for i in range(n) if i % 10 >= 7)
    assert results["by_ids"] == len(range(0, n, 10))
    assert sum(results["counts"].values()) == n
    assert results["changed"] == n


@pytest.mark.bench
def test_bench_store(tmp_path: Path) -> None:
    n = int(os.environ.get("BENCH_N", "20000"))
    _check(run(n, tmp_path), n)


if __name__ == "__main__":
    count = int(os.environ.get("BENCH_N", "100000"))
    with tempfile.TemporaryDirectory() as tmp:
        print(f"python {sys.version.split()[0]}, N = {count:,}")
        _check(run(count, Path(tmp)), count)
