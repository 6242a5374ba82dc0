"""The `seedance-tui` command: `main` parses argv, runs one command, and maps what went wrong
to an exit code and one line on stderr.

Start-up is part of the interface (`--help` in well under 150 ms, scripts run `status` in loops),
so nothing here imports more than argparse at load time. Each command imports what it needs; the
dashboard commands alone import Textual (through `tui.app`), and only inside their function.

    errors.py      exit codes, UserError, the one-line messages
    parser.py      the grammar: commands, options, value checks
    options.py     parsed options -> config, store, task filter
    tasks.py       add, remove
    reading.py     status, export
    watch.py       watch, download: the engine under asyncio, events printed as they come
    config_cmd.py  config init | show | path
    dashboard.py   the dashboard and the demo (Textual)
    log_to_stderr.py  core warnings and errors as one clean stderr line each

Ctrl-C: a SIGINT that was ignored when the process started stays ignored. That is how a shell
runs a script's background jobs (`watch &`), so a Ctrl-C meant for the foreground job leaves
them running; Python keeps that disposition, and so does this command.
"""

from __future__ import annotations

from tui.cli.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    say,
    silence_stdout,
    user_error_types,
)
from tui.cli.parser import build_parser

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the command `argv` names (default: this process's arguments); return its exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors (argparse says exit 2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if getattr(args, "command", None) not in (None, "demo"):  # the dashboard has its log panel
        from tui.cli import log_to_stderr

        log_to_stderr.install()
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        say("interrupted: everything seen so far is saved in the store")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `status | head`: the reader has what it wanted
        silence_stdout()
        return EXIT_OK
    except Exception as exc:
        if isinstance(exc, user_error_types()):
            say(str(exc))
            return getattr(exc, "code", EXIT_USAGE)
        raise
