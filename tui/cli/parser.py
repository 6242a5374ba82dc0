"""The command line's grammar: every command, option and help text, and the checks on values
that argparse makes (a bad value is a usage error, exit 2, with a line saying what to fix).

Each command's function is named here, but none of them imports anything heavy at load time, so
`--help` stays cheap: the commands import what they need when they run.
"""

from __future__ import annotations

import argparse

from tui.cli.config_cmd import cmd_config_init, cmd_config_missing, cmd_config_path, cmd_config_show
from tui.cli.dashboard import cmd_dashboard, cmd_demo
from tui.cli.errors import PROG
from tui.cli.reading import cmd_export, cmd_status
from tui.cli.requests_cmd import REQUEST_STATE_WORDS, cmd_requests, parse_request_states
from tui.cli.retry_cmd import cmd_retry
from tui.cli.submit import cmd_submit
from tui.cli.tasks import cmd_add, cmd_remove
from tui.cli.watch import cmd_download, cmd_watch

TYPE_CHECKING = False  # `typing` costs start-up time; annotations are strings here anyway
if TYPE_CHECKING:
    from typing import Any

    from tui.core.model import State

# tui.core.model.State's values, in its order, written out here because importing the model
# costs start-up time; tests/test_cli_truth.py fails the day the two differ.
STATE_WORDS = ("queued", "running", "succeeded", "failed", "cancelled", "expired", "missing",
               "unknown")  # fmt: skip


def positive_seconds(text: str) -> float:
    """A number of seconds above 0: NaN, infinities, 0 and negatives are refused (a NaN
    deadline would never come and a negative one would have passed already)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value != value:  # NaN, the one float unequal to itself (`math` costs start-up time)
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of seconds: give one above 0, e.g. 600"
        )
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be above 0: a number of seconds, e.g. 600")
    if value == float("inf"):
        raise argparse.ArgumentTypeError(
            f"{text} is not a finite number of seconds: give one above 0, e.g. 600 "
            "(or leave the option out to have no limit)"
        )
    return value


def task_count(text: str) -> int:
    """A whole number of tasks, 1 to 100,000."""
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
        "--tasks", type=task_count, default=None, metavar="N", help="how many simulated tasks"
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
    _run_options(watch, "", "exit 1 when any selected task ends in a state other than succeeded")
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

    remove = command(
        "remove",
        "stop tracking tasks by id or by filter (their files stay on disk)",
        filters,
    )
    remove.add_argument("ids", nargs="*", metavar="ID", help="task ids")
    remove.add_argument(
        "--file", metavar="PATH", help="read ids from a file, one a line (`-` reads stdin)"
    )
    remove.epilog = (
        "Asks nothing (it is for scripts): the ids given, or every task the filters select, or "
        "the ids the filters also select. No ids, --file or filter: refused (exit 2). Nothing "
        "matched: exit 1."
    )
    remove.set_defaults(func=cmd_remove)

    _submit_commands(command, filters)

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


def _submit_commands(command: Any, filters: argparse.ArgumentParser) -> None:
    """`submit`, `requests` and `retry`: creating tasks (the contract's "Creating tasks")."""
    submit = command(
        "submit",
        "record create requests from a file (one JSON body a line); watch or the dashboard "
        "sends them, never twice",
    )
    submit.add_argument(
        "file",
        nargs="?",
        metavar="FILE",
        help="one create body (JSON object) a line; - reads stdin",
    )
    submit.add_argument("--provider", metavar="NAME", help="where lines without a provider go")
    submit.add_argument("--batch", metavar="LABEL", help="a label for the tasks they create")
    submit.add_argument("--dry-run", action="store_true", help="print the plan, record nothing")
    submit.add_argument("--yes", "-y", action="store_true", help="do not ask on a terminal")
    submit.add_argument(
        "--again", action="store_true", help="record lines submitted before too (copies)"
    )
    submit.add_argument(
        "--resend-uncertain",
        action="store_true",
        help="mark uncertain requests pending again (check the provider's console first)",
    )
    submit.add_argument(
        "--watch", action="store_true", help="then send, poll and download here, as watch does"
    )
    _run_options(
        submit,
        "--watch: ",
        "exit 1 when a task did not succeed or a request was rejected or uncertain",
    )
    submit.epilog = (
        'A line is a create body ({"model": ..., ...}) or {"request": {...}, "provider": '
        '"...", "name": "shot-012"}. Every line is checked first: if any is bad, nothing is '
        "recorded (exit 2). A line recorded before is skipped unless --again."
    )
    submit.set_defaults(func=cmd_submit)

    requests = command("requests", "the recorded create requests (a table, or JSON)")
    requests.add_argument("--json", action="store_true", help="a JSON array of request objects")
    group = requests.add_argument_group("filters")
    group.add_argument(
        "--state",
        type=parse_request_states,
        metavar="S[,S]",
        help="only requests in these states (" + ", ".join(REQUEST_STATE_WORDS) + ")",
    )
    group.add_argument("--provider", metavar="NAME", help="only this provider's requests")
    group.add_argument("--batch", metavar="LABEL", help="only requests submitted with this --batch")
    requests.set_defaults(func=cmd_requests)

    retry = command(
        "retry",
        "send the stored request of failed tasks again (transient failures only, unless --all)",
        filters,
    )
    retry.add_argument("ids", nargs="*", metavar="ID", help="task ids (default: every failed one)")
    retry.add_argument(
        "--all", action="store_true", help="also content-policy and invalid-parameter failures"
    )
    retry.add_argument("--yes", "-y", action="store_true", help="do not ask on a terminal")
    retry.set_defaults(func=cmd_retry)


def _run_options(parser: argparse.ArgumentParser, when: str, exit_status: str) -> None:
    """The options of a run that polls until done: `watch`'s own, and `submit --watch`'s
    (`when` prefixes their help)."""
    parser.add_argument("--json", action="store_true", help=f"{when}one JSON object per event")
    parser.add_argument("--exit-status", action="store_true", help=when + exit_status)
    parser.add_argument(
        "--timeout", type=positive_seconds, metavar="SECONDS", help=f"{when}give up (exit 3)"
    )
    parser.add_argument(
        "--no-download", action="store_true", help=f"{when}do not download finished videos"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help=f"{when}also print polls that changed nothing"
    )


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
            found = version("seedance-tui")  # the distribution's name in pyproject.toml
        except PackageNotFoundError:
            found = "unknown"
        print(f"{PROG} {found}")
        parser.exit()
