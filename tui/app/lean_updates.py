"""Partial screen updates, written lean: only the changed cells, colours only when they change.

Over SSH the dashboard's cost is the bytes Textual writes. Two things in Textual 8's
`ChopsUpdate.render_segments` (the partial update; full repaints are left alone) made most of
them while a batch ran:

- A refreshed region narrower than its widget was cropped at its *end* but not its *start*:
  refreshing a 9-cell countdown at column 100 sent the 100 cells before it too (Textual issue
  #5625). Here each span is cropped at both ends and the cursor moves to its first cell; a
  start that would cut a double-width character in half moves left by one cell.
- Every run of one style was written as `ESC[<all codes>m text ESC[0m` (Rich's
  `Style.render`), two thirds of the bytes of a table row. Here a colour code is written only
  when the colour changes, attributes are reset only when they change, and the update ends
  with one reset, so the terminal is left as Textual expects.

`install()` replaces that one method, once, before the first frame, and only on the Textual
version(s) it was written against (`PATCHED_VERSIONS`): on any other the stock method stays and
a log line says so. A private method may change in any release; a stale copy of it would draw a
wrong screen, while the stock one only sends more bytes.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version

from rich.cells import cell_len
from rich.color import ColorSystem
from rich.console import Console
from rich.control import Control
from rich.style import Style
from textual._compositor import ChopsUpdate
from textual.strip import Strip

log = logging.getLogger(__name__)

PATCHED_VERSIONS = frozenset({"8.2.8"})  # Textual releases whose render_segments this replaces
RESET = "\x1b[0m"
Codes = tuple[str, str | None, str | None]
"""A style as SGR parameters: (attributes, foreground, background); "" / None when unset."""

_installed = False
_STOCK = ChopsUpdate.render_segments


def char_boundary(strip: Strip, offset: int) -> int:
    """The largest cell offset <= `offset` that does not fall inside a wide character."""
    position = 0
    for segment in strip:
        width = cell_len(segment.text)
        if position + width <= offset:
            position += width
            continue
        for char in segment.text:  # the segment holding `offset`
            char_width = cell_len(char)
            if position + char_width > offset:
                return position
            position += char_width
        break
    return min(position, offset)


@lru_cache(maxsize=4096)
def style_codes(style: Style, color_system: ColorSystem) -> Codes:
    """`style`'s SGR parameters, split so that a change of colour alone is one short code."""
    plain = style.without_color.render("x", color_system=color_system)
    attributes = plain[2 : plain.index("m")] if plain.startswith("\x1b[") else ""
    fg = bg = None
    if style.color is not None:
        fg = ";".join(style.color.downgrade(color_system).get_ansi_codes())
    if style.bgcolor is not None:
        bg = ";".join(style.bgcolor.downgrade(color_system).get_ansi_codes(foreground=False))
    return attributes, fg, bg


def transition(current: Codes | None, wanted: Codes) -> str:
    """The shortest SGR sequence that takes the terminal from `current` (None: unknown) to
    `wanted`."""
    if current == wanted:
        return ""
    attributes, fg, bg = wanted
    if current is not None and current[0] == attributes:
        params = []
        if current[1] != fg:
            params.append(fg or "39")  # 39 / 49: the terminal's default colour
        if current[2] != bg:
            params.append(bg or "49")
        return f"\x1b[{';'.join(params)}m"
    params = [param for param in ("0", attributes, fg, bg) if param]
    return f"\x1b[{';'.join(params)}m"


def render_strip(
    strip: Strip, color_system: ColorSystem | None, current: Codes | None
) -> tuple[str, Codes | None]:
    """`strip` as terminal text, starting with the terminal in state `current`; returns the
    text and the state it leaves. Links (OSC 8) are written as Rich writes them."""
    if color_system is None:
        return "".join(segment.text for segment in strip), current
    out: list[str] = []
    for text, style, _control in strip:
        if not text:
            continue
        if style is not None and style.link:
            out.append(style.render(text, color_system=color_system))
            current = ("", None, None)  # Rich's rendering ends with a reset
            continue
        wanted = style_codes(style, color_system) if style is not None else ("", None, None)
        out.append(transition(current, wanted))
        out.append(text)
        current = wanted
    return "".join(out), current


def render_segments(self: ChopsUpdate, console: Console) -> str:
    """`ChopsUpdate.render_segments`, cropped at both ends of each span, colours written lean."""
    sequences: list[str] = []
    append = sequences.append
    move_to = Control.move_to
    color_system = console._color_system  # what Textual's own Strip.render reads
    chops, chop_ends = self.chops, self.chop_ends
    last_y = self.spans[-1][0]
    current: Codes | None = None  # the terminal's colours are unknown until the first code
    for y, x1, x2 in self.spans:
        for end, (x, strip) in zip(chop_ends[y], chops[y].items(), strict=False):
            if strip is None or x > x2 or end <= x1:
                continue
            start = x if x >= x1 else x + char_boundary(strip, x1 - x)
            stop = min(end, x2)
            if start >= stop:
                continue
            if start != x or stop != end:
                strip = strip.crop(start - x, stop - x)
            append(move_to(start, y).segment.text)
            text, current = render_strip(strip, color_system, current)
            append(text)
        if y != last_y:
            append("\n")
    if current is not None and current != ("", None, None):
        append(RESET)
    return "".join(sequences)


def textual_version() -> str | None:
    try:
        return version("textual")
    except PackageNotFoundError:
        return None


def install(installed_version: str | None = None) -> bool:
    """Patch Textual once (idempotent) when its version is one this was written against;
    returns whether the lean method is in place. The app's builder calls this before the
    first frame. `installed_version` defaults to the installed Textual's."""
    global _installed
    if _installed:
        return True
    found = installed_version if installed_version is not None else textual_version()
    if found not in PATCHED_VERSIONS:
        log.warning(
            "Textual %s: partial updates are drawn by Textual itself (lean updates are written "
            "for Textual %s)",
            found or "(version unknown)",
            ", ".join(sorted(PATCHED_VERSIONS)),
        )
        return False
    ChopsUpdate.render_segments = render_segments  # type: ignore[method-assign]
    _installed = True
    return True


def uninstall() -> None:
    """Put Textual's own method back (tests that pretend another version start from here)."""
    global _installed
    ChopsUpdate.render_segments = _STOCK  # type: ignore[method-assign]
    _installed = False


def installed() -> bool:
    return _installed
