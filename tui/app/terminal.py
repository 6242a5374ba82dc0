"""The process around the dashboard: SIGHUP / SIGTERM, a terminal that went away, exit codes.

An SSH drop is the case that matters: the kernel sends SIGHUP (and SIGCONT right after it), and
every write to the hung-up terminal fails with EIO. Nothing is lost by leaving at once: every
change is committed to the store as it happens, and downloads resume from their `.part` files.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import termios
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

EXIT_HANGUP = 129  # 128 + SIGHUP: the terminal went away (everything was saved)
EXIT_TERM = 143  # 128 + SIGTERM
EXIT_GRACE = 5.0  # seconds a graceful exit may take once the terminal is gone


def terminal_gone() -> bool:
    """Whether our terminal hung up: asking it for its settings then fails (EIO)."""
    try:
        termios.tcgetattr(sys.__stdin__.fileno())  # type: ignore[union-attr]
    except (termios.error, OSError, ValueError, AttributeError):
        return True
    return False


def leave_dead_terminal(code: int) -> None:
    """Every write to a hung-up terminal fails (EIO), which kills Textual's writer thread and
    then blocks the last frame forever. Point the standard fds at /dev/null so the shutdown can
    write its last frame somewhere, and make sure the process ends even if something still
    waits on the dead terminal."""
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
    watchdog = threading.Timer(EXIT_GRACE, os._exit, args=(code,))
    watchdog.daemon = True
    watchdog.start()


class ExitSignals:
    """SIGHUP / SIGTERM end the dashboard cleanly: `on_exit(signum, code)` runs in the loop.

    Plain `signal.signal` handlers (not the loop's), because they must run before Textual's
    SIGCONT handler, which the kernel fires right after SIGHUP on a hang-up and which would
    restart output on the dead terminal.
    """

    def __init__(
        self, on_exit: Callable[[int, int], None], gone: Callable[[], bool] = terminal_gone
    ) -> None:
        self._on_exit = on_exit
        self._gone = gone  # a headless app has no terminal to lose
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        """Install the handlers (only the main thread may); call from inside the loop."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()

        def on_exit_signal(signum: int, _frame: object) -> None:
            code = EXIT_HANGUP if signum == signal.SIGHUP else EXIT_TERM
            if self._gone():
                leave_dead_terminal(code)
            loop.call_soon_threadsafe(self._on_exit, signum, code)

        def on_continue(signum: int, frame: FrameType | None) -> None:
            if self._gone():
                return  # a hang-up, not a resume after ctrl+z: nothing to draw on
            if callable(previous_cont):
                previous_cont(signum, frame)

        previous_cont = signal.getsignal(signal.SIGCONT)
        for signum, handler in (
            (signal.SIGHUP, on_exit_signal),
            (signal.SIGTERM, on_exit_signal),
            (signal.SIGCONT, on_continue),
        ):
            self._previous[signum] = signal.signal(signum, handler)

    def restore(self) -> None:
        """Put back the handlers that were there before (idempotent)."""
        for signum, handler in self._previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(signum, handler)
        self._previous.clear()
