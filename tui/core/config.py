"""The user's config file: providers, downloads and the UI, read with tomllib.

This module is the config's API: the values (`Config` and its parts, from `config_types`),
where the file and the store live, and `load_config`. The checks live in `config_validate`,
writing and masking in `config_write`; both are re-exported here so callers import one module.

A config error is a user's typo, so every `ConfigError` names the file, the line and the key and
says what to write instead. Keys live in environment variables (`api_key_env`); a key written
into the file is accepted only when nobody else can read the file (mode 0600). A key is never
part of a repr, a message or `config show`'s output.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from tui.core import APP_NAME
from tui.core.config_types import (
    PRESETS,
    Config,
    ConfigError,
    DownloadConfig,
    ProviderConfig,
    StoreConfig,
    UIConfig,
    default_download_dir,
    preset_providers,
)
from tui.core.config_validate import check_config, parse_toml
from tui.core.config_write import mask_key, masked, save_ui_theme, starter_config, write_private

__all__ = [
    "PRESETS",
    "Config",
    "ConfigError",
    "DownloadConfig",
    "ProviderConfig",
    "StoreConfig",
    "UIConfig",
    "default_download_dir",
    "load_config",
    "mask_key",
    "masked",
    "resolve_config_path",
    "resolve_db_path",
    "save_ui_theme",
    "starter_config",
    "write_private",
]


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


def load_config(path: Path, env: Mapping[str, str] = os.environ) -> Config:
    """Read and check `path`; a missing file means the built-in defaults and presets."""
    path = Path(path)
    try:
        data_bytes = path.read_bytes()
    except FileNotFoundError:
        return Config(providers=preset_providers(env), path=None)
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
    return check_config(path, text, parse_toml(path, text), env)
