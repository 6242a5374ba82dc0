"""A submit file is checked whole: every bad line named with its number, nothing half-recorded."""

from __future__ import annotations

import json
from dataclasses import dataclass

from tui.core.request_lines import MAX_LINE_BYTES, check_request_lines
from tui.core.requests import fingerprint


@dataclass
class P:
    name: str
    kind: str = "newapi"
    api_key: str | None = "sk-test"
    api_key_env: str | None = "ANYFAST_API_KEY"
    create_endpoint: str | None = "/v1/video/generations"


ONE = {"anyfast": P("anyfast")}
TWO = {"anyfast": P("anyfast"), "kyy": P("kyy", kind="kyy", create_endpoint="/v1/kyyvideo2/videos")}


def line(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def test_bodies_and_wrapped_lines_are_planned_in_order() -> None:
    lines = [
        line({"model": "doubao-seedance-2-0", "content": [{"type": "text", "text": "a cat"}]}),
        "",
        "# a comment",
        line({"request": {"model": "m2", "prompt": "x"}, "provider": "kyy", "name": "shot-012"}),
    ]
    planned, bad = check_request_lines(lines, TWO, provider="anyfast")
    assert bad == []
    assert [(p.line, p.provider, p.model, p.name) for p in planned] == [
        (1, "anyfast", "doubao-seedance-2-0", None),
        (4, "kyy", "m2", "shot-012"),
    ]
    assert planned[1].fingerprint == fingerprint("kyy", {"model": "m2", "prompt": "x"}, "shot-012")


def test_every_bad_line_is_named_with_its_number() -> None:
    lines = [
        line({"model": "ok"}),
        "{not json",
        line(["model", "m"]),
        line({"prompt": "no model"}),
        line({"request": {"model": "m"}, "provider": "nope"}),
        line({"request": "text", "name": "x"}),
        line({"request": {"model": "m"}, "name": "two\nlines"}),
        line({"request": {"model": "m"}, "colour": "red"}),
    ]
    planned, bad = check_request_lines(lines, ONE)
    assert [p.line for p in planned] == [1]
    reasons = {b.line: b.reason for b in bad}
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 8]
    assert "not valid JSON" in reasons[2]
    assert "JSON object, not an array" in reasons[3]
    assert "'model'" in reasons[4]
    assert "unknown provider 'nope'" in reasons[5] and "anyfast" in reasons[5]
    assert "'request' must be a JSON object" in reasons[6]
    assert "one line" in reasons[7]
    assert "colour" in reasons[8]


def test_binary_junk_and_huge_lines_are_refused_without_quoting_them() -> None:
    huge = line({"model": "m", "image": "A" * (MAX_LINE_BYTES + 10)})
    planned, bad = check_request_lines([b"\xff\xfe\x00junk", huge], ONE)
    assert planned == []
    assert "not UTF-8" in bad[0].reason
    assert "MB on one line" in bad[1].reason and len(str(bad[1])) < 200


def test_the_provider_must_be_known_have_a_create_path_and_a_key() -> None:
    providers = {
        "a": P("a", create_endpoint=None),
        "b": P("b", api_key=None, api_key_env="B_KEY"),
    }
    body = {"model": "m"}
    _, bad = check_request_lines([line(body)], providers)
    assert "several are configured (a, b)" in bad[0].reason
    _, bad = check_request_lines([line(body)], providers, provider="a")
    assert "no create path" in bad[0].reason and "[providers.a]" in bad[0].reason
    _, bad = check_request_lines([line(body)], providers, provider="b")
    assert "no API key: set B_KEY" in bad[0].reason
    _, bad = check_request_lines([line(body)], {})
    assert "no provider is configured" in bad[0].reason


def test_terminal_controls_in_a_bad_line_are_not_echoed() -> None:
    _, bad = check_request_lines(["\x1b]52;c;aGk=\x07 not json"], ONE)
    assert "\x1b" not in str(bad[0]) and "\x07" not in str(bad[0])
