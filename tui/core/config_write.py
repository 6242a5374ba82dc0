"""Writing the config: the starter file, the remembered theme, and `config show`'s masked view.

The file is the user's, so a change (the theme the dashboard remembers) goes through tomlkit,
which keeps their comments, tables and key order. Every write is atomic and mode 0600: the file
may hold a key. A key is never part of what `config show` prints: only its masked form.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

from tui.core.atomic import write_text_atomic
from tui.core.config_types import (
    PRESETS,
    Config,
    DownloadConfig,
    ProviderConfig,
    StoreConfig,
    default_of,
)
from tui.core.config_validate import parse_toml
from tui.core.dialects import KINDS
from tui.core.paths import TEMPLATE_FIELDS

# The poll etiquette keys the starter file spells out (with the default of each) for the first
# preset, and the comment that says what each one means.
_ETIQUETTE: tuple[tuple[str, str], ...] = (
    ("rate_limit", "most requests per second to this provider, all tasks together"),
    ("concurrency", "most requests in flight to this provider"),
    ("min_interval", "never poll one task more often than this, in seconds"),
    ("max_interval", "never leave a live task unpolled longer than this"),
    ("timeout", "seconds for one request"),
)


def _toml_value(value: Any) -> str:
    """One value as TOML spells it (`"text"`, `5.0`, `true`)."""
    import tomlkit

    return str(tomlkit.item(value).as_string())


def _setting(key: str, value: Any, comment: str | None = None) -> str:
    line = f"{key} = {_toml_value(value)}"
    return f"{line:<32} # {comment}" if comment else line


def starter_config() -> str:
    """The file `config init` writes: the presets made explicit, keys from the environment.

    Every value shown is read from the presets and the dataclass defaults, never retyped.
    """
    lines = [
        "# seedance-tui configuration. Keys come from environment variables: keep them out of "
        "this file.",
        '# (A key written here as api_key = "..." is accepted only while the file is mode 0600.)',
    ]
    for index, preset in enumerate(PRESETS):
        first = index == 0
        lines += [
            "",
            f"[providers.{preset.name}]",
            _setting("kind", preset.kind, " | ".join(KINDS) if first else None),
            _setting("base_url", preset.base_url),
            _setting("api_key_env", preset.api_key_env),
        ]
        if first:
            lines += [_setting(key, getattr(preset, key), say) for key, say in _ETIQUETTE]
    lines += [
        "",
        "# Volcengine Ark / BytePlus ModelArk, direct:",
        "# [providers.ark]",
        '# kind = "ark"',
        '# base_url = "https://ark.cn-beijing.volces.com/api/v3"',
        '# api_key_env = "ARK_API_KEY"',
        "",
        "[download]",
        _setting(
            "enabled",
            default_of(DownloadConfig, "enabled"),
            "keep every finished video before its URL expires",
        ),
        '# dir = "~/Videos/seedance"      # default: <user data dir>/seedance-tui/videos',
        _setting(
            "template",
            default_of(DownloadConfig, "template"),
            "fields: " + ", ".join(TEMPLATE_FIELDS),
        ),
        _setting("concurrency", default_of(DownloadConfig, "concurrency"), "downloads at once"),
        "",
        "[store]",
        _setting(
            "busy_timeout",
            default_of(StoreConfig, "busy_timeout"),
            "seconds a write waits for another process's lock",
        ),
        _setting(
            "give_up_after",
            default_of(StoreConfig, "give_up_after"),
            "seconds the store may refuse writes before watch exits",
        ),
        "",
        "[ui]",
        '# theme = "seedance-dark"         # or seedance-light, seedance-contrast, any Textual '
        "theme",
        '# [ui.keys]                      # remap a binding: binding id = "key"',
        '# poll_now = "ctrl+r"',
    ]
    return "\n".join(lines) + "\n"


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` atomically with mode 0600 (a symlinked config stays a symlink)."""
    path = Path(path)
    target = path.resolve() if path.is_symlink() else path
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target, text, mode=0o600)


def save_ui_theme(path: Path, theme: str) -> None:
    """Set `[ui] theme`, keeping every other line (comments, tables, key order); mode 0600.

    A file the TOML editor cannot change faithfully (checked by reading the result back) is
    rewritten whole from its values rather than saved wrong.
    """
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    path = Path(path)
    try:
        text = path.read_text("utf-8-sig")
    except FileNotFoundError:
        text = ""
    if text and not text.endswith("\n"):
        text += "\n"
    before = parse_toml(path, text)
    expected = _with_theme(before, theme)
    try:
        document = tomlkit.parse(text)
        ui = document.get("ui")
        if isinstance(ui, dict):
            ui["theme"] = theme
        else:
            document["ui"] = {"theme": theme}
        edited = document.as_string()
        ok = tomllib.loads(edited) == expected
    except (TOMLKitError, tomllib.TOMLDecodeError):
        ok = False
    if not ok:
        edited = tomlkit.dumps(expected)
    write_private(path, edited)


def _with_theme(data: dict[str, Any], theme: str) -> dict[str, Any]:
    out = dict(data)
    ui = dict(out["ui"]) if isinstance(out.get("ui"), dict) else {}
    ui["theme"] = theme
    out["ui"] = ui
    return out


def mask_key(key: str | None) -> str | None:
    """`sk-abcdef...` -> `sk-a…(masked)`: enough to tell two keys apart, not to use one."""
    if not key:
        return None
    return (key[:4] if len(key) >= 16 else "") + "…(masked)"


def _provider_values(provider: ProviderConfig) -> dict[str, Any]:
    values: dict[str, Any] = {"kind": provider.kind, "base_url": provider.base_url}
    if provider.api_key_env:
        values["api_key_env"] = provider.api_key_env
    elif provider.api_key:
        values["api_key"] = mask_key(provider.api_key)
    values.update((key, getattr(provider, key)) for key, _ in _ETIQUETTE)
    return values


def masked(config: Config) -> str:
    """`config show`: the effective config as TOML, keys masked, where each key comes from."""
    import tomlkit

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
        out.append("")
        values = _provider_values(provider)
        out.append(tomlkit.dumps({"providers": {provider.name: values}}).rstrip())
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
        tomlkit.dumps(
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
    out.append("")
    out.append(tomlkit.dumps({"store": dataclasses.asdict(config.store)}).rstrip())
    ui: dict[str, Any] = {}
    if config.ui.theme:
        ui["theme"] = config.ui.theme
    if config.ui.keys:
        ui["keys"] = dict(config.ui.keys)
    out.append("")
    out.append(tomlkit.dumps({"ui": ui}).rstrip() if ui else "[ui]")
    return "\n".join(out) + "\n"
