"""Where a finished video goes: `[download] dir` + the rendered `[download] template`.

Ids, models and batch labels come from users and from upstream bodies, so every value is cleaned
into a single harmless path part before it meets the template: a `/`, `..`, NUL or control
character in an id can never move a file outside `dir`. The template itself is the user's own,
but it is held to the same rule (no absolute paths, no `..`), and the joined result is checked
once more against `dir` before anyone writes to it.
"""

from __future__ import annotations

import os
import re
import string
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

from tui.core.model import Task

TEMPLATE_FIELDS: tuple[str, ...] = ("provider", "id", "batch", "model", "date")
DEFAULT_TEMPLATE = "{provider}/{id}.mp4"
PART_SUFFIX = ".part"

# Longest file name most filesystems take is 255 bytes; leave room for the metadata's
# temporary name, `.NAME.part.json.PID.tmp` (up to 23 more bytes).
_MAX_PART_BYTES = 200
_UNSAFE = frozenset('/\\<>:"|?*')
_PLACEHOLDERS = {"batch": "no-batch", "model": "unknown-model"}


class TemplateError(ValueError):
    """The `[download] template` cannot be used; the message says what to fix."""


def clean_part(value: object) -> str:
    """One safe path component: no separators, no control characters, never `.` or `..`."""
    text = unicodedata.normalize("NFC", str(value))
    text = "".join(
        "_" if ch in _UNSAFE or unicodedata.category(ch).startswith("C") else ch for ch in text
    )
    text = text.strip().strip(".").strip()
    if not text:
        return "_"
    return _fit(text)


def _fit(text: str) -> str:
    """Shorten a too-long name to the byte budget, keeping a short extension like `.mp4`."""
    if len(text.encode("utf-8")) <= _MAX_PART_BYTES:
        return text
    stem, dot, ext = text.rpartition(".")
    if not dot or not stem or len(ext) > 8:
        stem, ext = text, ""
    budget = _MAX_PART_BYTES - len(ext.encode("utf-8")) - (1 if ext else 0)
    short = stem.encode("utf-8")[:budget].decode("utf-8", "ignore").rstrip(". ")
    return f"{short}.{ext}" if ext else short


def check_template(template: str) -> None:
    """Raise TemplateError unless the template names known fields and renders to a file name."""
    _parse(template)


def template_fields(task: Task, *, now: datetime | None = None) -> dict[str, str]:
    """The template's field values for one task, each already a safe path component."""
    when = task.finished_at or task.first_seen_terminal_at or task.created_at or now
    if when is None:
        when = datetime.now(UTC)
    values = {
        "provider": task.provider,
        "id": task.id,
        "batch": task.batch or _PLACEHOLDERS["batch"],
        "model": task.model or _PLACEHOLDERS["model"],
        "date": when.astimezone(UTC).strftime("%Y-%m-%d"),
    }
    return {name: clean_part(value) for name, value in values.items()}


def render(template: str, task: Task, *, now: datetime | None = None) -> Path:
    """The relative path (inside `dir`) the template gives for this task."""
    pieces = _parse(template)
    fields = template_fields(task, now=now)
    text = "".join(
        literal if name is None else clean_part(format(fields[name], spec))
        for literal, name, spec in pieces
    )
    parts = [clean_part(p) if p not in ("", ".", "..") else "" for p in re.split(r"[/\\]", text)]
    parts = [p for p in parts if p]
    if not parts:
        raise TemplateError(f"[download] template {template!r} renders to an empty file name")
    return Path(*parts)


def target_path(directory: Path, template: str, task: Task, *, now: datetime | None = None) -> Path:
    """`directory / render(...)`, made absolute, and proven to stay inside `directory`."""
    base = Path(os.path.abspath(os.path.expanduser(directory)))
    path = Path(os.path.normpath(base / render(template, task, now=now)))
    if os.path.commonpath([base, path]) != str(base) or path == base:
        raise TemplateError(f"[download] template {template!r} leaves {base} for task {task.id}")
    return path


def part_path(path: Path) -> Path:
    """The `.part` file a download streams into before the atomic rename."""
    return path.with_name(path.name + PART_SUFFIX)


def _parse(template: str) -> list[tuple[str, str | None, str]]:
    if not isinstance(template, str) or not template.strip():
        raise TemplateError("[download] template is empty: use e.g. " + repr(DEFAULT_TEMPLATE))
    if "\x00" in template:
        raise TemplateError("[download] template contains a NUL character")
    out: list[tuple[str, str | None, str]] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise TemplateError(f"[download] template {template!r}: {exc}") from None
    for literal, name, spec, conversion in parsed:
        if literal:
            out.append((literal, None, ""))
        if name is None:
            continue
        if name not in TEMPLATE_FIELDS or conversion:
            raise TemplateError(
                f"[download] template {template!r}: unknown field {{{name}}}; "
                f"use {', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)}"
            )
        try:
            format("x", spec or "")
        except ValueError as exc:
            raise TemplateError(
                f"[download] template {template!r}: {{{name}:{spec}}}: {exc}"
            ) from None
        out.append(("", name, spec or ""))
    if template.rstrip().endswith(("/", "\\")):
        raise TemplateError(f"[download] template {template!r} ends with a directory, not a file")
    return out
