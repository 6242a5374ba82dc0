"""The summary bar: how the batch is doing, in four lines a person reads in one glance.

0. only while the store refuses writes: `store unavailable: <why>; polling waits`, loud;
1. progress bar (finished / total, never rounded up to 100 % while a task is live), the ETA of
   the tasks that can finish (a range, `measuring…`, or `overdue`; hidden while paused),
   requests per second, and the mode: polling, PAUSED, or `viewing: pid 4242 polls this store`;
2. the table's filter when one is set (`batch spring-ads · 120 tasks`: every number of the bar
   is then about those tasks), tasks per state, and the live tasks that cannot finish now
   (`blocked 3 (a: key refused)`);
3. tokens used so far (total and super-resolution) and downloads (done / running / speed), with
   expired downloads and soon-expiring URLs in loud colours;
4. each provider's health (ok, backing off, auth failed, down) with its reason, and its live
   tasks against `max_live` when it has create requests;
5. only when the store has create requests: `requests sent N · pending N · uncertain N ·
   rejected N`, uncertain and rejected loud.

Every line fits its width: the least important parts give way first, so at 80 columns the
counts, the blocked tasks and the outage stay. The numbers come from `tui.app.dashboard_state`
(no Textual there); the ETA is rounded (a minute, five past an hour) so its text changes only
when the shown value does, and the bar repaints only the cells that changed (a 1 Hz refresh
over SSH costs bytes).
"""

from __future__ import annotations

import math

from textual.content import Content
from textual.geometry import Size
from textual.strip import Strip
from textual.visual import Visual
from textual.widget import Widget

from tui.app.dashboard_state import Submission, SummaryData
from tui.app.format import count_cell, size_cell
from tui.app.widgets.line_diff import DrawnLines
from tui.core.eta import PAUSED, Eta, percent_done
from tui.core.model import TERMINAL_STATES, DownloadState, State
from tui.core.text_width import cell_width, cut

SUMMARY_LINES = 4  # progress, states, tokens and downloads, providers
BLANK = "\n" * (SUMMARY_LINES - 1)  # what the bar shows before its first update
BAR, MIN_BAR = 24, 10  # cells of the progress bar: at most, and at least when space is short
Part = Content | tuple[str, str] | str
Piece = tuple[int, str, list[Part]]
"""(rank, separator, parts): one thing a line says; rank 0 stays longest, the separator is
dropped when the piece comes first on its line."""
# Muted words use $foreground-muted: Textual 8.2 draws $text-muted ("auto 60%") inside Content
# as plain white (black on light themes), louder than the numbers it should set off.
MUTED = "$foreground-muted"
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
ALWAYS_SHOWN = (State.QUEUED, State.RUNNING, State.SUCCEEDED, State.FAILED)
HEALTH_STYLE = {
    "idle": MUTED,
    "ok": "$success",
    "backing off": "bold $warning",
    "auth failed": "bold $error",
    "down": "bold $error",
}


def progress_bar(done: int, total: int, width: int = BAR) -> str:
    """`████████▌░░░░░░░`: eighths of a cell, so small batches still move. Rounded down, and
    one eighth short of full while a task is live: 299/300 never draws a full bar."""
    if total <= 0:
        return "░" * width
    eighths = done * width * 8 // total
    if done < total:
        eighths = min(eighths, width * 8 - 1)
    full, part = divmod(max(0, min(eighths, width * 8)), 8)
    partial = " ▏▎▍▌▋▊▉"[part] if part else ""
    bar = "█" * full + partial
    return bar + "░" * (width - len(bar))


def eta_duration(seconds: float) -> str:
    """`<1m`, `4m`, `1h05m`, `2d03h`: rounded up to the minute (to five past an hour, to the
    hour past a day), so the text changes only every minute or more, never every second."""
    if not math.isfinite(seconds) or seconds < 60:
        return "<1m"
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return f"{minutes}m"
    if minutes < 24 * 60:
        hours, rest = divmod(math.ceil(minutes / 5) * 5, 60)
        return f"{hours}h{rest:02d}m"
    days, hours = divmod(math.ceil(seconds / 3600), 24)
    return f"{days}d{hours:02d}h"


def eta_text(eta: Eta, *, detail: bool = True) -> str:
    """`measuring…`, `overdue, next look in 9m`, `2m-5m`, `<3m`, `4m`."""
    if eta.measuring:
        return "measuring…"
    if eta.overdue:
        if detail and eta.low >= 1:
            return f"overdue, next look in {eta_duration(eta.low)}"
        return "overdue"
    low, high = eta_duration(eta.low), eta_duration(eta.high)
    if low == high:
        return low
    return f"<{high}" if low == "<1m" else f"{low}-{high}"


def fit_pieces(pieces: list[Piece], width: int | None) -> Content:
    """The pieces that fit in `width` cells, in their order: the highest rank (then the
    rightmost) gives way first; what is left and still too long is cut with `…`."""
    kept = list(range(len(pieces)))

    def assemble(indices: list[int]) -> Content:
        parts: list[Part] = []
        for n, i in enumerate(indices):
            _, sep, body = pieces[i]
            if n and sep:
                parts.append(sep)
            parts.extend(body)
        return Content.assemble(*parts)

    line = assemble(kept)
    while width is not None and line.cell_length > width and len(kept) > 1:
        drop = max(reversed(kept), key=lambda i: pieces[i][0])
        if pieces[drop][0] == 0:
            break
        kept.remove(drop)
        line = assemble(kept)
    if width is not None and line.cell_length > width:
        line = line.truncate(width, ellipsis=True)
    return line


def headline(data: SummaryData, width: int | None = None) -> Content:
    """Line 1: progress bar, ETA, rate and mode, in `width` cells when it can be done.

    The bar gives way first (down to `MIN_BAR`), then the word `finished`, then the badge's
    `(p resumes)`, then the request rate, then the overdue ETA's next look: at 80 columns a
    paused batch still reads in one line, so the summary keeps its rows and the table does not
    jump.
    """
    counts = data.counts
    total = sum(counts.values())
    terminal = sum(n for state, n in counts.items() if state in TERMINAL_STATES)
    live = total - terminal
    pct = percent_done(terminal, total)
    can_finish = data.remaining.can_finish if data.remaining is not None else live

    def parts(bar: int, *, finished: bool, hint: bool, rate: bool, detail: bool) -> list[Part]:
        line: list[Part] = [
            (progress_bar(terminal, total, bar), "$success"),
            f" {pct:3d}% ",
            (f"{terminal:,}/{total:,}", "bold"),
        ]
        if finished:
            line.append(" finished")
        if total and live == 0:
            line.append(("  · all done", "bold $success"))
        elif data.eta is not None:
            shown = eta_text(data.eta, detail=detail)
            if data.eta.measuring:
                line.append((f"  · ETA: {shown}", MUTED))
            elif data.eta.overdue:
                line += ["  · ETA: ", (shown, "bold $warning")]
            else:
                line += ["  · ETA ", (shown, "bold")]
        elif live and not can_finish and data.mode == "live" and data.outage is None:
            line.append(("  · nothing can finish now", "bold $warning"))
        if rate and data.rps is not None:
            line.append(f"  · {data.rps:.1f} req/s")
        if data.mode == "paused":
            badge = " ‖ PAUSED (p resumes) " if hint else " ‖ PAUSED "
            line += ["  ", (badge, "bold reverse $warning")]
        elif data.mode == "viewer":
            line.append((f"  ◉ viewing: {data.mode_note or 'read-only'}", "bold $accent"))
        elif data.mode == "stopped":
            line.append((f"  ✖ polling stopped: {data.mode_note or ''}", "bold $error"))
        return line

    variants = (
        {"finished": True, "hint": True, "rate": True, "detail": True},
        {"finished": False, "hint": True, "rate": True, "detail": True},
        {"finished": False, "hint": False, "rate": True, "detail": True},
        {"finished": False, "hint": False, "rate": False, "detail": True},
        {"finished": False, "hint": False, "rate": False, "detail": False},
    )
    for options in variants:
        rest = Content.assemble(*parts(0, **options)).cell_length
        if width is None or rest + MIN_BAR <= width:
            bar = BAR if width is None else max(MIN_BAR, min(BAR, width - rest))
            return Content.assemble(*parts(bar, **options))
    line = Content.assemble(*parts(MIN_BAR, **variants[-1]))
    return line.truncate(width, ellipsis=True) if width else line


def outage_line(message: str, width: int | None) -> Content:
    """`⚠ store unavailable: no space left on … ; polling waits`: the reason is cut, never
    the words that say what happens."""
    head, tail = " ⚠ store unavailable: ", "; polling waits "
    room = None if width is None else max(1, width - cell_width(head) - cell_width(tail))
    reason = message if room is None else cut(message, room, middle=True)
    return Content.assemble((head + reason + tail, "bold reverse $error"))


def states_line(data: SummaryData, width: int | None) -> Content:
    """Line 2: the filter in force, tasks per state, the blocked ones and why."""
    counts = data.counts
    pieces: list[Piece] = []
    if data.scope:
        total = sum(counts.values())
        pieces.append((0, "", [(f"{data.scope} · {total:,} tasks ", "bold $accent"), "│"]))
    for state in State:
        n = counts.get(state, 0)
        if n == 0 and state not in ALWAYS_SHOWN:
            continue
        rank = 1 if state in ALWAYS_SHOWN and n else 2 if n else 3
        body: list[Part] = [(f"{state} ", MUTED), (f"{n:,}", STATE_STYLE[state] if n else MUTED)]
        pieces.append((rank, "  ", body))
    remaining = data.remaining
    if remaining is not None and remaining.blocked:
        only_paused = all(b.reason == PAUSED for b in remaining.blocked)
        if not (only_paused and data.mode == "paused"):  # the PAUSED badge says it already
            pieces.append((0, "  · ", [(remaining.text(), "bold $warning")]))
    return fit_pieces(pieces, width)


def downloads_line(data: SummaryData, width: int | None) -> Content:
    """Line 3: tokens and downloads."""
    pieces: list[Piece] = [
        (0, "", [("tokens ", MUTED), (count_cell(data.tokens_total) or "0", "bold")])
    ]
    if data.tokens_super:
        pieces.append(
            (2, "  ", [("super-res ", MUTED), (count_cell(data.tokens_super) or "0", "bold")])
        )
    dl = data.downloads
    done = dl.get(DownloadState.DONE, 0)
    running = dl.get(DownloadState.RUNNING, 0)
    pending = dl.get(DownloadState.PENDING, 0)
    wanted = done + running + pending + dl.get(DownloadState.FAILED, 0)
    wanted += dl.get(DownloadState.EXPIRED, 0)
    if wanted:
        pieces.append((1, "  · ", [("downloads ", MUTED), (f"{done:,}/{wanted:,}", "bold")]))
        if running or pending:
            speed = f", {size_cell(data.download_speed)}/s" if data.download_speed else ""
            pieces.append((3, " ", [f"({running} running, {pending} waiting{speed})"]))
        failed = dl.get(DownloadState.FAILED, 0)
        if failed:
            pieces.append((1, "  ", [(f"{failed:,} failed", "bold $error")]))
    expired = dl.get(DownloadState.EXPIRED, 0) + data.expired_urls
    if expired:
        text = f"⚠ {expired:,} EXPIRED before download "
        pieces.append((0, "  ", [(text, "bold reverse $error")]))
    if data.expiring_urls:
        text = f"⚠ {data.expiring_urls:,} URLs expire within 1h"
        pieces.append((0, "  ", [(text, "bold $warning")]))
    return fit_pieces(pieces, width)


def providers_line(data: SummaryData, width: int | None) -> Content:
    """Line 4: each provider's health and reason; its live tasks against `max_live`."""
    live = data.submission.live if data.submission is not None else {}
    pieces: list[Piece] = []
    for name in sorted(data.health):
        health, reason = data.health[name]
        rank = 0 if health not in ("ok", "idle") else 1
        pieces.append((rank, "  ", [(name, "bold"), " ", (health, HEALTH_STYLE.get(health, ""))]))
        if name in live:
            now, cap = live[name]
            style = "bold" if now >= cap else ""
            pieces.append((1, " ", [("live ", MUTED), (f"{now:,}/{cap:,}", style)]))
        if reason and health != "ok":
            pieces.append((2, " ", [(f"({reason})", MUTED)]))
    for name in sorted(set(live) - set(data.health)):  # a viewer: no health, live still known
        now, cap = live[name]
        pieces.append((1, "  ", [(name, "bold"), (" live ", MUTED), f"{now:,}/{cap:,}"]))
    if not pieces:
        return Content.assemble(("no provider polled from here", MUTED))
    return fit_pieces(pieces, width)


def requests_line(submission: Submission, width: int | None) -> Content:
    """Line 5: the create requests, uncertain and rejected loud (a person must look)."""
    sub = submission
    uncertain = "bold $warning" if sub.uncertain else MUTED
    rejected = "bold $error" if sub.rejected else MUTED
    pieces: list[Piece] = [
        (0, "", [("requests ", MUTED), ("sent ", MUTED), (f"{sub.sent:,}", "bold")]),
        (0, " · ", [("pending ", MUTED), (f"{sub.pending:,}", "bold")]),
        (0, " · ", [("uncertain ", MUTED), (f"{sub.uncertain:,}", uncertain)]),
        (0, " · ", [("rejected ", MUTED), (f"{sub.rejected:,}", rejected)]),
    ]
    for name in sorted(sub.waiting):
        text = f"{name}: creating waits ({sub.waiting[name]})"
        pieces.append((1, "  · ", [(text, "bold $warning")]))
    return fit_pieces(pieces, width)


def summary_content(data: SummaryData, width: int | None = None) -> Content:
    """The lines; `width` (cells) makes each one fit (see `fit_pieces` and `headline`)."""
    lines = [
        headline(data, width),
        states_line(data, width),
        downloads_line(data, width),
        providers_line(data, width),
    ]
    if data.outage:
        lines.insert(0, outage_line(data.outage, width))
    if data.submission is not None:
        lines.append(requests_line(data.submission, width))
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
        self._strips = []
        strips = self._lines_for(width)
        if len(strips) != self.size.height or not width:
            # a line more or less than the bar has now: re-lay out (the table below moves)
            self.refresh(layout=True)
            return True
        for y, strip in enumerate(strips):
            self._sent.repaint(self, y, strip)
        return True
