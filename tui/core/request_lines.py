"""The lines of a `submit` file, checked all together before anything is recorded.

A line is a create body (a JSON object with `model`) or `{"request": {...}, "provider": "...",
"name": "..."}`. Every line is checked (JSON object, has `model`, provider resolvable, create
path known, key present) and every bad line is named with its number: nothing is recorded if
any line is bad, so a typo on line 1,900 never leaves 1,899 requests half-submitted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from tui.core.clean import clean_line
from tui.core.requests import fingerprint

MAX_LINE_BYTES = 1 << 20  # a create body is small; a megabyte line is a mistake (a pasted video?)
_SHOWN = 60  # characters of a bad line quoted back
_WRAPPER_KEYS = frozenset({"request", "provider", "name"})


class ProviderLike(Protocol):
    """What the checks need of a configured provider (read-only: a frozen config fits)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def api_key(self) -> str | None: ...
    @property
    def api_key_env(self) -> str | None: ...
    @property
    def create_endpoint(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class PlannedRequest:
    """One good line: what will be recorded."""

    line: int
    provider: str
    body: dict[str, Any]
    name: str | None
    fingerprint: str

    @property
    def model(self) -> str:
        return str(self.body["model"])


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    shown: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}" + (f": {self.shown}" if self.shown else "")


def check_request_lines(
    lines: Iterable[str | bytes],
    providers: Mapping[str, ProviderLike],
    *,
    provider: str | None = None,
) -> tuple[list[PlannedRequest], list[BadLine]]:
    """Every good line as a PlannedRequest and every bad one as a BadLine, in file order.

    `provider` is `--provider`; a line's own `provider` field wins over it. Without either,
    the one configured provider is used; with several, the line is bad and names them.
    Blank lines and lines starting with `#` are skipped.
    """
    planned: list[PlannedRequest] = []
    bad: list[BadLine] = []
    for number, raw in enumerate(lines, start=1):
        text, why = _decode(raw)
        if why is not None:
            bad.append(BadLine(number, "", why))
            continue
        line = text.strip().lstrip("\ufeff") if number == 1 else text.strip()
        if not line or line.startswith("#"):
            continue
        try:
            request = _one(line, providers, provider)
        except _Bad as exc:
            bad.append(BadLine(number, _shown(line), str(exc)))
            continue
        planned.append(PlannedRequest(number, *request))
    return planned, bad


class _Bad(Exception):
    """Why one line cannot be recorded."""


def _decode(raw: str | bytes) -> tuple[str, str | None]:
    size = len(raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw)
    if size > MAX_LINE_BYTES:
        return "", (
            f"{size / 1e6:.1f} MB on one line; a create body is at most "
            f"{MAX_LINE_BYTES // 1024} KiB (send images and videos as URLs)"
        )
    if isinstance(raw, str):
        return raw, None
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        return "", "not UTF-8 text (binary data?): a line is one JSON object"


def _one(
    line: str, providers: Mapping[str, ProviderLike], default: str | None
) -> tuple[str, dict[str, Any], str | None, str]:
    try:
        obj: Any = json.loads(line)
    except (ValueError, RecursionError) as exc:
        where = (
            f" ({exc.msg} at column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        )
        raise _Bad(f"not valid JSON{where}") from None
    if not isinstance(obj, dict):
        raise _Bad(f"a line must be a JSON object, not {_json_kind(obj)}")
    name: str | None = None
    chosen = default
    body = obj
    if "request" in obj and "model" not in obj:
        extra = sorted(set(obj) - _WRAPPER_KEYS)
        if extra:
            raise _Bad(f"unknown key(s) beside 'request': {', '.join(extra)}")
        body = obj["request"]
        if not isinstance(body, dict):
            raise _Bad(f"'request' must be a JSON object, not {_json_kind(body)}")
        name = _optional_text(obj, "name")
        chosen = _optional_text(obj, "provider") or default
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _Bad("the create body has no 'model' (a non-empty string)")
    config = _provider(chosen, providers)
    if not config.create_endpoint:
        raise _Bad(
            f"provider '{config.name}' has no create path: set create_path in "
            f"[providers.{config.name}]"
        )
    if not config.api_key:
        source = config.api_key_env or "api_key"
        raise _Bad(f"provider '{config.name}' has no API key: set {source}")
    return config.name, body, name, fingerprint(config.name, body, name)


def _provider(chosen: str | None, providers: Mapping[str, ProviderLike]) -> ProviderLike:
    if chosen is not None:
        config = providers.get(chosen)
        if config is None:
            known = ", ".join(sorted(providers)) or "none configured"
            raise _Bad(f"unknown provider '{clean_line(chosen)}' (configured: {known})")
        return config
    if len(providers) == 1:
        return next(iter(providers.values()))
    if not providers:
        raise _Bad("no provider is configured: add a [providers.NAME] table to the config")
    raise _Bad(
        f"which provider? several are configured ({', '.join(sorted(providers))}): "
        'pass --provider NAME or put "provider" in the line'
    )


def _optional_text(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"'{key}' must be a non-empty string")
    cleaned = clean_line(value) or ""
    if cleaned != value or len(value) > 200:
        raise _Bad(f"'{key}' must be one line of printable text (at most 200 characters)")
    return value


def _json_kind(value: object) -> str:
    return {list: "an array", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(value), "a number"
    )


def _shown(text: str) -> str:
    cleaned = clean_line(text) or ""
    return cleaned if len(cleaned) <= _SHOWN else cleaned[: _SHOWN - 1] + "…"
