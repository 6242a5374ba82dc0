"""From the parsed options to what a command works on: the config, the store and the
--state/--provider/--batch filter. Each import happens inside the function that needs it."""

from __future__ import annotations

from tui.cli.errors import PROG, fail

TYPE_CHECKING = False  # `typing` costs start-up time; annotations are strings here anyway
if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterable
    from pathlib import Path

    from tui.core.config import Config
    from tui.core.store import Store, TaskFilter


def config_path(args: argparse.Namespace) -> Path:
    from tui.core.config import resolve_config_path

    return resolve_config_path(args.config)


def load_config(args: argparse.Namespace, *, missing_ok: bool = False) -> Config:
    """The config in effect. A path the user named (`--config`, `$SEEDANCE_TUI_CONFIG`) that
    does not exist is an error unless `missing_ok`: a typo must not quietly mean the presets.
    Only the default path may be absent (then the built-in presets apply)."""
    from tui.core.config import load_config as load

    path = config_path(args)
    config = load(path)
    if config.path is None and not missing_ok:
        _refuse_missing_named_config(args, path)
    return config


def _refuse_missing_named_config(args: argparse.Namespace, path: Path) -> None:
    import os
    import shlex

    create = f"create it with `{PROG} config init --config {shlex.quote(str(path))}`"
    if args.config:
        fail(
            f"--config {path}: no such file: {create}, "
            "or leave --config out to use the built-in presets"
        )
    if os.environ.get("SEEDANCE_TUI_CONFIG"):
        fail(
            f"$SEEDANCE_TUI_CONFIG names {path}, which does not exist: {create}, "
            "or unset SEEDANCE_TUI_CONFIG to use the built-in presets"
        )


def db_path(args: argparse.Namespace) -> Path:
    from tui.core.config import resolve_db_path

    return resolve_db_path(args.db)


def open_store(args: argparse.Namespace, config: Config, *, writable: bool = True) -> Store:
    """The store, checked before anything is written (see tui.core.store_checks), waiting
    `[store] busy_timeout` for another process's lock. Commands that only read pass
    `writable=False`: a store on a read-only (or full) disk still reads."""
    from tui.core.store import Store

    return Store.open(db_path(args), writable=writable, busy_timeout=config.store.busy_timeout)


def names(items: Iterable[str]) -> str:
    """`a, b, c` sorted, or `none`: for messages that list what the user could have meant."""
    ordered = sorted(items)
    return ", ".join(ordered) if ordered else "none"


def task_filter(args: argparse.Namespace, store: Store, config: Config | None = None) -> TaskFilter:
    """The --state/--provider/--batch filter; a provider or batch nobody knows is a typo."""
    from tui.core.store import TaskFilter

    if args.provider is not None and args.provider not in store.providers():
        if config is None:
            from tui.core.config import ConfigError

            try:
                config = load_config(args)
            except ConfigError:
                config = None
        if config is None or args.provider not in config.providers:
            known = set(store.providers()) | set(config.providers if config else ())
            fail(f"unknown provider {args.provider!r}: use one of {names(known)}")
    if args.batch is not None and args.batch not in store.batches():
        from tui.core.request_store import request_batches

        if args.batch in request_batches(store):  # submitted, not created yet: `watch` sends
            return TaskFilter(states=args.state, provider=args.provider, batch=args.batch)
        fail(
            f"no batch {args.batch!r} in the store: batches are {names(store.batches())} "
            "(set with `add --batch LABEL`)"
        )
    return TaskFilter(states=args.state, provider=args.provider, batch=args.batch)
