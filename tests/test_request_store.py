"""Create requests in the store: recorded once, changed with their event, retried by chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from submit_helpers import planned

from tui.core.model import Failure, State, Task
from tui.core.request_retry import plan_retries, record_retries
from tui.core.request_store import (
    RecordResult,
    RequestFilter,
    mark_answered,
    mark_created,
    mark_pending_again,
    mark_sending,
    next_pending,
    open_count,
    query_requests,
    record_requests,
    request_counts,
    resend_uncertain,
    sending_to_uncertain,
)
from tui.core.requests import RequestState
from tui.core.store import Store

T0 = datetime(2026, 4, 27, 11, 15, 6, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "tasks.db") as s:
        yield s


def create(store: Store, task_id: str, provider: str = "kyy") -> None:
    [request] = next_pending(store, provider, T0)
    assert mark_sending(store, request, T0) is not None
    mark_created(store, request, task_id, 200, T0)


def finish(store: Store, task_id: str, state: State, failure: Failure | None = None) -> None:
    store.save(Task("kyy", task_id, state=state, failure=failure))


def test_recording_skips_what_was_recorded_unless_again(store: Store) -> None:
    lines = planned("kyy", 3)
    assert record_requests(store, [*lines, lines[0]], batch="b", now=T0) == RecordResult(3, 1)
    more = lines[:2] + planned("kyy", 1, start=9)
    assert record_requests(store, more, batch="b", now=T0) == RecordResult(1, 2)
    copy = record_requests(store, lines[:1], batch="b", now=T0, again=True)
    assert copy == RecordResult(1, 0)
    requests = query_requests(store)
    assert [r.name for r in requests] == [
        "shot-000",
        "shot-001",
        "shot-002",
        "shot-009",
        "shot-000",
    ]
    assert all(r.state is RequestState.PENDING and r.batch == "b" for r in requests)
    assert requests[0].to_json()["body"] == lines[0].body
    assert open_count(store) == 5 and open_count(store, ["ark"]) == 0


def test_a_failed_recording_records_nothing(store: Store) -> None:
    [broken] = planned("kyy", 1, start=5)
    broken.body["bad"] = object()  # cannot be written as JSON, after two good lines
    with pytest.raises(TypeError):
        record_requests(store, [*planned("kyy", 2), broken], batch=None, now=T0)
    assert query_requests(store) == []


def test_pending_order_not_before_and_the_answer_states(store: Store) -> None:
    record_requests(store, planned("kyy", 4), batch=None, now=T0)
    first = next_pending(store, "kyy", T0)[0]
    mark_sending(store, first, T0)
    assert mark_sending(store, first, T0) is None  # never twice
    event = mark_pending_again(store, first, T0 + timedelta(seconds=30), T0, http_status=429)
    assert (event.data["from"], event.data["to"], event.data["http_status"]) == (
        "sending",
        "pending",
        429,
    )
    assert [r.name for r in next_pending(store, "kyy", T0, 10)] == [
        "shot-001",
        "shot-002",
        "shot-003",
    ]
    assert next_pending(store, "kyy", T0 + timedelta(seconds=31))[0].name == "shot-000"
    second = next_pending(store, "kyy", T0)[0]
    mark_sending(store, second, T0)
    mark_answered(
        store, second, RequestState.REJECTED, T0, http_status=400,
        error=Failure("bad", "no \x1b[31mred"),
    )  # fmt: skip
    third = next_pending(store, "kyy", T0)[0]
    mark_sending(store, third, T0)
    [crash] = sending_to_uncertain(store, T0)
    assert crash.data["to"] == "uncertain" and crash.data["name"] == "shot-002"
    rejected = query_requests(store, RequestFilter(states=frozenset({RequestState.REJECTED})))
    assert rejected[0].error == Failure("bad", "no red") and rejected[0].http_status == 400
    counts = request_counts(store)["kyy"]
    assert (counts[RequestState.PENDING], counts[RequestState.REJECTED]) == (2, 1)
    assert counts[RequestState.UNCERTAIN] == 1
    [resent] = resend_uncertain(store, None, T0)
    assert (resent.data["from"], resent.data["to"]) == ("uncertain", "pending")
    assert len(query_requests(store)) == 4  # the same record, not a new one
    kinds = [e.kind for _, e in store.events_after(0)]
    assert kinds.count("request") == 7


def test_created_adds_the_task_with_its_batch_in_the_same_transaction(store: Store) -> None:
    record_requests(store, planned("kyy", 1), batch="spring", now=T0)
    create(store, "video_1")
    task = store.get("kyy", "video_1")
    assert task is not None and task.batch == "spring" and task.state is State.QUEUED
    assert task.request is not None and task.request.name == "shot-000"
    [request] = query_requests(store)
    assert request.state is RequestState.CREATED and request.task_id == "video_1"
    [event] = [e for e in store.history("kyy", "video_1") if e.kind == "request"]
    assert event.to_json()["id"] == "video_1" and event.data["http_status"] == 200


def test_retry_chains_transient_failures_up_to_max_attempts(store: Store) -> None:
    record_requests(store, planned("kyy", 3), batch="b", now=T0)
    create(store, "video_a")
    create(store, "video_b")
    create(store, "video_c")
    store.add_tasks("kyy", ["video_by_id"], batch=None, now=T0)
    finish(store, "video_a", State.FAILED, Failure("InternalServiceError", "internal error"))
    finish(store, "video_b", State.FAILED, Failure("InputTextSensitiveContentDetected", "no"))
    finish(store, "video_c", State.SUCCEEDED)
    finish(store, "video_by_id", State.FAILED, Failure(None, "please retry later"))
    keys = [("kyy", "video_a"), ("kyy", "video_b"), ("kyy", "video_c"), ("kyy", "video_by_id")]
    dry = plan_retries(store, keys, max_attempts_of=lambda _: 3)
    plan = record_retries(store, keys, max_attempts_of=lambda _: 3, now=T0)
    assert [(r.name, r.attempt, r.previous_id) for r in plan.requests] == [
        ("shot-000", 2, "video_a")
    ]
    assert dry.skipped == plan.skipped and [r.previous_id for r in dry.requests] == ["video_a"]
    why = {s.task_id: s.reason for s in plan.skipped}
    assert "--all" in why["video_b"] and "succeeded" in why["video_c"]
    assert "added by id" in why["video_by_id"]
    again = record_retries(store, [("kyy", "video_a")], max_attempts_of=lambda _: 3, now=T0)
    assert again.requests == [] and "pending" in again.skipped[0].reason
    create(store, "video_a2")
    task = store.get("kyy", "video_a2")
    assert task is not None and task.to_json()["request"]["attempt"] == 2
    assert task.to_json()["request"]["previous_id"] == "video_a"
    finish(store, "video_a2", State.FAILED, Failure("Timeout", "timed out"))
    third = record_retries(store, [("kyy", "video_a")], max_attempts_of=lambda _: 3, now=T0)
    assert [(r.attempt, r.previous_id) for r in third.requests] == [(3, "video_a2")]
    create(store, "video_a3")
    finish(store, "video_a3", State.FAILED, Failure("Timeout", "timed out"))
    last = record_retries(store, [("kyy", "video_a3")], max_attempts_of=lambda _: 3, now=T0)
    assert last.requests == [] and "max_attempts = 3" in last.skipped[0].reason
    forced = record_retries(
        store, [("kyy", "video_b")], include_all=True, max_attempts_of=lambda _: 3, now=T0
    )
    assert [r.previous_id for r in forced.requests] == ["video_b"]


def test_a_task_id_answered_twice_is_one_task_linked_to_its_first_request(store: Store) -> None:
    record_requests(store, planned("kyy", 2), batch=None, now=T0)
    create(store, "video_same")
    create(store, "video_same")  # a relay that answers the same id to two creates
    [task] = store.query()
    assert task.request is not None and task.request.name == "shot-000"
    assert [t["request"]["name"] for t in store.query_json()] == ["shot-000"]
    assert len(list(store.iter_json())) == 1
