"""The summary bar: how the batch is doing, in four lines a person reads in one glance.

1. progress bar (terminal / total), ETA from observed throughput, requests per second, and the
   mode: polling, PAUSED, or `viewing: pid 4242 polls this store`;
2. tasks per state;
3. tokens used so far (total and super-resolution) and downloads (done / running / speed), with
   expired downloads and soon-expiring URLs in loud colours;
4. each provider's health (ok, backing off, auth failed, down) with its reason.

The numbers come from `tui.app.dashboard_state` (no Textual there); the bar repaints only the
cells that changed (a 1 Hz refresh over SSH costs bytes).
"""

from __future__ import annotations

from textual.content import Content
from textual.geometry import Size
from textual.strip import Strip
from textual.visual import Visual
from textual.widget import Widget

from tui.app.dashboard_state import SummaryData
from tui.app.format import compact_duration, count_cell, size_cell
from tui.app.widgets.line_diff import DrawnLines
from tui.core.model import TERMINAL_STATES, DownloadState, State

SUMMARY_LINES = 4  # progress, states, tokens and downloads, providers
BLANK = "\n" * (SUMMARY_LINES - 1)  # what the bar shows before its first update
BAR, MIN_BAR = 24, 10  # cells of the progress bar: at most, and at least when space is short
Part = Content | tuple[str, str] | str
# Muted words use $foreground-muted: Textual 8.2 draws $text-muted ("auto 60%") inside Content
# as plain white (black on light themes), louder than the numbers it should set off.
STATE_STYLE: dict[State, str] = {
    State.QUEUED: "",
    State.RUNNING: "bold $primary",
    State.SUCCEEDED: "bold $success",
    State.FAILED: "bold $error",
    State.CANCELLED: "$warning",
    State.EXPIRED: "$warning",
    State.MISSING: "$warning",
    State.UNKNOWN: "$warning",
}
STORE_OUTAGE = {"full": "disk full", "locked": "locked", "io": "I/O error"}  # the log says more
HEALTH_STYLE = {
    "idle": "$foreground-muted",
    "ok": "$success",
    "backing off": "bold $warning",
    "auth failed": "bold $error",
    "down": "bold $error",
}


def progress_bar(done: int, total: int, width: int = BAR) -> str:
    """`████████▌░░░░░░░`: eighths of a cell, so small batches still move."""
    if total <= 0:
        return "░" * width
    eighths = round(done / total * width * 8)
    full, part = divmod(min(eighths, width * 8), 8)
    partial = " ▏▎▍▌▋▊▉"[part] if part else ""
    bar = "█" * full + partial
    return bar + "░" * (width - len(bar))


def headline(data: SummaryData, width: int | None = None) -> Content:
    """Line 1: progress bar, ETA, rate and mode, in `width` cells when it can be done.

    The bar gives way first (down to `MIN_BAR`), then the word `finished`, then the badge's
    `(p resumes)`, then the request rate: at 80 columns a paused batch still reads in one line,
    so the summary keeps its four rows and the table does not jump.
    """
    counts = data.counts
    total = sum(counts.values())
    terminal = sum(n for state, n in counts.items() if state in TERMINAL_STATES)
    live = total - terminal
    pct = (terminal / total * 100) if total else 0.0

    def parts(bar: int, *, finished: bool, hint: bool, rate: bool) -> list[Part]:
        line: list[Part] = [
            (progress_bar(terminal, total, bar), "$success"),
            f" {pct:3.0f}% ",
            (f"{terminal:,}/{total:,}", "bold"),
        ]
        if finished:
            line.append(" finished")
        if total and live == 0:
            line.append(("  · all done", "bold $success"))
        elif data.eta is not None:
            line += ["  · ETA ", (compact_duration(data.eta), "bold")]
        elif live:
            line.append(("  · ETA: measuring…", "$foreground-muted"))
        if rate and data.rps is not None:
            line.append(f"  · {data.rps:.1f} req/s")
        if data.mode == "paused":
            badge = " ‖ PAUSED (p resumes) " if hint else " ‖ PAUSED "
            line += ["  ", (badge, "bold reverse $warning")]
        elif data.mode == "viewer":
            line.append((f"  ◉ viewing: {data.mode_note or 'read-only'}", "bold $accent"))
        elif data.mode == "store":
            why = STORE_OUTAGE.get(data.mode_note or "", "takes no writes")
            line.append((f"  ⚠ store {why}: polling waits", "bold $error"))
        elif data.mode == "stopped":
            line.append((f"  ✖ polling stopped: {data.mode_note or ''}", "bold $error"))
        return line

    variants = (
        {"finished": True, "hint": True, "rate": True},
        {"finished": False, "hint": True, "rate": True},
        {"finished": False, "hint": False, "rate": True},
        {"finished": False, "hint": False, "rate": False},
    )
    for options in variants:
        rest = Content.assemble(*parts(0, **options)).cell_length
        if width is None or rest + MIN_BAR <= width:
            bar = BAR if width is None else max(MIN_BAR, min(BAR, width - rest))
            return Content.assemble(*parts(bar, **options))
    return Content.assemble(*parts(MIN_BAR, **variants[-1]))  # too narrow: it wraps


def summary_content(data: SummaryData, width: int | None = None) -> Content:
    """The four lines; `width` (cells) lets the first line fit (see `headline`)."""
    counts = data.counts
    line1 = headline(data, width)

    # line 2: states
    line2: list[Part] = []
    for state in State:
        n = counts.get(state, 0)
        if n == 0 and state not in (State.QUEUED, State.RUNNING, State.SUCCEEDED, State.FAILED):
            continue
        if line2:
            line2.append("  ")
        line2.append((f"{state} ", "$foreground-muted"))
        line2.append((f"{n:,}", STATE_STYLE[state] if n else "$foreground-muted"))

    # line 3: tokens and downloads
    line3: list[Part] = [
        ("tokens ", "$foreground-muted"),
        (count_cell(data.tokens_total) or "0", "bold"),
    ]
    if data.tokens_super:
        line3 += [
            ("  super-res ", "$foreground-muted"),
            (count_cell(data.tokens_super) or "0", "bold"),
        ]
    dl = data.downloads
    done = dl.get(DownloadState.DONE, 0)
    running = dl.get(DownloadState.RUNNING, 0)
    pending = dl.get(DownloadState.PENDING, 0)
    wanted = done + running + pending + dl.get(DownloadState.FAILED, 0)
    wanted += dl.get(DownloadState.EXPIRED, 0)
    if wanted:
        line3 += [("  · downloads ", "$foreground-muted"), (f"{done:,}/{wanted:,}", "bold")]
        if running or pending:
            line3.append(f" ({running} running, {pending} waiting")
            if data.download_speed:
                line3.append(f", {size_cell(data.download_speed)}/s")
            line3.append(")")
        failed = dl.get(DownloadState.FAILED, 0)
        if failed:
            line3.append((f"  {failed:,} failed", "bold $error"))
    expired = dl.get(DownloadState.EXPIRED, 0) + data.expired_urls
    if expired:
        line3.append((f"  ⚠ {expired:,} EXPIRED before download ", "bold reverse $error"))
    if data.expiring_urls:
        line3.append((f"  ⚠ {data.expiring_urls:,} URLs expire within 1h", "bold $warning"))

    # line 4: providers
    line4: list[Part] = []
    for name in sorted(data.health):
        health, reason = data.health[name]
        if line4:
            line4.append("  ")
        line4 += [(name, "bold"), " ", (health, HEALTH_STYLE.get(health, ""))]
        if reason and health != "ok":
            line4.append((f" ({reason})", "$foreground-muted"))
    if not line4:
        line4.append(("no provider polled from here", "$foreground-muted"))

    lines = [line1, *(Content.assemble(*parts) for parts in (line2, line3, line4))]
    return Content("\n").join(lines)


class SummaryBar(Widget):
    """The top of the dashboard; repaints only the cells whose text or colour changed.

    A line-API widget rather than a `Static`: a `Static` repaints all four lines whenever a
    count moves, ~1.7 KiB a second over SSH while a batch runs; this one sends the changed
    cells (`line_diff`), and re-lays out only when the number of lines changes.
    """

    DEFAULT_CSS = """
    SummaryBar { height: auto; padding: 0 1; background: $boost; }
    """

    def __init__(self, **kwargs: object) -> None:
        # Four blank lines until the first `show()`: the first layout already gives the bar its
        # four rows. (The first `show()` runs in the app's on_ready, after that layout; starting
        # from "" the first frame drew one row and a viewer over a finished batch, whose text
        # never changes again, kept it that way.)
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._content = Content(BLANK)
        self._last: tuple[str, tuple[object, ...]] | None = None
        self._data: SummaryData | None = None
        self._strips: list[Strip] = []
        self._strips_width = -1
        self._sent = DrawnLines()

    @property
    def text(self) -> str:
        """What the bar says, as plain text."""
        return self._content.plain

    def on_resize(self) -> None:
        self._sent.forget()
        if self._data is not None:  # the first line is laid out for the width
            self.show(self._data)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips = []  # a theme switch changes every colour
        self._sent.forget()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lines_for(width))

    def render_line(self, y: int) -> Strip:
        width = self.content_size.width
        strips = self._lines_for(width)
        strip = strips[y] if y < len(strips) else Strip.blank(width, self.rich_style)
        return self._sent.drawn(y, strip)

    def _lines_for(self, width: int) -> list[Strip]:
        if width != self._strips_width or not self._strips:
            self._strips = Visual.to_strips(
                self, self._content, max(width, 1), None, self.visual_style, pad=True
            )
            self._strips_width = width
        return self._strips

    def show(self, data: SummaryData) -> bool:
        """Update from `data`; returns True when the screen had to change."""
        self._data = data
        width = self.content_size.width
        content = summary_content(data, width or None)
        signature = (content.plain, tuple(content.spans))
        if signature == self._last:
            return False
        self._last = signature
        self._content = content
        height = len(self._strips)
        self._strips = []
        strips = self._lines_for(width)
        if len(strips) != height or not width:
            self.refresh(layout=True)  # a line more or less: the table below moves
            return True
        for y, strip in enumerate(strips):
            self._sent.repaint(self, y, strip)
        return True
