"""Safe readers shared by the dialects: upstream JSON is untrusted, so every field is checked.

A wrong-typed optional field becomes None (a bad `seed` must not lose a finished video); only a
body without a usable status word is refused, with a short message that never holds the body.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Any

from tui.core.clean import clean_line
from tui.core.errors import BadResponse, excerpt
from tui.core.model import Failure, State, Tokens, from_epoch

STATUS_CHARS = 64  # an upstream status word longer than this is cut (it is shown and stored)
_PROGRESS = re.compile(r"\s*(\d{1,3}(?:\.\d+)?)\s*%?\s*")


def dig(obj: Any, *keys: str) -> Any:
    """`obj[k1][k2]...`, or None as soon as a step is not a JSON object or lacks the key."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def as_str(value: Any) -> str | None:
    """A cleaned single-line string; non-strings and empty strings are None."""
    if not isinstance(value, str):
        return None
    return clean_line(value) or None


def as_int(value: Any) -> int | None:
    """An integer (a whole float counts); bools, strings and non-finite numbers are None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def as_float(value: Any) -> float | None:
    """A finite, non-negative number (durations); anything else is None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


def as_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def as_epoch(value: Any) -> datetime | None:
    """Unix seconds to UTC; 0 ('not started yet'), strings and junk are None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value):
        return None
    return from_epoch(value)


def as_progress(value: Any) -> int | None:
    """`"50%"`, `"50"`, `50` or `50.0` -> 50 (clamped to 0..100); anything else is None."""
    if isinstance(value, str):
        match = _PROGRESS.fullmatch(value)
        if not match:
            return None
        value = float(match.group(1))
    number = as_float(value)
    return None if number is None else min(100, round(number))


def as_tokens(usage: Any, *, total_only: Any = None) -> Tokens:
    """`usage.{total,completion,super_resolution}_tokens`, or a bare total (kyy)."""
    if total_only is not None:
        return Tokens(total=as_int(total_only))
    return Tokens(
        total=as_int(dig(usage, "total_tokens")),
        completion=as_int(dig(usage, "completion_tokens")),
        super_resolution=as_int(dig(usage, "super_resolution_tokens")),
    )


def as_failure(value: Any) -> Failure | None:
    """An `{code, message}` object or a bare message string; None when it says nothing."""
    if isinstance(value, dict):
        code, message = as_str(value.get("code")), as_str(value.get("message"))
    else:
        code, message = None, as_str(value)
    return Failure(code, message) if code or message else None


def failure_for(state: State, *reasons: Failure | None) -> Failure | None:
    """The first reason given, for a task that ended badly; a failed task always gets one."""
    if state not in (State.FAILED, State.CANCELLED, State.EXPIRED):
        return None
    reason = next((r for r in reasons if r is not None), None)
    return Failure() if reason is None and state is State.FAILED else reason


def map_status(word: str, table: dict[str, State]) -> State:
    """The contract's state for an upstream word (case-insensitive); unlisted words -> UNKNOWN."""
    return table.get(word.casefold(), State.UNKNOWN)


def status_word(obj: dict[str, Any], http_status: int, key: str = "status") -> str:
    """The required status word, cleaned and capped; raises BadResponse when it is unusable."""
    value = obj.get(key)
    if value is None:
        raise BadResponse(f"HTTP {http_status}: no {key!r} in the answer")
    if not isinstance(value, str):
        raise BadResponse(f"HTTP {http_status}: {key!r} is a {_json_type(value)}, not text")
    word = clean_line(value)
    if not word:
        raise BadResponse(f"HTTP {http_status}: {key!r} is empty")
    return word if len(word) <= STATUS_CHARS else word[: STATUS_CHARS - 1] + "…"


def looks_like_html(body: bytes | str) -> bool:
    head = body[:64].lstrip()
    if isinstance(head, bytes):
        head = head.decode("utf-8", errors="replace")
    return head.startswith("<")


def raw_body(body: bytes | str) -> Any:
    """The body as received: parsed JSON when it parses, else its text (for `raw`).

    `strict=False` accepts raw control characters inside strings: some upstreams send them, and
    they are cleaned from every field anyway.
    """
    try:
        return json.loads(body, strict=False)
    except (ValueError, RecursionError):
        if isinstance(body, bytes):
            return body.decode("utf-8", errors="replace")
        return body


def load_object(http_status: int, body: bytes | str) -> dict[str, Any]:
    """The body as a JSON object, or BadResponse saying briefly what it was instead."""
    if not body or not body.strip():
        raise BadResponse(f"HTTP {http_status}: empty body")
    if looks_like_html(body):
        raise BadResponse(f"HTTP {http_status}: an HTML page, not JSON: {excerpt(body)}")
    try:
        data = json.loads(body, strict=False)
    except (ValueError, RecursionError):
        raise BadResponse(
            f"HTTP {http_status}: not valid JSON (truncated?): {excerpt(body)}"
        ) from None
    if not isinstance(data, dict):
        raise BadResponse(f"HTTP {http_status}: expected a JSON object, got {_json_type(data)}")
    return data


def http_error(http_status: int, body: bytes | str) -> BadResponse:
    """A BadResponse for an error status, quoting the provider's own short reason if any."""
    if not body or not body.strip():
        return BadResponse(f"HTTP {http_status} with an empty body")
    if looks_like_html(body):
        return BadResponse(f"HTTP {http_status} with an HTML page: {excerpt(body)}")
    data = raw_body(body)
    if isinstance(data, dict):
        reason = as_failure(data.get("error")) or as_failure(data)
        if reason:
            return BadResponse(f"HTTP {http_status}: {excerpt(reason.label)}")
    return BadResponse(f"HTTP {http_status}: {excerpt(body)}")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return "string"
