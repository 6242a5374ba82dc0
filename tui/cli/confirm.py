"""Asking before spending money: `submit`, `submit --resend-uncertain` and `retry` ask on a
terminal (stdin and stdout both ttys) unless `--yes`; a script never waits on a question."""

from __future__ import annotations

import sys


def interactive() -> bool:
    """True when a person is at the terminal: both stdin and stdout are ttys."""
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def confirm(question: str) -> bool:
    """`question [y/N] `: True only for an explicit yes; end of input or Ctrl-D is no."""
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        print()
        return False
    return answer.strip().lower() in ("y", "yes")
