"""The terminal shows what the dashboard means, after many partial updates.

The dashboard sends only the cells that change (tui.app.lean_updates, widgets/line_diff.py).
A mistake there leaves stale cells on the user's screen that no screenshot test can see, since
screenshots are drawn from the widgets, not from the bytes. So these tests keep every byte the
app writes (a driver that records instead of discarding), replay them into a terminal emulator
(pyte), and compare that terminal, cell by cell (character, colours, bold, reverse), with a
fresh terminal that received a single full repaint of the same screen.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pyte
import pytest
from conftest import at, settle
from rich.color import ColorSystem
from rich.console import Console
from rich.control import Control
from rich.style import Style
from textual.drivers.headless_driver import HeadlessDriver
from textual.strip import Strip

from tui.app.feeds import FeedBatch
from tui.core.model import Event, Failure, State, Task, Tokens

SIZE = (120, 40)


class RecordingDriver(HeadlessDriver):
    """A headless driver that keeps what the app writes, as a terminal would receive it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.written: list[str] = []

    @property
    def is_headless(self) -> bool:
        return False  # so the app renders its frames to text and writes them

    def write(self, data: str) -> None:
        self.written.append(data)


Cell = tuple[str, str, str, bool, bool]


def replay(writes: list[str], size: tuple[int, int] = SIZE) -> list[list[Cell]]:
    """The screen of a terminal that received `writes`: each cell's character and looks."""
    screen = pyte.Screen(*size)
    stream = pyte.Stream(screen)
    for data in writes:
        stream.feed(data)
    return [
        [
            (cell.data, cell.fg, cell.bg, cell.bold, cell.reverse)
            for cell in (screen.buffer[y][x] for x in range(size[0]))
        ]
        for y in range(size[1])
    ]


def differences(seen: list[list[Cell]], fresh: list[list[Cell]]) -> list[str]:
    """Cells where the incrementally updated terminal differs from a full repaint."""
    out = []
    for y, (a, b) in enumerate(zip(seen, fresh, strict=True)):
        for x, (cell_a, cell_b) in enumerate(zip(a, b, strict=True)):
            if cell_a != cell_b:
                out.append(f"row {y} col {x}: shows {cell_a}, should show {cell_b}")
    return out


def batch_of(n: int) -> list[Task]:
    """`n` running tasks of two providers, in several models."""
    return [
        Task(
            "kyy" if i % 3 else "anyfast",
            f"video_{i:05d}" if i % 3 else f"asyntask_{i:05d}",
            state=State.RUNNING if i % 4 else State.QUEUED,
            model=("seedance_2_0", "seedance_2_0_fast", "doubao-seedance-1-5-pro")[i % 3],
            progress=(i * 7) % 90,
            created_at=at(-600 + i),
            polls=1,
            last_polled_at=at(-30),
        )
        for i in range(n)
    ]


def progressed(tasks: list[Task], step: int) -> dict[tuple[str, str], Task]:
    """One second of a live batch: some tasks move on, some finish, one fails in Chinese."""
    changed: dict[tuple[str, str], Task] = {}
    for i, task in enumerate(tasks):
        if (i + step) % 5:
            continue
        if task.state is State.QUEUED:
            task = dataclasses.replace(task, state=State.RUNNING, progress=0)
        elif (i * step) % 7 == 0:
            task = dataclasses.replace(
                task,
                state=State.SUCCEEDED,
                progress=100,
                finished_at=at(step),
                duration=5,
                resolution="480p",
                super_resolution="720p" if i % 2 else None,
                tokens=Tokens(total=10_000 + i),
            )
        elif (i * step) % 11 == 0:
            failure = Failure("OutputVideoSensitiveContentDetected", "视频可能包含敏感内容 [/]")
            task = dataclasses.replace(task, state=State.FAILED, failure=failure)
        else:
            task = dataclasses.replace(task, progress=min(99, (task.progress or 0) + 9))
        tasks[i] = task
        changed[task.key] = task
    return changed


def recording_app(make_dash: Any, tasks: list[Task]) -> Any:
    """The dashboard over `tasks`, keeping what it writes (run it with headless=False)."""
    app = make_dash(tasks).app
    app.driver_class = RecordingDriver
    return app


async def started(pilot: Any) -> RecordingDriver:
    """The app's recording driver, once the first frames are written."""
    driver = pilot.app._driver
    assert isinstance(driver, RecordingDriver)
    await drawn(pilot, driver)
    return driver


async def drawn(pilot: Any, driver: RecordingDriver) -> None:
    """Wait until the app has written everything it had to (nothing new for 0.2 s)."""
    count = -1
    while count != len(driver.written):
        count = len(driver.written)
        await settle(pilot)


def sgr(style: Style, color_system: ColorSystem) -> str:
    """Every code of `style`, computed afresh (Rich caches a style's codes on the style for
    the first colour system it met, and a test process has several apps)."""
    attributes = style.without_color.render("x", color_system=color_system)
    params = [attributes[2 : attributes.index("m")]] if attributes.startswith("\x1b[") else []
    if style.color is not None:
        params += style.color.downgrade(color_system).get_ansi_codes()
    if style.bgcolor is not None:
        params += style.bgcolor.downgrade(color_system).get_ansi_codes(foreground=False)
    return f"\x1b[{';'.join(params)}m" if params else ""


def plain_render(strip: Strip, console: Console) -> str:
    """A strip the plain way: every run of text with all its codes, then a reset."""
    color_system = console._color_system
    return "".join(
        f"{sgr(style, color_system)}{text}\x1b[0m" if style and color_system else text
        for text, style, _ in strip
    )


@pytest.fixture(autouse=True)
def uncached_strip_render(monkeypatch: pytest.MonkeyPatch) -> None:
    """Textual caches a strip's rendering on the strip, and some strips (blank lines) are
    shared by every app in the process: render the full repaints afresh too."""
    monkeypatch.setattr(Strip, "render", plain_render)


def full_repaint(app: Any) -> list[str]:
    """The screen as one full repaint (a cursor move and the plain rendering of each line):
    what a terminal needs to show it from nothing."""
    frame = []
    for y, strip in enumerate(app.screen._compositor.render_strips()):
        frame += [Control.move_to(0, y).segment.text, plain_render(strip, app.console)]
    return frame


async def test_after_a_live_batch_the_terminal_shows_exactly_the_dashboard(make_dash) -> None:
    tasks = batch_of(400)
    app = recording_app(make_dash, tasks)
    async with app.run_test(headless=False, size=SIZE) as pilot:
        driver = await started(pilot)
        for step in range(1, 16):
            changed = progressed(tasks, step)
            events = [
                Event("state", key[0], key[1], data={"from": "running", "to": str(t.state)})
                for key, t in list(changed.items())[:6]
            ]
            app.apply_batch(FeedBatch(tasks=changed, events=events))
            if step == 5:
                await pilot.press("j", "j", "j")  # the cursor moves: follow mode is on
            if step == 9:
                await pilot.press("pagedown")
            if step == 12:
                await pilot.press("s")  # another sort: every row changes
            await settle(pilot)
        await drawn(pilot, driver)
        seen = replay(driver.written)
        fresh = replay(full_repaint(app))
    problems = differences(seen, fresh)
    assert not problems, "\n".join(problems[:20])
    text = "\n".join("".join(cell[0] for cell in row) for row in seen)
    assert "succeeded" in text and "failed" in text  # the batch did move on screen


async def test_partial_updates_send_a_fraction_of_full_repaints(make_dash) -> None:
    """The reason for all this: a second of a live batch costs far less than a repaint."""
    tasks = batch_of(400)
    app = recording_app(make_dash, tasks)
    async with app.run_test(headless=False, size=SIZE) as pilot:
        driver = await started(pilot)
        mark = len(driver.written)
        for step in range(1, 11):
            app.apply_batch(FeedBatch(tasks=progressed(tasks, step)))
            await settle(pilot)
        await drawn(pilot, driver)
        partial = sum(len(data.encode()) for data in driver.written[mark:]) / 10
        repaint = sum(len(data.encode()) for data in full_repaint(app))
    assert partial < repaint / 4, (partial, repaint)
