"""`python -m tui.app.screenshots DIR` (`make screenshots`): the README's pictures, as SVG.

Every screen comes from the demo (`tui.app.demo`): the real dashboard over the built-in
simulator, with a frozen clock, a fixed seed and every task polled once before the app opens;
the engine is paused and downloads are off, so nothing moves after the first frame. Each screen
is reached the way a user gets there (keys), and the same bytes come out on every run.

The snapshot tests (`tests/app/test_snapshots.py`) run the very same `Shot`s through
pytest-textual-snapshot, and the files written here are byte for byte the snapshots it stores
(same export, same id normalisation), so a test can tell when the README's pictures are stale.

Written to DIR, at 120x40 and, with a `-80x24` suffix, at the smallest supported size:

- `batch.svg`: a batch in progress (summary, the table, the log);
- `failures.svg`: `f`, the failures grouped by code and message, biggest group first;
- `failed-detail.svg`: in the failures view, the `InvalidParameter` group, enter (the table
  filtered to it), enter (the first task's detail), `w` and arrow keys down to the failure:
  code, message, what it means, the history and the raw JSON body;
- `light.svg`: the batch in the bundled `seedance-light` theme (`[ui] theme`).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.app.demo import DemoSession
from tui.app.themes import DEFAULT_THEME, bundled_theme_dirs
from tui.app.widgets.summary import SummaryBar
from tui.core import APP_NAME
from tui.core.clock import FrozenClock
from tui.core.config import UIConfig

if TYPE_CHECKING:
    from textual.pilot import Pilot

    from tui.app.app import SeedanceApp

T0 = 1_777_288_500.0  # 2026-04-27 11:15:00 UTC: the frozen "now" of every picture
SEED = 9  # at T0 this batch already has failures of every kind (seed 7 has no InvalidParameter)
TASKS = 300
TITLE = APP_NAME  # the window title drawn in the SVG (the app's TITLE)
TIMEZONE = "UTC"  # the detail pane and the log show local times: pin the zone
SIZES: dict[str, tuple[int, int]] = {"": (120, 40), "-80x24": (80, 24)}
FAILURE_CODE = "InvalidParameter"  # the failed task shown in detail: a failure that is clear
READY_TIMEOUT = 15.0  # seconds the dashboard may take to reach its still picture

Steps = Callable[["Pilot[Any]"], Awaitable[None]]


# -- reaching the screens ---------------------------------------------------------------------


async def wait_ready(pilot: Pilot[Any]) -> None:
    """Wait for the first complete picture: the summary shows every provider's health (its
    very first draw says `idle`, before the engine has started) on all of its lines."""
    app: SeedanceApp = pilot.app  # type: ignore[assignment]
    deadline = time.monotonic() + READY_TIMEOUT
    text, rows, lines = "", 0, 0
    while True:
        found = app.screen_stack[0].query(SummaryBar) if app.screen_stack else ()
        summary = next(iter(found), None)
        if summary is not None and summary.is_mounted:  # the pilot starts before the screen
            text = summary.text
            rows, lines = summary.size.height, text.count("\n") + 1
            if text and " idle" not in text and rows >= lines:
                break
        if time.monotonic() > deadline:
            raise TimeoutError(f"the dashboard did not settle: {rows} rows for {text!r}")
        await pilot.pause(0.05)
    await pilot.pause()


async def settle(pilot: Pilot[Any]) -> None:
    """Wait until what the last keys started is drawn (the detail body is highlighted in a
    thread worker)."""
    app: SeedanceApp = pilot.app  # type: ignore[assignment]
    deadline = time.monotonic() + READY_TIMEOUT
    while any(w.group == "detail-body" and not w.is_finished for w in app.workers):
        if time.monotonic() > deadline:
            raise TimeoutError("the detail pane's body did not render")
        await pilot.pause(0.05)
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()


async def open_failures(pilot: Pilot[Any]) -> None:
    await pilot.press("f")
    await settle(pilot)  # the first grouping runs in a thread


async def open_failed_detail(pilot: Pilot[Any]) -> None:
    """`f`, down to the `InvalidParameter` group, enter, enter, then `w` (focus the detail
    pane) and down to its failure section: what a user does to see why those tasks failed."""
    app: SeedanceApp = pilot.app  # type: ignore[assignment]
    await pilot.press("f")
    await settle(pilot)  # the first grouping runs in a thread
    labels = [group.title for group in app.failures.groups]
    wanted = next((i for i, label in enumerate(labels) if label.startswith(FAILURE_CODE)), None)
    if wanted is None:
        raise LookupError(f"no {FAILURE_CODE} failure in the demo batch: {labels}")
    await pilot.press(*["down"] * wanted, "enter")
    await pilot.pause()
    await pilot.press("enter")
    await settle(pilot)
    await pilot.press("w")
    await pilot.pause()
    heading = app.detail.query_one("#failure-head")
    await pilot.press(*["down"] * max(0, heading.virtual_region.y - round(app.detail.scroll_y)))


@dataclass(frozen=True)
class Shot:
    """One picture: its file stem, the theme, and the keys that lead there."""

    name: str
    about: str
    theme: str = DEFAULT_THEME
    steps: Steps | None = None

    async def prepare(self, pilot: Pilot[Any]) -> None:
        """The `run_before` hook: wait for the first complete picture, then go there."""
        await wait_ready(pilot)
        if self.steps is not None:
            await self.steps(pilot)
        await settle(pilot)


SHOTS: tuple[Shot, ...] = (
    Shot("batch", "a batch in progress"),
    Shot("failures", "failures grouped by reason (f)", steps=open_failures),
    Shot("failed-detail", "why a task failed (f, enter, enter)", steps=open_failed_detail),
    Shot("light", "the batch in the seedance-light theme", theme="seedance-light"),
)


# -- the demo, frozen ---------------------------------------------------------------------------


def demo_session(theme: str = DEFAULT_THEME) -> DemoSession:
    """A demo that draws the same screen on every run: every task polled once before the app
    opens (one provider after another), paused, downloads off."""
    return DemoSession(
        tasks=TASKS,
        seed=SEED,
        clock=FrozenClock(T0),
        prefill=True,
        reuse_prefill=True,  # every shot starts from the same polled store: poll it once
        ui=UIConfig(theme=theme),
        # the bundled themes only: a user's own `seedance-light.toml` must not restyle these
        app_options={"watch_terminal": False, "theme_dirs": bundled_theme_dirs()},
    )


@contextmanager
def shot_app(shot: Shot) -> Iterator[SeedanceApp]:
    """The app for `shot`, not yet running; the demo is torn down afterwards."""
    session = demo_session(shot.theme)
    try:
        yield session.build()
    finally:
        if session.app is not None and session.app.feed.lock is not None:
            session.app.feed.lock.release()
        session.close()


@contextmanager
def pinned_timezone(name: str = TIMEZONE) -> Iterator[None]:
    """Local times drawn in `name` whatever the machine's zone (restored afterwards)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def stable_svg(svg: str) -> str:
    """Rich prefixes the SVG's CSS classes and clip paths with a hash of the frame; drop it,
    as pytest-textual-snapshot does before it stores a snapshot."""
    return re.sub(r"\bterminal-\d+-([\w-]+)", r"terminal-\1", svg)


def render(shot: Shot, size: tuple[int, int]) -> str:
    """Run the demo headless at `size`, reach the shot's screen, return its SVG.

    After `prepare`, the same waits and the same export as pytest-textual-snapshot's
    `snap_compare`, so both draw the same picture."""
    with shot_app(shot) as app:

        async def auto_pilot(pilot: Pilot[Any]) -> None:
            await shot.prepare(pilot)
            await pilot.pause()
            await pilot.wait_for_scheduled_animations()
            await pilot.pause()
            await pilot.pause()
            await pilot.wait_for_scheduled_animations()
            shots.append(app.export_screenshot(title=TITLE, simplify=True))
            app.exit()

        shots: list[str] = []
        app.run(headless=True, size=size, auto_pilot=auto_pilot)
    svg = shots[0] if shots else None
    if not isinstance(svg, str):
        raise RuntimeError(f"{shot.name}: the dashboard exited without a screenshot")
    return stable_svg(svg)


def write_all(directory: Path) -> list[Path]:
    """Every shot at every size into `directory`; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    with pinned_timezone():
        for shot in SHOTS:
            for suffix, size in SIZES.items():
                path = directory / f"{shot.name}{suffix}.svg"
                path.write_text(render(shot, size), encoding="utf-8")
                written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tui.app.screenshots",
        description="Render the README's screenshots (SVG) from the simulator, clock frozen.",
    )
    parser.add_argument("directory", type=Path, help="where to write the .svg files")
    args = parser.parse_args(argv)
    for path in write_all(args.directory):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
