"""Which columns the task table shows and how wide each is: planned from the rows in view.

No Textual here (unit-tested alone). `layout_columns` plans from the width alone (an empty
view); `plan_columns` from what the rows on screen hold:

- a column empty in every row in view takes no space;
- when a row in view has failed, the failure column is always there (at 80 columns too) and
  gets the width left after the state, the id and the age;
- ids are shown whole when they fit, otherwise cut so that no two ids in view read the same
  (`cut_id` keeps more of the end, where ids from one provider differ);
- every column is wide enough for its title and the sort arrow, so the arrow never covers text
  and sorting by another column moves nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from tui.app import format as fmt
from tui.app.task_sort import SORT_COLUMNS
from tui.core.text_width import ELLIPSIS, cell_width, cut


@dataclass(frozen=True, slots=True)
class Column:
    """One table column: `name` is also its sort column in `ViewSpec`."""

    name: str
    title: str
    min_width: int
    max_width: int | None  # None: takes whatever is left
    align: Literal["left", "right"] = "left"
    middle_ellipsis: bool = False  # ids differ at both ends: keep the head and the tail
    squeeze: Callable[[str, int], str] | None = None  # shortens a too-long value before `fit`


# Display order (left to right).
COLUMNS: tuple[Column, ...] = (
    Column("state", "state", 11, 11),
    Column("id", "id", 14, 36, middle_ellipsis=True),
    Column("provider", "provider", 8, 20),
    Column("batch", "batch", 6, 24),
    Column("model", "model", 10, 30, squeeze=fmt.squeeze_model),
    Column("progress", "prog", 4, 4, "right"),
    Column("age", "age", 6, 6, "right"),
    Column("duration", "dur", 4, 4, "right"),
    Column("resolution", "res", 9, 10),
    Column("tokens", "tokens", 6, 6, "right"),
    Column("next_poll", "next", 8, 8, "right"),
    Column("download", "download", 12, 13),
    Column("expires", "expires", 7, 7, "right"),  # the video URL's time left, see task_cells
    Column("failure", "failure", 10, None),
)
assert tuple(c.name for c in COLUMNS) == SORT_COLUMNS
BY_NAME = {column.name: column for column in COLUMNS}
# Shown from 80 cells up (the 80-column list), most important first: a narrower table
# (the detail pane open) drops whole columns from the end of this list, never cuts a value.
_ESSENTIAL = ("state", "id", "progress", "age", "model", "download")
_ALWAYS = ("state", "id")  # at any width; the id gives way first (middle ellipsis)
# Added while they fit, in this order, once every essential column is shown.
_OPTIONAL = ("provider", "failure", "next_poll", "tokens", "resolution", "duration")
_ID_COMFORT = 19  # the id grows to this before optional columns get room
_MODEL_COMFORT = 16  # a whole short model name (`2-0-fast-260128`, `1_5_pro_flex`)
# With rows in view, these join at most this wide, and grow once every column that fits is in.
_COMFORT = {"model": _MODEL_COMFORT, "provider": 12, "batch": 12}
# Spare width goes to these, in this order, each up to a width (None: its max_width).
_GROWERS: tuple[tuple[str, int | None], ...] = (
    ("model", _MODEL_COMFORT),
    ("id", None),
    ("model", None),
    ("failure", None),
)
# With rows in view: after the state and the id, columns join in this order while they fit.
# `id` here: the id grows to a comfortable width (whole, for most ids) before the columns after it
_PRIORITY = (
    "age", "progress", "model", "download", "expires", "id", "provider", "batch", "next_poll",
    "tokens", "resolution", "duration",
)  # fmt: skip
FAILURE_MIN = 30  # a failure column narrower than this says too little to be worth the room

Layout = tuple[tuple[Column, int, int], ...]
"""(column, x, width) for every shown column, left to right."""


def _place(widths: Mapping[str, int]) -> Layout:
    layout: list[tuple[Column, int, int]] = []
    x = 0
    for column in COLUMNS:
        if column.name in widths:
            layout.append((column, x, widths[column.name]))
            x += widths[column.name] + 1
    return tuple(layout)


def layout_columns(width: int, *, downloads: bool = True) -> Layout:
    """Which columns fit in `width` cells and how wide each is (one space between columns),
    from the width alone (nothing in view to plan from).

    80 cells: state, id, model, progress, age, download (+ provider when it fits);
    120 cells: every column. Wider terminals give the model (a whole short name first), the id
    and the failure more room.
    Narrower (the detail pane open: 40 to 60 cells), whole columns go, download first, then
    model, age and progress: a column shown always shows whole values (`100%`, never `10`).
    `downloads=False` (downloading is off): no download column, its room goes to the others.
    """
    essential = [name for name in _ESSENTIAL if downloads or name != "download"]
    widths: dict[str, int] = {}

    def used() -> int:
        return sum(widths.values()) + len(widths) - 1

    for name in essential:
        if name not in _ALWAYS and used() + 1 + BY_NAME[name].min_width > width:
            break
        widths[name] = BY_NAME[name].min_width
    if used() > width:  # not even the state and a whole minimum id: the id gives way
        widths["id"] = max(1, widths["id"] - (used() - width))
    widths["id"] += max(0, min(_ID_COMFORT - widths["id"], width - used()))
    for name in _OPTIONAL if len(widths) == len(essential) else ():
        if used() + 1 + BY_NAME[name].min_width > width:
            break
        widths[name] = BY_NAME[name].min_width
    spare = width - used()
    for name, upto in _GROWERS:
        if spare <= 0:
            break
        if name not in widths:
            continue
        cap = BY_NAME[name].max_width if upto is None else upto
        grow = spare if cap is None else max(0, min(spare, cap - widths[name]))
        widths[name] += grow
        spare -= grow
    return _place(widths)


# -- ids that never read the same ------------------------------------------------------------


def cut_id(text: str, width: int, head: int | None) -> str:
    """`text` in `width` cells: whole if it fits, else `head` cells of its start, `…`, and the
    rest from its end (`head` None: the middle)."""
    if head is None or cell_width(text) <= width or not text.isascii() or width < 3:
        return cut(text, width, middle=True)
    head = max(1, min(head, width - 2))
    return text[:head] + ELLIPSIS + text[len(text) - (width - 1 - head) :]


def distinct_head(ids: Sequence[str], width: int) -> int | Literal[False] | None:
    """The `head` for `cut_id` at which the ids in view stay told apart: None when the middle
    cut does it, False when no cut at this width does."""
    unique = set(ids)
    if len({cut(i, width, middle=True) for i in unique}) == len(unique):
        return None
    for head in range((width - 1) // 2 - 1, 0, -1):  # move the cut towards the start
        if len({cut_id(i, width, head) for i in unique}) == len(unique):
            return head
    return False


@dataclass(frozen=True, slots=True)
class InView:
    """What the rows in view hold: the widest text per column (0: empty in every row), their
    ids, and whether any of them failed."""

    widths: tuple[tuple[str, int], ...]
    ids: tuple[str, ...]
    failed: bool

    def width(self, name: str) -> int:
        return dict(self.widths).get(name, 0)


@dataclass(frozen=True, slots=True)
class Plan:
    layout: Layout
    id_head: int | None = None  # see `cut_id`


def plan_columns(
    width: int, in_view: InView | None, *, downloads: bool = True, sort_column: str = "state"
) -> Plan:
    """The columns for `in_view` in `width` cells (see the module's docstring)."""
    if in_view is None or not in_view.ids:
        return Plan(_widen_sorted(layout_columns(width, downloads=downloads), sort_column, width))

    def natural(name: str) -> int:
        column = BY_NAME[name]
        title = cell_width(column.title) + 1  # room for the sort arrow: sorting moves nothing
        content = in_view.width(name)
        if column.max_width is not None:
            content = min(content, column.max_width)
        return max(title, content)

    widths: dict[str, int] = {"state": natural("state")}

    def used() -> int:
        return sum(widths.values()) + len(widths) - 1

    id_title = cell_width("id") + 1
    whole_id = max(id_title, max(cell_width(i) for i in in_view.ids))
    id_width = min(whole_id, max(id_title, BY_NAME["id"].min_width))
    head: int | Literal[False] | None = None
    while id_width < whole_id and (head := distinct_head(in_view.ids, id_width)) is False:
        id_width += 1  # the narrowest id column at which no two ids in view read the same
    widths["id"] = max(1, min(id_width, width - used() - 1))
    failure = in_view.failed and in_view.width("failure") > 0
    reserve = min(FAILURE_MIN, natural("failure")) + 1 if failure else 0
    if failure and used() + 1 + natural("age") + 2 <= width:
        widths["age"] = natural("age")  # with a failure: state, id, age, and the failure
    for name in _PRIORITY:
        if name == "id":
            room = width - used() - reserve
            widths["id"] += max(0, min(min(whole_id, _ID_COMFORT) - widths["id"], room))
            continue
        if name in widths or in_view.width(name) <= 0 or (name == "download" and not downloads):
            continue
        want = natural(name)
        if name in _COMFORT:  # room for more columns first; spare room makes them whole
            want = min(want, max(BY_NAME[name].min_width, _COMFORT[name]))
            # ... and they join narrower (down to their minimum) rather than not at all
            want = min(want, max(BY_NAME[name].min_width, width - used() - 1 - reserve))
        if used() + 1 + want + reserve > width:
            continue
        widths[name] = want
    if failure:
        widths["failure"] = reserve - 1
    # spare room: a comfortable id, the whole failure, whole ids, providers and batches (what
    # tells rows apart), and only then the whole model; what is still left goes to the failure
    growers = [
        ("id", min(whole_id, _ID_COMFORT)),
        ("failure", natural("failure")),
        ("id", whole_id),
        ("provider", natural("provider")),
        ("batch", natural("batch")),
        ("model", natural("model")),
    ]
    spare = width - used()
    for name, upto in growers:
        if spare > 0 and name in widths:
            grow = max(0, min(spare, upto - widths[name]))
            widths[name] += grow
            spare -= grow
    if failure and spare > 0:
        widths["failure"] += spare
    elif failure and spare < 0:  # narrower than state, id and age: the failure gives way
        widths["failure"] = max(1, widths["failure"] + spare)
    if widths["id"] >= whole_id:
        head = None
    elif widths["id"] != id_width or head is False:
        head = distinct_head(in_view.ids, widths["id"])
    return Plan(_place(widths), None if head is False else head)


def _widen_sorted(layout: Layout, sort_column: str, width: int) -> Layout:
    """The sorted column one cell wider than its title when it can be (the arrow's cell)."""
    widths = {column.name: w for column, _, w in layout}
    title = cell_width(BY_NAME[sort_column].title) + 1 if sort_column in widths else 0
    short = title - widths.get(sort_column, title)
    if short <= 0:
        return layout
    spare = width - (sum(widths.values()) + len(widths) - 1)
    for name in ("failure", "model", "id"):  # take the cell from the widest givers
        if short <= 0 or spare >= short:
            break
        if name in widths and name != sort_column:
            give = min(short - spare, widths[name] - BY_NAME[name].min_width)
            if give > 0:
                widths[name] -= give
                spare += give
    widths[sort_column] += min(short, spare)
    return _place(widths)
