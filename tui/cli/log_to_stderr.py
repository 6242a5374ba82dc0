"""Core warnings and errors on stderr for the headless commands, one clean line each.

The engine reports trouble it handles itself (a store write that failed, a subscriber that
raised) with `logging`; without a handler Python would print bare messages or tracebacks in its
own format. Here each becomes `seedance-tui: warning: ...`, cleaned of control sequences, on
stderr, so stdout stays the table, the JSON or the event lines a script reads. The dashboard
has its own handler (the log panel).
"""

from __future__ import annotations

import logging
import sys

from tui.cli.errors import PROG


class _OneLine(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        from tui.core.clean import clean_line

        try:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                exc = record.exc_info[1]
                text += f": {type(exc).__name__}: {exc}"
            level = record.levelname.lower()
            sys.stderr.write(f"{PROG}: {level}: {clean_line(text) or ''}\n")
            sys.stderr.flush()
        except Exception:  # a closed stderr: nowhere left to say anything
            self.handleError(record)


def install() -> None:
    """Send the `tui` loggers' warnings and errors to stderr (once per process)."""
    logger = logging.getLogger("tui")
    if any(isinstance(h, _OneLine) for h in logger.handlers):
        return
    logger.addHandler(_OneLine(logging.WARNING))  # found, so Python's own last resort is not
