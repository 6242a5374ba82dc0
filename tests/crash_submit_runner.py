"""A sending engine in a process of its own, for the crash test (SIGKILLed at random moments).

    python tests/crash_submit_runner.py DB_PATH

The provider's settings come as JSON in $SEEDANCE_CRASH_PROVIDER and its key in
$SEEDANCE_CRASH_KEY (never in argv). Runs `Engine.run(until_done=True)` under the store's
poller lock, as `watch` does, and exits 0 when nothing is left to send or poll.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from tui.core.config import Config, DownloadConfig, ProviderConfig, UIConfig
from tui.core.engine import Engine
from tui.core.lock import PollerLock
from tui.core.store import Store

PROVIDER_ENV = "SEEDANCE_CRASH_PROVIDER"
KEY_ENV = "SEEDANCE_CRASH_KEY"


async def run(db: Path, provider: ProviderConfig) -> None:
    config = Config(
        providers={provider.name: provider},
        download=DownloadConfig(enabled=False, dir=db.parent / "videos"),
        ui=UIConfig(),
        path=None,
    )
    with Store.open(db) as store:
        engine = Engine(store, config, download=False)
        try:
            await engine.run(until_done=True)
        finally:
            await engine.aclose()


def main() -> int:
    db = Path(sys.argv[1])
    settings = json.loads(os.environ[PROVIDER_ENV])
    provider = ProviderConfig(**settings, api_key=os.environ[KEY_ENV])
    lock = PollerLock(db)
    lock.acquire("crash test runner")
    try:
        asyncio.run(run(db, provider))
    finally:
        lock.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
