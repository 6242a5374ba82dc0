"""The whole dashboard in a real terminal: bytes it writes, idle CPU, memory, first paint.

    .venv/bin/python tests/bench/bench_dashboard.py           # full size (about 4 minutes)
    .venv/bin/pytest tests/bench/bench_dashboard.py -q -s     # small sizes (about 40 s)

Every figure comes from a real child process (tests/bench/_pty_app.py) running the real app in
a pseudo-terminal (120x40, TERM=xterm-256color, no COLORTERM: what an SSH session passes on):
`seedance-tui demo` (the simulator and video host on 127.0.0.1, a temp store, the real Engine,
a ScaledClock) or `seedance-tui dashboard` over a store prepared here. The bench reads
everything the app writes to the terminal, samples the child's CPU time (/proc/PID/stat) and
resident memory (/proc/PID/status), and prints the figures next to the targets. It never fails
on a timing: the figures go in the README.

1. terminal output while N live tasks are polled (target < 4 KiB/s; DESIGN.md: a naive 1 Hz
   refresh of 50 cells costs ~22 KiB/s over SSH), averaged after the store is loaded and a
   warm-up, split by the part of the screen the bytes went to (summary, table, log, footer);
   at the demo's 20x clock and at 1x (a real batch's pace);
2. idle CPU with 10,000 tracked tasks and nothing to do: every task finished, and polling
   paused (target < 1 % of one core);
3. resident memory with 10,000 and 100,000 tasks (target < 300 MB at 100,000);
4. first paint with 100,000 tasks: process start to the first frame showing the table header
   and a task row, and to the whole store shown; for the target, the real command
   (`seedance-tui --paused`, `python tui/__main__.py`) started 5 times: no bench child and no
   simulator in its process (the table alone is in bench_table.py).

Children end with `q`, then SIGTERM, then SIGKILL (each after a timeout); none is left behind.
`BENCH_TRUECOLOR=1` measures a terminal that announces COLORTERM=truecolor instead.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tui.app.demo import PROVIDER_NAMES
from tui.core.model import Event, Failure, State, Task, Tokens
from tui.core.store import Store

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CHILD = HERE / "_pty_app.py"
COLS, LINES = 120, 40
KIB = 1024.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
TRUECOLOR = os.environ.get("BENCH_TRUECOLOR") == "1"

# Targets (the issue's), printed beside the figures.
TARGET_OUTPUT = "< 4 KiB/s"
TARGET_IDLE_CPU = "< 1 %"
TARGET_RSS = "< 300 MB"


# ------------------------------------------------------------------------------------------------
# what the app wrote

_ESCAPES = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
_MOVE = re.compile(rb"\x1b\[(\d+);(\d+)H")
HEADER = re.compile(re.escape("state▲".encode()))  # the sorted column's header (default sort)
# A table row: a state glyph and word, then a task id (the log's lines hold ids too, so an id
# alone would not say that the table is painted).
TABLE_ROW = re.compile(
    "[○◐✔✖⊘⧗∅?] (?:queued|running|succeeded|failed|cancelled|expired|missing|unknown) +"
    "(?:asyntask_|video_|cgt-)".encode()
)


def shown_all(n: int) -> re.Pattern[bytes]:
    """The table's title once the whole store is in the table: `100,000 of 100,000 tasks`."""
    return re.compile(re.escape(f"{n:,} of {n:,} tasks".encode()))


def plain(data: bytes) -> bytes:
    """What the app wrote without its escape sequences (cursor moves, colours)."""
    return _ESCAPES.sub(b"", data)


def bytes_by_row(data: bytes) -> dict[int, int]:
    """Bytes attributed to the screen row (0-based) of the cursor move that precedes them;
    -1: bytes before any move (mode switches, cursor shows/hides)."""
    rows: dict[int, int] = {}
    last, row = 0, -1
    for match in _MOVE.finditer(data):
        rows[row] = rows.get(row, 0) + match.start() - last
        row, last = int(match.group(1)) - 1, match.start()
    rows[row] = rows.get(row, 0) + len(data) - last
    return rows


def bytes_by_part(data: bytes, layout: dict[str, list[int]]) -> dict[str, int]:
    """Bytes per part of the screen (`layout`: label -> [first row, last row])."""
    parts: dict[str, int] = {}
    for row, count in bytes_by_row(data).items():
        label = next(
            (name for name, (top, bottom) in layout.items() if top <= row <= bottom), "other"
        )
        parts[label] = parts.get(label, 0) + count
    return {name: count for name, count in parts.items() if count}


# ------------------------------------------------------------------------------------------------
# the child in a pseudo-terminal


@dataclass
class PtyChild:
    """One app process on a pty; a thread drains the master side (a full pty would block it)."""

    proc: subprocess.Popen[bytes]
    master: int
    started: float  # time.monotonic() just before the process was started
    chunks: list[tuple[float, bytes]] = field(default_factory=list)
    ended_by: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _reader: threading.Thread | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def start_reading(self) -> None:
        self._reader = threading.Thread(target=self._drain, name="pty-reader", daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.master], [], [], 0.1)
                if not ready:
                    continue
                data = os.read(self.master, 65536)
            except OSError:  # EIO: every slave fd is closed (the child is gone)
                return
            if not data:
                return
            with self._lock:
                self.chunks.append((time.monotonic(), data))

    def output(self, start: float = float("-inf"), end: float = float("inf")) -> bytes:
        """Everything written in [start, end) (monotonic times)."""
        with self._lock:
            return b"".join(data for at, data in self.chunks if start <= at < end)

    def per_second(self, start: float, end: float) -> list[int]:
        """Bytes written in each whole second of [start, end)."""
        seconds = [0] * max(1, int(end - start))
        with self._lock:
            for at, data in self.chunks:
                if start <= at < end:
                    seconds[min(len(seconds) - 1, int(at - start))] += len(data)
        return seconds

    def wait_for(self, *patterns: re.Pattern[bytes], timeout: float) -> float | None:
        """Seconds from process start until every pattern was seen in the output (escape
        sequences removed); None on timeout or when the child ended first."""
        missing = list(patterns)
        deadline = time.monotonic() + timeout
        scanned = 0  # chunks already looked at
        while time.monotonic() < deadline:
            with self._lock:
                fresh = self.chunks[max(0, scanned - 4) :]  # some overlap: split sequences
                count = len(self.chunks)
            if count > scanned:
                scanned = count
                text = plain(b"".join(data for _, data in fresh))
                missing = [p for p in missing if not p.search(text)]
                if not missing:
                    return fresh[-1][0] - self.started
            elif self.proc.poll() is not None:
                return None
            time.sleep(0.02)
        return None

    def why_gone(self) -> str | None:
        """None while the child runs; else its exit code and the last words it wrote."""
        code = self.proc.poll()
        if code is None:
            return None
        text = plain(self.output()[-6000:]).decode(errors="replace")
        lines = [line.strip(" │╭╮╰╯─") for line in text.splitlines()]
        words = " | ".join([line for line in lines if line][-3:])
        return f"exit {code}: {words[-300:]}"

    def stop(self) -> str:
        """`q`, then SIGTERM, then SIGKILL; reaps the child and closes the pty. Says which."""
        steps: list[tuple[str, Callable[[], object], float]] = [
            ("q", lambda: os.write(self.master, b"q"), 15.0),
            ("SIGTERM", lambda: self.proc.send_signal(signal.SIGTERM), 8.0),
            ("SIGKILL", self.proc.kill, 10.0),
        ]
        try:
            for name, act, timeout in steps:
                if self.proc.poll() is not None:
                    break
                with contextlib.suppress(OSError):
                    act()
                try:
                    self.proc.wait(timeout)
                    self.ended_by = name
                    break
                except subprocess.TimeoutExpired:
                    continue
        finally:
            if self.proc.poll() is None:  # only if SIGKILL itself timed out: never leave one
                self.proc.kill()
                self.proc.wait()
            self._stop.set()
            if self._reader is not None:
                self._reader.join(5)
            with contextlib.suppress(OSError):
                os.close(self.master)
        self.ended_by = self.ended_by or f"exited by itself ({self.proc.returncode})"
        return self.ended_by


@contextlib.contextmanager
def pty_child(args: list[str], folder: Path, script: Path = CHILD) -> Iterator[PtyChild]:
    """Start `script args` (`_pty_app.py`) on a fresh 120x40 pty; always stopped on the way
    out."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLS, 0, 0))
    drop = ("TEXTUAL", "PYTEST", "COLUMNS", "LINES", "COLORTERM", "NO_COLOR", "FORCE_COLOR")
    env = {key: value for key, value in os.environ.items() if not key.startswith(drop)}
    if TRUECOLOR:
        env["COLORTERM"] = "truecolor"
    env.update(
        TERM="xterm-256color",
        COLUMNS=str(COLS),
        LINES=str(LINES),
        TMPDIR=str(folder),  # the demo's temp store lands here, removed with `folder`
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
    )
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            [sys.executable, str(script), *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=str(folder),
            start_new_session=True,  # its own session: _pty_app makes the pty its terminal
            close_fds=True,
        )
    finally:
        os.close(slave)
    child = PtyChild(proc, master, started)
    child.start_reading()
    try:
        yield child
    finally:
        child.stop()


# ------------------------------------------------------------------------------------------------
# /proc readings


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the process (all its threads)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (resident now) and VmHWM (peak resident), in MB (MiB, as the kernel counts)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0]) / 1024
    return out


def read_layout(path: Path, timeout: float = 10.0) -> dict[str, list[int]]:
    """The rows of the summary, table, log and footer, as _pty_app wrote them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return json.loads(path.read_text())
        time.sleep(0.1)
    return {}


# ------------------------------------------------------------------------------------------------
# a prepared store (for `seedance-tui dashboard`)

URL = (
    "http://127.0.0.1:9/videos/{id}.mp4?X-Tos-Algorithm=TOS4-HMAC-SHA256&X-Tos-Credential="
    "AKLTYWJkZTExNjA1ZDM0NDE4YzljNjI5%2F20260427%2Fcn-beijing%2Ftos%2Frequest&X-Tos-Date="
    "{date}&X-Tos-Expires=86400&X-Tos-Signature=4c0ffee8d1c5b2a3e6f7a8b9c0d1e2f3a4b5c6d7e8f9"
)  # 127.0.0.1 port 9: nothing listens, and nothing is fetched (downloads are done)
PREFIXES = {"newapi": "asyntask_", "kyy": "video_", "ark": "cgt-2026"}
MODELS = ("doubao-seedance-2-0-260128", "doubao-seedance-2-0-fast-260128", "seedance_2_0_fast")
FAILURE = Failure("InputImageSensitiveContentDetected", "the image may contain real people")


def _body(task: Task) -> dict[str, Any]:
    """An upstream body of realistic size (about 1 KB), as the store keeps it."""
    return {
        "code": "success",
        "data": {
            "task_id": task.id,
            "status": task.upstream_status,
            "progress": f"{task.progress}%",
            "result_url": task.video_url,
            "data": {
                "id": task.id,
                "model": task.model,
                "status": str(task.state),
                "content": {"video_url": task.video_url},
                "duration": 5,
                "ratio": "16:9",
                "resolution": "720p",
                "framespersecond": 24,
                "seed": task.seed,
                "usage": {"completion_tokens": 108900, "total_tokens": 108900},
            },
        },
    }


def _polled(task: Task, i: int, now: datetime, finished: bool) -> tuple[Task, list[Event]]:
    """What polling made of task i: 60 % succeeded, 10 % failed, 30 % running (or, with
    `finished`, succeeded too). Finished ones are hours old; running ones a few minutes."""
    kind = i % 10
    state = State.SUCCEEDED if kind < 6 else State.FAILED if kind == 6 else State.RUNNING
    if finished and state is State.RUNNING:
        state = State.SUCCEEDED
    done = state.terminal
    created = now - (timedelta(hours=2, seconds=i % 3600) if done else timedelta(seconds=i % 600))
    polled = now - timedelta(seconds=i % 30)
    url = None
    if state is State.SUCCEEDED:
        url = URL.format(id=task.id, date=created.strftime("%Y%m%dT%H%M%SZ"))
    upstream = {State.SUCCEEDED: "SUCCESS", State.FAILED: "FAILURE"}.get(state, "IN_PROGRESS")
    new = task.evolve(
        state=state,
        upstream_status=upstream,
        model=MODELS[i % len(MODELS)],
        progress=100 if done else 10 + i % 80,
        created_at=created,
        started_at=created + timedelta(seconds=20),
        finished_at=created + timedelta(minutes=3) if done else None,
        video_url=url,
        url_expires_at=created + timedelta(days=1) if url else None,
        duration=5.0,
        resolution="720p",
        super_resolution="1080p" if i % 8 == 0 else None,
        ratio="16:9",
        fps=24,
        seed=4304 + i,
        generate_audio=True,
        tokens=Tokens(108900, 108900, None) if done else Tokens(),
        failure=FAILURE if state is State.FAILED else None,
        polls=task.polls + 5,
        last_polled_at=polled,
        first_seen_live_at=created,
        first_seen_terminal_at=created + timedelta(minutes=3) if done else None,
        next_poll_at=None if done else polled + timedelta(seconds=30),
    )
    new = new.evolve(raw=_body(new))
    events = [
        Event(
            "state",
            task.provider,
            task.id,
            {"from": "queued", "to": str(state), "upstream_status": upstream, "failure": None},
            ts=polled,
        )
    ]
    return new, events


def prepare_store(path: Path, n: int, *, finished: bool) -> float:
    """A store of `n` polled tasks over the demo's three providers; returns seconds taken.

    Every succeeded video is marked downloaded (one UPDATE here, instead of `n` durable
    `set_download` transactions), so the engine has nothing to fetch: an idle dashboard.
    """
    began = time.perf_counter()
    now = datetime.now(UTC)
    kinds = tuple(PROVIDER_NAMES)
    with Store.open(path) as store:
        by_provider: dict[str, list[str]] = {}
        for i in range(n):
            kind = kinds[i % len(kinds)]
            task_id = f"{PREFIXES[kind]}{i:08d}h81efT0qwtLnzyt6VENm"
            by_provider.setdefault(PROVIDER_NAMES[kind], []).append(task_id)
        for provider, ids in by_provider.items():
            store.add_tasks(provider, ids, batch="bench", now=now - timedelta(hours=3))
        fresh = store.query()
        chunk = 5000
        for lo in range(0, len(fresh), chunk):
            part = fresh[lo : lo + chunk]
            store.save_many([_polled(t, lo + j, now, finished) for j, t in enumerate(part)])
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "UPDATE tasks SET download_state = 'done', download_bytes = 1048576, "
            "download_path = '/videos/' || provider || '/' || id || '.mp4' "
            "WHERE state = 'succeeded'"
        )
    return time.perf_counter() - began


# ------------------------------------------------------------------------------------------------
# the scenarios


@dataclass
class Sizes:
    """How big and how long: full size by default, small under pytest."""

    live_tasks: int = 10_000
    live_seconds: float = 60.0
    speeds: tuple[float, ...] = (20.0, 1.0)  # the demo's clock, and a real batch's pace
    warmup: float = 5.0  # after the whole store is shown, before anything is measured
    idle_tasks: int = 10_000
    idle_seconds: float = 30.0
    idle_finished: bool = True  # also the store where every task is finished
    big_tasks: int = 100_000
    big_seconds: float = 10.0
    cli_runs: int = 5  # starts of the real command, for its first paint


@dataclass
class Run:
    """The figures of one child process."""

    label: str
    tasks: int
    first_paint: float | None = None  # s from process start: header and a task row
    loaded: float | None = None  # s from process start: `N of N tasks` in the table's title
    window: float = 0.0  # s measured
    bytes_per_s: float | None = None
    median_second: float = 0.0
    worst_second: float = 0.0
    parts: dict[str, int] = field(default_factory=dict)
    cpu: float | None = None  # % of one core over the window
    rss: dict[str, float] = field(default_factory=dict)
    first_paints: list[float] = field(default_factory=list)  # one per start (cli first paint)
    ended_by: str = ""
    error: str | None = None  # the app ended before the bench was done with it


def measure(child: PtyChild, run: Run, *, seconds: float, warmup: float, layout: Path) -> None:
    """First paint, whole store shown, then CPU, output and memory over `seconds`."""
    run.first_paint = child.wait_for(HEADER, TABLE_ROW, timeout=120)
    if run.first_paint is not None:
        run.loaded = child.wait_for(shown_all(run.tasks), timeout=180)
    if child.why_gone() is None:
        time.sleep(warmup)
    if (gone := child.why_gone()) is not None:
        run.error = gone
        return
    parts = read_layout(layout)
    start, cpu0 = time.monotonic(), cpu_seconds(child.pid)
    time.sleep(seconds)
    end, cpu1 = time.monotonic(), cpu_seconds(child.pid)
    run.rss = memory_mb(child.pid)
    data = child.output(start, end)
    seconds_list = sorted(child.per_second(start, end))
    run.window = end - start
    run.cpu = (cpu1 - cpu0) / run.window * 100
    run.bytes_per_s = len(data) / run.window
    run.median_second = seconds_list[len(seconds_list) // 2]
    run.worst_second = seconds_list[-1]
    run.parts = bytes_by_part(data, parts) if parts else {}
    run.error = child.why_gone()


def scenario_live(folder: Path, n: int, speed: float, sizes: Sizes) -> Run:
    """`seedance-tui demo --tasks N`: polling N live tasks at `speed`x; terminal output."""
    run = Run(f"live {speed:g}x", n)
    layout = folder / f"layout-live-{speed:g}.json"
    args = ["demo", "--tasks", str(n), "--speed", str(speed), "--layout", str(layout)]
    with pty_child(args, folder) as child:
        measure(child, run, seconds=sizes.live_seconds, warmup=sizes.warmup, layout=layout)
        run.ended_by = child.stop()
    return run


def scenario_store(
    folder: Path, label: str, n: int, *, finished: bool, paused: bool, seconds: float, warmup: float
) -> Run:
    """`seedance-tui dashboard [--paused]` over a prepared store of `n` tasks."""
    run = Run(label, n)
    slug = label.replace(" ", "-")
    db = folder / f"{slug}.db"
    prepare_store(db, n, finished=finished)
    layout = folder / f"layout-{slug}.json"
    args = ["dashboard", "--db", str(db), "--dir", str(folder), "--layout", str(layout)]
    if paused:
        args.append("--paused")
    with pty_child(args, folder) as child:
        measure(child, run, seconds=seconds, warmup=warmup, layout=layout)
        run.ended_by = child.stop()
    return run


def scenario_cli_first_paint(folder: Path, db: Path, n: int, runs: int) -> Run:
    """The real command, `seedance-tui --config C --db D --paused`, started `runs` times over
    the big store: process start to the first rows on screen (no bench child, no simulator
    in the process; the providers point at a closed port and nothing is polled)."""
    run = Run("cli first paint", n)
    config = folder / "cli-config.toml"
    providers = "".join(
        f'[providers.{name}]\nkind = "{kind}"\nbase_url = "http://127.0.0.1:9"\n'
        f'api_key_env = "SEEDANCE_BENCH_NO_KEY"\n\n'
        for kind, name in PROVIDER_NAMES.items()
    )
    config.write_text(providers + f'[download]\nenabled = false\ndir = "{folder}"\n')
    args = ["--config", str(config), "--db", str(db), "--paused"]
    for _ in range(runs):
        with pty_child(args, folder, script=REPO / "tui" / "__main__.py") as child:
            first = child.wait_for(HEADER, TABLE_ROW, timeout=120)
            if first is None:
                run.error = child.why_gone() or "no table on screen"
                break
            run.first_paints.append(first)
            run.ended_by = child.stop()
    if run.first_paints:
        run.first_paint = sorted(run.first_paints)[len(run.first_paints) // 2]
    return run


def run_all(sizes: Sizes) -> list[Run]:
    """Every scenario, one child at a time (they would compete for the CPU)."""
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        folder = Path(tmp)
        for speed in sizes.speeds:
            runs.append(scenario_live(folder, sizes.live_tasks, speed, sizes))
        stores = [("idle paused", sizes.idle_tasks, False, sizes.idle_seconds)]
        if sizes.idle_finished:
            stores.insert(0, ("idle finished", sizes.idle_tasks, True, sizes.idle_seconds))
        stores.append(("big paused", sizes.big_tasks, False, sizes.big_seconds))
        for label, n, finished, seconds in stores:
            paused = not finished  # nothing to do: every task finished, or polling paused
            runs.append(
                scenario_store(
                    folder,
                    label,
                    n,
                    finished=finished,
                    paused=paused,
                    seconds=seconds,
                    warmup=sizes.warmup,
                )
            )
        big = folder / "big-paused.db"
        runs.append(scenario_cli_first_paint(folder, big, sizes.big_tasks, sizes.cli_runs))
    return runs


# ------------------------------------------------------------------------------------------------
# the report


def _kib(value: float | None) -> str:
    return "n/a" if value is None else f"{value / KIB:,.2f} KiB/s"


def _parts(run: Run) -> str:
    if not run.parts or not run.window:
        return ""
    order = sorted(run.parts.items(), key=lambda item: -item[1])
    return ", ".join(f"{name} {count / run.window / KIB:.2f}" for name, count in order)


def _s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f} s"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f} %"


def _mb(run: Run, key: str = "VmRSS") -> str:
    value = run.rss.get(key)
    return "n/a" if value is None else f"{value:,.0f} MB"


def report(runs: list[Run]) -> str:
    """The figures as a table, each beside its target."""
    rows: list[tuple[str, str, str]] = []

    def row(label: str, figure: str, target: str = "") -> None:
        rows.append((label, figure, target))

    for run in runs:
        if run.label == "cli first paint":
            spread = ""
            if run.first_paints:
                spread = f" (of {len(run.first_paints)}: {_s(min(run.first_paints))}"
                spread += f"–{_s(max(run.first_paints))})"
            row(
                f"first rows on screen, `seedance-tui --paused`, {run.tasks:,} tasks, "
                "from process start, median",
                _s(run.first_paint) + spread,
                "< 0.5 s",
            )
            if run.error:
                row("  THE APP ENDED EARLY", run.error)
            continue
        if run.label.startswith("live"):
            row(
                f"terminal output, demo polling {run.tasks:,} tasks, {run.label[5:]} clock "
                f"(mean of {run.window:.0f} s)",
                _kib(run.bytes_per_s),
                TARGET_OUTPUT,
            )
            if run.bytes_per_s is not None:
                seconds = f"{_kib(run.median_second)} / {_kib(run.worst_second)}"
                row("  median second / worst second", seconds)
                row("  by screen part, KiB/s", _parts(run))
                row("  CPU of the app process (+ in-process simulator)", _pct(run.cpu))
                row("  resident memory (+ simulator, video host)", _mb(run))
        else:
            what = {
                "idle finished": "all finished, polling on (nothing to do)",
                "idle paused": "30 % running, dashboard --paused",
                "big paused": "30 % running, dashboard --paused",
            }[run.label]
            row(
                f"idle CPU, {run.tasks:,} tasks, {what} (over {run.window:.0f} s)",
                _pct(run.cpu),
                TARGET_IDLE_CPU if run.tasks <= 10_000 else "",
            )
            where = f" ({_parts(run)})" if run.parts else ""
            row("  terminal output meanwhile", _kib(run.bytes_per_s) + where)
            row(
                f"  resident memory, {run.tasks:,} tasks (peak)",
                f"{_mb(run)} ({_mb(run, 'VmHWM')})",
                TARGET_RSS if run.tasks >= 100_000 else "",
            )
        row(
            "  first paint: header + a task row / whole store shown",
            f"{_s(run.first_paint)} / {_s(run.loaded)}",
            "informative" if run.tasks >= 100_000 else "",
        )
        if run.error:
            row("  THE APP ENDED EARLY", run.error)
    row("children ended by", ", ".join(f"{run.label}: {run.ended_by}" for run in runs))
    width = max(len(label) for label, _, _ in rows)
    fig = max((len(figure) for _, figure, _ in rows if len(figure) < 40), default=10)
    lines = [
        f"dashboard bench: {COLS}x{LINES} pty, TERM=xterm-256color"
        f"{', COLORTERM=truecolor' if TRUECOLOR else ''}, python {sys.version.split()[0]}",
        f"  {'measure':<{width}}  {'figure':>{fig}}  target",
    ]
    for label, figure, target in rows:
        lines.append(f"  {label:<{width}}  {figure:>{fig}}  {target}".rstrip())
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# entry points


@pytest.mark.bench
@pytest.mark.timeout(240)
def test_bench_dashboard() -> None:
    sizes = Sizes(
        live_tasks=5_000,
        live_seconds=8.0,
        speeds=(20.0,),
        warmup=2.0,
        idle_tasks=5_000,
        idle_seconds=5.0,
        idle_finished=False,
        big_tasks=20_000,
        big_seconds=5.0,
        cli_runs=1,
    )
    runs = run_all(sizes)
    print("\n" + report(runs))
    # Not timings: the facts the figures stand on (the app painted, wrote, ended on `q`).
    for run in runs:
        assert run.error is None, run.error
        if run.label == "cli first paint":
            assert run.first_paints and run.ended_by == "q", run
            continue
        assert run.first_paint is not None and run.loaded is not None, run.label
        assert run.bytes_per_s is not None and run.cpu is not None and run.rss, run.label
        assert run.ended_by == "q", (run.label, run.ended_by)
    assert runs[0].bytes_per_s > 0  # polling 5,000 live tasks shows on screen


def main() -> None:
    parser = argparse.ArgumentParser(description="the dashboard in a real pty: prints figures")
    parser.add_argument("--live-tasks", type=int, default=10_000)
    parser.add_argument("--live-seconds", type=float, default=60.0)
    parser.add_argument("--speeds", default="20,1", help="clock speeds of the live runs")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--big-tasks", type=int, default=100_000)
    args = parser.parse_args()
    sizes = Sizes(
        live_tasks=args.live_tasks,
        live_seconds=args.live_seconds,
        speeds=tuple(float(s) for s in args.speeds.split(",") if s),
        idle_seconds=args.idle_seconds,
        big_tasks=args.big_tasks,
    )
    print(report(run_all(sizes)))


if __name__ == "__main__":
    main()
