"""clean_line / clean_text: upstream strings must never reach the terminal as control sequences."""

from __future__ import annotations

import random
import re

import pytest

from tui.core.clean import clean_line, clean_text

ESC, BEL, ST = "\x1b", "\x07", "\x1b\\"
_FORBIDDEN = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(f"a{ESC}]52;c;aGVsbG8={BEL}b", "ab", id="osc52-bel"),
        pytest.param(f"a{ESC}]52;c;aGVsbG8={ST}b", "ab", id="osc52-st"),
        pytest.param("a\x9d52;c;aGVsbG8=\x9cb", "ab", id="osc52-8bit"),
        pytest.param(f"a{ESC}]52;c;aGVsbG8=", "a", id="osc52-unterminated"),
        pytest.param(f"{ESC}]8;;https://evil.example{ST}link{ESC}]8;;{ST}", "link", id="osc8"),
        pytest.param(f"x{ESC}[2Jy", "xy", id="clear-screen"),
        pytest.param(f"{ESC}[1;31mred{ESC}[0m", "red", id="sgr"),
        pytest.param(f"{ESC}[?1049h{ESC}[H", "", id="alt-screen"),
        pytest.param("x\x9b2Jy", "xy", id="c1-csi"),
        pytest.param("x\x9b31;1my", "xy", id="c1-csi-params"),
        pytest.param(f"{ESC}P1$tx{ST}ok", "ok", id="dcs"),
        pytest.param("\x90q#0;2;0;0;0\x9cok", "ok", id="c1-dcs"),
        pytest.param(f"{ESC}_apc{ST}{ESC}^pm{ST}{ESC}Xsos{ST}ok", "ok", id="apc-pm-sos"),
        pytest.param(f"a{ESC}", "a", id="bare-esc-at-end"),
        pytest.param(f"a{ESC}{ESC}[2Jb", "ab", id="double-esc"),
        pytest.param(f"{ESC}7saved{ESC}8", "saved", id="esc-7-8"),
        pytest.param(f"{ESC}(0box", "box", id="charset"),
        pytest.param("n\x00u\x7fl\x08l", "null", id="nul-del-bs"),
        pytest.param("bell\x07", "bell", id="bel"),
        pytest.param("a\x85b\x80\x8fc", "a bc", id="c1-controls"),
        pytest.param("ok\x9fapc string never terminated", "ok", id="c1-apc-unterminated"),
        pytest.param("a\r\n\tb", "a b", id="newline-tab"),
        pytest.param("a\rb", "a b", id="carriage-return"),
        pytest.param("  line one\nline two\n\n", "line one line two", id="multi-line"),
        pytest.param("a  b", "a  b", id="inner-spaces-kept"),
        pytest.param("\u2028a\u2029b", "a b", id="unicode-line-separators"),
        pytest.param("\ud800x", "\ufffdx", id="lone-surrogate"),
        pytest.param("", "", id="empty"),
    ],
)
def test_clean_line_removes_control_sequences(text: str, expected: str) -> None:
    assert clean_line(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "生成失败：参考视频总时长超过 15 秒",
        "done 🎬✅ 👍🏽 family 👨‍👩‍👧",
        "[/]",
        "[@click=app.quit]quit[/]",
        "[bold red]not markup here[/bold red]",
        "Ünïcödé — “quotes” …",
    ],
)
def test_clean_line_keeps_normal_text_and_markup_lookalikes(text: str) -> None:
    assert clean_line(text) == text


def test_none_stays_none() -> None:
    assert clean_line(None) is None
    assert clean_text(None) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [(5, "5"), (1.5, "1.5"), (True, "True"), (b"by\xfftes", "by\ufffdtes"), (b"\x1b[2Jok", "ok")],
)
def test_non_strings_are_stringified_then_cleaned(value: object, expected: str) -> None:
    assert clean_line(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("line one\nline two", "line one\nline two"),
        ("a\r\nb\rc", "a\nb\nc"),
        ("a\tb", "a b"),
        (f'{{\n  "x": "{ESC}]52;c;Zm9v{BEL}"\n}}\n', '{\n  "x": ""\n}'),
        ("x\x9b2J\ny", "x\ny"),
    ],
)
def test_clean_text_keeps_newlines(text: str, expected: str) -> None:
    assert clean_text(text) == expected


def test_random_garbage_never_leaves_a_control_char() -> None:
    """Fuzz: whatever mix of escape starters, terminators and text, nothing dangerous survives."""
    alphabet = [ESC, "\x9b", "\x9d", "\x90", "\x9c", BEL, "[", "]", "P", "\\", ";", "5", "2",
                "c", "m", "J", "\x00", "\x7f", "\n", "\r", "\t", "a", "中", "😀"]  # fmt: skip
    rng = random.Random(1234)
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        line, block = clean_line(text), clean_text(text)
        assert line is not None and block is not None
        assert not _FORBIDDEN.search(line) and "\n" not in line, repr(text)
        assert not _FORBIDDEN.search(block), repr(text)
