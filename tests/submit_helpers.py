"""Shared set-up for the create-request tests: a provider config on the simulator, planned lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tui.core.config import Config, DownloadConfig, ProviderConfig, UIConfig
from tui.core.request_lines import PlannedRequest
from tui.core.requests import fingerprint
from tui.sim import Simulator


def provider_config(sim: Simulator, kind: str = "kyy", **changes: Any) -> ProviderConfig:
    settings: dict[str, Any] = dict(
        name=kind, kind=kind, base_url=sim.provider_url(kind), api_key=sim.key(kind),
        rate_limit=20, concurrency=4, min_interval=0.3, max_interval=1.0, timeout=5,
    )  # fmt: skip
    settings.update(changes)
    return ProviderConfig(**settings)


def config_for(tmp_path: Path, *providers: ProviderConfig) -> Config:
    return Config(
        providers={p.name: p for p in providers},
        download=DownloadConfig(enabled=False, dir=tmp_path / "videos"),
        ui=UIConfig(),
        path=None,
    )


def body(n: int, model: str = "seedance_2_0_fast") -> dict[str, Any]:
    return {"model": model, "prompt": f"shot {n}: a red kite over the sea", "duration": 5}


def planned(provider: str, count: int, start: int = 0) -> list[PlannedRequest]:
    out = []
    for n in range(start, start + count):
        line_body = body(n)
        name = f"shot-{n:03d}"
        out.append(
            PlannedRequest(n + 1, provider, line_body, name, fingerprint(provider, line_body, name))
        )
    return out
