"""`status` and `export`: the store read out as a table for people, or as task objects
(JSON, JSON lines, CSV) for scripts. `status --refresh` polls each live task once first."""

from __future__ import annotations

import sys

from tui.cli.errors import EXIT_OK, PROG, fail, say
from tui.cli.options import db_path, load_config, open_store, task_filter

TYPE_CHECKING = False  # `typing` costs start-up time; annotations are strings here anyway
if TYPE_CHECKING:
    import argparse
    from typing import TextIO

    from tui.core.config import Config
    from tui.core.model import Event
    from tui.core.store import Store, TaskFilter


def cmd_status(args: argparse.Namespace) -> int:
    config = load_config(args)  # checked even without --refresh: a broken config says so at once
    from tui import output

    store = open_store(args, config, writable=args.refresh)  # --refresh saves what it polls
    try:
        flt = task_filter(args, store, config)
        if args.refresh:
            _refresh(args, store, config, flt)
        if args.json:
            write_export(store, flt, "json", sys.stdout)
        elif tasks := store.query(flt):
            output.write_table(sys.stdout, tasks, width=_terminal_width())
        elif sum(store.counts(None).values()):
            print("no tasks match these filters")
        else:
            print(f"no tasks tracked yet: add some with `{PROG} add ID`")
    finally:
        store.close()
    sys.stdout.flush()
    return EXIT_OK


def _terminal_width() -> int | None:
    """The terminal's width when stdout is one; None when piped (the table then caps only the
    failure text, so a file or `less` gets whole columns)."""
    if not sys.stdout.isatty():
        return None
    import shutil

    return shutil.get_terminal_size().columns


def _refresh(args: argparse.Namespace, store: Store, config: Config, flt: TaskFilter) -> None:
    """Poll each selected live task once; if `watch` is polling this store already, it is fresh."""
    import asyncio

    from tui.core.engine import Engine
    from tui.core.lock import LockHeld, PollerLock

    lock = PollerLock(db_path(args))
    try:
        lock.acquire(f"{PROG} status --refresh")
    except LockHeld as held:
        say(
            f"not refreshing: pid {held.pid} (`{held.command}`) polls this store and keeps it fresh"
        )
        return

    def warn(event: Event) -> None:  # stdout stays the table or the JSON
        if event.kind in ("provider", "http_error", "error"):
            from tui import output

            say(f"{output.safe(event.provider)}: {output.event_detail(event)}")

    async def poll() -> None:
        engine = Engine(store, config, download=False)
        engine.subscribe(warn)
        try:
            await engine.poll_once(flt)
        finally:
            await engine.aclose()

    try:
        asyncio.run(poll())
    finally:
        lock.release()


def cmd_export(args: argparse.Namespace) -> int:
    config = load_config(args)  # a broken config is an error here too, not found out later
    from tui import output

    fmt = args.format
    if fmt is None:
        suffix = (args.output or "").rsplit(".", 1)[-1].lower()
        fmt = suffix if args.output and suffix in output.WRITERS else "json"
    store = open_store(args, config, writable=False)
    try:
        flt = task_filter(args, store, config)
        if args.output in (None, "-"):
            write_export(store, flt, fmt, sys.stdout)
            sys.stdout.flush()
        else:
            count = _export_to_file(args.output, store, flt, fmt)
            say(f"exported {count} task(s) to {args.output} ({fmt})")
    finally:
        store.close()
    return EXIT_OK


def write_export(store: Store, flt: TaskFilter, fmt: str, out: TextIO) -> int:
    """Task objects straight from the store's rows: bodies are spliced in as stored JSON
    text, never parsed and re-encoded (100,000 tasks stream in about a second)."""
    from tui import output

    if fmt == "csv":
        return output.write_csv_objects(out, store.query_json(flt, with_raw=False))
    texts = store.iter_json(flt, with_raw=True)
    if fmt == "jsonl":
        return output.write_jsonl_texts(out, texts)
    return output.write_json_texts(out, texts)


def _export_to_file(path: str, store: Store, flt: TaskFilter, fmt: str) -> int:
    """Through the atomic writer: a failed export leaves the old file (or none), never half."""
    import os
    from typing import cast

    from tui.core.atomic import write_atomic

    try:
        return write_atomic(
            os.path.expanduser(path),
            lambda handle: write_export(store, flt, fmt, cast("TextIO", handle)),
        )
    except OSError as exc:
        fail(f"--output {path}: cannot write it ({exc.strerror}): pick a writable path")
