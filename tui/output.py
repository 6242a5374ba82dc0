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
from tui.core.model import Event, State, Task
from tui.core.text_width import cell_width

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
    "STATE", "ID", "PROVIDER", "MODEL", "PROGRESS", "AGE", "TOKENS", "DOWNLOAD",
)  # fmt: skip
_RIGHT = frozenset({"PROGRESS", "TOKENS"})


def task_row(task: Task, now: datetime) -> tuple[str, ...]:
    import humanize

    since = task.created_at or task.added_at
    age = humanize.naturaldelta(now - since) if since else "-"
    tokens = task.tokens.super_resolution or task.tokens.total
    download = str(task.download.state)
    if task.download.state == "none":
        download = "-"
    elif task.download.bytes:
        download = f"{download} {humanize.naturalsize(task.download.bytes)}"
    return (
        str(task.state),
        task.id,
        safe(task.provider),
        safe(task.model) or "-",
        f"{task.progress}%" if task.progress is not None else "-",
        age,
        f"{tokens:,}" if tokens is not None else "-",
        download,
    )


def table_lines(rows: Sequence[Sequence[str]], header: Sequence[str]) -> Iterable[str]:
    """Aligned columns, two spaces apart, widths from the content itself."""
    widths = [cell_width(h) for h in header]
    for row in rows:
        for index, value in enumerate(row):
            w = cell_width(value)
            if w > widths[index]:
                widths[index] = w
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


def write_table(out: TextIO, tasks: Sequence[Task], now: datetime | None = None) -> None:
    now = now or datetime.now(UTC)
    rows = [task_row(task, now) for task in tasks]
    out.write("\n".join(table_lines(rows, COLUMNS)))
    out.write("\n\n" + counts_line(Counter(task.state for task in tasks)) + "\n")


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
)  # fmt: skip
_NESTED = ("tokens", "failure", "download")
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
    if event.id:
        head += f" {safe(event.id)}"
    detail = event_detail(event)
    return f"{head.rstrip()}  {detail}" if detail else head.rstrip()


def event_detail(event: Event) -> str:
    data = event.data
    kind = event.kind
    if kind == "state":
        text = f"{data.get('from')} -> {data.get('to')}"
        failure = data.get("failure")
        if isinstance(failure, dict) and (failure.get("code") or failure.get("message")):
            label = ": ".join(str(failure[k]) for k in ("code", "message") if failure.get(k))
            text += f"  {label}"
        return safe(text)
    if kind == "http_error":
        status = data.get("status")
        text = f"HTTP {status}" if status else "error"
        if data.get("retry_after"):
            text += f" (retry after {float(data['retry_after']):g} s)"
        if data.get("message"):
            text += f": {data['message']}"
        return safe(text)
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
