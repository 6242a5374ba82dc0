"""The helpers that exist once so that every caller agrees: atomic writes, jitter, text width."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tui.core.atomic import write_atomic, write_text_atomic
from tui.core.jitter import EQUAL, FULL, NUDGE, jittered
from tui.core.text_width import cell_width, cut, fit


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    write_text_atomic(target, "new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_atomic_write_keeps_old_content_and_removes_temp_on_error(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")

    def boom(handle: object) -> None:
        handle.write("half")  # type: ignore[attr-defined]
        raise RuntimeError("disk said no")

    with pytest.raises(RuntimeError):
        write_atomic(target, boom)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_atomic_write_sets_the_mode_exactly(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        write_text_atomic(tmp_path / "key.toml", "k", mode=0o600)
    finally:
        os.umask(old)
    assert (tmp_path / "key.toml").stat().st_mode & 0o777 == 0o600


def test_atomic_write_returns_what_the_writer_returned(tmp_path: Path) -> None:
    assert write_atomic(tmp_path / "b", lambda h: h.write(b"abc"), text=False) == 3
    assert (tmp_path / "b").read_bytes() == b"abc"


@pytest.mark.parametrize(
    ("spread", "low", "high"), [(FULL, 0, 10), (EQUAL, 5, 10), (NUDGE, 10, 11)]
)
def test_jitter_stays_inside_its_shape(
    spread: tuple[float, float], low: float, high: float
) -> None:
    rng = random.Random(4)
    draws = [jittered(10.0, rng, spread) for _ in range(500)]
    assert all(low <= d <= high for d in draws)
    assert max(draws) - min(draws) > (high - low) / 2  # it does spread


def test_text_width_counts_cells() -> None:
    assert cell_width("abc") == 3
    assert cell_width("内部错误") == 8
    assert cell_width("e\u0301") == 1


def test_fit_pads_cuts_and_never_splits_a_wide_glyph() -> None:
    assert fit("abc", 5) == "abc  "
    assert fit("abc", 5, align="right") == "  abc"
    assert fit("abcdef", 4) == "abc…"
    assert fit("内部错误", 4) == "内… "  # 2 + 1 cells, padded to 4
    assert cell_width(fit("内部错误xyz", 7)) == 7
    assert fit("asyntask_0000000001", 9, middle=True) == "asyn…0001"
    assert cut("abc", 1) == "…"
    assert fit("abc", 0) == ""
