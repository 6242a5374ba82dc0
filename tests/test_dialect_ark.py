"""The Ark dialect (Volcengine Ark / BytePlus ModelArk direct), and the dialect registry.

Ark's docs are not among the seeds, so its bodies are the derived fixtures (see
fixtures/derived/README.md), built from Ark's published task-object field list.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tui.core.dialects import DIALECTS, get_dialect, kinds_for_id
from tui.core.dialects.ark import DIALECT
from tui.core.errors import BadResponse
from tui.core.model import Failure, Snapshot, State, Tokens

DERIVED = Path(__file__).parent / "fixtures" / "derived"
CREATED = datetime(2026, 4, 27, 11, 15, 5, tzinfo=UTC)  # 1777288505
UPDATED = datetime(2026, 4, 27, 11, 20, 0, tzinfo=UTC)  # 1777288800
MODEL = "doubao-seedance-2-0-260128"


def fields(snap: Snapshot) -> dict[str, Any]:
    return {f.name: getattr(snap, f.name) for f in dataclasses.fields(Snapshot) if f.name != "raw"}


def expect(**given: Any) -> dict[str, Any]:
    return {**fields(Snapshot(state=State.UNKNOWN)), **given}


def load(name: str) -> dict[str, Any]:
    return json.loads((DERIVED / name).read_bytes())


def parse(obj: Any, status: int = 200) -> Snapshot:
    return DIALECT.parse(status, json.dumps(obj).encode())


def test_succeeded_field_by_field() -> None:
    body = (DERIVED / "ark_succeeded.json").read_bytes()
    snap = DIALECT.parse(200, body)
    assert fields(snap) == expect(
        state=State.SUCCEEDED,
        upstream_status="succeeded",
        model=MODEL,
        progress=100,
        created_at=CREATED,
        finished_at=UPDATED,
        video_url=json.loads(body)["content"]["video_url"],
        url_expires_at=datetime(2026, 4, 28, 11, 20, tzinfo=UTC),  # X-Tos-Date + 86400 s
        duration=5,
        resolution="720p",
        ratio="16:9",
        fps=24,
        seed=10,
        generate_audio=True,
        tokens=Tokens(total=108900, completion=108900),
    )
    assert snap.raw == json.loads(body)


def test_failed_takes_error_code_and_message_as_they_are() -> None:
    snap = DIALECT.parse(200, (DERIVED / "ark_failed.json").read_bytes())
    assert fields(snap) == expect(
        state=State.FAILED,
        upstream_status="failed",
        model=MODEL,
        created_at=CREATED,
        finished_at=UPDATED,
        failure=Failure(
            "OutputVideoSensitiveContentDetected",
            "The output video may contain sensitive information.",
        ),
    )


@pytest.mark.parametrize(
    ("name", "state", "finished"),
    [
        ("ark_queued.json", State.QUEUED, None),
        ("ark_running.json", State.RUNNING, None),
        ("ark_cancelled.json", State.CANCELLED, UPDATED),
        ("ark_expired.json", State.EXPIRED, UPDATED),
    ],
)
def test_states_and_finished_at_only_when_terminal(
    name: str, state: State, finished: datetime | None
) -> None:
    snap = DIALECT.parse(200, (DERIVED / name).read_bytes())
    assert (snap.state, snap.finished_at, snap.failure) == (state, finished, None)
    assert (snap.progress, snap.created_at, snap.model) == (None, CREATED, MODEL)


@pytest.mark.parametrize(
    ("word", "state"),
    [
        ("queued", State.QUEUED),
        ("running", State.RUNNING),
        ("processing", State.RUNNING),
        ("succeeded", State.SUCCEEDED),
        ("failed", State.FAILED),
        ("cancelled", State.CANCELLED),
        ("expired", State.EXPIRED),
        ("SUCCEEDED", State.SUCCEEDED),
        ("completed", State.UNKNOWN),
        ("deleted", State.UNKNOWN),
    ],
)
def test_every_status_word(word: str, state: State) -> None:
    snap = parse({**load("ark_running.json"), "status": word})
    assert (snap.state, snap.upstream_status) == (state, word)


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [
        ({"frames": 121, "framespersecond": 24, "duration": None}, "duration", 121 / 24),
        ({"frames": 121, "framespersecond": 0, "duration": None}, "duration", None),
        ({"error": "plain text"}, "failure", Failure(None, "plain text")),
        ({"error": None}, "failure", Failure(None, None)),
        ({"error": {"code": 5, "message": None}}, "failure", Failure(None, None)),
        ({"progress": "abc"}, "progress", 100),  # succeeded is 100 whatever it says
        ({"usage": {"total_tokens": "9"}}, "tokens", Tokens()),
        ({"content": ["https://x"]}, "video_url", None),
        ({"content": None}, "url_expires_at", None),
        ({"updated_at": "yesterday"}, "finished_at", None),
        ({"seed": 1.5}, "seed", None),
        ({"seed": -1}, "seed", -1),
    ],
)
def test_quirks_and_wrong_types(changes: dict[str, Any], field: str, expected: Any) -> None:
    base = load("ark_failed.json" if field == "failure" else "ark_succeeded.json")
    assert getattr(parse({**base, **changes}), field) == expected


def test_running_progress_when_given() -> None:
    assert parse({**load("ark_running.json"), "progress": 40}).progress == 40


@pytest.mark.parametrize("body", [(DERIVED / "ark_404.json").read_bytes(), b""])
def test_404_means_not_found(body: bytes) -> None:
    snap = DIALECT.parse(404, body)
    assert (snap.not_found, snap.state) == (True, State.UNKNOWN)


@pytest.mark.parametrize(
    ("status", "body", "needle"),
    [
        (404, b"<html><h1>404</h1></html>", "HTTP 404"),
        (
            400,
            b'{"error":{"code":"InvalidParameter","message":"bad id","type":"BadRequest"}}',
            "HTTP 400: InvalidParameter: bad id",
        ),
        (500, b'{"error":{"code":"InternalServiceError","message":"x"}}', "HTTP 500"),
    ],
)
def test_other_error_answers_raise(status: int, body: bytes, needle: str) -> None:
    with pytest.raises(BadResponse) as caught:
        DIALECT.parse(status, body)
    assert needle in str(caught.value)


def test_status_path_quotes_the_id() -> None:
    assert DIALECT.status_path("cgt-20260427191505-9j2q7") == (
        "/contents/generations/tasks/cgt-20260427191505-9j2q7"
    )
    assert DIALECT.status_path("cgt-a/b%") == "/contents/generations/tasks/cgt-a%2Fb%25"


# --- every dialect: the registry and the shared door ---------------------------------------


def test_registry() -> None:
    assert sorted(DIALECTS) == ["ark", "kyy", "newapi"]
    for kind, dialect in DIALECTS.items():
        assert get_dialect(kind) is dialect and dialect.kind == kind


@pytest.mark.parametrize("kind", ["openai", "", "KYY", None])
def test_unknown_kind_is_a_value_error_naming_the_valid_ones(kind: Any) -> None:
    with pytest.raises(ValueError, match="kyy, newapi, ark"):
        get_dialect(kind)


@pytest.mark.parametrize(
    ("task_id", "kinds"),
    [
        ("video_fd35ee52-2a98-44a6-b930-29a88ce9b8fd", ["kyy"]),
        ("asyntask_h81efT0qwtLnzyt6VENmCZ6VXSfNxE2E", ["newapi"]),
        ("task_abc", ["newapi"]),
        ("cgt-20260427191505-9j2q7", ["ark"]),
        ("job_1", []),
        ("VIDEO_1", []),
    ],
)
def test_kinds_for_id(task_id: str, kinds: list[str]) -> None:
    assert kinds_for_id(task_id) == kinds


@pytest.mark.parametrize("kind", sorted(DIALECTS))
@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html><head><title>Just a moment...</title></head></html>",
        b'{"status": "succ',
        b"[]",
        b"1",
        b"null",
        b"true",
        b'"text"',
        b"\x00\x01\x02",
        b"{" * 50_000,
    ],
)
def test_every_dialect_refuses_junk_with_a_short_message(kind: str, body: bytes) -> None:
    with pytest.raises(BadResponse) as caught:
        DIALECTS[kind].parse(200, body)
    message = str(caught.value)
    assert message.startswith("HTTP 200") and len(message) < 160
    assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in message)


@pytest.mark.parametrize("kind", sorted(DIALECTS))
def test_every_dialect_quotes_ids_with_nothing_safe(kind: str) -> None:
    path = DIALECTS[kind].status_path("x/../y?z=1&k#f %")
    assert path.endswith("/x%2F..%2Fy%3Fz%3D1%26k%23f%20%25")
