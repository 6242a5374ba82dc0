"""Exit codes and the errors a user can fix: what every command raises, `main` turns into a
one-line message and a code. Kept apart so the commands and `main` share it without a cycle.

Exit codes (the contract): 0 done; 1 `--exit-status` and a selected task ended not succeeded;
2 usage or config error (message says what to fix); 3 `--timeout` reached; 130 interrupted;
128 + N stopped by signal N (143 SIGTERM, 129 SIGHUP). `remove` exits 1 when nothing matched
(as `grep` does).
"""

from __future__ import annotations

import os
import sys

from tui.core import APP_NAME

TYPE_CHECKING = False  # `typing` costs start-up time; annotations are strings here anyway
if TYPE_CHECKING:
    from typing import NoReturn

PROG = APP_NAME
EXIT_OK, EXIT_NOT_ALL_SUCCEEDED, EXIT_USAGE, EXIT_TIMEOUT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_NOTHING_MATCHED = 1  # `remove`: no task matched the ids or filters given


class UserError(Exception):
    """Something the user can fix; printed as one line on stderr, no traceback."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


class Stopped(UserError):
    """`watch` was asked to stop by a signal (SIGTERM, SIGHUP): it ended cleanly, exit 128+N."""

    def __init__(self, signum: int) -> None:
        import signal

        name = signal.Signals(signum).name
        super().__init__(
            f"stopped by {name}: everything seen so far is saved in the store", 128 + signum
        )


def fail(message: str) -> NoReturn:
    """Stop the command with `message` (exit 2)."""
    raise UserError(message)


def say(message: str) -> None:
    """One line on stderr, named after the program; stdout stays the command's output."""
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def user_error_types() -> tuple[type[BaseException], ...]:
    """Our own exceptions that mean 'the user can fix this' (only the modules already loaded:
    importing the others just to name their exceptions would cost start-up time)."""
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


def silence_stdout() -> None:
    """Point stdout at /dev/null once its reader is gone, so the last flush at exit is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError):
        pass  # stdout is no file (a test's capture) or already closed: nothing to silence
