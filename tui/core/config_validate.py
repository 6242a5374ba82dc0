"""The config file's checker: every key, type and range, with the file, line and key in each error.

A config error is a user's typo, so every `ConfigError` says where (file, line, table) and what
to write instead. Defaults are not written here: a key the file leaves out takes the dataclass
default (`config_types.default_of`), the one place defaults live.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tui.core.config_types import (
    Config,
    ConfigError,
    DownloadConfig,
    ProviderConfig,
    StoreConfig,
    UIConfig,
    default_of,
    preset_providers,
)
from tui.core.dialects import KINDS
from tui.core.paths import TEMPLATE_FIELDS

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Keys in seconds, and the most they may say: a larger one (`max_interval = 1e12` for "never")
# would overflow the datetime of a task's next poll.
_SECONDS = frozenset({"min_interval", "max_interval", "timeout", "give_up_after", "busy_timeout"})
_YEAR = 365 * 24 * 3600


def parse_toml(path: Path, text: str) -> dict[str, Any]:
    """`tomllib.loads`, with a syntax error turned into a ConfigError naming file and line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_decode_message(path, exc)) from None


def check_config(path: Path, text: str, data: dict[str, Any], env: Mapping[str, str]) -> Config:
    """Check the parsed `data` of the file at `path` (whose `text` gives the lines for errors)."""
    return _Reader(path, text, env).read(data)


def _decode_message(path: Path, exc: tomllib.TOMLDecodeError) -> str:
    """tomllib on 3.11 keeps the line only in its message: `Invalid value (at line 2, ...)`."""
    message = str(exc)
    line = getattr(exc, "lineno", None)
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if match:
        message = message[: match.start()]
        line = line or int(match.group(1))
    where = f"{path}, line {line}" if line else str(path)
    return f'{where}: not valid TOML: {message}. Fix the syntax there, e.g. key = "text" or key = 5'


_TOP_KEYS = ("providers", "download", "store", "ui")
_PROVIDER_KEYS = (
    "kind",
    "base_url",
    "api_key_env",
    "api_key",
    "rate_limit",
    "concurrency",
    "min_interval",
    "max_interval",
    "timeout",
    "create_path",
    "max_live",
    "create_rate",
    "max_attempts",
)
_STORE_KEYS = ("give_up_after", "busy_timeout")
_DOWNLOAD_KEYS = ("enabled", "dir", "template", "concurrency")
_UI_KEYS = ("theme", "keys")


class _Reader:
    """Checks one parsed file and turns it into a Config, failing with the line of the key."""

    def __init__(self, path: Path, text: str, env: Mapping[str, str]) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.env = env

    # -- errors ---------------------------------------------------------------------------

    def fail(self, table: tuple[str, ...], key: str | None, problem: str) -> ConfigError:
        line = self.line_of(table, key)
        where = f"{self.path}, line {line}" if line else str(self.path)
        if table:
            where += f", [{'.'.join(table)}]"
        return ConfigError(f"{where}: {problem}")

    def line_of(self, table: tuple[str, ...], key: str | None) -> int | None:
        """The line that sets `key` in `[table]` (or the table's header when key is None)."""
        current: tuple[str, ...] = ()
        header_line: int | None = None
        key_re = _key_re(key) if key else None
        for number, raw in enumerate(self.lines, start=1):
            line = raw.strip()
            header = _header(line)
            if header is not None:
                current = header
                if current == table and header_line is None:
                    header_line = number
                if key and header[: len(table) + 1] == (*table, key):
                    return number  # `[providers.x]` is where `providers` (or `x`) is set
                continue
            if key_re and current == table and key_re.match(line):
                return number
        if header_line is not None and key is None:
            return header_line
        # dotted keys or inline tables (`providers.x.kind = ...`, `x = {kind = ...}`)
        if key:
            loose = re.compile(r"(^|[\s.{,\"'])" + re.escape(key) + r"[\"']?\s*=")
            for number, raw in enumerate(self.lines, start=1):
                if loose.search(raw.split("#", 1)[0]):
                    return number
        return header_line

    def unknown(self, table: tuple[str, ...], key: str, allowed: tuple[str, ...]) -> ConfigError:
        import difflib

        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else f"known keys: {', '.join(allowed)}"
        return self.fail(table, key, f"unknown key {key!r}: {hint}")

    # -- typed getters ----------------------------------------------------------------------

    def number(
        self, table: tuple[str, ...], values: dict[str, Any], key: str, owner: type, hint: str
    ) -> float:
        """A positive, finite number (TOML also spells nan, inf and -inf: all refused)."""
        default = default_of(owner, key)
        if key not in values:
            return float(default)
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(
                table,
                key,
                f"{key} = {_show(value)} is not a number: {hint}, e.g. {key} = {default}",
            )
        if not math.isfinite(value):
            raise self.fail(
                table,
                key,
                f"{key} = {_show(value)} is not a finite number: {hint}, e.g. {key} = {default}",
            )
        if value <= 0:
            raise self.fail(table, key, f"{key} = {_show(value)} must be above 0: {hint}")
        if key in _SECONDS and value > _YEAR:
            raise self.fail(
                table,
                key,
                f"{key} = {_show(value)} is more than a year ({_YEAR:,} s), which no date "
                f"can hold: {hint}, e.g. {key} = {default}",
            )
        return float(value)

    def whole(
        self, table: tuple[str, ...], values: dict[str, Any], key: str, owner: type, hint: str
    ) -> int:
        """A whole number, 1 or more (a float, nan or inf included, is refused)."""
        default = default_of(owner, key)
        if key not in values:
            return int(default)
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(
                table,
                key,
                f"{key} = {_show(value)} is not a whole number: {hint}, e.g. {key} = {default}",
            )
        if value < 1:
            raise self.fail(table, key, f"{key} = {value} must be 1 or more: {hint}")
        return value

    def string(
        self, table: tuple[str, ...], values: dict[str, Any], key: str, hint: str
    ) -> str | None:
        if key not in values:
            return None
        value = values[key]
        if not isinstance(value, str) or not value.strip():
            shown = "(not shown)" if key.startswith("api_key") else _show(value)
            raise self.fail(table, key, f"{key} = {shown} must be a non-empty string: {hint}")
        return value.strip()

    def table(self, parent: tuple[str, ...], values: dict[str, Any], key: str) -> dict[str, Any]:
        value = values.get(key, {})
        if not isinstance(value, dict):
            dotted = ".".join((*parent, key))
            raise self.fail(
                parent, key, f"{key} must be a table: write it as [{dotted}] on its own line"
            )
        return value

    # -- sections ---------------------------------------------------------------------------

    def read(self, data: dict[str, Any]) -> Config:
        for key in data:
            if key not in _TOP_KEYS:
                raise self.unknown((), key, _TOP_KEYS)
        if "providers" in data:
            raw = self.table((), data, "providers")
            providers = {name: self.provider(name, raw[name]) for name in raw}
        else:
            providers = preset_providers(self.env)
        return Config(
            providers=providers,
            download=self.download(self.table((), data, "download")),
            store=self.store(self.table((), data, "store")),
            ui=self.ui(self.table((), data, "ui")),
            path=self.path,
        )

    def provider(self, name: str, values: Any) -> ProviderConfig:
        table = ("providers", name)
        if not isinstance(values, dict):
            raise self.fail(
                ("providers",),
                name,
                f"providers.{name} must be a table: write [providers.{name}] and its keys below",
            )
        if not _NAME_RE.match(name):
            raise self.fail(
                table,
                None,
                f"provider name {name!r} is not usable: use letters, digits, '.', '_' or '-' "
                "(up to 64), e.g. [providers.my-relay]",
            )
        for key in values:
            if key not in _PROVIDER_KEYS:
                raise self.unknown(table, key, _PROVIDER_KEYS)

        kind = values.get("kind")
        if kind is None:
            raise self.fail(
                table, None, f'[providers.{name}] has no kind: add kind = "newapi" (or kyy, ark)'
            )
        if kind not in KINDS:
            raise self.fail(
                table,
                "kind",
                f"kind = {_show(kind)} is not a known dialect: use one of {_or(KINDS)}",
            )
        base_url = values.get("base_url")
        if base_url is None:
            raise self.fail(
                table, None, f'[providers.{name}] has no base_url: add base_url = "https://..."'
            )
        if not isinstance(base_url, str) or not re.match(r"^https?://[^/\s]+", base_url.strip()):
            raise self.fail(
                table,
                "base_url",
                f"base_url = {_show(base_url)} is not an http(s) URL: "
                'write it like base_url = "https://www.example.com"',
            )

        api_key_env = self.string(table, values, "api_key_env", "name an environment variable")
        if api_key_env is not None and not _ENV_RE.match(api_key_env):
            raise self.fail(
                table,
                "api_key_env",
                "api_key_env is not an environment variable name (its value is not shown: it "
                "may be a key): write the variable's name, e.g. api_key_env = "
                '"ANYFAST_API_KEY", and export the key in that variable',
            )
        api_key = self.string(table, values, "api_key", "write the key in quotes")
        if api_key is not None:
            if api_key_env is not None:
                raise self.fail(
                    table,
                    "api_key",
                    f"[providers.{name}] sets both api_key and api_key_env: keep one "
                    "(api_key_env is preferred)",
                )
            self.check_private(table)
        elif api_key_env is not None:
            api_key = self.env.get(api_key_env) or None

        own = ProviderConfig
        rate_limit = self.number(
            table, values, "rate_limit", own, "the most requests per second to this provider"
        )
        concurrency = self.whole(table, values, "concurrency", own, "the most requests in flight")
        min_interval = self.number(
            table, values, "min_interval", own, "the fewest seconds between two polls of a task"
        )
        max_interval = self.number(
            table, values, "max_interval", own, "the most seconds a live task goes unpolled"
        )
        timeout = self.number(table, values, "timeout", own, "seconds for one request")
        create_path = self.string(table, values, "create_path", 'e.g. "/v1/video/generations"')
        if create_path is not None and not create_path.startswith("/"):
            raise self.fail(
                table,
                "create_path",
                f"create_path = {_show(create_path)} must be a path that starts with '/', "
                'e.g. create_path = "/v1/video/generations"',
            )
        max_live = self.whole(
            table, values, "max_live", own, "the most tasks queued or running at once"
        )
        create_rate = self.number(table, values, "create_rate", own, "the most creates per minute")
        max_attempts = self.whole(
            table, values, "max_attempts", own, "attempts per request, the first included"
        )
        if min_interval > max_interval:
            key = "max_interval" if "max_interval" in values else "min_interval"
            raise self.fail(
                table,
                key,
                f"min_interval ({min_interval:g}) is above max_interval ({max_interval:g}): "
                "make min_interval the smaller of the two",
            )
        return ProviderConfig(
            name=name,
            kind=kind,
            base_url=base_url.strip().rstrip("/"),
            api_key=api_key,
            api_key_env=api_key_env,
            rate_limit=rate_limit,
            concurrency=concurrency,
            min_interval=min_interval,
            max_interval=max_interval,
            timeout=timeout,
            create_path=create_path,
            max_live=max_live,
            create_rate=create_rate,
            max_attempts=max_attempts,
        )

    def check_private(self, table: tuple[str, ...]) -> None:
        """A key in the file is only as safe as the file: nobody else may read it."""
        mode = self.path.stat().st_mode & 0o777
        if mode & 0o077:
            env_name = f"{table[-1].upper().replace('-', '_').replace('.', '_')}_API_KEY"
            raise self.fail(
                table,
                "api_key",
                f"this file holds an api_key but others can read it (mode {mode:04o}): "
                f"run `chmod 600 {self.path}`, or move the key to an environment variable "
                f'and write api_key_env = "{env_name}" instead',
            )

    def download(self, values: dict[str, Any]) -> DownloadConfig:
        table = ("download",)
        for key in values:
            if key not in _DOWNLOAD_KEYS:
                raise self.unknown(table, key, _DOWNLOAD_KEYS)
        enabled = values.get("enabled", default_of(DownloadConfig, "enabled"))
        if not isinstance(enabled, bool):
            raise self.fail(
                table, "enabled", f"enabled = {_show(enabled)} must be true or false (no quotes)"
            )
        raw_dir = self.string(table, values, "dir", "the folder videos are kept in")
        if raw_dir is None:
            directory = default_of(DownloadConfig, "dir")
        else:
            directory = Path(raw_dir).expanduser()
            if not directory.is_absolute():  # relative to the config file, not to the cwd
                directory = self.path.parent / directory
        template = self.string(table, values, "template", 'e.g. "{provider}/{id}.mp4"')
        if template is None:
            template = default_of(DownloadConfig, "template")
        else:
            self.check_template(template)
        concurrency = self.whole(table, values, "concurrency", DownloadConfig, "downloads at once")
        return DownloadConfig(
            enabled=enabled, dir=directory, template=template, concurrency=concurrency
        )

    def store(self, values: dict[str, Any]) -> StoreConfig:
        table = ("store",)
        for key in values:
            if key not in _STORE_KEYS:
                raise self.unknown(table, key, _STORE_KEYS)
        give_up_after = self.number(
            table,
            values,
            "give_up_after",
            StoreConfig,
            "seconds the store may refuse writes before watch gives up",
        )
        busy_timeout = self.number(
            table,
            values,
            "busy_timeout",
            StoreConfig,
            "seconds a write waits for another process's lock",
        )
        return StoreConfig(give_up_after=give_up_after, busy_timeout=busy_timeout)

    def check_template(self, template: str) -> None:
        import string

        table = ("download",)
        try:
            names = [
                name for _, name, _, _ in string.Formatter().parse(template) if name is not None
            ]
        except ValueError as exc:
            raise self.fail(
                table,
                "template",
                f"template = {_show(template)} is not a valid template ({exc}): "
                'write fields in braces, e.g. "{provider}/{id}.mp4"',
            ) from None
        for name in names:
            if name not in TEMPLATE_FIELDS:
                shown = "{" + name + "}"
                raise self.fail(
                    table,
                    "template",
                    f"template field {shown} is unknown: use {_or(TEMPLATE_FIELDS)} in braces",
                )
        parts = Path(template).parts
        if Path(template).is_absolute() or ".." in parts or "id" not in names:
            raise self.fail(
                table,
                "template",
                f"template = {_show(template)} must be a relative path inside dir that "
                'contains {id}, e.g. "{provider}/{id}.mp4"',
            )

    def ui(self, values: dict[str, Any]) -> UIConfig:
        table = ("ui",)
        for key in values:
            if key not in _UI_KEYS:
                raise self.unknown(table, key, _UI_KEYS)
        theme = self.string(table, values, "theme", 'a theme\'s name, e.g. theme = "nord"')
        keys_table = self.table(table, values, "keys")
        keys: dict[str, str] = {}
        for binding, keystr in keys_table.items():
            if not isinstance(keystr, str) or not keystr.strip():
                raise self.fail(
                    ("ui", "keys"),
                    binding,
                    f"ui.keys.{binding} = {_show(keystr)} must name keys in quotes, "
                    f'e.g. {binding} = "ctrl+r"',
                )
            keys[binding] = keystr.strip()
        return UIConfig(theme=theme, keys=keys)


def _header(line: str) -> tuple[str, ...] | None:
    """`[providers.anyfast]` -> ("providers", "anyfast"); `[[x]]` and non-headers -> None."""
    if not line.startswith("[") or line.startswith("[["):
        return None
    end = line.find("]")
    if end < 0:
        return None
    inner = line[1:end]
    parts = re.findall(r"\"([^\"]*)\"|'([^']*)'|([^.\s]+)", inner)
    return tuple(a or b or c for a, b, c in parts)


def _key_re(key: str) -> re.Pattern[str]:
    quoted = re.escape(key)
    return re.compile(rf"^(?:{quoted}|\"{quoted}\"|'{quoted}')\s*=")


def _show(value: Any) -> str:
    """A value as TOML would spell it, short, for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return str(value)


def _or(words: tuple[str, ...]) -> str:
    return ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else words[0]
