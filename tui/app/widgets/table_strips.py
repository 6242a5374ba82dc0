"""One table line as a `Strip` of plain segments: a task row, or the header with its sort arrow.

Split from the table widget: the widget decides which task a screen line shows and when to draw
it; this module only turns (cells, layout, styles) into segments. Plain `Segment`s, never
markup, so upstream text can hold `[/]` and stay text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from tui.app.widgets.column_plan import Layout, cut_id
from tui.core.text_width import cell_width, cut, fit

StyleOf = Callable[[str], Style]
"""A component class name -> its style (`Widget.get_component_rich_style`)."""


def row_strip(
    cells: Mapping[str, tuple[str, str | None]],
    layout: Layout,
    width: int,
    *,
    base: Style,
    style_of: StyleOf,
    selected: bool,
    id_head: int | None,
) -> Strip:
    """A task row: each shown cell fitted to its column, one space between columns."""
    cursor = style_of("task-table--cursor") if selected else None
    segments: list[Segment] = []
    append = segments.append
    x = 0
    # a gap takes the style of the cell before it: it ends that cell's run instead of
    # starting the next one (an SVG picture draws a run's leading space too thin)
    gap_style = base if cursor is None else base + cursor
    for column, cx, cwidth in layout:
        if cx > x:
            append(Segment(" " * (cx - x), gap_style))
        text, component = cells[column.name]
        if column.squeeze is not None and cell_width(text) > cwidth:
            text = column.squeeze(text, cwidth)
        elif column.name == "id":
            text = cut_id(text, cwidth, id_head)
        style = base if component is None else base + style_of(component)
        if cursor is not None:
            style += cursor
        append(Segment(fit(text, cwidth, align=column.align, middle=column.middle_ellipsis), style))
        gap_style = style
        x = cx + cwidth
    if x < width:
        append(Segment(" " * (width - x), base if cursor is None else base + cursor))
    # one segment per run of one style: fewer colour codes written per row over SSH
    strip = Strip(segments).simplify()
    return strip.crop(0, width) if x > width else strip


def header_strip(
    layout: Layout,
    width: int,
    *,
    header: Style,
    sorted_style: Style,
    sort_column: str,
    sort_reverse: bool,
) -> Strip:
    """The header line: column titles, the sorted one with its arrow."""
    segments: list[Segment] = []
    x = 0
    for column, cx, cwidth in layout:
        if cx > x:
            segments.append(Segment(" " * (cx - x), header))
        if column.name == sort_column:
            arrow = "▼" if sort_reverse else "▲"
            segments.append(Segment(arrow_title(column.title, cwidth, arrow), sorted_style))
        else:
            segments.append(Segment(fit(column.title, cwidth), header))
        x = cx + cwidth
    if x < width:
        segments.append(Segment(" " * (width - x), header))
    strip = Strip(segments)
    return strip.crop(0, width) if x > width else strip


def arrow_title(title: str, width: int, arrow: str) -> str:
    """`model▲` padded to `width`; the arrow always shows, and never in place of a letter: the
    plan leaves room for it, and a title that must give way anyway shows its `…`."""
    if width <= 1:
        return arrow[:width]
    return fit(cut(title, width - 1) + arrow, width)  # a title cut shows its `…`
