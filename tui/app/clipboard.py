"""Copying from a terminal app: OSC 52 where it works, and always a file you can reach.

OSC 52 asks the terminal to set the clipboard. Many terminals accept it (also over SSH), but
some ignore it silently (macOS Terminal, the Linux console, GNU screen without passthrough, tmux
without `set -g set-clipboard on`: inside tmux the notification says so), and the app cannot
tell. So every copy also writes the text to one file (mode 0600, replaced each time) and the
notification names it: the user is never left wondering where the text went.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tui.core import APP_NAME

if TYPE_CHECKING:
    from textual.app import App
    from textual.notifications import SeverityLevel

CLIPBOARD_FILE = "clipboard.txt"
TMUX_HINT = "set -g set-clipboard on"  # tmux drops OSC 52 without it (its default is external)


@dataclass(frozen=True)
class CopyResult:
    """What a copy did: the file it wrote (None if writing failed) and whether OSC 52 may work."""

    path: Path | None
    osc52_likely: bool
    error: str | None = None


def clipboard_path() -> Path:
    """`<user state dir>/seedance-tui/clipboard.txt`."""
    from platformdirs import user_state_dir

    return Path(user_state_dir(APP_NAME)) / CLIPBOARD_FILE


def osc52_doubtful(env: Mapping[str, str] = os.environ) -> str | None:
    """Why OSC 52 probably will not reach a clipboard here, or None when it probably will."""
    term = env.get("TERM", "")
    if term in ("", "dumb", "linux"):
        return f"TERM={term or '(unset)'} has no clipboard"
    if env.get("TERM_PROGRAM") == "Apple_Terminal":
        return "macOS Terminal ignores OSC 52"
    if term.startswith("screen") and not env.get("TMUX"):
        return "GNU screen drops OSC 52"
    return None


def write_clipboard_file(text: str, path: Path | None = None) -> Path:
    """Write `text` to the clipboard file (private: it may hold a signed URL)."""
    target = path or clipboard_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        if not text.endswith("\n"):
            handle.write("\n")
    os.chmod(target, 0o600)
    return target


def copy_message(what: str, result: CopyResult, env: Mapping[str, str] = os.environ) -> str:
    """The notification a copy shows: plain words, and the file path every time."""
    doubt = osc52_doubtful(env)
    if result.path is None:
        where = f"(could not write the clipboard file: {result.error})"
    else:
        where = f"{what} is in {result.path}" if doubt else f"also in {result.path}"
    if doubt:
        return f"Your terminal may not take OSC 52 ({doubt}): {where}"
    message = f"Copied {what} (OSC 52); {where}"
    if env.get("TMUX"):
        message += f". In tmux, OSC 52 needs {TMUX_HINT} in ~/.tmux.conf"
    return message


def copy_text(
    app: App, text: str, what: str, *, path: Path | None = None, env: Mapping[str, str] = os.environ
) -> CopyResult:
    """Copy with OSC 52, write the file, and tell the user where the text is."""
    app.copy_to_clipboard(text)
    try:
        written: Path | None = write_clipboard_file(text, path)
        error = None
    except OSError as exc:
        written, error = None, exc.strerror or str(exc)
    result = CopyResult(path=written, osc52_likely=osc52_doubtful(env) is None, error=error)
    severity: SeverityLevel = "information" if result.osc52_likely and written else "warning"
    app.notify(copy_message(what, result, env), title="Copy", severity=severity, markup=False)
    return result
