"""The child process of bench_dashboard.py: the real dashboard, started the way users start it.

    python tests/bench/_pty_app.py demo --tasks 10000 [--speed 20] [--paused] [--layout FILE]
    python tests/bench/_pty_app.py dashboard --db PATH --dir DIR [--paused] [--layout FILE]

`demo` is `seedance-tui demo --tasks N` (tui.app.demo.DemoSession: the simulator and the video
host on 127.0.0.1, a temp store, the real Engine, a ScaledClock). `dashboard` is
`seedance-tui dashboard [--paused]` (tui.app.build.run_dashboard) over a store the bench prepared,
with the demo's config (tui.app.demo.demo_config) pointing at a Simulator started here.

Nothing here changes what the app does. `--layout FILE` only reads where the summary, the table,
the log and the footer sit on screen (once, from another thread, through `call_from_thread`)
so the bench can say which part of the screen the terminal bytes went to.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import signal
import termios
import threading
import time
from pathlib import Path
from typing import Any

# Widgets whose screen rows the bench attributes terminal bytes to (CSS selector -> label).
LAYOUT_WIDGETS = {
    "#summary": "summary",
    "#left": "table",
    "#log": "log",
    "Footer": "footer",
}


def _layout(app: Any) -> dict[str, list[int]]:
    """{label: [first screen row, last screen row]} (0-based), read in the app's thread."""
    out: dict[str, list[int]] = {}
    for selector, label in LAYOUT_WIDGETS.items():
        try:
            region = app.dashboard.query_one(selector).region
        except Exception:
            continue
        if region.height:
            out[label] = [region.y, region.y + region.height - 1]
    return out


def _write_layout_later(app: Any, path: Path, delay: float = 4.0) -> None:
    """After the first frames, record the widgets' rows (a daemon thread; never blocks exit)."""

    def run() -> None:
        deadline = time.monotonic() + 120
        time.sleep(delay)
        while time.monotonic() < deadline:
            try:
                layout = app.call_from_thread(_layout, app)
            except Exception:  # not running yet (a big store still loading) or gone
                time.sleep(0.5)
                continue
            if layout:
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps(layout))
                os.replace(tmp, path)
                return
            time.sleep(0.5)

    threading.Thread(target=run, name="bench-layout", daemon=True).start()


def run_demo_child(tasks: int, speed: float, paused: bool, layout: Path | None) -> int:
    """`seedance-tui demo --tasks N`, as run_demo does it (plus `paused`)."""
    from tui.app.demo import DemoSession

    with DemoSession(tasks=tasks, speed=speed, paused=paused) as session:
        app = session.build()
        if layout is not None:
            _write_layout_later(app, layout)
        app.run()
        return app.return_code or 0


def run_dashboard_child(db: Path, folder: Path, paused: bool, layout: Path | None) -> int:
    """`seedance-tui dashboard [--paused]` over a prepared store; providers at a simulator."""
    import tui.app.app as app_module
    from tui.app.build import run_dashboard
    from tui.app.demo import demo_config
    from tui.sim import Simulator

    if layout is not None:  # observe the app run_dashboard builds, without changing it
        original = app_module.SeedanceApp.run

        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            _write_layout_later(self, layout)
            return original(self, *args, **kwargs)

        app_module.SeedanceApp.run = run  # type: ignore[method-assign]

    with Simulator(seed=7) as sim:
        config = demo_config(sim, folder / "videos")
        return run_dashboard(db, config, paused=paused, theme_save_path=folder / "config.toml")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    demo = sub.add_parser("demo")
    demo.add_argument("--tasks", type=int, default=10_000)
    demo.add_argument("--speed", type=float, default=20.0)
    demo.add_argument("--paused", action="store_true")
    demo.add_argument("--layout", type=Path)
    board = sub.add_parser("dashboard")
    board.add_argument("--db", type=Path, required=True)
    board.add_argument("--dir", type=Path, required=True)
    board.add_argument("--paused", action="store_true")
    board.add_argument("--layout", type=Path)
    args = parser.parse_args()
    # A user's shell starts the dashboard with Ctrl-C at its default; a bench run in the
    # background (`make bench &`) would hand SIGINT down ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # Started in a session of its own (start_new_session): make the pty our controlling
    # terminal, as a login shell's child would have it (SIGHUP when it goes away, SIGWINCH).
    if os.isatty(0):
        with contextlib.suppress(OSError):
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    if args.mode == "demo":
        return run_demo_child(args.tasks, args.speed, args.paused, args.layout)
    return run_dashboard_child(args.db, args.dir, args.paused, args.layout)


if __name__ == "__main__":
    raise SystemExit(main())
