"""Task ids as people paste them: bare ids, or the JSON a create call answered.

An id goes into a URL path and a file name, so only a safe alphabet passes (`ID_RE`). A list of
ids is all-or-nothing: `parse_id_lines` reports every bad line, and the caller adds nothing
unless there are none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from tui.core.clean import clean_line

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_SHOWN = 80  # characters of a bad line quoted back


def is_valid_id(s: object) -> bool:
    return isinstance(s, str) and ID_RE.fullmatch(s) is not None


def parse_id_lines(lines: Iterable[str]) -> tuple[list[str], list[tuple[int, str, str]]]:
    """Ids in order (duplicates dropped) and errors as (line number, line cleaned, reason).

    A line is a bare id or a JSON object holding `id`, `task_id` or `data.task_id` (what the
    providers' create calls answer). Blank lines and `#` comments are skipped.
    """
    ids: list[str] = []
    seen: set[str] = set()
    errors: list[tuple[int, str, str]] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if number == 1:
            line = line.lstrip("\ufeff").strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("{", "[")):
            task_id, reason = _from_json(line)
        elif ID_RE.fullmatch(line):
            task_id, reason = line, None
        else:
            task_id, reason = None, _why_bad(line)
        if task_id is None:
            errors.append((number, _shown(line), reason or "not a task id"))
        elif task_id not in seen:
            seen.add(task_id)
            ids.append(task_id)
    return ids, errors


def _from_json(line: str) -> tuple[str | None, str | None]:
    try:
        obj: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON ({exc.msg} at column {exc.colno})"
    if not isinstance(obj, dict):
        return None, "a JSON line must be an object holding id, task_id or data.task_id"
    data = obj.get("data")
    for where, value in (
        ("id", obj.get("id")),
        ("task_id", obj.get("task_id")),
        ("data.task_id", data.get("task_id") if isinstance(data, dict) else None),
    ):
        if value is None:
            continue
        if isinstance(value, str) and ID_RE.fullmatch(value):
            return value, None
        shown = _shown(value) if isinstance(value, str) else type(value).__name__
        return None, f"{where} {shown!r} is not a task id: " + (
            _why_bad(value) if isinstance(value, str) else "it must be a string"
        )
    return None, "the JSON object holds no id, task_id or data.task_id"


def _why_bad(text: str) -> str:
    if len(text) > 128:
        return f"too long ({len(text)} characters; at most 128)"
    if any(ch.isspace() for ch in text):
        return "contains spaces: put one id on each line"
    if not text[0].isascii() or not text[0].isalnum():
        return "must start with a letter or digit"
    return "ids hold only letters, digits and . _ : -"


def _shown(text: str) -> str:
    cleaned = clean_line(text) or ""
    return cleaned if len(cleaned) <= _SHOWN else cleaned[: _SHOWN - 1] + "…"
