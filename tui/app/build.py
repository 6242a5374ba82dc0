"""The one place the dashboard is put together: `seedance-tui dashboard`, the demo, the
screenshots and the tests all call `build_app`, so the tests run the production path.

It opens the feed (poll from here, or view another process's polling), patches Textual's partial
updates when the installed version is the one the patch was written for, and builds the app with
its timers (`Timings`: tests shorten them).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tui.app import lean_updates
from tui.app.app import SeedanceApp, Timings
from tui.app.feeds import COMMAND, EngineFactory, Feed, open_feed
from tui.core.clock import Clock, SystemClock

if TYPE_CHECKING:
    from tui.core.config import Config
    from tui.core.store import Store


def build_app(
    store: Store,
    config: Config,
    db_path: Path,
    *,
    feed: Feed | None = None,
    make_engine: EngineFactory | None = None,
    command: str = COMMAND,
    clock: Clock | None = None,
    paused: bool = False,
    theme_dirs: Sequence[Path] | None = None,
    theme_save_path: Path | None = None,
    clipboard_file: Path | None = None,
    export_dir: Path | None = None,
    log_lines: int = 1000,
    watch_terminal: bool = True,
    handle_signals: bool | None = None,
    timings: Timings | None = None,
    app_class: type[SeedanceApp] = SeedanceApp,
) -> SeedanceApp:
    """The dashboard on `store` (at `db_path`), not yet running. Without `feed` it opens one:
    it takes the store's PollerLock as `command` (then `make_engine` makes the engine after the
    first frame) or, when another process holds it, follows that process read-only. The caller
    releases `app.feed.lock` and closes the store after the app ran."""
    clock = clock or SystemClock()
    lean_updates.install()  # only changed cells reach the terminal, colour codes only on change
    if feed is None:
        feed = open_feed(store, db_path, config, clock, command=command, make_engine=make_engine)
    return app_class(
        store,
        config,
        feed,
        clock=clock,
        db_path=db_path,
        paused=paused,
        theme_dirs=theme_dirs,
        theme_save_path=theme_save_path,
        clipboard_file=clipboard_file,
        export_dir=export_dir,
        log_lines=log_lines,
        watch_terminal=watch_terminal,
        handle_signals=handle_signals,
        timings=timings,
    )


def run_dashboard(
    db_path: Path,
    config: Config,
    *,
    paused: bool = False,
    clock: Clock | None = None,
    theme_save_path: Path | None = None,
) -> int:
    """Open the dashboard on `db_path`: polling it (this process takes the PollerLock) or, when
    another process already polls it, viewing it read-only. Returns the exit code."""
    from tui.core.config import resolve_config_path
    from tui.core.store import Store

    clock = clock or SystemClock()
    store = Store.open(db_path, busy_timeout=config.store.busy_timeout)
    feed: Feed | None = None
    try:
        feed = open_feed(store, db_path, config, clock)
        app = build_app(
            store,
            config,
            db_path,
            feed=feed,
            clock=clock,
            paused=paused,
            theme_save_path=theme_save_path or config.path or resolve_config_path(None),
        )
        app.run()
        return app.return_code or 0
    finally:
        if feed is not None and feed.lock is not None:
            feed.lock.release()  # the same lock object when the app took the polling over
        store.close()
