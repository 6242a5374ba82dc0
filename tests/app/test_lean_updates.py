"""What a partial update sends to the terminal (tui.app.lean_updates), read back by a terminal
emulator (pyte): only the changed cells, in the right colours, the rest of the line untouched."""

from __future__ import annotations

import io

import pyte
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual._compositor import ChopsUpdate
from textual.strip import Strip

from tui.app.lean_updates import char_boundary, install

install()

RED = Style(color="red")
BOLD_ON_BLUE = Style(bold=True, color="bright_white", bgcolor="blue")
WIDTH = 30


def update(strips: dict[int, Strip], span: tuple[int, int]) -> str:
    """What one line's partial update writes, for chops starting at the given x offsets."""
    ends = [*sorted(strips)[1:], WIDTH]
    chops = ChopsUpdate([strips], [(0, *span)], [ends])
    console = Console(file=io.StringIO(), force_terminal=True, color_system="256", width=WIDTH)
    return chops.render_segments(console)


def terminal(*writes: str) -> pyte.Screen:
    """A 30x2 terminal that received `writes`; it starts filled with dots, so a cell the update
    did not write still shows its dot."""
    screen = pyte.Screen(WIDTH, 2)
    stream = pyte.Stream(screen)
    stream.feed("." * WIDTH)
    for data in writes:
        stream.feed(data)
    return screen


def test_a_cell_at_the_right_is_sent_without_the_cells_before_it() -> None:
    row = Strip([Segment("task-000001  ", None), Segment("running", RED), Segment("  12:00:05")])
    out = update({0: row}, (22, 30))
    assert "task-000001" not in out and "running" not in out
    assert terminal(out).display[0] == "." * 22 + "12:00:05"


def test_a_span_inside_a_styled_segment_keeps_its_style() -> None:
    row = Strip([Segment("0123456789", RED), Segment("abc", BOLD_ON_BLUE)])
    screen = terminal(update({0: row}, (4, 12)))
    assert screen.display[0][:13] == "....456789ab."
    line = screen.buffer[0]
    assert [line[x].fg for x in (4, 9)] == ["red", "red"]
    assert (line[10].fg, line[10].bg, line[10].bold) == ("brightwhite", "blue", True)
    assert (line[3].fg, line[3].bold) == ("default", False)


def test_colours_are_written_only_when_they_change() -> None:
    """A table row: cells in two colours on one background, then a bold one."""
    dim = Style(color="color(246)", bgcolor="color(16)")  # as a 256-colour theme draws them
    text = Style(color="color(188)", bgcolor="color(16)")
    styles = [dim, text, dim, text, BOLD_ON_BLUE, text]
    cells = [Segment(f"{n:<5}", style) for n, style in enumerate(styles)]
    naive = sum(len(segment.style.render(segment.text)) for segment in cells)
    out = update({0: Strip(cells)}, (0, 30))
    assert len(out) < naive * 0.8  # the background is written once, not six times
    screen = terminal(out)
    assert screen.display[0] == "".join(segment.text for segment in cells)
    line = screen.buffer[0]
    assert [(line[x].fg, line[x].bg, line[x].bold) for x in (0, 5, 20, 25)] == [
        ("949494", "000000", False),
        ("d7d7d7", "000000", False),
        ("brightwhite", "blue", True),
        ("d7d7d7", "000000", False),
    ]


def test_the_terminal_is_left_with_default_colours() -> None:
    out = update({0: Strip([Segment("abc", BOLD_ON_BLUE)])}, (0, 3))
    screen = terminal(out, "\x1b[2;1Hplain")
    cell = screen.buffer[1][0]
    assert (cell.data, cell.fg, cell.bg, cell.bold) == ("p", "default", "default", False)


def test_a_whole_line_is_unchanged() -> None:
    row = Strip([Segment("abc"), Segment("def", RED)])
    assert terminal(update({0: row}, (0, 6))).display[0][:7] == "abcdef."


def test_a_second_widget_on_the_line_is_cropped_from_its_own_start() -> None:
    left, right = Strip([Segment("LEFT----")]), Strip([Segment("right-pane")])
    out = update({0: left, 8: right}, (12, 15))
    assert "LEFT" not in out
    assert terminal(out).display[0][10:17] == "..t-p.."


def test_a_wide_character_is_never_cut_in_half() -> None:
    row = Strip([Segment("ab失败xy")])  # 失 and 败 take two cells each: cells 2-3 and 4-5
    assert char_boundary(row, 3) == 2
    assert char_boundary(row, 4) == 4
    assert "失败xy" in update({0: row}, (3, 8))


def test_another_textual_version_keeps_the_stock_method_and_says_so(caplog) -> None:
    """A private method may change in any release: on a version the patch was not written
    for, Textual draws its own partial updates (more bytes, never a wrong screen)."""
    from tui.app import lean_updates

    lean_updates.uninstall()
    try:
        stock = ChopsUpdate.render_segments
        with caplog.at_level("WARNING", logger="tui.app.lean_updates"):
            assert lean_updates.install("8.3.0") is False
        assert ChopsUpdate.render_segments is stock
        assert not lean_updates.installed()
        assert "Textual 8.3.0" in caplog.text and "8.2.8" in caplog.text
    finally:
        assert lean_updates.install()  # the installed version (8.2.8): patched again


def test_the_version_it_was_written_for_gets_the_lean_method() -> None:
    from tui.app import lean_updates

    lean_updates.uninstall()
    assert ChopsUpdate.render_segments is not lean_updates.render_segments
    assert lean_updates.install("8.2.8") is True
    assert ChopsUpdate.render_segments is lean_updates.render_segments
    assert lean_updates.textual_version() in lean_updates.PATCHED_VERSIONS


def test_importing_the_module_patches_nothing() -> None:
    """Only `install()` (called by the builder) patches; importing is free of side effects."""
    import subprocess
    import sys

    code = (
        "from textual._compositor import ChopsUpdate\n"
        "stock = ChopsUpdate.render_segments\n"
        "import tui.app.lean_updates, tui.app.app\n"
        "assert ChopsUpdate.render_segments is stock\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
