"""Failures grouped by cause: normalisation, the group key, classification, plain words."""

from __future__ import annotations

import uuid

import pytest

from tui.core.failure_groups import (
    CONTENT_POLICY,
    INVALID_PARAMETER,
    OTHER,
    TRANSIENT,
    FailureIndex,
    classify,
    group_failures,
    normalise,
    plain_words,
)
from tui.core.model import Failure, State, Task
from tui.sim.tasks import ARK_FAILURES, KYY_FAILURES


def failed(provider: str, task_id: str, code: str | None, message: str | None, batch=None):
    return Task(provider, task_id, batch=batch, state=State.FAILED, failure=Failure(code, message))


# -- normalise ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "internal error. Request id: 2f9a1c0b3d4e5f60718293a4b5c6d7e8",
            "internal error. Request id: <id>",
        ),
        (
            "The service encountered an unexpected internal error. Request id: "
            "20250101123456ABCDEF0123456789",
            "The service encountered an unexpected internal error. Request id: <id>",
        ),
        ("request_id=xyz failed", "request_id=<id> failed"),
        ('{"request_id": "ab"} deadbeef12', '{"request_id": "<id>"} <id>'),
        ("task 3f2504e0-4f89-11d3-9a0c-0305e82c3301 gone", "task <id> gone"),
        ("failed at 2025-01-02T03:04:05Z", "failed at <time>"),
        ("failed at 2025-01-02 03:04:05.123+08:00", "failed at <time>"),
        ("at 12:01:02 again", "at <time> again"),
        ("see https://cdn.example.com/v/abc.mp4?sig=9f8e7d6c5b4a", "see <url>"),
        ("quota 1234567 exceeded", "quota <n> exceeded"),
        ("id cgt-20250101123456-abcde missing", "id <id> missing"),
        ("  HTTP 502:\n bad   gateway ", "HTTP 502: bad gateway"),
        # short numbers and model names say what went wrong: they stay
        ("Reference video exceeds maximum total duration of 15 seconds.", None),
        ("model seedance_2_0_fast_pro is busy", None),
        ("img_url must be set for image to video method", None),
        # Chinese: no spaces around the ids
        (
            "生成失败，请求ID：20250101abc123def456，请稍后重试",
            "生成失败，请求ID：<id>，请稍后重试",
        ),
        ("任务于2025年01月02日 12:30:45失败", "任务于<time>失败"),
        (None, ""),
    ],
)
def test_normalise_replaces_what_varies(message: str | None, expected: str | None) -> None:
    assert normalise(message) == (message if expected is None else expected)


# -- grouping -------------------------------------------------------------------------------


def test_thirty_internal_errors_with_request_ids_are_one_group() -> None:
    tasks = [
        failed("a", f"t{i}", None, f"internal error. Request id: {uuid.uuid4().hex}")
        for i in range(30)
    ]
    groups = group_failures(tasks)
    assert len(groups) == 1
    (group,) = groups
    assert group.count == 30
    assert group.title == "internal error. Request id: <id>"
    assert group.example == tasks[0].failure.message  # the original, id included
    assert "<id>" not in group.example
    assert group.kind == TRANSIENT


def test_chinese_messages_with_ids_and_times_group_and_classify() -> None:
    tasks = [
        failed(
            "cn",
            f"t{i}",
            None,
            f"服务繁忙，请求ID：{uuid.uuid4().hex[:20]}，请于{i + 10}:00:0{i % 10}后重试",
        )
        for i in range(12)
    ]
    tasks.append(failed("cn", "x", None, "输入图片包含真人，审核未通过"))
    groups = group_failures(tasks)
    assert [(g.count, g.kind) for g in groups] == [(12, TRANSIENT), (1, CONTENT_POLICY)]
    assert groups[0].title == "服务繁忙，请求ID：<id>，请于<time>后重试"


def test_same_message_with_and_without_code_is_one_group() -> None:
    message = "img_url must be set for image to video method"
    tasks = [
        failed("newapi", "n1", "InvalidParameter", message, batch="b1"),
        failed("newapi", "n2", "InvalidParameter", f"{message} Request id: {uuid.uuid4().hex}"),
        failed("kyy", "k1", None, message + ".", batch="b2"),
        failed("kyy", "k2", None, message.upper()),
        failed("other", "o1", None, f"InvalidParameter: {message}"),  # code inside the message
    ]
    groups = group_failures(tasks)
    assert len(groups) == 1
    (group,) = groups
    assert group.count == 5
    assert group.code == "InvalidParameter"
    assert group.providers == ("kyy", "newapi", "other")
    assert group.batches == ("b1", "b2")
    assert set(group.keys) == {t.key for t in tasks}
    assert group.example == f"InvalidParameter: {message}"
    assert group.kind == INVALID_PARAMETER


def test_uncoded_message_joins_the_code_that_carries_it_most() -> None:
    tasks = [
        failed("a", "1", "Overloaded", "try later"),
        failed("a", "2", "Busy", "try later"),
        failed("a", "3", "Busy", "try later"),
        failed("b", "4", None, "try later"),
    ]
    by_code = {g.code: g.count for g in group_failures(tasks)}
    assert by_code == {"Busy": 3, "Overloaded": 1}
    # a tie goes to the first code by name
    tied = [failed("a", "1", "Overloaded", "later"), failed("a", "2", "Busy", "later")]
    tied.append(failed("b", "3", None, "later"))
    assert {g.code: g.count for g in group_failures(tied)} == {"Busy": 2, "Overloaded": 1}


def test_one_code_with_different_messages_is_one_group_with_variants() -> None:
    tasks = [
        failed("a", "1", "InvalidParameter", "duration must be 5 or 10"),
        failed("a", "2", "InvalidParameter", "ratio 7:3 is not supported"),
        failed("a", "3", "InvalidParameter", "duration must be 5 or 10"),
    ]
    (group,) = group_failures(tasks)
    assert (group.count, group.variants) == (3, 2)


def test_different_causes_stay_apart_biggest_first() -> None:
    tasks = [failed("a", f"x{i}", None, "Content policy violation") for i in range(2)]
    tasks += [failed("a", f"y{i}", None, "Generation failed upstream") for i in range(3)]
    tasks.append(failed("a", "z", None, None))
    groups = group_failures(tasks)
    assert [(g.title, g.count) for g in groups] == [
        ("Generation failed upstream", 3),
        ("Content policy violation", 2),
        ("unknown failure", 1),
    ]


def test_the_index_follows_changes_and_removals() -> None:
    tasks = [failed("a", f"t{i}", None, f"internal error {i}0000") for i in range(4)]
    index = FailureIndex(tasks)
    assert [g.count for g in index.groups()] == [4]
    index.update([tasks[0].evolve(state=State.SUCCEEDED, failure=None)])
    index.remove([tasks[1].key])
    index.update([tasks[2].evolve(failure=Failure("Timeout", "gave up"))])
    assert sorted((g.title, g.count) for g in index.groups()) == [
        ("Timeout: gave up", 1),
        ("internal error <n>", 1),
    ]
    assert len(index) == 2


# -- classification and plain words --------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "message", "kind"),
    [
        *[(code, message, kind) for (code, message), kind in zip(
            ARK_FAILURES,
            (INVALID_PARAMETER, CONTENT_POLICY, CONTENT_POLICY, CONTENT_POLICY, TRANSIENT),
            strict=True,
        )],
        *[(None, message, kind) for (_, message), kind in zip(
            KYY_FAILURES,
            (INVALID_PARAMETER, CONTENT_POLICY, INVALID_PARAMETER, CONTENT_POLICY, TRANSIENT),
            strict=True,
        )],
        (None, "Request timed out", TRANSIENT),
        (None, "The model is overloaded; retrying may help", TRANSIENT),
        ("ServerOverloaded", None, TRANSIENT),
        (None, "服务繁忙，请稍后重试", TRANSIENT),
        (None, "输入内容违规", CONTENT_POLICY),
        (None, "参数错误：duration", INVALID_PARAMETER),
        ("QuotaExceeded", "insufficient balance", OTHER),
        (None, "something odd", OTHER),
    ],
)  # fmt: skip
def test_classify(code: str | None, message: str | None, kind: str) -> None:
    assert classify(code, message) == kind


def test_every_kyy_failure_gets_plain_words() -> None:
    """kyy sends no codes: its messages alone must give the plain-words line."""
    groups = group_failures(failed("kyy", str(i), *f) for i, f in enumerate(KYY_FAILURES))
    assert len(groups) == len(KYY_FAILURES)
    for group in groups:
        assert group.plain_words, group.title
    transient = next(g for g in groups if g.kind == TRANSIENT)
    assert "may work" in (transient.plain_words or "")


def test_plain_words_for_quota_and_nothing_for_the_unknown() -> None:
    assert "quota" in (plain_words(OTHER, "QuotaExceeded", "out of quota") or "")
    assert plain_words(OTHER, None, "something odd") is None
