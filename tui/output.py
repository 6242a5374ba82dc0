"""What the headless commands print: aligned tables for people, JSON/JSONL/CSV for scripts.

Plain text only (no Rich, no Textual): the output goes to pipes, files and `less` as well as to
terminals. Column widths are measured in terminal cells (a CJK character takes two), and every
string from the store is shown without control characters, so nothing an upstream body holds
can move the cursor or write the clipboard.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from tui.core.clean import clean_line
from tui.core.model import Event, State, Task, Tokens
from tui.core.text_width import cell_width, cut

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_C1_OR_DEL = re.compile(r"[\x7f-\x9f\u2028\u2029]")
STATE_ORDER: tuple[State, ...] = tuple(State)


def safe(text: object) -> str:
    """A string fit for a terminal: control sequences and characters removed."""
    if text is None:
        return ""
    value = text if isinstance(text, str) else str(text)
    if _CONTROL.search(value):
        return clean_line(value) or ""
    return value


# -------------------------------------------------------------------------------------------
# the status table


COLUMNS: tuple[str, ...] = (
    "STATE", "ID", "PROVIDER", "BATCH", "MODEL", "PROGRESS", "AGE", "TOKENS", "DOWNLOAD",
    "FAILURE",
)  # fmt: skip
_RIGHT = frozenset({"PROGRESS", "TOKENS"})
# A column with nothing in any row shown is left out, as the dashboard gives an empty column no
# space (state and id always stay: they say what a row is).
_ALWAYS_SHOWN = frozenset({"STATE", "ID"})
# On a terminal too narrow for every column, these give way (in this order) until the failure
# text has MIN_FAILURE_WIDTH cells: as on the dashboard, a failed row always says why.
_GIVE_WAY_TO_FAILURE = ("TOKENS", "MODEL", "DOWNLOAD", "PROGRESS", "PROVIDER", "BATCH")
PIPED_FAILURE_WIDTH = 60
"""Cells for the failure text when stdout is no terminal: a file or `less` gets a readable
table (`--json` or `export` have every message whole)."""
MIN_FAILURE_WIDTH = 30
"""The failure text keeps this much on a terminal whose width the other columns have used up:
a wrapped line is better than a failed task that does not say why."""


def tokens_cell(tokens: Tokens) -> str:
    """`50,638 (+114,441 SR)`: the total, as the dashboard's tokens column counts it, with the
    super-resolution tokens (billed apart) after it, as the dashboard's detail pane shows them."""
    if tokens.total is None and tokens.super_resolution is None:
        return "-"
    text = f"{tokens.total:,}" if tokens.total is not None else "?"
    if tokens.super_resolution is not None:
        text += f" (+{tokens.super_resolution:,} SR)"
    return text


def failure_cell(task: Task) -> str:
    """`Code: message` on one line, control sequences removed (the dashboard's failure column)."""
    return safe(task.failure.label) if task.failure is not None else ""


def task_row(task: Task, now: datetime) -> tuple[str, ...]:
    """The cells of one task, in COLUMNS order (the failure uncut: `write_table` fits it)."""
    import humanize

    since = task.created_at or task.added_at
    age = humanize.naturaldelta(now - since) if since else "-"
    download = str(task.download.state)
    if task.download.state == "none":
        download = "-"
    elif task.download.bytes:
        download = f"{download} {humanize.naturalsize(task.download.bytes)}"
    return (
        str(task.state),
        task.id,
        safe(task.provider),
        safe(task.batch) or "-",
        safe(task.model) or "-",
        f"{task.progress}%" if task.progress is not None else "-",
        age,
        tokens_cell(task.tokens),
        download,
        failure_cell(task),
    )


def column_widths(rows: Sequence[Sequence[str]], header: Sequence[str]) -> list[int]:
    """Each column's width in cells: its widest value or its title."""
    widths = [cell_width(h) for h in header]
    for row in rows:
        for index, value in enumerate(row):
            w = cell_width(value)
            if w > widths[index]:
                widths[index] = w
    return widths


def table_lines(rows: Sequence[Sequence[str]], header: Sequence[str]) -> Iterable[str]:
    """Aligned columns, two spaces apart, widths from the content itself."""
    widths = column_widths(rows, header)
    right = [h in _RIGHT for h in header]
    last = len(header) - 1

    def line(values: Sequence[str]) -> str:
        parts = []
        for index, value in enumerate(values):
            pad = " " * (widths[index] - cell_width(value))
            if right[index]:
                parts.append(pad + value)
            elif index == last:
                parts.append(value)
            else:
                parts.append(value + pad)
        return "  ".join(parts).rstrip()

    yield line(header)
    for row in rows:
        yield line(row)


def counts_line(counts: dict[State, int] | Counter[State]) -> str:
    """`12 tasks: 3 queued, 2 running, 7 succeeded` in the states' own order."""
    total = sum(counts.values())
    noun = "task" if total == 1 else "tasks"
    parts = [f"{counts[s]} {s}" for s in STATE_ORDER if counts.get(s)]
    return f"{total} {noun}" + (": " + ", ".join(parts) if parts else "")


def write_table(
    out: TextIO, tasks: Sequence[Task], now: datetime | None = None, *, width: int | None = None
) -> None:
    """The status table. `width`: the terminal's, which the failure text (the last column) is
    cut to fit; None (not a terminal): the failure text is cut at PIPED_FAILURE_WIDTH cells."""
    now = now or datetime.now(UTC)
    rows = [task_row(task, now) for task in tasks]
    empty = [
        name
        for index, name in enumerate(COLUMNS)
        if name not in _ALWAYS_SHOWN and all(row[index] in ("", "-") for row in rows)
    ]
    header, rows = _without(COLUMNS, rows, empty)
    if header[-1] == "FAILURE":
        if width is not None:
            for name in _GIVE_WAY_TO_FAILURE:
                if _room_for_last(header, rows, width) >= MIN_FAILURE_WIDTH:
                    break
                header, rows = _without(header, rows, [name])
        room = PIPED_FAILURE_WIDTH if width is None else _room_for_last(header, rows, width)
        rows = [(*row[:-1], cut(row[-1], max(room, MIN_FAILURE_WIDTH))) for row in rows]
    out.write("\n".join(table_lines(rows, header)))
    out.write("\n\n" + counts_line(Counter(task.state for task in tasks)) + "\n")


def _without(
    header: Sequence[str], rows: list[tuple[str, ...]], names: Iterable[str]
) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """The table without the columns `names` (those it has)."""
    gone = set(names)
    keep = [index for index, name in enumerate(header) if name not in gone]
    if len(keep) == len(header):
        return tuple(header), rows
    return tuple(header[i] for i in keep), [tuple(row[i] for i in keep) for row in rows]


def _room_for_last(header: Sequence[str], rows: list[tuple[str, ...]], width: int) -> int:
    """The cells the other columns (and their two-cell gaps) leave of `width` to the last one."""
    others = column_widths([row[:-1] for row in rows], header[:-1])
    return width - sum(others) - 2 * len(others)


# -------------------------------------------------------------------------------------------
# JSON, JSON lines, CSV


_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


def dumps(obj: Any) -> str:
    """One line of JSON, UTF-8 kept readable; C1 controls escaped so the text is terminal-safe
    (json escapes C0 controls itself; in JSON they can only sit inside strings)."""
    return _terminal_safe(_ENCODER.encode(obj))


def _terminal_safe(text: str) -> str:
    if not text.isascii() and _C1_OR_DEL.search(text):
        text = _C1_OR_DEL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text


def write_json_texts(out: TextIO, texts: Iterable[str]) -> int:
    """A JSON array from objects already encoded (`Store.iter_json`), one a line."""
    out.write("[\n")
    count = _write_joined(out, texts, ",\n")
    out.write("\n]\n" if count else "]\n")
    return count


def write_jsonl_texts(out: TextIO, texts: Iterable[str]) -> int:
    count = _write_joined(out, texts, "\n")
    if count:
        out.write("\n")
    return count


def _write_joined(out: TextIO, texts: Iterable[str], separator: str, batch: int = 512) -> int:
    """`separator.join(texts)` written a few hundred at a time: one write per batch, not per
    object, and memory stays flat however many there are."""
    count = 0
    pending: list[str] = []
    for text in texts:
        pending.append(_terminal_safe(text))
        count += 1
        if len(pending) == batch:
            out.write(("" if count == batch else separator) + separator.join(pending))
            pending.clear()
    if pending:
        out.write(("" if count == len(pending) else separator) + separator.join(pending))
    return count


def write_json(out: TextIO, tasks: Iterable[Task]) -> int:
    """A JSON array of task objects, one object a line; returns how many."""
    return write_json_texts(out, (dumps(task.to_json()) for task in tasks))


def write_jsonl(out: TextIO, tasks: Iterable[Task]) -> int:
    return write_jsonl_texts(out, (dumps(task.to_json()) for task in tasks))


# CSV: the task object flattened one level; `raw` is left out (it is a whole JSON body: use
# --format json or jsonl for it).
CSV_FIELDS: tuple[str, ...] = (
    "provider", "id", "batch", "state", "upstream_status", "model", "progress",
    "created_at", "started_at", "finished_at", "video_url", "url_expires_at", "duration",
    "resolution", "super_resolution", "ratio", "fps", "seed", "generate_audio",
    "tokens_total", "tokens_completion", "tokens_super_resolution",
    "failure_code", "failure_message", "polls", "last_polled_at",
    "download_state", "download_path", "download_bytes", "download_error",
    "request_name", "request_attempt", "request_previous_id", "request_fingerprint",
)  # fmt: skip
_NESTED = ("tokens", "failure", "download", "request")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_row(obj: dict[str, Any]) -> list[str]:
    flat: dict[str, Any] = {k: v for k, v in obj.items() if k not in _NESTED and k != "raw"}
    for name in _NESTED:
        for key, value in (obj.get(name) or {}).items():
            flat[f"{name}_{key}"] = value
    return [_csv_cell(flat.get(name)) for name in CSV_FIELDS]


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    # A cell a spreadsheet would run as a formula (an upstream message starting with "=") is
    # quoted with a leading apostrophe, as OWASP advises for CSV meant for spreadsheets.
    if text.startswith(_FORMULA_START):
        text = "'" + text
    return text


def write_csv_objects(out: TextIO, objects: Iterable[dict[str, Any]]) -> int:
    """CSV from task objects (`Task.to_json()` or `Store.query_json`); returns how many rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    count = 0
    for obj in objects:
        writer.writerow(csv_row(obj))
        count += 1
    return count


def write_csv(out: TextIO, tasks: Iterable[Task]) -> int:
    return write_csv_objects(out, (task.to_json() for task in tasks))


WRITERS = {"json": write_json, "jsonl": write_jsonl, "csv": write_csv}


# -------------------------------------------------------------------------------------------
# watch's lines


def event_line(event: Event) -> str:
    """`12:03:04 state    anyfast asyntask_x  running -> failed  Code: message` (local time)."""
    moment = event.ts.astimezone().strftime("%H:%M:%S")
    head = f"{moment} {event.kind:<8}"
    if event.provider:
        head += f" {safe(event.provider)}"
    if event.kind == "request":  # no task id yet: the request's own label says which
        head += f" {request_label(event.data)}"
    elif event.id:
        head += f" {safe(event.id)}"
    detail = event_detail(event)
    return f"{head.rstrip()}  {detail}" if detail else head.rstrip()


def _http_error_text(event: Event) -> str:
    """`HTTP 502: Bad Gateway`, each thing said once: the line already names the provider, and
    the poller's message may already say the status (`anyfast: HTTP 429 rate limited (12 s)`)."""
    data = event.data
    status = data.get("status")
    message = str(data.get("message") or "")
    if event.provider and message.startswith(f"{event.provider}: "):
        message = message[len(event.provider) + 2 :]
    head = f"HTTP {status}" if status else "error"
    if message.startswith(head):
        return message
    if data.get("retry_after"):
        head += f" (retry after {float(data['retry_after']):g} s)"
    return f"{head}: {message}" if message else head


def request_label(data: dict[str, Any]) -> str:
    """A request's name, else the start of its fingerprint (`sha256:1a2b3c4d`)."""
    if data.get("name"):
        return safe(data["name"])
    return safe(str(data.get("fingerprint") or "request")[:15])


def _request_text(data: dict[str, Any]) -> str:
    """`sending -> created asyntask_x`, `sending -> rejected HTTP 400: code: message`."""
    text = f"{data.get('from')} -> {data.get('to')}"
    if data.get("id"):
        text += f" {data['id']}"
    error = data.get("error")
    status = data.get("http_status")
    if isinstance(error, dict) and (error.get("code") or error.get("message")):
        label = ": ".join(str(error[k]) for k in ("code", "message") if error.get(k))
        said = not status or label.startswith(f"HTTP {status}")
        text += f"  {label}" if said else f"  HTTP {status}: {label}"
    elif isinstance(status, int) and not 200 <= status < 300:
        text += f"  HTTP {status}"
    return safe(text)


def event_detail(event: Event) -> str:
    data = event.data
    kind = event.kind
    if kind == "request":
        return _request_text(data)
    if kind == "state":
        text = f"{data.get('from')} -> {data.get('to')}"
        failure = data.get("failure")
        if isinstance(failure, dict) and (failure.get("code") or failure.get("message")):
            label = ": ".join(str(failure[k]) for k in ("code", "message") if failure.get(k))
            text += f"  {label}"
        return safe(text)
    if kind == "http_error":
        return safe(_http_error_text(event))
    if kind == "download":
        text = str(data.get("state", ""))
        if data.get("path"):
            text += f" {data['path']}"
        if data.get("bytes"):
            import humanize

            text += f" ({humanize.naturalsize(data['bytes'])})"
        if data.get("error"):
            text += f": {data['error']}"
        return safe(text)
    if kind == "summary":
        return summary_text(data.get("counts", {}), data.get("downloads", {}))
    if kind == "store":  # `unavailable: no space left on ... ; polling waits, nothing is lost`
        return safe(": ".join(str(data[k]) for k in ("state", "message") if data.get(k)))
    pieces = [str(data[k]) for k in ("health", "message") if data.get(k)]
    if pieces:
        return safe(": ".join(pieces))
    return safe(" ".join(f"{k}={v}" for k, v in data.items()))


def summary_text(counts: dict[str, int], downloads: dict[str, int]) -> str:
    total = sum(counts.values())
    text = f"{total} task{'s' if total != 1 else ''}"
    if counts:
        text += ": " + ", ".join(f"{n} {state}" for state, n in counts.items())
    if downloads:
        text += "; downloads: " + ", ".join(f"{n} {state}" for state, n in downloads.items())
    return text


def summary_event(tasks: Iterable[Task]) -> Event:
    """The contract's `summary` event: counts by state and by download state (not `none`)."""
    states: Counter[str] = Counter()
    downloads: Counter[str] = Counter()
    for task in tasks:
        states[str(task.state)] += 1
        if task.download.state != "none":
            downloads[str(task.download.state)] += 1
    counts = {str(s): states[str(s)] for s in STATE_ORDER if states[str(s)]}
    done = {
        k: downloads[k] for k in ("done", "running", "pending", "failed", "expired") if downloads[k]
    }
    return Event("summary", data={"counts": counts, "downloads": done})
