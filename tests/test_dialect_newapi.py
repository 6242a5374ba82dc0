"""The newapi (anyfast / new-api relay) dialect: every doc example, every relay quirk, bad input."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tui.core.dialects.newapi import DIALECT
from tui.core.errors import BadResponse
from tui.core.model import Failure, Snapshot, State, Tokens

FIXTURES = Path(__file__).parent / "fixtures"
ARK_URL = "https://ark-acg-cn-beijing.tos-cn-beijing.volces.com/...mp4?..."
VOD_URL = "https://...vod.cn-north-1.volcvideo.com/...?preview=1&auth_key=..."
SIGNED = (
    "https://ark-acg-cn-beijing.tos-cn-beijing.volces.com/v/cgt-20260427191505-aaaaa.mp4"
    "?X-Tos-Algorithm=TOS4-HMAC-SHA256&X-Tos-Date=20260427T112000Z&X-Tos-Expires=86400"
    "&X-Tos-Signature=abc"
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def fields(snap: Snapshot) -> dict[str, Any]:
    return {f.name: getattr(snap, f.name) for f in dataclasses.fields(Snapshot) if f.name != "raw"}


def expect(**given: Any) -> dict[str, Any]:
    return {**fields(Snapshot(state=State.UNKNOWN)), **given}


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_bytes())


def parse(obj: Any, status: int = 200) -> Snapshot:
    return DIALECT.parse(status, json.dumps(obj).encode())


def standard(*, inner_status: str = "succeeded", **data_changes: Any) -> dict[str, Any]:
    """The doc's standard success example with some `data` keys replaced (None deletes)."""
    body = copy.deepcopy(load("seeds/newapi_success_standard.json"))
    body["data"]["data"]["status"] = inner_status
    for key, value in data_changes.items():
        if value is None:
            body["data"].pop(key, None)
        else:
            body["data"][key] = value
    return body


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "newapi_success_standard.json",
            expect(
                state=State.SUCCEEDED,
                upstream_status="SUCCESS",
                model="doubao-seedance-2-0-260128",
                progress=100,
                created_at=utc(2026, 4, 27, 11, 15, 6),
                started_at=utc(2026, 4, 27, 11, 15, 8),
                finished_at=utc(2026, 4, 27, 11, 20, 0),
                video_url=ARK_URL,
                duration=5,
                resolution="720p",
                ratio="16:9",
                fps=24,
                seed=4304,
                generate_audio=True,
                tokens=Tokens(total=108900, completion=108900),
            ),
        ),
        (
            "newapi_success_ultra.json",
            expect(
                state=State.SUCCEEDED,
                upstream_status="SUCCESS",
                progress=100,
                created_at=utc(2026, 4, 27, 11, 15, 7),
                started_at=utc(2026, 4, 27, 11, 15, 9),
                finished_at=utc(2026, 4, 27, 11, 20, 34),
                video_url=VOD_URL,  # the super-resolved result_url, not original_result_url
                duration=5,
                resolution="480p",
                super_resolution="720p",
                ratio="16:9",
                tokens=Tokens(total=50638, completion=50638, super_resolution=114441),
            ),
        ),
        (
            "newapi_failure.json",
            expect(
                state=State.FAILED,
                upstream_status="FAILURE",
                progress=100,
                created_at=utc(2026, 4, 10, 6, 34, 56),
                started_at=None,  # start_time 0: never started
                finished_at=utc(2026, 4, 10, 6, 35, 2),
                failure=Failure(
                    "InvalidParameter", "img_url must be set for image to video method"
                ),
            ),
        ),
    ],
)
def test_seed_examples_field_by_field(name: str, expected: dict[str, Any]) -> None:
    body = (FIXTURES / "seeds" / name).read_bytes()
    snap = DIALECT.parse(200, body)
    assert fields(snap) == expected
    assert snap.raw == json.loads(body)


def test_ultra_keeps_the_original_url_in_raw_only() -> None:
    snap = DIALECT.parse(200, (FIXTURES / "seeds/newapi_success_ultra.json").read_bytes())
    assert snap.raw["data"]["original_result_url"] == ARK_URL
    assert snap.video_url == VOD_URL != ARK_URL


@pytest.mark.parametrize(
    ("word", "state"),
    [
        ("NOT_START", State.QUEUED),
        ("SUBMITTED", State.QUEUED),
        ("QUEUED", State.QUEUED),
        ("IN_PROGRESS", State.RUNNING),
        ("SUCCESS", State.SUCCEEDED),
        ("FAILURE", State.FAILED),
        ("UNKNOWN", State.UNKNOWN),
        ("success", State.SUCCEEDED),
        ("SUCCEEDED", State.UNKNOWN),
        ("RETRYING", State.UNKNOWN),
    ],
)
def test_every_status_word(word: str, state: State) -> None:
    snap = parse(standard(status=word, inner_status="running"))
    assert (snap.state, snap.upstream_status) == (state, word)


@pytest.mark.parametrize(
    ("inner", "state"),
    [
        ("expired", State.EXPIRED),
        ("cancelled", State.CANCELLED),
        ("failed", State.FAILED),
        ("succeeded", State.SUCCEEDED),
        ("running", State.RUNNING),
    ],
)
def test_in_progress_with_a_final_inner_status_takes_the_inner_one(
    inner: str, state: State
) -> None:
    snap = DIALECT.parse(
        200, (FIXTURES / f"derived/newapi_in_progress_inner_{inner}.json").read_bytes()
    )
    assert (snap.state, snap.upstream_status, snap.progress) == (state, "IN_PROGRESS", 50)
    assert snap.started_at == utc(2026, 4, 27, 11, 15, 8) and snap.finished_at is None


def test_inner_failed_takes_its_reason_from_the_inner_error() -> None:
    snap = DIALECT.parse(
        200, (FIXTURES / "derived/newapi_in_progress_inner_failed.json").read_bytes()
    )
    assert snap.failure == Failure(
        "OutputVideoSensitiveContentDetected", "The output video may contain sensitive information."
    )


def test_inner_succeeded_yields_the_inner_video_and_its_deadline() -> None:
    snap = DIALECT.parse(
        200, (FIXTURES / "derived/newapi_in_progress_inner_succeeded.json").read_bytes()
    )
    assert snap.video_url == SIGNED
    assert snap.url_expires_at == utc(2026, 4, 28, 11, 20)
    assert snap.tokens == Tokens(total=108900, completion=108900)


@pytest.mark.parametrize("outer", ["SUCCESS", "QUEUED", "UNKNOWN"])
def test_only_in_progress_lets_the_inner_status_win(outer: str) -> None:
    body = standard(status=outer, inner_status="expired")
    assert parse(body).state is not State.EXPIRED


def test_success_with_the_url_in_fail_reason_is_never_a_failure() -> None:
    snap = parse(standard())
    assert snap.state is State.SUCCEEDED and snap.failure is None


@pytest.mark.parametrize(
    ("fail_reason", "inner_error", "failure"),
    [
        pytest.param(
            "task failed, code: InvalidParameter, message: img_url must be set",
            None,
            Failure("InvalidParameter", "img_url must be set"),
            id="split",
        ),
        pytest.param(
            "task failed, code: X, message: a, b, message: c",
            None,
            Failure("X", "a, b, message: c"),
            id="split-message-with-commas",
        ),
        pytest.param(
            "task failed, code: , message: boom", None, Failure(None, "boom"), id="no-code"
        ),
        pytest.param("upstream saturated", None, Failure(None, "upstream saturated"), id="plain"),
        pytest.param(
            "upstream saturated",
            {"code": "ServerOverloaded", "message": "try later"},
            Failure("ServerOverloaded", "try later"),
            id="inner-error-beats-plain-text",
        ),
        pytest.param(
            "task failed, code: A, message: b",
            {"code": "C", "message": "d"},
            Failure("A", "b"),
            id="split-beats-inner-error",
        ),
        pytest.param("", {"code": "C", "message": "d"}, Failure("C", "d"), id="inner-only"),
        pytest.param(None, None, Failure(None, None), id="nothing-said"),
        pytest.param(ARK_URL, None, Failure(None, None), id="a-url-is-no-reason"),
        pytest.param(42, "not an object", Failure(None, "not an object"), id="wrong-types"),
        pytest.param(
            "task failed, code: \x1b[31mX\x1b[0m, message: a\nb\x1b]52;c;Zm9v\x07",
            None,
            Failure("X", "a b"),
            id="cleaned",
        ),
    ],
)
def test_failure_reasons(fail_reason: Any, inner_error: Any, failure: Failure) -> None:
    body = load("seeds/newapi_failure.json")
    body["data"]["fail_reason"] = fail_reason
    if inner_error is not None:
        body["data"]["data"] = {"status": "failed", "error": inner_error}
    snap = parse(body)
    assert (snap.state, snap.failure) == (State.FAILED, failure)
    assert snap.raw["data"]["fail_reason"] == fail_reason


def test_without_result_url_the_inner_content_url_is_used() -> None:
    body = standard(result_url=None)
    body["data"]["data"]["content"]["video_url"] = SIGNED
    snap = parse(body)
    assert (snap.video_url, snap.url_expires_at) == (SIGNED, utc(2026, 4, 28, 11, 20))


def test_result_url_deadline_comes_from_result_url() -> None:
    snap = parse(standard(result_url=SIGNED))
    assert (snap.video_url, snap.url_expires_at) == (SIGNED, utc(2026, 4, 28, 11, 20))


@pytest.mark.parametrize(
    ("progress", "status", "expected"),
    [
        ("50%", "IN_PROGRESS", 50),
        ("0%", "QUEUED", 0),
        (" 37.6 % ", "IN_PROGRESS", 38),
        ("80", "IN_PROGRESS", 80),
        (65, "IN_PROGRESS", 65),
        ("150%", "IN_PROGRESS", 100),
        ("abc", "IN_PROGRESS", None),
        ("-5%", "IN_PROGRESS", None),
        (True, "IN_PROGRESS", None),
        ([50], "IN_PROGRESS", None),
        (None, "IN_PROGRESS", None),
        (None, "SUCCESS", 100),
        ("abc", "SUCCESS", 100),
    ],
)
def test_progress(progress: Any, status: str, expected: int | None) -> None:
    body = standard(progress=progress, status=status, inner_status="running")
    assert parse(body).progress == expected


@pytest.mark.parametrize(
    ("path", "value", "field", "expected"),
    [
        (
            ("usage",),
            {"total_tokens": "108900", "completion_tokens": 5},
            "tokens",
            Tokens(completion=5),
        ),
        (("usage",), None, "tokens", Tokens()),
        (("usage",), "lots", "tokens", Tokens()),
        (("duration",), "5", "duration", None),
        (("framespersecond",), 23.976, "fps", None),
        (("seed",), "4304", "seed", None),
        (("generate_audio",), "true", "generate_audio", None),
        (("resolution",), 720, "resolution", None),
        (("model",), None, "model", None),
        (("content",), "https://x", "video_url", ARK_URL),  # result_url still there
    ],
)
def test_wrong_typed_inner_fields_become_none(
    path: tuple[str, ...], value: Any, field: str, expected: Any
) -> None:
    body = standard()
    body["data"]["data"][path[0]] = value
    assert getattr(parse(body), field) == expected


@pytest.mark.parametrize("inner", [None, "text", 5, [1, 2]])
def test_missing_or_wrong_inner_block_still_parses(inner: Any) -> None:
    body = standard()
    body["data"]["data"] = inner
    snap = parse(body)
    assert snap.state is State.SUCCEEDED and snap.video_url == ARK_URL
    assert (snap.model, snap.duration, snap.tokens) == (None, None, Tokens())


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("submit_time", "1777288506", "created_at"),
        ("start_time", 0, "started_at"),
        ("finish_time", None, "finished_at"),
        ("finish_time", -1, "finished_at"),
        ("result_url", 7, "video_url"),
    ],
)
def test_wrong_typed_relay_fields_become_none(key: str, value: Any, field: str) -> None:
    body = standard(**{key: value}, fail_reason=None)
    if key == "result_url":
        body["data"]["data"]["content"] = None
    assert getattr(parse(body), field) is None


def test_task_not_exist_is_not_found() -> None:
    body = (FIXTURES / "derived/newapi_400_task_not_exist.json").read_bytes()
    snap = DIALECT.parse(400, body)
    assert (snap.not_found, snap.state, snap.raw) == (True, State.UNKNOWN, json.loads(body))


@pytest.mark.parametrize(
    ("status", "body", "needle"),
    [
        (
            400,
            b'{"code":"invalid_request","message":"id too long","data":null}',
            "HTTP 400: invalid_request: id too long",
        ),
        (404, b"404 page not found", "HTTP 404: 404 page not found"),  # a relay route miss
        (404, b"<html>Not Found</html>", "HTTP 404"),
        (401, (FIXTURES / "derived/newapi_401.json").read_bytes(), "HTTP 401: invalid token"),
        (500, b'{"code":"task_not_exist"}', "HTTP 500"),
        (502, b"<html><title>502 Bad Gateway</title></html>", "HTTP 502"),
    ],
)
def test_other_error_answers_raise_with_the_http_status(
    status: int, body: bytes, needle: str
) -> None:
    with pytest.raises(BadResponse) as caught:
        DIALECT.parse(status, body)
    assert needle in str(caught.value)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"<!doctype html><html>login</html>", "HTML page"),
        (b'{"code":"success","data":{"status":"SUCC', "not valid JSON"),
        (b"[1, 2]", "got list"),
        (b"null", "got null"),
        (b"3.5", "got number"),
        (b'{"code":"success","message":"","data":null}', "no 'data' object"),
        (
            b'{"code":"quota_exceeded","message":"out of quota","data":null}',
            "quota_exceeded: out of quota",
        ),
        (b'{"code":"success","data":[]}', "no 'data' object"),
        (b'{"code":"success","data":{"task_id":"asyntask_x"}}', "no 'status'"),
        (b'{"code":"success","data":{"status":3}}', "'status' is a number"),
        (b'{"code":"success","data":{"status":null}}', "no 'status'"),
    ],
)
def test_bad_bodies_raise_short_clear_messages(body: bytes, needle: str) -> None:
    with pytest.raises(BadResponse) as caught:
        DIALECT.parse(200, body)
    message = str(caught.value)
    assert needle in message and "HTTP 200" in message and len(message) < 160


def test_status_path_quotes_the_id() -> None:
    assert DIALECT.status_path("asyntask_h81efT0qwtLnzyt6VENmCZ6VXSfNxE2E") == (
        "/v1/video/generations/asyntask_h81efT0qwtLnzyt6VENmCZ6VXSfNxE2E"
    )
    assert DIALECT.status_path("task_a/b c") == "/v1/video/generations/task_a%2Fb%20c"
    assert (DIALECT.kind, DIALECT.id_prefixes) == ("newapi", ("asyntask_", "task_"))
