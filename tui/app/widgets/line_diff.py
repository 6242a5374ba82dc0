"""Which cells of a line changed: so a widget repaints only those (over SSH, bytes are the cost).

A widget that knows what it last drew on a line (`DrawnLines`) compares it with what it would
draw now (`changed_spans`) and refreshes only the regions that cover the difference
(`DrawnLines.repaint`). With
`tui.app.lean_updates` installed, only that region's cells reach the terminal: a counter that
went from 9,778 to 9,770 costs a cursor move and two characters, not the line.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

Cell = tuple[str, Style | None]


def _cells(strip: Strip) -> list[Cell]:
    """A strip cell by cell: the second cell of a wide character is ("", style), a zero-width
    character joins the cell before it."""
    cells: list[Cell] = []
    for segment in strip:
        text, style = segment.text, segment.style
        if text.isascii():
            cells += [(char, style) for char in text]
            continue
        for char in text:
            width = cell_len(char)
            if width == 0 and cells:
                cells[-1] = (cells[-1][0] + char, cells[-1][1])
            elif width:
                cells.append((char, style))
                if width == 2:
                    cells.append(("", style))
    return cells


GAP = 24
"""Unchanged cells between two changes that are sent anyway rather than skipped: a cursor move
and the colour codes that follow it cost about as much as 24 plain cells."""


def changed_spans(old: Strip | None, new: Strip, gap: int = GAP) -> list[tuple[int, int]]:
    """The runs of cells [start, end) where `new` differs from `old`, left to right; runs fewer
    than `gap` cells apart are one run. Empty when the lines look the same.

    A line never drawn (no `old`) is one run over the whole line. A run never starts or ends
    inside a wide character.
    """
    width = new.cell_length
    if old is None or old.cell_length != width:
        end = max(width, 0 if old is None else old.cell_length)
        return [(0, end)] if end else []
    if old is new or list(old) == list(new):
        return []
    before, after = _cells(old), _cells(new)
    runs: list[tuple[int, int]] = []
    x = 0
    while x < width:
        if before[x] == after[x]:
            x += 1
            continue
        start = x
        while x < width and before[x] != after[x]:
            x += 1
        while start > 0 and (after[start][0] == "" or before[start][0] == ""):
            start -= 1  # the second half of a wide character: start at its first half
        while x < width and (after[x][0] == "" or before[x][0] == ""):
            x += 1  # ends inside a wide character: take its second half too
        if runs and start - runs[-1][1] < gap:
            start = runs.pop()[0]
        runs.append((start, x))
    return runs


class DrawnLines:
    """What a widget last sent to each of its screen lines, to diff the next frame against."""

    def __init__(self) -> None:
        self._lines: dict[int, Strip] = {}

    def drawn(self, y: int, strip: Strip) -> Strip:
        """Remember `strip` as drawn on line `y` (call from `render_line`); returns it."""
        self._lines[y] = strip
        return strip

    def repaint(self, widget: Widget, y: int, strip: Strip) -> bool:
        """Refresh the runs of cells of `widget`'s line `y` that drawing `strip` there would
        change; returns whether there were any."""
        spans = changed_spans(self._lines.get(y), strip)
        if spans:  # content coordinates, as `Widget.refresh` takes them
            widget.refresh(*(Region(start, y, end - start, 1) for start, end in spans))
        return bool(spans)

    def forget(self) -> None:
        """Every line must be drawn whole next time (a resize, a new theme)."""
        self._lines.clear()
