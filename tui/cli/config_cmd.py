"""`config init | show | path`: the config file, written, shown with its keys masked, located."""

from __future__ import annotations

import sys

from tui.cli.errors import EXIT_OK, PROG, fail, say
from tui.cli.options import config_path, load_config

TYPE_CHECKING = False  # `typing` costs start-up time; annotations are strings here anyway
if TYPE_CHECKING:
    import argparse


def cmd_config_missing(args: argparse.Namespace) -> int:
    fail(f"config needs an action: `{PROG} config init`, `config show` or `config path`")


def cmd_config_init(args: argparse.Namespace) -> int:
    from tui.core.config import starter_config, write_private

    path = config_path(args)
    if path.exists() and not args.force:
        fail(f"{path} exists already: keep it, or run `{PROG} config init --force` to replace it")
    try:
        write_private(path, starter_config())
    except OSError as exc:
        fail(f"cannot write {path} ({exc.strerror}): pick another place with --config PATH")
    print(f"wrote {path}")
    return EXIT_OK


def cmd_config_show(args: argparse.Namespace) -> int:
    from tui.core.config import masked

    config = load_config(args, missing_ok=True)  # it says so itself, below
    if config.path is None:
        say(f"no config file at {config_path(args)}: showing the built-in defaults")
    sys.stdout.write(masked(config))
    return EXIT_OK


def cmd_config_path(args: argparse.Namespace) -> int:
    print(config_path(args))
    return EXIT_OK
