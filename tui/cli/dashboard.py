"""The two commands that open the dashboard: the only place the CLI reaches Textual (through
`tui.app`), and only once they run, so the headless commands never load it."""

from __future__ import annotations

import sys

from tui.cli.errors import EXIT_OK, fail
from tui.cli.options import config_path, db_path, load_config

TYPE_CHECKING = False  # `typing` costs start-up time; annotations are strings here anyway
if TYPE_CHECKING:
    import argparse
    from typing import Any


def cmd_dashboard(args: argparse.Namespace) -> int:
    config = load_config(args)
    _need_terminal()
    from tui.app.build import run_dashboard

    return (
        run_dashboard(db_path(args), config, paused=args.paused, theme_save_path=config_path(args))
        or EXIT_OK
    )


def cmd_demo(args: argparse.Namespace) -> int:
    config = load_config(args)
    _need_terminal()
    from tui.app.demo import run_demo

    options: dict[str, Any] = {"config": config}
    if args.tasks is not None:
        options["tasks"] = args.tasks
    return run_demo(**options) or EXIT_OK


def _need_terminal() -> None:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        fail(
            "the dashboard needs a terminal: run it in one, or use `status`, `watch` or "
            "`export` in scripts and pipes"
        )
