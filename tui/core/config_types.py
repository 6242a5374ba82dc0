"""The config's values: what a provider, the downloads and the UI are set to, and their defaults.

The dataclass defaults below are the one place a default is written: the validator
(`config_validate`) fills every key the file leaves out from them, and the starter file
(`config_write.starter_config`) shows them. `default_of` reads them back.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.core import APP_NAME
from tui.core.paths import DEFAULT_TEMPLATE


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
    rate_limit: float = 5.0  # most requests per second to this provider, all tasks together
    concurrency: int = 8  # most requests in flight to this provider
    min_interval: float = 10.0  # never poll one task more often than this, in seconds
    max_interval: float = 120.0  # never leave a live task unpolled longer than this
    timeout: float = 30.0  # seconds for one request
    create_path: str | None = None  # where create requests go; None: the dialect's own path
    max_live: int = 10  # most tasks queued or running at once from this store (creates wait)
    create_rate: float = 30.0  # most creates per minute
    max_attempts: int = 3  # attempts per original request, the first included (`retry`)

    @property
    def create_endpoint(self) -> str | None:
        """The create path: the configured one, else the dialect's documented default."""
        if self.create_path:
            return self.create_path
        from tui.core.dialects import DIALECTS

        dialect = DIALECTS.get(self.kind)
        return dialect.create_path if dialect is not None else None


@dataclass(frozen=True)
class DownloadConfig:
    enabled: bool = True  # keep every finished video before its URL expires
    dir: Path = field(default_factory=default_download_dir)
    template: str = DEFAULT_TEMPLATE
    concurrency: int = 2  # downloads at once


@dataclass(frozen=True)
class StoreConfig:
    give_up_after: float = 600.0  # seconds the store may refuse writes before `watch` gives up
    busy_timeout: float = 15.0  # seconds a write waits for another process's lock: then an outage


@dataclass(frozen=True)
class UIConfig:
    theme: str | None = None
    keys: dict[str, str] = field(default_factory=dict)  # binding id -> keys, e.g. "ctrl+r"


@dataclass(frozen=True)
class Config:
    providers: dict[str, ProviderConfig]
    download: DownloadConfig = field(default_factory=DownloadConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
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


def default_of(cls: type, name: str) -> Any:
    """The default the dataclass `cls` gives field `name` (a fresh one for a factory)."""
    for item in dataclasses.fields(cls):
        if item.name != name:
            continue
        if item.default is not dataclasses.MISSING:
            return item.default
        if item.default_factory is not dataclasses.MISSING:
            return item.default_factory()
        break
    raise KeyError(f"{cls.__name__}.{name} has no default")


def preset_providers(env: Mapping[str, str] = os.environ) -> dict[str, ProviderConfig]:
    """The presets, each with its key read from its environment variable (None when unset)."""
    return {
        preset.name: dataclasses.replace(preset, api_key=env.get(preset.api_key_env or "") or None)
        for preset in PRESETS
    }
