"""Create requests: fingerprints, and what each kind of answer to a create call means."""

from __future__ import annotations

import json

import pytest

from tui.core.requests import (
    CreateRequest,
    RequestState,
    Stop,
    Verdict,
    fingerprint,
    read_create_answer,
)


def body(value: object) -> bytes:
    return json.dumps(value).encode()


def test_the_fingerprint_ignores_key_order_but_not_provider_body_or_name() -> None:
    a = fingerprint("anyfast", {"model": "m", "prompt": "a cat"}, "shot-1")
    assert a.startswith("sha256:") and len(a) == 7 + 64
    assert a == fingerprint("anyfast", {"prompt": "a cat", "model": "m"}, "shot-1")
    assert a != fingerprint("kyy", {"model": "m", "prompt": "a cat"}, "shot-1")
    assert a != fingerprint("anyfast", {"model": "m", "prompt": "a dog"}, "shot-1")
    assert a != fingerprint("anyfast", {"model": "m", "prompt": "a cat"}, "shot-2")
    assert a != fingerprint("anyfast", {"model": "m", "prompt": "a cat"}, None)


@pytest.mark.parametrize(
    ("answer", "task_id"),
    [
        ({"id": "video_abc", "object": "video", "status": "queued", "error": None}, "video_abc"),
        ({"id": "asyntask_1", "task_id": "asyntask_1"}, "asyntask_1"),
        ({"task_id": "task_9"}, "task_9"),
        ({"code": "success", "data": {"task_id": "cgt-2026"}}, "cgt-2026"),
        ({"id": "cgt-20260101-x"}, "cgt-20260101-x"),
    ],
)
def test_a_2xx_with_an_id_is_created(answer: dict[str, object], task_id: str) -> None:
    read = read_create_answer(200, body(answer))
    assert read.verdict is Verdict.CREATED and read.task_id == task_id


@pytest.mark.parametrize(
    "raw", [b"", b"<html>ok</html>", b'{"status": "queued"}', b'{"id": "a b"}']
)
def test_a_2xx_without_a_readable_id_is_uncertain(raw: bytes) -> None:
    assert read_create_answer(200, raw).verdict is Verdict.UNCERTAIN


def test_refusals_are_rejected_with_the_providers_words_cleaned() -> None:
    raw = body(
        {"error": {"code": "InvalidParameter", "message": "img_url must be set\x1b]52;c;x\x07"}}
    )
    read = read_create_answer(400, raw)
    assert read.verdict is Verdict.REJECTED and read.stop is Stop.NONE
    assert read.error is not None and read.error.code == "InvalidParameter"
    assert read.error.message == "img_url must be set"


@pytest.mark.parametrize(
    ("status", "raw"),
    [
        (402, body({"error": {"message": "insufficient balance"}})),
        (403, body({"error": {"code": "quota_not_enough", "message": "用户额度不足"}})),
        (400, body({"error": {"code": "QuotaExceeded", "message": "quota exceeded"}})),
        (403, body({"error": {"code": "AccountOverdueError", "message": "account is overdue"}})),
    ],
)
def test_no_balance_rejects_and_pauses_creating(status: int, raw: bytes) -> None:
    read = read_create_answer(status, raw)
    assert read.verdict is Verdict.REJECTED and read.stop is Stop.PAUSE_CREATES


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_rejects_and_stops_the_provider(status: int) -> None:
    read = read_create_answer(status, body({"error": {"message": "invalid token"}}))
    assert read.verdict is Verdict.REJECTED and read.stop is Stop.STOP_PROVIDER


@pytest.mark.parametrize(
    ("status", "raw"),
    [
        (500, body({"error": {"message": "internal"}})),
        (502, b"<html>Bad Gateway</html>"),
        (404, b""),
    ],
)
def test_5xx_and_wordless_4xx_are_uncertain(status: int, raw: bytes) -> None:
    assert read_create_answer(status, raw).verdict is Verdict.UNCERTAIN


def test_a_429_goes_back_to_pending_after_retry_after() -> None:
    read = read_create_answer(429, body({"error": {"message": "slow down"}}), retry_after=12.0)
    assert read.verdict is Verdict.RETRY_LATER and read.retry_after == 12.0


def test_the_request_object_has_every_contract_key() -> None:
    request = CreateRequest("anyfast", "sha256:00", {"model": "m", "content": []}, name="shot-1")
    out = request.to_json()
    assert list(out) == [
        "provider", "fingerprint", "name", "batch", "state", "task_id", "attempt",
        "previous_id", "created_at", "sent_at", "answered_at", "http_status", "error", "body",
    ]  # fmt: skip
    assert out["state"] == "pending" and out["attempt"] == 1 and out["error"] is None
    assert RequestState("uncertain") is RequestState.UNCERTAIN
