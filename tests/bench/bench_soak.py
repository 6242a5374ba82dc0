"""The soak (issue 10): `watch` over a simulated batch while the machine and the providers
misbehave, then every outcome checked against the simulator's truth. Prints figures.

    .venv/bin/python tests/bench/bench_soak.py            # 2,000 tasks (about 1 minute)
    .venv/bin/python tests/bench/bench_soak.py --full     # 20,000 tasks (`make soak`)
    .venv/bin/pytest tests/bench/bench_soak.py -q -s      # small size

What goes wrong during the run (a real `seedance-tui watch --json` process, real faults):

- 10 % of the tasks get a provider fault on a poll (429 and 503 with Retry-After, 500, 502,
  a truncated body, an HTML page, a connection reset, a hang past the timeout);
- the store's disk (a real tmpfs) is filled to the last byte and freed, twice;
- another process holds the store with `BEGIN EXCLUSIVE`, twice.

What is checked afterwards: every task in the simulator's final state (in the store), every
succeeded task's video on disk with the host's bytes, `PRAGMA integrity_check`, no temporary
file left, zero etiquette violations in the simulator's request log (the rate limit in every
one-second window, `min_interval` between two polls of one task), no traceback, and the watch
process's resident memory sampled from /proc (peak, and growth from a quarter in to the end). The
checks are the test (`make bench-smoke`, which CI runs, runs the small size and fails on a
wrong outcome); it never fails on a figure. Needs root (it mounts a tmpfs), as the other fault
tests do.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
for folder in (REPO, REPO / "tests"):  # run as a script: the repo's `tui` and tests/faults.py
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from faults import fill, mounted_disk, store_locked, temporary_files  # noqa: E402

from tui.core.store import Store  # noqa: E402
from tui.sim import Simulator  # noqa: E402
from tui.sim.video_host import VideoHost  # noqa: E402

KINDS = ("kyy", "newapi")
KEYS = {"kyy": "sk-sim-kyy-soak", "newapi": "sk-sim-newapi-soak"}
MIN_INTERVAL = 0.5
FAULTS = (
    ("429", {"retry_after": 1.0}),
    ("503", {"retry_after": 1.0}),
    ("500", {}),
    ("502", {}),
    ("truncated", {}),
    ("html", {}),
    ("reset", {}),
    ("hang", {"hang_s": 2.5}),  # past the 1.5 s timeout
)
OUTCOMES = {"succeeded": "succeeded", "failed": "failed", "cancelled": "cancelled"}


@dataclass(frozen=True)
class Size:
    tasks: int
    rate_limit: float  # requests per second, per provider
    lock_seconds: float  # each of the two locks (> 15 s: past SQLite's busy wait, an outage)
    disk: str  # the store's tmpfs


SMALL = Size(tasks=500, rate_limit=40, lock_seconds=3, disk="64m")
MEDIUM = Size(tasks=2_000, rate_limit=60, lock_seconds=20, disk="128m")
FULL = Size(tasks=20_000, rate_limit=100, lock_seconds=20, disk="512m")


@dataclass
class Soak:
    """What one run did and what the checks found (`problems` empty: all right)."""

    size: Size
    seconds: float = 0.0
    exit_code: int | None = None
    stderr: str = ""
    states: Counter[str] = field(default_factory=Counter)
    faulted_tasks: int = 0
    fault_hits: int = 0
    requests: int = 0
    videos_kept: int = 0
    store_events: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)  # what the disturber did, with times
    rss_mb: list[tuple[float, float]] = field(default_factory=list)  # (seconds, VmRSS MB)
    peak_mb: float = 0.0  # VmHWM of the watch process
    max_in_window: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def growth_mb(self) -> float:
        """Resident memory at the end minus the median of the run's second quarter (the
        start-up's imports and first reads are over by then)."""
        if len(self.rss_mb) < 8:
            return 0.0
        quarter = len(self.rss_mb) // 4
        early = sorted(rss for _, rss in self.rss_mb[quarter : 2 * quarter])
        return self.rss_mb[-1][1] - early[len(early) // 2]


class WatchRun:
    """`seedance-tui watch --json`: its store events and progress read as they come, its
    memory sampled from /proc."""

    def __init__(self, env: dict[str, str], total: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tui", "watch", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.total = total
        self.finished = 0  # tasks seen reaching a terminal state
        self.store_events: list[tuple[float, str, str]] = []
        self.summary: dict[str, Any] | None = None
        self.rss: list[tuple[float, float]] = []
        self.peak_mb = 0.0
        self._start = time.monotonic()
        self._err: list[str] = []
        self._threads = [
            threading.Thread(target=target, daemon=True)
            for target in (self._read, self._read_err, self._sample)
        ]
        for thread in self._threads:
            thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            event = json.loads(line)
            kind = event["event"]
            if kind == "state" and event["to"] in OUTCOMES:
                self.finished += 1
            elif kind == "store":
                self.store_events.append((self.elapsed(), event["state"], event["message"]))
            elif kind == "summary":
                self.summary = event

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        self._err.extend(self.proc.stderr)

    def _sample(self) -> None:
        status = Path(f"/proc/{self.proc.pid}/status")
        while self.proc.poll() is None:
            try:
                fields = dict(
                    line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
                )
            except OSError:
                return
            if "VmRSS" not in fields:  # exited, not yet reaped: no memory left to sample
                return
            rss = int(fields["VmRSS"].split()[0]) / 1024
            self.peak_mb = max(self.peak_mb, int(fields["VmHWM"].split()[0]) / 1024)
            self.rss.append((self.elapsed(), rss))
            time.sleep(0.25)

    def elapsed(self) -> float:
        return time.monotonic() - self._start

    def progress(self) -> float:
        return self.finished / self.total if self.total else 1.0

    def running(self) -> bool:
        return self.proc.poll() is None

    def wait_for(self, state: str, after: int, timeout: float) -> bool:
        """Whether a `store` event in `state` came (beyond the first `after` ones) in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.running():
            if any(s == state for _, s, _ in self.store_events[after:]):
                return True
            time.sleep(0.05)
        return False

    def settle(self, timeout: float) -> None:
        """Wait until the store takes writes again (every `unavailable` has its `available`),
        so that the next disturbance starts from a store that writes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.running():
            states = Counter(state for _, state, _ in self.store_events)
            if states["unavailable"] == states["available"]:
                return
            time.sleep(0.05)

    def finish(self, timeout: float) -> tuple[int, str]:
        try:
            self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            for thread in self._threads:
                thread.join(timeout=5)
        return self.proc.returncode, "".join(self._err)


def plan_batch(sim: Simulator, n: int, rng: random.Random) -> tuple[dict[str, list[str]], int]:
    """`n` tasks over both providers (8 in 10 succeed), a poll fault on 10 % of them."""
    ids: dict[str, list[str]] = {kind: [] for kind in KINDS}
    faulted = 0
    for i in range(n):
        kind = KINDS[i % 2]
        roll = rng.random()
        outcome = "succeeded" if roll < 0.8 else "failed" if roll < 0.95 else "cancelled"
        task_id = sim.add_task(
            kind,
            outcome=outcome,
            queue_s=rng.uniform(0.0, 2.0),
            run_s=rng.uniform(1.0, 6.0),
            video_bytes=rng.randrange(1_000, 8_000),
        )
        ids[kind].append(task_id)
        if rng.random() < 0.10:
            action, options = FAULTS[faulted % len(FAULTS)]
            sim.faults.add(action, task_id=task_id, on="status", count=1 + faulted % 2, **options)
            faulted += 1
    return ids, faulted


def write_config(folder: Path, sim: Simulator, size: Size, videos: Path) -> Path:
    config = folder / "config.toml"
    tables = [
        f'[providers.{kind}]\nkind = "{kind}"\nbase_url = "{sim.provider_url(kind)}"\n'
        f'api_key_env = "SOAK_{kind.upper()}"\nmin_interval = {MIN_INTERVAL}\n'
        f"max_interval = 3\nrate_limit = {size.rate_limit:g}\nconcurrency = 8\ntimeout = 1.5\n"
        for kind in KINDS
    ]
    tables.append(f'[download]\ndir = "{videos}"\ntemplate = "{{id}}.mp4"\nconcurrency = 4\n')
    tables.append("[store]\ngive_up_after = 300\n")
    config.write_text("\n".join(tables))
    return config


def disturb(watch: WatchRun, disk: Path, db: Path, size: Size, steps: list[str]) -> None:
    """Fill the store's disk at 10 % and 40 % of the batch (freed once the store said so),
    lock the store at 25 % and 55 %, each step after the last one ended."""

    def at(progress: float) -> bool:
        while watch.running() and watch.progress() < progress:
            time.sleep(0.05)
        return watch.running()

    def note(what: str) -> None:
        steps.append(f"{watch.elapsed():6.1f} s  {watch.progress():4.0%}  {what}")

    for progress, action in ((0.10, "fill"), (0.25, "lock"), (0.40, "fill"), (0.55, "lock")):
        if not at(progress):
            note(f"batch ended before the {action} at {progress:.0%}")
            return
        time.sleep(0.5)  # an event on its way from the last step is read by now
        watch.settle(timeout=60)
        if action == "fill":
            seen = len(watch.store_events)
            filler = fill(disk)
            note("store disk filled")
            came = watch.wait_for("unavailable", seen, timeout=60)
            time.sleep(1.0)  # polling waits meanwhile
            filler.unlink()
            note("space freed" + ("" if came else " (no outage seen within 60 s)"))
        else:
            with store_locked(db):
                note(f"store locked for {size.lock_seconds:g} s")
                time.sleep(size.lock_seconds)
            note("lock released")


def check_outcome(
    soak: Soak, sim: Simulator, host: VideoHost, db: Path, videos: Path, want_ids: list[str]
) -> None:
    """Every check of the module docstring; what fails goes to `soak.problems`."""
    problems = soak.problems
    if soak.exit_code != 0:
        problems.append(f"watch exited {soak.exit_code}")
    if "Traceback" in soak.stderr or "never retrieved" in soak.stderr:
        problems.append(f"a traceback on stderr: {soak.stderr[-2000:]}")
    with Store.open(db) as store:
        tasks = {t.id: t for t in store.query()}
    soak.states = Counter(str(t.state) for t in tasks.values())
    wrong = []
    for task_id in want_ids:
        want = OUTCOMES[sim.task(task_id).outcome]
        task = tasks.get(task_id)
        if task is None or str(task.state) != want:
            wrong.append(f"{task_id}: {task.state if task else 'gone'}, want {want}")
            continue
        if want != "succeeded":
            continue
        video = videos / f"{task_id}.mp4"
        if not video.is_file() or str(task.download.state) != "done":
            wrong.append(f"{task_id}: video not kept ({task.download.state})")
        elif hashlib.sha256(video.read_bytes()).hexdigest() != host.sha256(video.name):
            wrong.append(f"{task_id}: video bytes differ from the host's")
        else:
            soak.videos_kept += 1
    if wrong:
        problems.append(f"{len(wrong)} task(s) wrong, e.g. {wrong[:5]}")
    with sqlite3.connect(db) as conn:
        integrity = conn.execute("PRAGMA integrity_check").fetchall()
    if integrity != [("ok",)]:
        problems.append(f"integrity_check: {integrity[:5]}")
    left = temporary_files(videos) + temporary_files(db.parent)
    if left:
        problems.append(f"temporary files left: {left[:5]}")
    problems.extend(etiquette_problems(soak, sim))


def etiquette_problems(soak: Soak, sim: Simulator) -> list[str]:
    """Rate limit in every one-second window, `min_interval` between two polls of a task."""
    found = [f"rate limit broken: {v}" for v in sim.violations[:5]]
    soak.requests = len(sim.requests)
    for kind in KINDS:
        soak.max_in_window[kind] = sim.max_requests_in_window(kind, window=1.0)
        by_task: dict[str | None, list[float]] = {}
        for request in sim.requests_for(kind=kind, endpoint="status"):
            by_task.setdefault(request.task_id, []).append(request.ts)
        for task_id, times in by_task.items():
            gaps = [b - a for a, b in itertools.pairwise(sorted(times))]
            if gaps and min(gaps) < MIN_INTERVAL - 0.05:
                found.append(f"{task_id} polled {min(gaps):.2f} s after its previous poll")
    return found


def run_soak(
    folder: Path, size: Size, *, seed: int = 10, echo: Callable[[str], None] = print
) -> Soak:
    """One soak in `folder` (the store goes on a tmpfs mounted at `folder/disk`)."""
    soak = Soak(size)
    rng = random.Random(seed)
    videos = folder / "videos"
    with (
        VideoHost() as host,
        Simulator(keys=KEYS, video_host=host, seed=seed) as sim,
        mounted_disk(folder / "disk", size.disk) as disk,
    ):
        for kind in KINDS:
            sim.enforce_rate_limit(kind, size.rate_limit)
        ids, soak.faulted_tasks = plan_batch(sim, size.tasks, rng)
        db = disk / "tasks.db"
        env = {
            **os.environ,
            "SEEDANCE_TUI_CONFIG": str(write_config(folder, sim, size, videos)),
            "SEEDANCE_TUI_DB": str(db),
            **{f"SOAK_{kind.upper()}": key for kind, key in KEYS.items()},
        }
        for kind in KINDS:
            added = subprocess.run(
                [sys.executable, "-m", "tui", "add", "--provider", kind, "--file", "-"],
                input="\n".join(ids[kind]),
                capture_output=True,
                text=True,
                env=env,
                timeout=120,
            )
            assert added.returncode == 0, added.stderr
        echo(f"soak: {size.tasks:,} tasks, {soak.faulted_tasks} with a provider fault")
        start = time.monotonic()
        watch = WatchRun(env, size.tasks)
        disturber = threading.Thread(
            target=disturb, args=(watch, disk, db, size, soak.steps), daemon=True
        )
        disturber.start()
        soak.exit_code, soak.stderr = watch.finish(timeout=max(600.0, size.tasks * 0.1))
        soak.seconds = time.monotonic() - start
        disturber.join(timeout=90)
        soak.store_events = [f"{t:6.1f} s  {state}: {msg}" for t, state, msg in watch.store_events]
        soak.rss_mb, soak.peak_mb = watch.rss, watch.peak_mb
        soak.fault_hits = sum(rule.hits for rule in sim.faults.rules)
        check_outcome(soak, sim, host, db, videos, [i for kind in KINDS for i in ids[kind]])
    return soak


def report(soak: Soak) -> str:
    lines = [
        f"soak of {soak.size.tasks:,} tasks: {soak.seconds:.1f} s, watch exit {soak.exit_code}",
        "  final states: " + ", ".join(f"{s} {n:,}" for s, n in sorted(soak.states.items())),
        f"  videos kept (bytes checked): {soak.videos_kept:,}",
        f"  provider faults: {soak.fault_hits} answers on {soak.faulted_tasks} tasks; "
        f"{soak.requests:,} requests; most in any 1 s: {soak.max_in_window} "
        f"(limit {soak.size.rate_limit:g} each)",
        f"  watch RSS: peak {soak.peak_mb:.1f} MB, growth from a quarter in to the end "
        f"{soak.growth_mb:+.1f} MB ({len(soak.rss_mb)} samples)",
        "  what was done to it:",
        *(f"    {step}" for step in soak.steps),
        "  store events:",
        *(f"    {event}" for event in soak.store_events),
        "  checks: " + ("all passed" if not soak.problems else "FAILED"),
        *(f"    {problem}" for problem in soak.problems),
    ]
    return "\n".join(lines)


@pytest.mark.bench
@pytest.mark.timeout(300)
def test_bench_soak(tmp_path: Path) -> None:
    """The small size, in `make bench-smoke` (CI runs it): prints the figures, then fails on
    any wrong outcome (never on a time)."""
    soak = run_soak(tmp_path, SMALL)
    print("\n" + report(soak))
    assert soak.problems == []
    assert sum(soak.states.values()) == SMALL.tasks
    assert soak.videos_kept == soak.states["succeeded"] > 0
    assert soak.fault_hits >= soak.faulted_tasks > 0  # the providers misbehaved for real
    assert not any("batch ended before" in step for step in soak.steps), soak.steps
    assert len([s for s in soak.steps if s.endswith("store disk filled")]) == 2
    assert len([s for s in soak.steps if "store locked" in s]) == 2
    states = [event.split()[2] for event in soak.store_events]
    assert states == ["unavailable:", "available:"] * 2, soak.store_events  # both fills seen
    assert soak.peak_mb < 150, soak.rss_mb
    assert soak.growth_mb < 20, soak.rss_mb  # flat: no growth with the tasks done


def main() -> None:
    parser = argparse.ArgumentParser(description="watch over a misbehaving batch: prints figures")
    parser.add_argument("--full", action="store_true", help="20,000 tasks (make soak)")
    parser.add_argument("--small", action="store_true", help="500 tasks (as in make bench-smoke)")
    args = parser.parse_args()
    size = FULL if args.full else SMALL if args.small else MEDIUM
    with tempfile.TemporaryDirectory(prefix="seedance-soak-") as folder:
        print(report(run_soak(Path(folder), size)))


if __name__ == "__main__":
    main()
