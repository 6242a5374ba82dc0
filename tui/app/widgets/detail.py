"""The detail pane: everything known about the selected task, to understand a failure fast.

Top to bottom: the failure first when there is one (code and message, plus a plain-words hint
for the codes providers commonly send), the normalized fields (with the provider's state when it
is not polled normally, and the task's last HTTP error), the state history with times
(`store.history`), the provider's own block (`upstream (data.data)` for the newapi relay:
super_resolution and usage tokens at a glance), and the whole upstream body, syntax highlighted
with `textual.highlight.highlight` (Pygments; TextArea's tree-sitter JSON crashed here).

Reading at 80x24: labels keep their column when a value wraps (a hanging indent), and a JSON line
that wraps continues under its own indentation; both are wrapped here, at the pane's width, and
again when the pane is resized.

Safety: every string is cleaned (`clean_text` / `clean_line`) and drawn as `Content` built from
plain strings, never markup, so `[/]`, `[@click=app.quit]` or an OSC 52 sequence from a provider
shows as text (or not at all) and never acts. A large body is cut before highlighting, and the
highlighting runs in a thread worker, so a 10 MB body never freezes the screen.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.highlight import highlight
from textual.widgets import Static
from textual.worker import get_current_worker

from tui.app.format import (
    compact_duration,
    download_cell,
    next_poll_cell,
    resolution_cell,
    size_cell,
    state_cell,
)
from tui.core.clean import clean_line, clean_text
from tui.core.model import Event, Failure, State, Task
from tui.output import event_detail

MAX_BODY_CHARS = 40_000  # highlighted; the rest is cut with a note (press y for all of it)
MAX_BODY_LINES = 1_200
MAX_BLOCK_CHARS = 4_000  # the pulled-out data.data block is highlighted on the UI thread
STATE_STYLE: dict[State, str] = {
    State.QUEUED: "$foreground-muted",
    State.RUNNING: "bold $primary",
    State.SUCCEEDED: "bold $success",
    State.FAILED: "bold $error",
    State.CANCELLED: "$warning",
    State.EXPIRED: "bold $warning",
    State.MISSING: "bold $warning",
    State.UNKNOWN: "$warning",
}
_LABEL = "$foreground-muted"  # not $text-muted: in Content, Textual 8.2 draws that as plain white
_HEADING = "bold $accent"
LABEL_WIDTH = 15  # the value column: labels are at most 14 characters
HEALTH_STYLE = {"auth failed": "bold $error", "down": "bold $error", "backing off": "$warning"}

# Plain words for failure codes providers send often (Ark / ModelArk codes, seen through relays).
_HINTS: tuple[tuple[str, str], ...] = (
    (
        "SensitiveContent",
        "The provider's content check blocked it. The same request fails the "
        "same way: change the prompt or the media, then create a new task.",
    ),
    (
        "InvalidParameter",
        "The request itself was wrong (a missing or bad parameter). Retrying "
        "will not help: fix the request and create a new task.",
    ),
    ("MissingParameter", "The request lacked a required field: fix it and create a new task."),
    ("QuotaExceeded", "The account ran out of quota: top up or wait, then create a new task."),
    ("RateLimit", "The provider refused for load: create the task again later."),
    ("ServerOverloaded", "The provider was overloaded: create the task again later."),
    (
        "InternalServiceError",
        "The provider failed on its side: the same request may work if you create it again.",
    ),
    ("Timeout", "The provider gave up waiting: the same request may work if created again."),
)


def failure_hint(failure: Failure | None) -> str | None:
    """A plain-words reading of a well-known failure code, or None."""
    if failure is None or not failure.code:
        return None
    code = failure.code
    for needle, hint in _HINTS:
        if needle.lower() in code.lower():
            if needle == "SensitiveContent":
                where = (
                    "input"
                    if code.startswith("Input")
                    else "output"
                    if code.startswith("Output")
                    else "request"
                )
                return f"Content policy ({where}). {hint}"
            return hint
    return None


def _when(moment: datetime | None, now: float) -> str:
    if moment is None:
        return ""
    local = moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    delta = now - moment.timestamp()
    if abs(delta) < 1:
        return f"{local} (now)"
    rel = compact_duration(abs(delta))
    return f"{local} ({rel} ago)" if delta > 0 else f"{local} (in {rel})"


def hang(head: Content, value: Content, width: int | None, indent: int) -> Content:
    """`head` then `value`, the value's wrapped lines starting `indent` cells in (under itself,
    not under the head): a label keeps its column, a JSON string its indentation."""
    if width is None or head.cell_length + value.cell_length <= width or width - indent < 12:
        return head + value
    pieces = value.wrap(width - indent)
    if not pieces:
        return head
    lines = [head + pieces[0], *(Content(" " * indent) + piece for piece in pieces[1:])]
    return Content("\n").join(lines)


def _row(label: str, value: str, style: str = "", width: int | None = None) -> Content:
    head = Content.styled(f"{label:<{LABEL_WIDTH}}", _LABEL)
    return hang(head, Content.styled(value, style), width, LABEL_WIDTH)


def wrap_indented(content: Content, width: int | None) -> Content:
    """Each line wrapped at `width`, continuing two cells deeper than its own indentation."""
    if width is None:
        return content
    lines = []
    for line in content.split("\n", allow_blank=True):
        if line.cell_length <= width:
            lines.append(line)
            continue
        lead = len(line.plain) - len(line.plain.lstrip(" "))
        indent = min(lead + 2, max(0, width - 12))
        lines.append(hang(line[:lead], line[lead:], width, indent))
    return Content("\n").join(lines)


def last_http_error(history: Sequence[Event]) -> Event | None:
    """The task's most recent `http_error` event (history is oldest first), or None."""
    return next((event for event in reversed(history) if event.kind == "http_error"), None)


def provider_rows(
    provider_state: tuple[str, str | None] | None,
    http_error: Event | None,
    now: float,
    width: int | None = None,
) -> list[Content]:
    """Why the task may not move: its provider's state when not ok (a refused key, down, a
    Retry-After hold) and the last HTTP error of this task."""
    rows = []
    if provider_state is not None and provider_state[0] not in ("ok", "idle"):
        health, reason = provider_state
        text = f"{health}: {clean_line(reason) or 'no reason given'}"
        if health == "auth failed":
            text += ". Fix the key, then restart: this run does not ask that provider again"
        rows.append(_row("provider state", text, HEALTH_STYLE.get(health, ""), width))
    if http_error is not None:
        when = _when(http_error.ts, now)
        detail = clean_line(event_detail(http_error)) or "error"
        rows.append(_row("HTTP error", f"{detail}  ({when})", "$warning", width))
    return rows


def fields_content(
    task: Task,
    now: float,
    *,
    next_poll: float | None = None,
    progress: Any = None,
    width: int | None = None,
    trouble: Sequence[Content] = (),
) -> Content:
    """The normalized fields, one `label  value` line each, empty values left out; `trouble`
    (`provider_rows`) right under the provider."""
    rows: list[Content] = []

    def add(row: Content) -> None:
        rows.append(row)

    state = state_cell(task.state)
    upstream = clean_line(task.upstream_status)
    add(
        _row(
            "state",
            state + (f"  (upstream: {upstream})" if upstream else ""),
            STATE_STYLE.get(task.state, ""),
            width,
        )
    )
    add(_row("id", clean_line(task.id) or "", "", width))
    add(_row("provider", clean_line(task.provider) or "", "", width))
    rows.extend(trouble)
    pairs: list[tuple[str, str, str]] = [
        ("batch", clean_line(task.batch) or "", ""),
        ("model", clean_line(task.model) or "", ""),
        ("progress", f"{task.progress}%" if task.progress is not None else "", ""),
        ("created", _when(task.created_at, now), ""),
        ("started", _when(task.started_at, now), ""),
        ("finished", _when(task.finished_at, now), ""),
    ]
    if task.started_at and task.created_at:
        waited = (task.started_at - task.created_at).total_seconds()
        pairs.append(("queued for", compact_duration(waited), ""))
    if task.started_at and task.finished_at:
        ran = (task.finished_at - task.started_at).total_seconds()
        pairs.append(("ran for", compact_duration(ran), ""))
    pairs += [
        ("duration", f"{task.duration:g} s" if task.duration is not None else "", ""),
        (
            "resolution",
            resolution_cell(clean_line(task.resolution), clean_line(task.super_resolution)),
            "",
        ),
        ("ratio", clean_line(task.ratio) or "", ""),
        ("fps", str(task.fps) if task.fps is not None else "", ""),
        ("seed", str(task.seed) if task.seed is not None else "", ""),
        (
            "audio",
            "" if task.generate_audio is None else "yes" if task.generate_audio else "no",
            "",
        ),
    ]
    tokens = task.tokens
    if tokens.total is not None or tokens.super_resolution is not None:
        text = f"{tokens.total:,}" if tokens.total is not None else "?"
        if tokens.completion is not None and tokens.completion != tokens.total:
            text += f" (completion {tokens.completion:,})"
        if tokens.super_resolution is not None:
            text += f" · super-resolution {tokens.super_resolution:,} (billed)"
        pairs.append(("tokens", text, "bold"))
    pairs.append(("video url", clean_line(task.video_url) or "", ""))
    if task.url_expires_at is not None:
        left = task.url_expires_at.timestamp() - now
        if left <= 0:
            pairs.append(
                ("url expires", "EXPIRED " + _when(task.url_expires_at, now), "bold $error")
            )
        else:
            style = "bold $warning" if left < 3600 else ""
            pairs.append(("url expires", _when(task.url_expires_at, now), style))
    pairs.append(("polls", str(task.polls), ""))
    pairs.append(("last polled", _when(task.last_polled_at, now), ""))
    if next_poll is not None and not task.terminal:
        pairs.append(("next poll", next_poll_cell(next_poll, now, task.state), ""))
    download = task.download
    if str(download.state) != "none":
        text = download_cell(download, progress)
        if download.bytes:
            text += f" · {size_cell(download.bytes)}"
        style = "bold $error" if str(download.state) in ("failed", "expired") else ""
        pairs.append(("download", text, style))
        pairs.append(("saved to", clean_line(download.path) or "", ""))
        pairs.append(("download error", clean_line(download.error) or "", "$error"))
    for label, value, style in pairs:
        if value:
            add(_row(label, value, style, width))
    return Content("\n").join(rows)


def failure_content(failure: Failure | None, width: int | None = None) -> Content | None:
    """The failure as code + message in plain words, or None when there is none."""
    if failure is None:
        return None
    code = clean_line(failure.code)
    message = clean_text(failure.message)
    parts: list[Content] = [_row("code", code or "(none given)", "bold $error", width)]
    parts.append(_row("message", message or "(none given)", "$error", width))
    hint = failure_hint(failure)
    if hint:
        parts.append(_row("in plain words", hint, "italic", width))
    return Content("\n").join(parts)


def history_content(events: Sequence[Event], width: int | None = None) -> Content:
    """The task's own events, oldest first, one line each with its local time (a long one
    wraps under its own text, not under the time)."""
    if not events:
        return Content.styled("no events recorded yet", "$foreground-muted")
    lines: list[Content] = []
    for event in events:
        when = event.ts.astimezone().strftime("%m-%d %H:%M:%S")
        detail = clean_line(event_detail(event)) or ""
        style = ""
        if event.kind == "state":
            target = str(event.data.get("to"))
            style = STATE_STYLE.get(State(target), "") if target in State._value2member_map_ else ""
        elif event.kind in ("http_error", "error"):
            style = "$warning"
        head = Content.assemble((when, _LABEL), "  ", (f"{event.kind:<10}", _LABEL))
        text = Content.styled(detail, style)
        long = width is not None and head.cell_length + text.cell_length > width
        if long and width is not None and width - head.cell_length < 20:
            # a narrow pane: what happened goes on its own lines, under the time
            pieces = [Content("  ") + piece for piece in text.wrap(width - 2)]
            lines.append(Content("\n").join([head.rstrip(), *pieces]))
            continue
        lines.append(hang(head, text, width, head.cell_length))
    return Content("\n").join(lines)


def upstream_block(raw: Any) -> tuple[str, Any] | None:
    """The provider's own task object inside the body, when the body wraps one.

    The newapi relay wraps the Ark task object in `data.data` (super_resolution, usage tokens
    and the upstream status live there)."""
    if isinstance(raw, dict):
        data = raw.get("data")
        if isinstance(data, dict) and isinstance(data.get("data"), dict):
            return "upstream (data.data)", data["data"]
    return None


def body_text(raw: Any) -> str:
    """The body as people read it: pretty JSON (non-ASCII kept), or the text as received;
    cleaned of control sequences either way."""
    if raw is None:
        return ""
    if isinstance(raw, str | bytes):
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    else:
        try:
            text = json.dumps(raw, indent=2, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(raw)
    return clean_text(text) or ""


def body_content(raw: Any, width: int | None = None) -> tuple[Content, str | None]:
    """Highlighted body, cut to MAX_BODY_CHARS / MAX_BODY_LINES, its long lines wrapped under
    their own indentation at `width`; the note says what was cut."""
    text = body_text(raw)
    if not text:
        return Content.styled("(no body stored yet)", "$foreground-muted"), None
    total_chars = len(text)
    lines = text.splitlines()
    note = None
    if total_chars > MAX_BODY_CHARS or len(lines) > MAX_BODY_LINES:
        cut = "\n".join(lines[:MAX_BODY_LINES])[:MAX_BODY_CHARS]
        shown_lines = cut.count("\n") + 1
        note = (
            f"body truncated: showing {shown_lines:,} of {len(lines):,} lines "
            f"({size_cell(len(cut.encode()))} of {size_cell(len(text.encode()))}). "
            "Press y to copy the whole body."
        )
        text = cut
    language = "json" if not isinstance(raw, str | bytes) else "text"
    return wrap_indented(highlight(text, language=language), width), note


@dataclass(frozen=True)
class _Shown:
    """What `show()` was given: drawn again at a new width."""

    task: Task
    history: tuple[Event, ...]
    now: float
    next_poll: float | None
    progress: Any
    provider_state: tuple[str, str | None] | None


class DetailPane(VerticalScroll, can_focus=True):
    """The selected task, in full. `show()` is cheap; the body is highlighted in a thread."""

    HELP_GROUP: ClassVar[str] = "Detail pane (when focused)"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "scroll_down", "Scroll down", show=False, id="detail.down"),
        Binding("k", "scroll_up", "Scroll up", show=False, id="detail.up"),
        Binding("g", "scroll_home", "Top", show=False, id="detail.top"),
        Binding("G", "scroll_end", "Bottom", show=False, id="detail.bottom"),
    ]
    DEFAULT_CSS = """
    DetailPane { padding: 0 1; }
    DetailPane .heading { color: $accent; text-style: bold; margin-top: 1; }
    DetailPane #failure-head { margin-top: 0; }
    DetailPane #detail-note { color: $warning; text-style: bold; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.task_key: tuple[str, str] | None = None
        self._body_token = 0
        self.body_note: str | None = None
        self._shown: _Shown | None = None
        self._wrapped_at: int | None = None

    def compose(self):  # type: ignore[override]
        # The failure comes first: for a failed task it is what the user opened the pane for.
        yield Static(Content.styled("failure", _HEADING), classes="heading", id="failure-head")
        yield Static(id="detail-failure")
        yield Static(Content.styled("task", _HEADING), classes="heading", id="fields-head")
        yield Static(
            Content.styled("Select a task (enter) to see it here.", "$foreground-muted"),
            id="detail-fields",
        )
        yield Static(Content.styled("history", _HEADING), classes="heading", id="history-head")
        yield Static(id="detail-history")
        yield Static(id="upstream-head", classes="heading")
        yield Static(id="detail-upstream")
        yield Static(
            Content.styled("upstream body (raw)", _HEADING), classes="heading", id="body-head"
        )
        yield Static(id="detail-note")
        yield Static(id="detail-body")

    def on_mount(self) -> None:
        self._set_sections(False, False, False)

    def on_show(self) -> None:
        self.screen.set_class(True, "-detail-open")  # a narrow screen drops the table meanwhile

    def on_hide(self) -> None:
        self.screen.set_class(False, "-detail-open")

    def _set_sections(self, has_task: bool, failure: bool, upstream: bool) -> None:
        for ident, shown in (
            ("failure-head", failure),
            ("detail-failure", failure),
            ("fields-head", failure),
            ("history-head", has_task),
            ("detail-history", has_task),
            ("upstream-head", upstream),
            ("detail-upstream", upstream),
            ("body-head", has_task),
            ("detail-body", has_task),
            ("detail-note", has_task and self.body_note is not None),
        ):
            self.query_one(f"#{ident}").display = shown

    @property
    def text_width(self) -> int | None:
        """Cells a line may take (None before the pane is laid out: nothing is wrapped then)."""
        width = self.scrollable_content_region.width
        return width if width > 0 else None

    def clear(self) -> None:
        self.task_key = None
        self.body_note = None
        self._shown = None
        self.query_one("#detail-fields", Static).update(
            Content.styled("No task selected.", "$foreground-muted")
        )
        self._set_sections(False, False, False)

    def show(
        self,
        task: Task,
        history: Sequence[Event],
        now: float,
        *,
        next_poll: float | None = None,
        progress: Any = None,
        provider_state: tuple[str, str | None] | None = None,
    ) -> None:
        """Show `task` (with `raw`) and its history; the body renders in the background.
        `provider_state` is the engine's (health, reason) for the task's provider."""
        same_task = self.task_key == task.key
        self.task_key = task.key
        self._shown = _Shown(task, tuple(history), now, next_poll, progress, provider_state)
        self.border_title = Content(clean_line(task.id) or "")  # Content: never markup
        width = self.text_width
        self._wrapped_at = width
        failure = self._draw_text(self._shown, width)
        block = upstream_block(task.raw)
        if block is not None:
            title, value = block
            self.query_one("#upstream-head", Static).update(Content.styled(title, _HEADING))
            self._draw_block(value, width)
        if not same_task:
            self.body_note = None
            self.query_one("#detail-body", Static).update(
                Content.styled("(rendering…)", "$foreground-muted")
            )
            self.scroll_home(animate=False)
        self._set_sections(True, failure, block is not None)
        self._render_body_later(task.raw, width)

    def _draw_text(self, shown: _Shown, width: int | None) -> bool:
        """The failure, fields and history at `width`; True when there is a failure."""
        task = shown.task
        trouble = provider_rows(
            shown.provider_state, last_http_error(shown.history), shown.now, width
        )
        self.query_one("#detail-fields", Static).update(
            fields_content(
                task,
                shown.now,
                next_poll=shown.next_poll,
                progress=shown.progress,
                width=width,
                trouble=trouble,
            )
        )
        failure = failure_content(task.failure, width)
        if failure is not None:
            self.query_one("#detail-failure", Static).update(failure)
        self.query_one("#detail-history", Static).update(history_content(shown.history, width))
        return failure is not None

    def _draw_block(self, value: Any, width: int | None) -> None:
        text = body_text(value)
        if len(text) > MAX_BLOCK_CHARS:
            text = text[:MAX_BLOCK_CHARS] + "\n… (cut: the whole body is below)"
        self.query_one("#detail-upstream", Static).update(
            wrap_indented(highlight(text, language="json"), width)
        )

    def on_resize(self) -> None:
        """A new width wraps the text again (labels and JSON keep their columns)."""
        shown = self._shown
        width = self.text_width
        if shown is None or width == self._wrapped_at or not self.display:
            return
        self._wrapped_at = width
        self._draw_text(shown, width)
        block = upstream_block(shown.task.raw)
        if block is not None:
            self._draw_block(block[1], width)
        self._render_body_later(shown.task.raw, width)

    def _render_body_later(self, raw: Any, width: int | None) -> None:
        self._body_token += 1
        self.run_worker(
            lambda token=self._body_token: self._render_body(token, raw, width),
            thread=True,
            exclusive=True,
            group="detail-body",
            exit_on_error=False,
        )

    def _render_body(self, token: int, raw: Any, width: int | None) -> None:
        content, note = body_content(raw, width)
        if get_current_worker().is_cancelled:
            return
        self.app.call_from_thread(self._body_ready, token, content, note)

    def _body_ready(self, token: int, content: Content, note: str | None) -> None:
        if token != self._body_token:
            return  # a newer task (or a newer body) is already on its way
        self.body_note = note
        note_widget = self.query_one("#detail-note", Static)
        note_widget.update(Content(note or ""))
        note_widget.display = note is not None
        self.query_one("#detail-body", Static).update(content)
