"""How wide text is on a terminal, and how to fit it to a width: the one helper for both.

Pure Python (the engine and the headless commands never import Rich). A CJK character takes two
cells, combining marks none. The ASCII case, by far the most common, skips the per-character walk.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

ELLIPSIS = "…"


@lru_cache(maxsize=4096)
def _char_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def cell_width(text: str) -> int:
    """How many terminal cells `text` takes."""
    if text.isascii():
        return len(text)
    return sum(_char_width(ch) for ch in text)


def _head(text: str, width: int) -> str:
    """The longest start of `text` that takes at most `width` cells (never half a wide glyph)."""
    if text.isascii():
        return text[:width]
    out: list[str] = []
    used = 0
    for ch in text:
        w = _char_width(ch)
        if used + w > width:
            break
        out.append(ch)
        used += w
    return "".join(out)


def _tail(text: str, width: int) -> str:
    """The longest end of `text` that takes at most `width` cells."""
    if width <= 0:
        return ""
    if text.isascii():
        return text[-width:]
    return _head(text[::-1], width)[::-1]


def cut(text: str, width: int, *, middle: bool = False) -> str:
    """`text` in at most `width` cells, ending in `…` when cut (or with `…` in its middle, so
    the start and the end of an id both stay readable)."""
    if width <= 0:
        return ""
    if cell_width(text) <= width:
        return text
    if width == 1:
        return ELLIPSIS
    if middle:
        head = (width - 1) // 2
        tail = width - 1 - head
        return _head(text, head) + ELLIPSIS + _tail(text, tail)
    return _head(text, width - 1) + ELLIPSIS


def fit(text: str, width: int, *, align: str = "left", middle: bool = False) -> str:
    """Exactly `width` cells: `text` padded (left or right aligned), or cut with `…`.
    A cut may end one cell short when a wide glyph would straddle the edge; it is padded."""
    if width <= 0:
        return ""
    short = cut(text, width, middle=middle)
    pad = " " * (width - cell_width(short))
    return pad + short if align == "right" else short + pad
