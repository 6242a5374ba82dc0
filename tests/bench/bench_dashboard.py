"""The whole dashboard in a real terminal: bytes it writes, idle CPU, memory, first paint.

    .venv/bin/python tests/bench/bench_dashboard.py           # full size (about 4 minutes)
    .venv/bin/pytest tests/bench/bench_dashboard.py -q -s     # small sizes (about 40 s)

Every figure comes from a real child process (tests/bench/_pty_app.py) running the real app in
a pseudo-terminal (120x40, TERM=xterm-256color): `seedance-tui demo` (the simulator on
127.0.0.1, the real Engine, a ScaledClock) or `seedance-tui dashboard` over a store prepared
here. The bench reads everything the app writes to the terminal, samples the child's CPU time
(/proc/PID/stat) and resident memory (/proc/PID/status), and prints the figures next to the
targets. It never fails on a timing: figures go in the README.

1. terminal output while N live tasks are polled (target < 4 KiB/s over SSH; DESIGN.md: a naive
   1 Hz refresh of 50 cells costs ~22 KiB/s), averaged after a warm-up, with the bytes split by
   the part of the screen they went to (summary, table, log, footer);
2. idle CPU with 10,000 tracked tasks and nothing to do: every task finished, and polling paused
   (target < 1 % of one core);
3. resident memory with 10,000 and 100,000 tasks (target < 300 MB at 100,000);
4. first paint with 100,000 tasks: process start to the first frame showing the table header
   and a task id (informative; the table alone is measured in bench_table.py).

Children end with `q`, then SIGTERM, then SIGKILL (each after a timeout); none is left behind.
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
TRUECOLOR = os.environ.get("BENCH_TRUECOLOR") == "1"  # a local terminal that says COLORTERM

# Targets (the issue's), printed beside the figures.
TARGET_BYTES = 4 * KIB  # terminal output while polling, per second
TARGET_IDLE_CPU = 1.0  # % of one core
TARGET_RSS_100K = 300.0  # MB


# ------------------------------------------------------------------------------------------------
# the child in a pseudo-terminal


@dataclass
class PtyChild:
    """One app process on a pty; a thread drains the master side (a full pty would block it)."""

    proc: subprocess.Popen[bytes]
    master: int
    started: float  # time.monotonic() just before the process was started
    chunks: list[tuple[float, bytes]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _reader: threading.Thread | None = None
    ended_by: str = ""

    @property
    def pid(self) -> int:
        return self.proc.pid

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

    def output(self) -> bytes:
        with self._lock:
            return b"".join(data for _, data in self.chunks)

    def bytes_between(self, start: float, end: float) -> bytes:
        with self._lock:
            return b"".join(data for at, data in self.chunks if start <= at < end)

    def per_second(self, start: float, end: float) -> list[int]:
        """Bytes written in each whole second of [start, end)."""
        seconds = [0] * max(1, int(end - start))
        with self._lock:
            for at, data in self.chunks:
                if start <= at < end:
                    slot = min(len(seconds) - 1, int(at - start))
                    seconds[slot] += len(data)
        return seconds

    def wait_for(self, found: Callable[[bytes], bool], timeout: float) -> float | None:
        """Seconds from process start until `found(output so far)`; None on timeout or exit."""
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            with self._lock:
                count = len(self.chunks)
                last_at = self.chunks[-1][0] if self.chunks else None
            if count != seen:
                seen = count
                if found(self.output()):
                    return (last_at or time.monotonic()) - self.started
            if self.proc.poll() is not None:
                return None
            time.sleep(0.02)
        return None

    def stop(self) -> str:
        """`q`, then SIGTERM, then SIGKILL; reaps the child and closes the pty. Says which."""
        steps: list[tuple[str, Callable[[], None], float]] = [
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
            if self.proc.poll() is None:  # cannot happen after SIGKILL, but never leave one
                self.proc.kill()
                self.proc.wait()
            self._stop.set()
            if self._reader is not None:
                self._reader.join(5)
            with contextlib.suppress(OSError):
                os.close(self.master)
        return self.ended_by or "exited by itself"


@contextlib.contextmanager
def pty_child(args: list[str], folder: Path) -> Iterator[PtyChild]:
    """Start `_pty_app.py args` on a fresh 120x40 pty; always stopped on the way out."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLS, 0, 0))
    # What an SSH session passes on: TERM, not COLORTERM (so 256 colours, as Rich detects them).
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TEXTUAL", "PYTEST", "COLUMNS", "LINES", "COLORTERM", "NO_COLOR"))
    }
    if TRUECOLOR:
        env["COLORTERM"] = "truecolor"
    env.update(
        TERM="xterm-256color",
        COLUMNS=str(COLS),
        LINES=str(LINES),
        TMPDIR=str(folder),  # the demo's temp store lands here, removed with `folder`
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        PYTHONUNBUFFERED="1",
    )
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            [sys.executable, str(CHILD), *args],
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
    child._reader = threading.Thread(target=child._drain, name="pty-reader", daemon=True)
    child._reader.start()
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
    """VmRSS (resident now) and VmHWM (peak resident), in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0]) / 1024
    return out


def measure_cpu(child: PtyChild, seconds: float) -> tuple[float, float, float]:
    """(CPU % of one core over `seconds` of wall time, window start, window end)."""
    start, cpu0 = time.monotonic(), cpu_seconds(child.pid)
    time.sleep(seconds)
    end, cpu1 = time.monotonic(), cpu_seconds(child.pid)
    return (cpu1 - cpu0) / (end - start) * 100, start, end


# ------------------------------------------------------------------------------------------------
# what the bytes were spent on

_MOVE = re.compile(rb"\x1b\[(\d+);(\d+)H")


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
    parts: dict[str, int] = {}
    for row, count in bytes_by_row(data).items():
        label = next(
            (name for name, (top, bottom) in layout.items() if top <= row <= bottom), "other"
        )
        parts[label] = parts.get(label, 0) + count
    return parts


def read_layout(path: Path, timeout: float = 10.0) -> dict[str, list[int]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return json.loads(path.read_text())
        time.sleep(0.1)
    return {}


def _painted(header: bytes, id_marks: tuple[bytes, ...]) -> Callable[[bytes], bool]:
    """The table's header and at least one task id are on screen."""
    return lambda out: header in out and any(mark in out for mark in id_marks)


HEADER = "state▲".encode()  # the header of the sorted column (the default sort)
ID_MARKS = (b"asyntask_", b"video_", b"cgt-")


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
    live_tasks: int = 10_000
    live_seconds: float = 60.0
    warmup: float = 5.0
    speed: float = 20.0
    idle_tasks: int = 10_000
    idle_seconds: float = 30.0
    idle_finished: bool = True  # also measure the store where every task is finished
    big_tasks: int = 100_000
    big_settle: float = 5.0


def scenario_live(folder: Path, sizes: Sizes, out: dict[str, Any]) -> None:
    """`seedance-tui demo --tasks N`: polling N live tasks; terminal bytes per second."""
    layout_file = folder / "layout-live.json"
    args = ["demo", "--tasks", str(sizes.live_tasks), "--speed", str(sizes.speed)]
    with pty_child([*args, "--layout", str(layout_file)], folder) as child:
        paint = child.wait_for(_painted(HEADER, ID_MARKS), timeout=120)
        out["live first paint (s)"] = paint
        if paint is None:
            out["live ended by"] = child.stop()
            return
        time.sleep(sizes.warmup)
        layout = read_layout(layout_file)
        cpu, start, end = measure_cpu(child, sizes.live_seconds)
        data = child.bytes_between(start, end)
        seconds = child.per_second(start, end)
        out["live bytes/s"] = len(data) / (end - start)
        out["live bytes/s worst second"] = max(seconds)
        out["live bytes/s median second"] = sorted(seconds)[len(seconds) // 2]
        out["live window (s)"] = end - start
        out["live cpu %"] = cpu
        out["live parts"] = bytes_by_part(data, layout) if layout else {}
        out["live rows"] = bytes_by_row(data)
        out["live layout"] = layout
        out["live rss"] = memory_mb(child.pid)
        out["live ended by"] = child.stop()


def scenario_store(
    folder: Path,
    label: str,
    n: int,
    *,
    finished: bool,
    paused: bool,
    seconds: float,
    warmup: float,
    out: dict[str, Any],
) -> None:
    """`seedance-tui dashboard [--paused]` over a prepared store of `n` tasks: first paint,
    CPU and terminal bytes over `seconds` once settled, resident memory."""
    db = folder / f"{label}.db"
    out[f"{label} store prep (s)"] = prepare_store(db, n, finished=finished)
    layout_file = folder / f"layout-{label}.json"
    args = ["dashboard", "--db", str(db), "--dir", str(folder), "--layout", str(layout_file)]
    if paused:
        args.append("--paused")
    with pty_child(args, folder) as child:
        paint = child.wait_for(_painted(HEADER, ID_MARKS), timeout=120)
        out[f"{label} first paint (s)"] = paint
        if paint is None:
            out[f"{label} ended by"] = child.stop()
            return
        time.sleep(warmup)
        layout = read_layout(layout_file)
        out[f"{label} rss settled"] = memory_mb(child.pid)
        cpu, start, end = measure_cpu(child, seconds)
        data = child.bytes_between(start, end)
        out[f"{label} cpu %"] = cpu
        out[f"{label} window (s)"] = end - start
        out[f"{label} bytes/s"] = len(data) / (end - start)
        out[f"{label} parts"] = bytes_by_part(data, layout) if layout else {}
        out[f"{label} rss"] = memory_mb(child.pid)
        out[f"{label} ended by"] = child.stop()


def run(sizes: Sizes) -> dict[str, Any]:
    out: dict[str, Any] = {"sizes": sizes}
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        folder = Path(tmp)
        scenario_live(folder, sizes, out)
        if sizes.idle_finished:
            scenario_store(
                folder, "idle-finished", sizes.idle_tasks, finished=True, paused=False,
                seconds=sizes.idle_seconds, warmup=sizes.warmup, out=out,
            )  # fmt: skip
        scenario_store(
            folder, "idle-paused", sizes.idle_tasks, finished=False, paused=True,
            seconds=sizes.idle_seconds, warmup=sizes.warmup, out=out,
        )  # fmt: skip
        scenario_store(
            folder, "big", sizes.big_tasks, finished=False, paused=True,
            seconds=min(10.0, sizes.idle_seconds), warmup=sizes.big_settle, out=out,
        )  # fmt: skip
    return out


# ------------------------------------------------------------------------------------------------
# the report


def _num(value: float | None, unit: str, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f} {unit}"


def _parts(parts: dict[str, int], window: float) -> str:
    if not parts or not window:
        return ""
    order = sorted(parts.items(), key=lambda item: -item[1])
    return ", ".join(f"{name} {count / window / KIB:.2f}" for name, count in order)


def report(out: dict[str, Any]) -> str:
    s: Sizes = out["sizes"]
    rows: list[tuple[str, str, str]] = []

    def row(label: str, figure: str, target: str = "") -> None:
        rows.append((label, figure, target))

    live_bps = out.get("live bytes/s")
    row(
        f"terminal output, demo polling {s.live_tasks:,} tasks ({s.speed:g}x clock), "
        f"mean over {out.get('live window (s)', 0):.0f} s",
        _num(None if live_bps is None else live_bps / KIB, "KiB/s", 2),
        "< 4 KiB/s",
    )
    if live_bps is not None:
        row(
            "  median second / worst second",
            f"{out['live bytes/s median second'] / KIB:.2f} / "
            f"{out['live bytes/s worst second'] / KIB:.2f} KiB/s",
        )
        row("  by screen part (KiB/s)", _parts(out["live parts"], out["live window (s)"]))
        row("  CPU of the app process while polling", _num(out["live cpu %"], "% of a core"))
        row(
            f"  resident memory, demo with {s.live_tasks:,} tasks (+ simulator, video host)",
            _num(out["live rss"].get("VmRSS"), "MB"),
        )
    row(
        "  first paint (demo: builds the simulated batch first)",
        _num(out.get("live first paint (s)"), "s", 2),
    )
    for label, what in (
        ("idle-finished", f"{s.idle_tasks:,} tasks, all finished, polling on (nothing to do)"),
        ("idle-paused", f"{s.idle_tasks:,} tasks (30 % running), dashboard --paused"),
    ):
        if f"{label} cpu %" not in out:
            continue
        window = out[f"{label} window (s)"]
        row(
            f"idle CPU, {what}, over {window:.0f} s",
            _num(out[f"{label} cpu %"], "% of a core", 2),
            "< 1 %",
        )
        row(
            "  terminal output meanwhile",
            _num(out[f"{label} bytes/s"] / KIB, "KiB/s", 2)
            + (f" ({_parts(out[f'{label} parts'], window)})" if out[f"{label} parts"] else ""),
        )
        row(
            f"  resident memory, {s.idle_tasks:,} tasks",
            _num(out[f"{label} rss"].get("VmRSS"), "MB"),
        )
    if "big rss" in out:
        row(
            f"resident memory, {s.big_tasks:,} tasks (dashboard --paused)",
            _num(out["big rss"].get("VmRSS"), "MB"),
            "< 300 MB",
        )
        row("  peak resident (VmHWM)", _num(out["big rss"].get("VmHWM"), "MB"))
        row(
            f"  idle CPU with {s.big_tasks:,} tasks, over {out['big window (s)']:.0f} s",
            _num(out["big cpu %"], "% of a core", 2),
        )
    row(
        f"first paint, {s.big_tasks:,} tasks: process start to header + an id on screen",
        _num(out.get("big first paint (s)"), "s", 2),
        "informative",
    )
    if "idle-paused first paint (s)" in out:
        row(
            f"  the same with {s.idle_tasks:,} tasks",
            _num(out["idle-paused first paint (s)"], "s", 2),
        )
    ends = {k[: -len(" ended by")]: v for k, v in out.items() if k.endswith(" ended by")}
    row("children ended by", ", ".join(f"{k}: {v}" for k, v in ends.items()))
    width = max(len(label) for label, _, _ in rows)
    fig = max(len(figure) for _, figure, _ in rows if len(figure) < 40)
    lines = [
        f"dashboard bench: {COLS}x{LINES} pty, TERM=xterm-256color, python {sys.version.split()[0]}"
    ]
    lines.append(f"  {'measure':<{width}}  {'figure':>{fig}}  target")
    for label, figure, target in rows:
        lines.append(f"  {label:<{width}}  {figure:>{fig}}  {target}".rstrip())
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# entry points


@pytest.mark.bench
@pytest.mark.timeout(180)
def test_bench_dashboard() -> None:
    sizes = Sizes(
        live_tasks=5_000,
        live_seconds=10.0,
        warmup=3.0,
        idle_tasks=5_000,
        idle_seconds=6.0,
        idle_finished=False,
        big_tasks=20_000,
        big_settle=2.0,
    )
    out = run(sizes)
    print("\n" + report(out))
    # Not timings: the facts the figures stand on (the app painted and wrote; nobody was left).
    assert out["live first paint (s)"] is not None
    assert out["live bytes/s"] > 0
    assert out["big first paint (s)"] is not None
    assert out["big rss"]["VmRSS"] > 0
    assert "SIGKILL" not in {v for k, v in out.items() if k.endswith(" ended by")}


def main() -> None:
    parser = argparse.ArgumentParser(description="the dashboard in a real pty: prints figures")
    parser.add_argument("--live-tasks", type=int, default=10_000)
    parser.add_argument("--live-seconds", type=float, default=60.0)
    parser.add_argument("--speed", type=float, default=20.0)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--big-tasks", type=int, default=100_000)
    args = parser.parse_args()
    sizes = Sizes(
        live_tasks=args.live_tasks,
        live_seconds=args.live_seconds,
        speed=args.speed,
        idle_seconds=args.idle_seconds,
        big_tasks=args.big_tasks,
    )
    print(report(run(sizes)))


if __name__ == "__main__":
    main()
