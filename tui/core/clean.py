"""The one place upstream strings lose terminal control sequences.

Rich `Text`, Textual `Content` and `RichLog` pass raw ESC bytes to the terminal, so a status word
or an error message from a provider could clear the screen or write the user's clipboard
(OSC 52). Every upstream string is cleaned here, at the door, before anything shows or stores it.
Markup-looking text such as `[/]` is not a control sequence and is left alone: the UI renders
upstream strings without markup.
"""

from __future__ import annotations

import re

_ST = r"(?:\x1b\\|\x9c|\x07)"  # string terminator (BEL is accepted by xterm for OSC)
_SEQUENCES = re.compile(
    "|".join(
        (
            # OSC, DCS, SOS, PM, APC strings (7-bit and 8-bit): up to ST, or to the end when
            # unterminated (a terminal would swallow the rest too).
            rf"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]).*?(?:{_ST}|\Z)",
            # CSI (7-bit and 8-bit): parameters, intermediates, one final byte.
            r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?",
            # Any other escape sequence: intermediates and one final byte.
            r"\x1b[ -/]*[0-~]?",
        )
    ),
    re.DOTALL,
)
# After the sequences are gone, every remaining C0/C1 control and DEL goes (tab and newlines are
# handled before this). Lone surrogates (from JSON `\ud800`) cannot be encoded: replace them.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")
_LINE_BREAKS = re.compile(r"\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
_BLANK_RUN = re.compile(r"[ \t]*[\t\n][ \t\n]*")


def _strip(text: object) -> str | None:
    if text is None:
        return None
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", errors="replace")
    elif not isinstance(text, str):
        text = str(text)
    text = _SEQUENCES.sub("", text)
    text = _LINE_BREAKS.sub("\n", text)
    text = _CONTROLS.sub("", text)
    return _SURROGATES.sub("\ufffd", text)


def clean_line(text: object) -> str | None:
    """One safe line: no control sequences, line breaks and tabs become one space, ends stripped."""
    out = _strip(text)
    if out is None:
        return None
    return _BLANK_RUN.sub(" ", out).strip()


def clean_text(text: object) -> str | None:
    """Like `clean_line` but keeps line breaks (as `\\n`), for multi-line messages and JSON."""
    out = _strip(text)
    if out is None:
        return None
    return out.replace("\t", " ").strip()
