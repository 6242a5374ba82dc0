"""Task ids from files and stdin: bare ids or create responses, every bad line named."""

from __future__ import annotations

import json

import pytest

from tui.core.ids import ID_RE, is_valid_id, parse_id_lines


@pytest.mark.parametrize(
    "good",
    [
        "video_fd35ee52-2a98-44a6-b930-29a88ce9b8fd",
        "asyntask_h81efT0qwtLnzyt6VENmCZ6VXSfNxE2E",
        "task_abc",
        "cgt-20260427191505-9j2q7",
        "0",
        "a" * 128,
        "a.b:c_d-e",
    ],
)
def test_valid_ids(good: str) -> None:
    assert is_valid_id(good)
    assert ID_RE.match(good)


@pytest.mark.parametrize(
    "bad",
    ["", "_lead", "-lead", ".x", "a" * 129, "a b", "a/b", "../etc", "a\n", "a\x1b[2J", "vídeo",
     "a?b", "a%2F"],
)  # fmt: skip
def test_invalid_ids(bad: str) -> None:
    assert not is_valid_id(bad)


def test_non_strings_are_not_ids() -> None:
    assert not is_valid_id(None)
    assert not is_valid_id(12345)


def test_bare_ids_comments_blank_lines_and_duplicates() -> None:
    lines = [
        "\ufeffvideo_1",  # a BOM from a Windows editor
        "",
        "# a comment",
        "  asyntask_2  ",
        "video_1",
        "cgt-3\r",
    ]
    ids, errors = parse_id_lines(lines)
    assert ids == ["video_1", "asyntask_2", "cgt-3"]
    assert errors == []


def test_json_create_responses() -> None:
    lines = [
        json.dumps({"id": "video_a", "object": "video", "status": "queued"}),  # kyy
        json.dumps({"task_id": "asyntask_b"}),
        json.dumps({"code": "success", "data": {"task_id": "asyntask_c", "status": "SUBMITTED"}}),
        json.dumps({"id": "cgt-d"}),  # ark
    ]
    ids, errors = parse_id_lines(lines)
    assert ids == ["video_a", "asyntask_b", "asyntask_c", "cgt-d"]
    assert errors == []


def test_every_bad_line_is_reported_with_its_number_and_why() -> None:
    lines = [
        "video_ok",
        "two ids",
        "{not json",
        "[1, 2]",
        json.dumps({"status": "queued"}),
        json.dumps({"id": 42}),
        json.dumps({"task_id": "../../etc/passwd"}),
        "\x1b]52;c;aGk=\x07evil",
        "x" * 300,
        "asyntask_fine",
    ]
    ids, errors = parse_id_lines(lines)
    assert ids == ["video_ok", "asyntask_fine"]
    numbers = [number for number, _, _ in errors]
    assert numbers == [2, 3, 4, 5, 6, 7, 8, 9]
    reasons = {number: reason for number, _, reason in errors}
    assert "contains spaces" in reasons[2]
    assert "not valid JSON" in reasons[3]
    assert "must be an object" in reasons[4]
    assert "no id, task_id or data.task_id" in reasons[5]
    assert "must be a string" in reasons[6]
    assert "task_id" in reasons[7]
    assert "too long" in reasons[9]
    shown = {number: text for number, text, _ in errors}
    assert "\x1b" not in shown[8] and "\x07" not in shown[8]  # quoted back cleaned
    assert len(shown[9]) <= 80


def test_a_json_array_line_is_not_an_object() -> None:
    _, errors = parse_id_lines(['["video_a"]'])
    assert errors == [
        (1, '["video_a"]', "a JSON line must be an object holding id, task_id or data.task_id")
    ]
    _, errors = parse_id_lines(['{"id": ["video_a"]}'])
    assert errors and "must be a string" in errors[0][2]
