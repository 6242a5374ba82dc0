"""Themes are data: TOML files turned into `textual.theme.Theme` (as posting does with YAML).

Where themes come from, later folders winning on a name clash:

1. the bundled folder: `themes/` at the top of the repository checkout (found next to the `tui`
   package, so an editable install `pip install -e .` sees it), or `<sys.prefix>/share/
   seedance-tui/themes` for an installed copy that ships the files as data;
2. `$SEEDANCE_TUI_THEMES`, a folder of your own (handy for trying a theme out);
3. the user's theme folder, `<user config dir>/seedance-tui/themes` (platformdirs; on Linux
   `~/.config/seedance-tui/themes`).

A theme file that cannot be read never stops the dashboard: it is skipped and named in a warning.
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

from tui.core import APP_NAME

DEFAULT_THEME = "seedance-dark"
THEMES_ENV = "SEEDANCE_TUI_THEMES"

_COLOR_KEYS = (
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
_NUMBER_KEYS = ("luminosity_spread", "text_alpha")
_KNOWN_KEYS = frozenset((*_COLOR_KEYS, *_NUMBER_KEYS, "name", "dark", "variables", "ansi"))


class ThemeFileError(ValueError):
    """A theme file that cannot be used; the message names the file and what to fix."""


@dataclass
class ThemeSet:
    """Every theme found, by name, plus a sentence for each file that was skipped."""

    themes: dict[str, Theme] = field(default_factory=dict)
    sources: dict[str, Path] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def bundled_theme_dirs() -> list[Path]:
    """The folders that may hold the bundled themes (checkout first, then installed data)."""
    checkout = Path(__file__).resolve().parents[2] / "themes"
    installed = Path(sys.prefix) / "share" / APP_NAME / "themes"
    return [d for d in (checkout, installed) if d.is_dir()]


def user_theme_dir() -> Path:
    """`<user config dir>/seedance-tui/themes`: drop your own *.toml files here."""
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME)) / "themes"


def theme_dirs(env: Mapping[str, str] = os.environ) -> list[Path]:
    """Every folder searched for themes, lowest priority first."""
    dirs = bundled_theme_dirs()
    extra = env.get(THEMES_ENV)
    if extra:
        dirs.append(Path(extra).expanduser())
    dirs.append(user_theme_dir())
    return dirs


def load_theme_file(path: Path) -> Theme:
    """One TOML file -> one Theme; ThemeFileError says what is wrong and where."""
    try:
        data = tomllib.loads(Path(path).read_text("utf-8-sig"))
    except OSError as exc:
        raise ThemeFileError(f"{path}: cannot read the theme ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ThemeFileError(f"{path}: not UTF-8 text: save the theme as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThemeFileError(f"{path}: not valid TOML: {exc}") from None
    return theme_from_mapping(data, source=str(path))


def theme_from_mapping(data: Mapping[str, Any], *, source: str = "theme") -> Theme:
    """Check a parsed theme table and build the Theme (colours are validated here, not later)."""
    unknown = sorted(set(data) - _KNOWN_KEYS)
    if unknown:
        raise ThemeFileError(
            f"{source}: unknown key {unknown[0]!r}: known keys are {', '.join(sorted(_KNOWN_KEYS))}"
        )
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ThemeFileError(f'{source}: a theme needs a name, e.g. name = "my-theme"')
    if "primary" not in data:
        raise ThemeFileError(f'{source}: a theme needs a primary colour, e.g. primary = "#4aa3df"')
    kwargs: dict[str, Any] = {"name": name.strip()}
    for key in _COLOR_KEYS:
        if key in data:
            kwargs[key] = _color(source, key, data[key])
    for key in _NUMBER_KEYS:
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ThemeFileError(f"{source}: {key} must be a number, e.g. {key} = 0.15")
            kwargs[key] = float(value)
    for key in ("dark", "ansi"):
        if key in data:
            if not isinstance(data[key], bool):
                raise ThemeFileError(f"{source}: {key} must be true or false (no quotes)")
            kwargs[key] = data[key]
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in variables.items()
    ):
        raise ThemeFileError(
            f"{source}: [variables] must map names to strings, "
            'e.g. "footer-key-foreground" = "#fff"'
        )
    kwargs["variables"] = dict(variables)
    return Theme(**kwargs)


def _color(source: str, key: str, value: object) -> str:
    if not isinstance(value, str):
        raise ThemeFileError(f'{source}: {key} must be a colour in quotes, e.g. {key} = "#4aa3df"')
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeFileError(
            f'{source}: {key} = "{value}" is not a colour: use "#rrggbb" or a CSS colour name'
        ) from None
    return value


def load_themes(dirs: Iterable[Path] | None = None) -> ThemeSet:
    """Every `*.toml` in `dirs` (default: `theme_dirs()`), in order, later files winning."""
    found = ThemeSet()
    for directory in theme_dirs() if dirs is None else dirs:
        try:
            paths = sorted(p for p in Path(directory).glob("*.toml") if p.is_file())
        except OSError as exc:
            found.errors.append(f"{directory}: cannot list themes ({exc.strerror})")
            continue
        for path in paths:
            try:
                theme = load_theme_file(path)
            except ThemeFileError as exc:
                found.errors.append(str(exc))
                continue
            found.themes[theme.name] = theme
            found.sources[theme.name] = path
    return found
