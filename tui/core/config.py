"""The user's config file: providers, downloads and the UI, read with tomllib.

A config error is a user's typo, so every `ConfigError` names the file, the line and the key and
says what to write instead. Keys live in environment variables (`api_key_env`); a key written
into the file is accepted only when nobody else can read the file (mode 0600). A key is never
part of a repr, a message or `config show`'s output.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

APP_NAME = "seedance-tui"
KINDS: tuple[str, ...] = ("kyy", "newapi", "ark")  # the dialects in tui/core/dialects
TEMPLATE_FIELDS: tuple[str, ...] = ("provider", "id", "batch", "model", "date")

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def default_download_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME)) / "videos"


@dataclass(frozen=True)
class ProviderConfig:
    """One named endpoint: a dialect, a base URL, a key and the etiquette to keep with it."""

    name: str
    kind: str
    base_url: str
    api_key: str | None = field(default=None, repr=False)  # resolved key, never printed
    api_key_env: str | None = None
    rate_limit: float = 5.0
    concurrency: int = 8
    min_interval: float = 10.0
    max_interval: float = 120.0
    timeout: float = 30.0


@dataclass(frozen=True)
class DownloadConfig:
    enabled: bool = True
    dir: Path = field(default_factory=default_download_dir)
    template: str = "{provider}/{id}.mp4"
    concurrency: int = 2


@dataclass(frozen=True)
class UIConfig:
    theme: str | None = None
    keys: dict[str, str] = field(default_factory=dict)  # binding id -> keys, e.g. "ctrl+r"


@dataclass(frozen=True)
class Config:
    providers: dict[str, ProviderConfig]
    download: DownloadConfig = field(default_factory=DownloadConfig)
    ui: UIConfig = field(default_factory=UIConfig)
    path: Path | None = None  # the file it came from (None = built-in defaults)


class ConfigError(Exception):
    """A config file that cannot be used; the message names file, line and key and the fix."""


PRESETS: tuple[ProviderConfig, ...] = (
    ProviderConfig(
        name="anyfast",
        kind="newapi",
        base_url="https://www.anyfast.ai",
        api_key_env="ANYFAST_API_KEY",
    ),
    ProviderConfig(
        name="kyy",
        kind="kyy",
        base_url="https://zcbservice.aizfw.cn/kyyReactApiServer",
        api_key_env="KYY_API_KEY",
    ),
)

# --------------------------------------------------------------------------------------------
# paths


def resolve_config_path(cli_value: str | None) -> Path:
    """`--config`, else `$SEEDANCE_TUI_CONFIG`, else <user config dir>/seedance-tui/config.toml."""
    value = cli_value or os.environ.get("SEEDANCE_TUI_CONFIG")
    if value:
        return Path(value).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME)) / "config.toml"


def resolve_db_path(cli_value: str | None) -> Path:
    """`--db`, else `$SEEDANCE_TUI_DB`, else `<user data dir>/seedance-tui/tasks.db`."""
    value = cli_value or os.environ.get("SEEDANCE_TUI_DB")
    if value:
        return Path(value).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME)) / "tasks.db"


# --------------------------------------------------------------------------------------------
# loading


def load_config(path: Path, env: Mapping[str, str] = os.environ) -> Config:
    """Read and check `path`; a missing file means the built-in defaults and presets."""
    path = Path(path)
    try:
        data_bytes = path.read_bytes()
    except FileNotFoundError:
        return Config(providers=_presets(env), path=None)
    except IsADirectoryError:
        raise ConfigError(
            f"{path}: is a directory, not a config file: give the file's path"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    try:
        text = data_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start}): save the file as UTF-8"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_decode_message(path, exc)) from None
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


def _presets(env: Mapping[str, str]) -> dict[str, ProviderConfig]:
    out: dict[str, ProviderConfig] = {}
    for preset in PRESETS:
        key = env.get(preset.api_key_env or "") or None
        out[preset.name] = ProviderConfig(
            name=preset.name,
            kind=preset.kind,
            base_url=preset.base_url,
            api_key=key,
            api_key_env=preset.api_key_env,
        )
    return out


_TOP_KEYS = ("providers", "download", "ui")
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
)
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
        self, table: tuple[str, ...], values: dict[str, Any], key: str, default: float, hint: str
    ) -> float:
        if key not in values:
            return default
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(
                table,
                key,
                f"{key} = {_show(value)} is not a number: {hint}, e.g. {key} = {default}",
            )
        if value <= 0:
            raise self.fail(table, key, f"{key} = {_show(value)} must be above 0: {hint}")
        return float(value)

    def whole(
        self, table: tuple[str, ...], values: dict[str, Any], key: str, default: int, hint: str
    ) -> int:
        if key not in values:
            return default
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
            providers = _presets(self.env)
        return Config(
            providers=providers,
            download=self.download(self.table((), data, "download")),
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

        rate_limit = self.number(
            table, values, "rate_limit", 5.0, "the most requests per second to this provider"
        )
        concurrency = self.whole(table, values, "concurrency", 8, "the most requests in flight")
        min_interval = self.number(
            table, values, "min_interval", 10.0, "the fewest seconds between two polls of a task"
        )
        max_interval = self.number(
            table, values, "max_interval", 120.0, "the most seconds a live task goes unpolled"
        )
        timeout = self.number(table, values, "timeout", 30.0, "seconds for one request")
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
        enabled = values.get("enabled", True)
        if not isinstance(enabled, bool):
            raise self.fail(
                table, "enabled", f"enabled = {_show(enabled)} must be true or false (no quotes)"
            )
        directory = default_download_dir()
        raw_dir = self.string(table, values, "dir", "the folder videos are kept in")
        if raw_dir is not None:
            directory = Path(raw_dir).expanduser()
            if not directory.is_absolute():  # relative to the config file, not to the cwd
                directory = self.path.parent / directory
        template = self.string(table, values, "template", 'e.g. "{provider}/{id}.mp4"')
        if template is None:
            template = DownloadConfig.template
        else:
            self.check_template(template)
        concurrency = self.whole(table, values, "concurrency", 2, "downloads at once")
        return DownloadConfig(
            enabled=enabled, dir=directory, template=template, concurrency=concurrency
        )

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


# --------------------------------------------------------------------------------------------
# writing


def starter_config() -> str:
    """The file `config init` writes: the two presets made explicit, keys from the environment."""
    return """\
# seedance-tui configuration. Keys come from environment variables: keep them out of this file.
# (A key written here as api_key = "..." is accepted only while the file is mode 0600.)

[providers.anyfast]
kind = "newapi"                  # kyy | newapi | ark
base_url = "https://www.anyfast.ai"
api_key_env = "ANYFAST_API_KEY"
rate_limit = 5.0                 # most requests per second to this provider, all tasks together
concurrency = 8                  # most requests in flight to this provider
min_interval = 10.0              # never poll one task more often than this, in seconds
max_interval = 120.0             # never leave a live task unpolled longer than this
timeout = 30.0                   # seconds for one request

[providers.kyy]
kind = "kyy"
base_url = "https://zcbservice.aizfw.cn/kyyReactApiServer"
api_key_env = "KYY_API_KEY"

# Volcengine Ark / BytePlus ModelArk, direct:
# [providers.ark]
# kind = "ark"
# base_url = "https://ark.cn-beijing.volces.com/api/v3"
# api_key_env = "ARK_API_KEY"

[download]
enabled = true                   # keep every finished video before its URL expires
# dir = "~/Videos/seedance"      # default: <user data dir>/seedance-tui/videos
template = "{provider}/{id}.mp4" # fields: provider, id, batch, model, date
concurrency = 2                  # downloads at once

[ui]
# theme = "seedance-dark"         # or seedance-light, seedance-contrast, any Textual theme
# [ui.keys]                      # remap a binding: binding id = "key"
# poll_now = "ctrl+r"
"""


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` atomically with mode 0600 (a symlinked config stays a symlink)."""
    path = Path(path)
    target = path.resolve() if path.is_symlink() else path
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_ui_theme(path: Path, theme: str) -> None:
    """Set `[ui] theme`, keeping every other line (comments too) as it is; mode 0600."""
    import tomli_w

    path = Path(path)
    try:
        text = path.read_text("utf-8-sig")
    except FileNotFoundError:
        text = ""
    try:
        before = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_decode_message(path, exc)) from None
    new_line = tomli_w.dumps({"theme": theme}).strip()
    edited = _set_ui_theme(text, new_line)
    expected = _with_theme(before, theme)
    try:
        ok = tomllib.loads(edited) == expected
    except tomllib.TOMLDecodeError:
        ok = False
    if not ok:  # a layout the line editor cannot follow: rewrite the whole file
        edited = tomli_w.dumps(expected)
    write_private(path, edited)


def _with_theme(data: dict[str, Any], theme: str) -> dict[str, Any]:
    out = dict(data)
    ui = dict(out["ui"]) if isinstance(out.get("ui"), dict) else {}
    ui["theme"] = theme
    out["ui"] = ui
    return out


def _set_ui_theme(text: str, new_line: str) -> str:
    lines = text.splitlines()
    ui_at: int | None = None
    for index, raw in enumerate(lines):
        header = _header(raw.strip())
        if header is not None:
            if ui_at is not None:
                break
            if header == ("ui",):
                ui_at = index
            continue
        if ui_at is not None and _key_re("theme").match(raw.strip()):
            lines[index] = new_line
            return "\n".join(lines) + "\n"
    if ui_at is not None:
        lines.insert(ui_at + 1, new_line)
        return "\n".join(lines) + "\n"
    body = text.rstrip("\n")
    return (body + "\n\n" if body else "") + "[ui]\n" + new_line + "\n"


def mask_key(key: str | None) -> str | None:
    """`sk-abcdef...` -> `sk-a…(masked)`: enough to tell two keys apart, not to use one."""
    if not key:
        return None
    return (key[:4] if len(key) >= 16 else "") + "…(masked)"


def masked(config: Config) -> str:
    """`config show`: the effective config as TOML, keys masked, where each key comes from."""
    import tomli_w

    out: list[str] = []
    if config.path is None:
        out.append(
            "# built-in defaults: no config file (write one with `seedance-tui config init`)"
        )
    else:
        out.append(f"# from {config.path}")
    if not config.providers:
        out.append("# no providers: add a [providers.NAME] table")
    for provider in config.providers.values():
        values: dict[str, Any] = {"kind": provider.kind, "base_url": provider.base_url}
        if provider.api_key_env:
            values["api_key_env"] = provider.api_key_env
        elif provider.api_key:
            values["api_key"] = mask_key(provider.api_key)
        values.update(
            rate_limit=provider.rate_limit,
            concurrency=provider.concurrency,
            min_interval=provider.min_interval,
            max_interval=provider.max_interval,
            timeout=provider.timeout,
        )
        out.append("")
        out.append(tomli_w.dumps({"providers": {provider.name: values}}).rstrip())
        if provider.api_key_env:
            state = (
                f"set ({mask_key(provider.api_key)})"
                if provider.api_key
                else "not set: export it before polling"
            )
            out.append(f"# ${provider.api_key_env}: {state}")
    download = config.download
    out.append("")
    out.append(
        tomli_w.dumps(
            {
                "download": {
                    "enabled": download.enabled,
                    "dir": str(download.dir),
                    "template": download.template,
                    "concurrency": download.concurrency,
                }
            }
        ).rstrip()
    )
    ui: dict[str, Any] = {}
    if config.ui.theme:
        ui["theme"] = config.ui.theme
    if config.ui.keys:
        ui["keys"] = dict(config.ui.keys)
    out.append("")
    out.append(tomli_w.dumps({"ui": ui}).rstrip() if ui else "[ui]")
    return "\n".join(out) + "\n"
