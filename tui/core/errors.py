"""What a dialect raises when a provider's answer cannot be understood.

The message is shown to people (dashboard log, `watch` lines), so it is short, single-line and
clean: it says what was wrong and quotes at most a short cleaned excerpt of the body, never the
whole body (which could hold a signed URL).
"""

from __future__ import annotations

from tui.core.clean import clean_line

EXCERPT_CHARS = 80


class BadResponse(Exception):
    """The body cannot be understood: not JSON, an HTML page, wrong types, no status."""

    def __init__(self, message: str) -> None:
        super().__init__(clean_line(message) or "bad response")


def excerpt(body: bytes | str, limit: int = EXCERPT_CHARS) -> str:
    """A short, cleaned, single-line taste of a body for an error message."""
    text = clean_line(body) or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"
