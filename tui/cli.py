"""The `seedance-tui` command: argparse and one short function per command.

Start-up is part of the interface (`--help` in well under 150 ms, scripts run `status` in loops),
so this module imports only argparse at load time. Each command imports what it needs; the
dashboard commands alone import Textual (through `tui.app`), and only inside their function.

Exit codes (the contract): 0 done; 1 `--exit-status` and a selected task ended not succeeded;
2 usage or config error (message says what to fix); 3 `--timeout` reached; 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys

TYPE_CHECKING = False  # `typing` costs start-up time; annotations are strings here anyway
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, NoReturn

    from tui.core.config import Config
    from tui.core.model import Event, State, Task
    from tui.core.store import Store, TaskFilter

PROG = "seedance-tui"
EXIT_OK, EXIT_NOT_ALL_SUCCEEDED, EXIT_USAGE, EXIT_TIMEOUT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
STATE_WORDS = ("queued", "running", "succeeded", "failed", "cancelled", "expired", "missing",
               "unknown")  # fmt: skip


class UserError(Exception):
    """Something the user can fix; printed as one line on stderr, no traceback."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


# ------------------------------------------------------------------------------------------
# entry point


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors (argparse says exit 2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        _err("interrupted: everything seen so far is saved in the store")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `status | head`: the reader has what it wanted
        _silence_stdout()
        return EXIT_OK
    except Exception as exc:
        if isinstance(exc, _user_error_types()):
            _err(str(exc))
            return getattr(exc, "code", EXIT_USAGE)
        raise


def _user_error_types() -> tuple[type[BaseException], ...]:
    """Our own exceptions that mean 'the user can fix this' (only the modules already loaded)."""
    found: list[type[BaseException]] = [UserError]
    for module, name in (
        ("tui.core.config", "ConfigError"),
        ("tui.core.store", "StoreError"),
        ("tui.core.lock", "LockHeld"),
        ("tui.core.paths", "TemplateError"),
    ):
        kind = getattr(sys.modules.get(module), name, None)
        if isinstance(kind, type) and issubclass(kind, BaseException):
            found.append(kind)
    return tuple(found)


def _err(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


# ------------------------------------------------------------------------------------------
# the parser


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be above 0 (and finite)")
    return value


def _task_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 100_000:
        raise argparse.ArgumentTypeError(f"{value} must be between 1 and 100000")
    return value


def parse_states(text: str) -> frozenset[State]:
    """`--state failed,expired` (also `live`, `terminal`) -> the State set."""
    from tui.core.model import LIVE_STATES, TERMINAL_STATES, State

    out: set[State] = set()
    for word in (w.strip().lower() for w in text.split(",")):
        if word == "live":
            out |= LIVE_STATES
        elif word == "terminal":
            out |= TERMINAL_STATES
        elif word in STATE_WORDS:
            out.add(State(word))
        else:
            shown = word or "(empty)"
            raise argparse.ArgumentTypeError(
                f"unknown state {shown!r}: use {', '.join(STATE_WORDS)} (or live, terminal), "
                "comma-separated"
            )
    return frozenset(out)


def build_parser() -> argparse.ArgumentParser:
    # --config/--db on the main parser (default None) and again on every subparser with
    # SUPPRESS, so a value given after the command's name wins and none given keeps the first.
    files = argparse.ArgumentParser(add_help=False)
    _file_options(files, default=argparse.SUPPRESS)
    filters = argparse.ArgumentParser(add_help=False)
    group = filters.add_argument_group("filters")
    group.add_argument(
        "--state",
        type=parse_states,
        metavar="S[,S]",
        help="only tasks in these states (" + ", ".join(STATE_WORDS) + "; or live, terminal)",
    )
    group.add_argument("--provider", metavar="NAME", help="only this provider's tasks")
    group.add_argument("--batch", metavar="LABEL", help="only tasks added with this --batch")

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Track Seedance video-generation tasks across API resellers: a dashboard "
        "(no command) and headless commands for scripts.",
        epilog="Exit codes: 0 done, 1 --exit-status and a task did not succeed, 2 usage or "
        "config error, 3 --timeout reached, 130 interrupted.",
    )
    _file_options(parser, default=None)
    parser.add_argument(
        "--paused", action="store_true", help="dashboard: start with polling paused, to browse"
    )
    parser.add_argument(
        "--version", action=_VersionAction, nargs=0, help="show the version and exit"
    )
    parser.set_defaults(func=cmd_dashboard)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", dest="command")

    def command(name: str, helptext: str, *parents: argparse.ArgumentParser) -> Any:
        return sub.add_parser(name, help=helptext, description=helptext, parents=[files, *parents])

    demo = command("demo", "the dashboard over a throw-away store and the built-in simulator")
    demo.add_argument(
        "--tasks", type=_task_count, default=None, metavar="N", help="how many simulated tasks"
    )
    demo.set_defaults(func=cmd_demo)

    add = command("add", "track tasks by id (or by the JSON a create call answered)")
    add.add_argument("ids", nargs="*", metavar="ID", help="task ids")
    add.add_argument(
        "--file", metavar="PATH", help="read ids from a file, one a line (`-` reads stdin)"
    )
    add.add_argument(
        "--provider", metavar="NAME", help="the provider to poll them at (default: by id prefix)"
    )
    add.add_argument("--batch", metavar="LABEL", help="a label to filter and group them by")
    add.set_defaults(func=cmd_add)

    status = command("status", "a table (or JSON) of the tracked tasks", filters)
    status.add_argument("--json", action="store_true", help="a JSON array of task objects")
    status.add_argument("--refresh", action="store_true", help="poll each live task once first")
    status.set_defaults(func=cmd_status)

    watch = command(
        "watch", "poll until every selected task is finished and its video kept", filters
    )
    watch.add_argument("--json", action="store_true", help="one JSON object a line per event")
    watch.add_argument(
        "--exit-status",
        action="store_true",
        help="exit 1 when any selected task ends in a state other than succeeded",
    )
    watch.add_argument(
        "--timeout", type=_positive_float, metavar="SECONDS", help="give up after this (exit 3)"
    )
    watch.add_argument("--no-download", action="store_true", help="do not download finished videos")
    watch.add_argument(
        "-v", "--verbose", action="store_true", help="also print polls that changed nothing"
    )
    watch.set_defaults(func=cmd_watch)

    export = command("export", "the task objects as CSV, JSON or JSON lines", filters)
    export.add_argument(
        "--format",
        choices=("csv", "json", "jsonl"),
        help="default: from --output's extension, else json (CSV leaves out `raw`)",
    )
    export.add_argument("--output", "-o", metavar="PATH", help="write here (default: stdout)")
    export.set_defaults(func=cmd_export)

    download = command("download", "fetch every finished video not yet on disk, now", filters)
    download.add_argument("--json", action="store_true", help="one JSON object a line per event")
    download.add_argument(
        "--exit-status", action="store_true", help="exit 1 when any download did not finish"
    )
    download.set_defaults(func=cmd_download)

    remove = command("remove", "stop tracking tasks (their files stay on disk)")
    remove.add_argument("ids", nargs="+", metavar="ID")
    remove.add_argument("--provider", metavar="NAME", help="only this provider's task")
    remove.set_defaults(func=cmd_remove)

    config = command("config", "the config file: init, show, path")
    config.set_defaults(func=cmd_config_missing)
    config_sub = config.add_subparsers(title="actions", metavar="ACTION")
    init = config_sub.add_parser("init", parents=[files], help="write a starter config (mode 0600)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(func=cmd_config_init)
    config_sub.add_parser(
        "show", parents=[files], help="print the config in effect, keys masked"
    ).set_defaults(func=cmd_config_show)
    config_sub.add_parser(
        "path", parents=[files], help="print where the config file is"
    ).set_defaults(func=cmd_config_path)
    return parser


def _file_options(parser: argparse.ArgumentParser, *, default: Any) -> None:
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=default,
        help="config file (default: $SEEDANCE_TUI_CONFIG, else the user config dir)",
    )
    parser.add_argument(
        "--db",
        metavar="PATH",
        default=default,
        help="task store (default: $SEEDANCE_TUI_DB, else the user data dir)",
    )


class _VersionAction(argparse.Action):
    """`--version`, reading the installed version only when asked (importlib.metadata is slow)."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("seedance-tui")
        except PackageNotFoundError:
            found = "unknown"
        print(f"{PROG} {found}")
        parser.exit()


# ------------------------------------------------------------------------------------------
# shared helpers


def _config_path(args: argparse.Namespace) -> Path:
    from tui.core.config import resolve_config_path

    return resolve_config_path(args.config)


def _config(args: argparse.Namespace) -> Config:
    from tui.core.config import load_config

    return load_config(_config_path(args))


def _db_path(args: argparse.Namespace) -> Path:
    from tui.core.config import resolve_db_path

    return resolve_db_path(args.db)


def _open_store(args: argparse.Namespace) -> Store:
    from tui.core.store import Store

    return Store.open(_db_path(args))


def _fail(message: str) -> NoReturn:
    raise UserError(message)


def _names(items: Any) -> str:
    items = sorted(items)
    return ", ".join(items) if items else "none"


def _task_filter(
    args: argparse.Namespace, store: Store, config: Config | None = None
) -> TaskFilter:
    """The --state/--provider/--batch filter; a provider or batch nobody knows is a typo."""
    from tui.core.store import TaskFilter

    if args.provider is not None and args.provider not in store.providers():
        if config is None:
            from tui.core.config import ConfigError

            try:
                config = _config(args)
            except ConfigError:
                config = None
        if config is None or args.provider not in config.providers:
            known = set(store.providers()) | set(config.providers if config else ())
            _fail(f"unknown provider {args.provider!r}: use one of {_names(known)}")
    if args.batch is not None and args.batch not in store.batches():
        _fail(
            f"no batch {args.batch!r} in the store: batches are {_names(store.batches())} "
            "(set with `add --batch LABEL`)"
        )
    return TaskFilter(states=args.state, provider=args.provider, batch=args.batch)


def _need_terminal() -> None:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        _fail(
            "the dashboard needs a terminal: run it in one, or use `status`, `watch` or "
            "`export` in scripts and pipes"
        )


def _print_event_line(event: Event, *, as_json: bool) -> None:
    from tui import output

    if as_json:
        line = output.dumps(event.to_json())
    else:
        line = output.event_line(event)
        if sys.stdout.isatty():
            import shutil

            line = output.fit(line, shutil.get_terminal_size().columns)
    print(line, flush=True)


# ------------------------------------------------------------------------------------------
# commands


def cmd_dashboard(args: argparse.Namespace) -> int:
    config = _config(args)
    _need_terminal()
    from tui.app.build import run_dashboard

    return (
        run_dashboard(
            _db_path(args), config, paused=args.paused, theme_save_path=_config_path(args)
        )
        or EXIT_OK
    )


def cmd_demo(args: argparse.Namespace) -> int:
    config = _config(args)
    _need_terminal()
    from tui.app.demo import run_demo

    options: dict[str, Any] = {"config": config}
    if args.tasks is not None:
        options["tasks"] = args.tasks
    return run_demo(**options) or EXIT_OK


def cmd_add(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from tui.core.ids import parse_id_lines

    if not args.ids and args.file is None:
        _fail("nothing to add: give task ids, or --file PATH (`--file -` reads stdin)")
    if args.batch is not None:
        _check_label(args.batch)
    ids, errors = parse_id_lines(args.ids)
    bad = [f"argument {n}: {text!r}: {why}" for n, text, why in errors]
    if args.file is not None:
        more, file_errors = parse_id_lines(_read_lines(args.file))
        where = "stdin" if args.file == "-" else args.file
        bad += [f"{where}, line {n}: {text!r}: {why}" for n, text, why in file_errors]
        seen = set(ids)
        ids += [i for i in more if i not in seen]
    if bad:
        for line in bad:
            print(f"{PROG}: {line}", file=sys.stderr)
        _fail(f"nothing added: fix the {len(bad)} bad line(s) above (one task id a line)")
    if not ids:
        _fail("nothing to add: no task ids in the input")
    config = _config(args)
    by_provider = _assign_providers(ids, args.provider, config)
    now = datetime.now(UTC)
    store = _open_store(args)
    added = skipped = 0
    per_provider: list[str] = []
    try:
        for provider, provider_ids in by_provider.items():
            result = store.add_tasks(provider, provider_ids, batch=args.batch, now=now)
            added += result.added
            skipped += result.skipped
            if result.added:
                per_provider.append(f"{provider} {result.added}")
    finally:
        store.close()
    message = f"added {added}"
    if len(per_provider) > 1:
        message += f" ({', '.join(per_provider)})"
    if skipped:
        message += f", skipped {skipped} already tracked"
    print(message)
    return EXIT_OK


def _check_label(label: str) -> None:
    if not label.strip() or len(label) > 128 or any(ord(ch) < 32 or ord(ch) == 127 for ch in label):
        _fail(f"--batch {label!r}: use a short label of printable characters, e.g. spring-ads")


def _read_lines(path: str) -> list[str]:
    if path == "-":
        return sys.stdin.read().splitlines()
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read().splitlines()
    except FileNotFoundError:
        _fail(f"--file {path}: no such file")
    except IsADirectoryError:
        _fail(f"--file {path}: is a directory: give a file with one task id a line")
    except OSError as exc:
        _fail(f"--file {path}: cannot read it ({exc.strerror})")


def _assign_providers(ids: list[str], provider: str | None, config: Config) -> dict[str, list[str]]:
    """Each id's provider: the one named, else the one configured provider of the prefix's kind."""
    from tui.core.dialects import kinds_for_id

    providers = config.providers
    if provider is not None:
        if provider not in providers:
            _fail(
                f"unknown provider {provider!r}: configured are {_names(providers)} "
                "(add a [providers.NAME] table to the config)"
            )
        kind = providers[provider].kind
        odd = [i for i in ids if (kinds := kinds_for_id(i)) and kind not in kinds]
        if odd:
            _err(
                f"warning: {len(odd)} id(s) look like another dialect's than {provider}'s "
                f"({kind}), e.g. {odd[0]}"
            )
        return {provider: ids}
    from tui.core.routing import route_ids

    routing = route_ids(ids, providers)
    problems = [
        f"{task_id}: several providers could track it ({', '.join(names)}): "
        f"add --provider {names[0]} (or another of them)"
        for task_id, names in routing.ambiguous
    ]
    problems += [
        f"{task_id}: has the id prefix of the {' or '.join(kinds)} dialect but no provider "
        f"of that kind is configured (configured: {_describe(config)}): add one, or use "
        "--provider"
        for task_id, kinds in routing.unconfigured
    ]
    problems += [
        f"{task_id}: its prefix names no dialect: add --provider NAME "
        f"(configured: {_describe(config)})"
        for task_id in routing.unknown_prefix
    ]
    unplaced = routing.unplaced
    problems = problems[:20]
    if problems:
        for line in problems:
            print(f"{PROG}: {line}", file=sys.stderr)
        more = f" ({unplaced - len(problems)} more like these)" if unplaced > len(problems) else ""
        _fail(f"nothing added: say which provider tracks these ids with --provider NAME{more}")
    return routing.assigned


def _describe(config: Config) -> str:
    return ", ".join(f"{p.name} ({p.kind})" for p in config.providers.values()) or "none"


def cmd_status(args: argparse.Namespace) -> int:
    from tui import output

    store = _open_store(args)
    try:
        config = _config(args) if args.refresh else None
        flt = _task_filter(args, store, config)
        if args.refresh:
            assert config is not None
            _refresh(args, store, config, flt)
        if args.json:
            _export(store, flt, "json", sys.stdout)
        elif tasks := store.query(flt):
            output.write_table(sys.stdout, tasks)
        elif sum(store.counts(None).values()):
            print("no tasks match these filters")
        else:
            print(f"no tasks tracked yet: add some with `{PROG} add ID`")
    finally:
        store.close()
    sys.stdout.flush()
    return EXIT_OK


def _refresh(args: argparse.Namespace, store: Store, config: Config, flt: TaskFilter) -> None:
    """Poll each selected live task once; if `watch` is polling this store already, it is fresh."""
    import asyncio

    from tui.core.engine import Engine
    from tui.core.lock import LockHeld, PollerLock

    lock = PollerLock(_db_path(args))
    try:
        lock.acquire(f"{PROG} status --refresh")
    except LockHeld as held:
        _err(
            f"not refreshing: pid {held.pid} (`{held.command}`) polls this store and keeps it fresh"
        )
        return

    def warn(event: Event) -> None:  # stdout stays the table or the JSON
        if event.kind in ("provider", "http_error", "error"):
            from tui import output

            _err(f"{output.safe(event.provider)}: {output.event_detail(event)}")

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


def cmd_watch(args: argparse.Namespace) -> int:
    from tui import output
    from tui.core.model import LIVE_STATES, State
    from tui.core.poller import ProviderHealth

    config = _config(args)
    store = _open_store(args)
    try:
        flt = _task_filter(args, store, config)
        if not sum(store.counts(flt).values()):
            _err(f"nothing to watch: no tracked task matches (add some with `{PROG} add ID`)")
        timed_out, health = _poll_until_done(
            args, store, config, flt, download=not args.no_download, timeout=args.timeout
        )
        selected = _finish(args, store, flt)
    finally:
        store.close()
    if timed_out:
        _err(f"--timeout {args.timeout:g} s reached: tasks still live are saved; watch again")
        return EXIT_TIMEOUT
    live = [t for t in selected if t.state in LIVE_STATES]
    refused = {
        name: why for name, (state, why) in health.items() if state is ProviderHealth.AUTH_FAILED
    }
    stuck = {t.provider for t in live}
    if live and stuck <= set(refused):
        for name in sorted(stuck):
            _err(f"{name}: {output.safe(refused[name]) or 'the provider refused the key'}")
        _fail(
            f"{len(live)} task(s) left unpolled: every provider they belong to refused its "
            "key (check api_key_env and that the variable is exported)"
        )
    if args.exit_status and any(t.state is not State.SUCCEEDED for t in selected):
        return EXIT_NOT_ALL_SUCCEEDED
    return EXIT_OK


def _poll_until_done(
    args: argparse.Namespace,
    store: Store,
    config: Config,
    flt: TaskFilter,
    *,
    download: bool,
    timeout: float | None,
) -> tuple[bool, dict[str, Any]]:
    """Run the engine under this process's poller lock; (timed out?, provider health).

    On Ctrl-C the summary is printed and KeyboardInterrupt goes on up (exit 130): every answer
    was saved as it came, so nothing is lost.
    """
    import asyncio

    from tui.core.lock import LockHeld, PollerLock

    lock = PollerLock(_db_path(args))
    try:
        lock.acquire(f"{PROG} {args.command}")
    except LockHeld as held:
        _fail(str(held))
    outcome: dict[str, Any] = {"timed_out": False, "health": {}}
    printer = _Printer(as_json=args.json, verbose=getattr(args, "verbose", False))

    async def run() -> None:
        from tui.core.engine import Engine

        engine = Engine(store, config, download=download)
        engine.subscribe(printer)
        reader = asyncio.create_task(printer.watch_reader(asyncio.current_task()))
        try:
            async with asyncio.timeout(timeout) as deadline:
                await engine.run(flt, until_done=True)
        except TimeoutError:
            if not deadline.expired():
                raise
            outcome["timed_out"] = True
        except asyncio.CancelledError:
            if not printer.closed:
                raise  # Ctrl-C
        finally:
            reader.cancel()
            outcome["health"] = engine.health()
            await engine.aclose()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        _finish(args, store, flt)
        raise
    finally:
        lock.release()
    return outcome["timed_out"], outcome["health"]


class _Printer:
    """The engine subscriber that prints each event. When the reader of a pipe goes away
    (`watch | head`), the run stops, as SIGPIPE would stop any other Unix tool."""

    def __init__(self, *, as_json: bool, verbose: bool) -> None:
        self.as_json = as_json
        self.verbose = verbose  # `poll` events (a poll that changed nothing) only when asked
        self.closed = False

    def __call__(self, event: Event) -> None:
        if self.closed or (event.kind == "poll" and not self.verbose):
            return
        try:
            _print_event_line(event, as_json=self.as_json)
        except BrokenPipeError:
            self.closed = True
            _silence_stdout()

    async def watch_reader(self, run: Any) -> None:
        """Cancel `run` once the reader is gone: seen by a failed write, or by polling the pipe
        when nothing was printed (`watch | head -n 1` with every line already in the pipe).
        The cancel comes from here, never from inside an engine callback, so it does not land
        in the middle of the engine's own bookkeeping."""
        import asyncio

        while not (self.closed or _stdout_reader_gone()):
            await asyncio.sleep(0.2)
        self.closed = True
        _silence_stdout()
        run.cancel()


def _stdout_reader_gone() -> bool:
    """True when stdout is a pipe whose reading end is closed (poll reports POLLERR)."""
    import select
    import stat

    try:
        fd = sys.stdout.fileno()
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return False
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return any(flags & (select.POLLERR | select.POLLHUP) for _, flags in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def _finish(args: argparse.Namespace, store: Store, flt: TaskFilter) -> list[Task]:
    """Print the summary event; return the selected tasks as they are now."""
    from tui import output

    selected = store.query(flt)
    _print_event_line(output.summary_event(selected), as_json=args.json)
    return selected


def cmd_export(args: argparse.Namespace) -> int:
    from tui import output

    fmt = args.format
    if fmt is None:
        suffix = (args.output or "").rsplit(".", 1)[-1].lower()
        fmt = suffix if args.output and suffix in output.WRITERS else "json"
    store = _open_store(args)
    try:
        flt = _task_filter(args, store)
        if args.output in (None, "-"):
            _export(store, flt, fmt, sys.stdout)
            sys.stdout.flush()
        else:
            count = _write_file(args.output, lambda handle: _export(store, flt, fmt, handle))
            _err(f"exported {count} task(s) to {args.output} ({fmt})")
    finally:
        store.close()
    return EXIT_OK


def _export(store: Store, flt: TaskFilter, fmt: str, out: Any) -> int:
    """Task objects straight from the store's rows: bodies are spliced in as stored JSON
    text, never parsed and re-encoded (100,000 tasks stream in about a second)."""
    from tui import output

    if fmt == "csv":
        return output.write_csv_objects(out, store.query_json(flt, with_raw=False))
    texts = store.iter_json(flt, with_raw=True)
    if fmt == "jsonl":
        return output.write_jsonl_texts(out, texts)
    return output.write_json_texts(out, texts)


def _write_file(path: str, write: Any) -> int:
    """Write through a temporary file and rename: a failed export leaves no half file."""
    target = os.path.abspath(os.path.expanduser(path))
    tmp = f"{target}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            count = write(handle)
        os.replace(tmp, target)
    except OSError as exc:
        with _suppress():
            os.unlink(tmp)
        _fail(f"--output {path}: cannot write it ({exc.strerror}): pick a writable path")
    return count


def _suppress() -> Any:
    import contextlib

    return contextlib.suppress(OSError)


def cmd_download(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    from tui.core.model import Download, DownloadState, State

    config = _config(args)
    # Asking for downloads is the answer to `[download] enabled = false`.
    config = dataclasses.replace(
        config, download=dataclasses.replace(config.download, enabled=True)
    )
    store = _open_store(args)
    try:
        flt = _task_filter(args, store, config)
        if flt.states is not None and State.SUCCEEDED not in flt.states:
            _fail("download fetches succeeded tasks' videos: drop --state or include succeeded")
        finished = dataclasses.replace(flt, states=frozenset({State.SUCCEEDED}))
        todo = []
        for task in store.query(finished):
            if task.download.state is DownloadState.DONE:
                if task.download.path and Path(task.download.path).is_file():
                    continue
                store.set_download(task.provider, task.id, Download())  # the file is gone
            if task.video_url:
                todo.append(task)
        if not todo:
            print("nothing to download: every finished video is on disk")
            return EXIT_OK
        chosen = dataclasses.replace(finished, ids=frozenset(t.id for t in todo))
        _poll_until_done(args, store, config, chosen, download=True, timeout=None)
        after = _finish(args, store, chosen)
    finally:
        store.close()
    if args.exit_status and any(t.download.state is not DownloadState.DONE for t in after):
        return EXIT_NOT_ALL_SUCCEEDED
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    from tui.core.ids import is_valid_id
    from tui.core.store import TaskFilter

    bad = [i for i in args.ids if not is_valid_id(i)]
    if bad:
        from tui import output

        _fail(f"not a task id: {output.safe(bad[0])!r} (ids hold letters, digits and . _ : -)")
    store = _open_store(args)
    try:
        tracked = {
            t.id for t in store.query(TaskFilter(ids=frozenset(args.ids), provider=args.provider))
        }
        removed = store.remove(args.provider, args.ids) if tracked else 0
    finally:
        store.close()
    print(f"removed {removed}")
    missing = [i for i in args.ids if i not in tracked]
    if missing:
        shown = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
        _err(f"not tracked{' at ' + args.provider if args.provider else ''}: {shown}")
    return EXIT_OK


def cmd_config_missing(args: argparse.Namespace) -> int:
    _fail(f"config needs an action: `{PROG} config init`, `config show` or `config path`")


def cmd_config_init(args: argparse.Namespace) -> int:
    from tui.core.config import starter_config, write_private

    path = _config_path(args)
    if path.exists() and not args.force:
        _fail(f"{path} exists already: keep it, or run `{PROG} config init --force` to replace it")
    try:
        write_private(path, starter_config())
    except OSError as exc:
        _fail(f"cannot write {path} ({exc.strerror}): pick another place with --config PATH")
    print(f"wrote {path}")
    return EXIT_OK


def cmd_config_show(args: argparse.Namespace) -> int:
    from tui.core.config import masked

    config = _config(args)
    if config.path is None:
        _err(f"no config file at {_config_path(args)}: showing the built-in defaults")
    sys.stdout.write(masked(config))
    return EXIT_OK


def cmd_config_path(args: argparse.Namespace) -> int:
    print(_config_path(args))
    return EXIT_OK
