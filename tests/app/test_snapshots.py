"""Snapshot tests of the README's screens (pytest-textual-snapshot), at 120x40 and 80x24.

The screens are `tui.app.screenshots.SHOTS`: the real dashboard over the simulator, clock
frozen, seed fixed, reached with keys. The stored SVGs live in `__snapshots__/test_snapshots/`;
after a deliberate change to the look, review the report and run
`pytest tests/app/test_snapshots.py --snapshot-update`, then `make screenshots`.

These tests are plain functions, not coroutines: `snap_compare` runs the app in its own loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tui.app.screenshots import SHOTS, SIZES, Shot, pinned_timezone, shot_app

REPO = Path(__file__).resolve().parents[2]
STORED = Path(__file__).with_name("__snapshots__") / Path(__file__).stem
CASES = [
    pytest.param(shot, size, id=f"{shot.name}{suffix}")
    for shot in SHOTS
    for suffix, size in SIZES.items()
]
NAMES = [f"{shot.name}{suffix}" for shot in SHOTS for suffix in SIZES]


@pytest.fixture(autouse=True)
def utc_local_time() -> Iterator[None]:
    """The detail pane and the log draw local times: the snapshots are taken in UTC."""
    with pinned_timezone():
        yield


@pytest.mark.parametrize(("shot", "size"), CASES)
def test_screen(snap_compare, shot: Shot, size: tuple[int, int]) -> None:
    with shot_app(shot) as app:
        assert snap_compare(app, terminal_size=size, run_before=shot.prepare)


@pytest.mark.parametrize("name", NAMES)
def test_readme_screenshots_are_the_snapshots(name: str) -> None:
    """`make screenshots` writes exactly what the snapshots hold: when a snapshot is updated,
    the README's picture must be rendered again."""
    stored = STORED / f"test_screen[{name}].svg"
    picture = REPO / "screenshots" / f"{name}.svg"
    assert stored.is_file(), f"no snapshot {stored.name}: run pytest --snapshot-update"
    assert picture.is_file(), f"screenshots/{name}.svg is missing: run make screenshots"
    assert picture.read_text("utf-8") == stored.read_text("utf-8"), (
        f"screenshots/{name}.svg differs from its snapshot: run make screenshots"
    )
