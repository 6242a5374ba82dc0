"""The kyy dialect against every example response in its docs, its quirks and bad input."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tui.core.dialects.kyy import DIALECT
from tui.core.errors import BadResponse
from tui.core.model import Failure, Snapshot, State, Tokens

SEEDS = Path(__file__).parent / "fixtures" / "seeds"
CREATED_2_0 = datetime(2026, 3, 30, 2, 12, 4, tzinfo=UTC)  # 1774836724
CREATED_VIDEOS = datetime(2025, 10, 28, 7, 11, 18, tzinfo=UTC)  # 1761635478


def fields(snap: Snapshot) -> dict[str, Any]:
    return {f.name: getattr(snap, f.name) for f in dataclasses.fields(Snapshot) if f.name != "raw"}


def expect(**given: Any) -> dict[str, Any]:
    """Every Snapshot field: the given ones, the rest at their 'not known' defaults."""
    return {**fields(Snapshot(state=State.UNKNOWN)), **given}


def parse(obj: dict[str, Any], status: int = 200) -> Snapshot:
    return DIALECT.parse(status, json.dumps(obj).encode())


def task(**changes: Any) -> dict[str, Any]:
    base = json.loads((SEEDS / "kyy_2_0_completed.json").read_bytes())
    return {**base, **changes}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "kyy_2_0_queued.json",
            expect(
                state=State.QUEUED,
                upstream_status="queued",
                model="seedance_2_0_fast",
                created_at=CREATED_2_0,
            ),
        ),
        (
            "kyy_2_0_completed.json",
            expect(
                state=State.SUCCEEDED,
                upstream_status="completed",
                model="seedance_2_0_fast",
                progress=100,
                created_at=CREATED_2_0,
                video_url="https://cdn.example.com/videos/video_fd35ee52.mp4",
                duration=8,
                tokens=Tokens(total=1240),
            ),
        ),
        (
            "kyy_videos_processing.json",
            expect(
                state=State.RUNNING,
                upstream_status="processing",
                model="videos",
                created_at=CREATED_VIDEOS,
            ),
        ),
        (
            "kyy_videos_completed.json",
            expect(
                state=State.SUCCEEDED,
                upstream_status="completed",
                model="videos",
                progress=100,
                created_at=CREATED_VIDEOS,
                video_url="https://cdn.example.com/video_1234567890.mp4",
                duration=5,
            ),
        ),
        (
            "kyy_videos_failed.json",
            expect(
                state=State.FAILED,
                upstream_status="failed",
                model="videos",
                created_at=CREATED_VIDEOS,
                failure=Failure(
                    None, "Reference video exceeds maximum total duration of 15 seconds."
                ),
            ),
        ),
    ],
)
def test_seed_examples_field_by_field(name: str, expected: dict[str, Any]) -> None:
    body = (SEEDS / name).read_bytes()
    snap = DIALECT.parse(200, body)
    assert fields(snap) == expected
    assert snap.raw == json.loads(body)


@pytest.mark.parametrize(
    ("word", "state"),
    [
        ("queued", State.QUEUED),
        ("processing", State.RUNNING),
        ("completed", State.SUCCEEDED),
        ("failed", State.FAILED),
        ("cancelled", State.CANCELLED),
        ("Completed", State.SUCCEEDED),
        ("running", State.UNKNOWN),  # an Ark word, not a kyy one
        ("paused_by_admin", State.UNKNOWN),
    ],
)
def test_every_status_word(word: str, state: State) -> None:
    snap = parse(task(status=word))
    assert (snap.state, snap.upstream_status) == (state, word)


def test_cancelled_keeps_an_error_message_as_its_reason() -> None:
    snap = parse(task(status="cancelled", video_url=None, error="cancelled by user"))
    assert snap.failure == Failure(None, "cancelled by user")


def test_failed_without_error_still_has_a_failure() -> None:
    snap = parse(task(status="failed", video_url=None, error=None))
    assert snap.failure == Failure(None, None)


def test_error_on_a_completed_task_is_not_a_failure() -> None:
    assert parse(task(error="stale message")).failure is None


@pytest.mark.parametrize(
    ("changes", "field", "value"),
    [
        ({"progress": 42, "status": "processing"}, "progress", 42),
        ({"progress": "abc", "status": "processing"}, "progress", None),
        ({"totalTokens": "1240"}, "tokens", Tokens()),
        ({"totalTokens": 12.0}, "tokens", Tokens(total=12)),
        ({"totalTokens": True}, "tokens", Tokens()),
        ({"created": "1774836724"}, "created_at", None),
        ({"created": 0}, "created_at", None),
        ({"model": 7}, "model", None),
        ({"model": ""}, "model", None),
        ({"video_url": 5}, "video_url", None),
        ({"actualDuration": "8"}, "duration", None),
        ({"actualDuration": 4.5}, "duration", 4.5),
        ({"actualDuration": -1}, "duration", None),
        (
            {"error": {"code": "X", "message": "y"}, "status": "failed"},
            "failure",
            Failure("X", "y"),
        ),
        ({"error": 404, "status": "failed"}, "failure", Failure()),
    ],
)
def test_wrong_typed_optional_fields_become_none(
    changes: dict[str, Any], field: str, value: Any
) -> None:
    assert getattr(parse(task(**changes)), field) == value


def test_signed_url_expiry_is_read_from_the_url() -> None:
    url = "https://v.example/a.mp4?X-Tos-Date=20260427T111500Z&X-Tos-Expires=86400"
    assert parse(task(video_url=url)).url_expires_at == datetime(2026, 4, 28, 11, 15, tzinfo=UTC)


def test_upstream_strings_are_cleaned_but_raw_is_kept() -> None:
    evil = "boom\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\n[/]"
    snap = parse(task(status="failed", model="seed\x9b31mance", error=evil))
    assert snap.failure == Failure(None, "boom [/]")
    assert snap.model == "seedance"
    assert snap.raw["error"] == evil


@pytest.mark.parametrize("body", [b"", b"Not Found", b'{"error":"task not found"}', b"[]"])
def test_404_means_not_found(body: bytes) -> None:
    snap = DIALECT.parse(404, body)
    assert (snap.not_found, snap.state) == (True, State.UNKNOWN)


def test_404_html_page_is_a_bad_response_not_a_missing_task() -> None:
    """A wrong base_url answers 404 with a web page: that must not mark every task missing."""
    with pytest.raises(BadResponse, match="HTTP 404"):
        DIALECT.parse(404, b"<!DOCTYPE html><html><title>404 Not Found</title></html>")


@pytest.mark.parametrize(
    ("status", "body", "needle"),
    [
        (400, b'{"error":"invalid id format"}', "HTTP 400: invalid id format"),
        (400, b'{"message":"bad","code":"E1"}', "HTTP 400: E1: bad"),
        (422, b"", "HTTP 422"),
        (500, b"<html>oops</html>", "HTTP 500"),
        (302, b"", "HTTP 302"),
    ],
)
def test_other_error_statuses_raise_with_the_http_status(
    status: int, body: bytes, needle: str
) -> None:
    with pytest.raises(BadResponse) as caught:
        DIALECT.parse(status, body)
    assert needle in str(caught.value)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"", "empty body"),
        (b"   \n", "empty body"),
        (b"<html><body>502 Bad Gateway</body></html>", "HTML page"),
        (b'{"id": "video_1", "status": "queu', "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b"[" * 100_000, "not valid JSON"),
        (b"[]", "got list"),
        (b"42", "got number"),
        (b"null", "got null"),
        (b'"completed"', "got string"),
        (b'{"id": "video_1"}', "no 'status'"),
        (b'{"status": null}', "no 'status'"),
        (b'{"status": 2}', "'status' is a number"),
        (b'{"status": ["completed"]}', "'status' is a list"),
        (b'{"status": ""}', "'status' is empty"),
        (b'{"status": "\x1b[2J"}', "'status' is empty"),
        (b'{"status": "\\u001b]52;c;Zm9v\\u0007"}', "'status' is empty"),
    ],
)
def test_bad_bodies_raise_short_clear_messages(body: bytes, needle: str) -> None:
    with pytest.raises(BadResponse) as caught:
        DIALECT.parse(200, body)
    message = str(caught.value)
    assert needle in message and "HTTP 200" in message
    assert len(message) < 160 and "\n" not in message and "\x1b" not in message


def test_raw_control_characters_inside_json_strings_are_accepted_and_cleaned() -> None:
    snap = DIALECT.parse(200, b'{"status": "failed", "error": "line one\nline\ttwo\x1b[2J"}')
    assert snap.failure == Failure(None, "line one line two")


def test_a_huge_body_is_never_quoted_whole() -> None:
    body = b"<html>" + b"x" * 10_000
    with pytest.raises(BadResponse) as caught:
        DIALECT.parse(200, body)
    assert len(str(caught.value)) < 160


def test_a_long_status_word_is_cut() -> None:
    snap = parse(task(status="x" * 5000))
    assert snap.state is State.UNKNOWN
    assert snap.upstream_status is not None and len(snap.upstream_status) == 64


@pytest.mark.parametrize(
    ("task_id", "path"),
    [
        (
            "video_fd35ee52-2a98-44a6-b930-29a88ce9b8fd",
            "/v1/result/video_fd35ee52-2a98-44a6-b930-29a88ce9b8fd",
        ),
        ("video_a/../b?c=1#d", "/v1/result/video_a%2F..%2Fb%3Fc%3D1%23d"),
        ("video_中", "/v1/result/video_%E4%B8%AD"),
    ],
)
def test_status_path_quotes_the_id(task_id: str, path: str) -> None:
    assert DIALECT.status_path(task_id) == path
    assert (DIALECT.kind, DIALECT.id_prefixes) == ("kyy", ("video_",))
