"""The engine sends create requests to the simulator over loopback: each answer kind, the
throttle, and never twice (the simulator's per-body counts prove it)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from submit_helpers import config_for, planned, provider_config

from tui.core.clock import ScaledClock
from tui.core.engine import Engine
from tui.core.model import Event, State
from tui.core.poller import ProviderHealth
from tui.core.request_store import (
    RequestFilter,
    mark_sending,
    next_pending,
    query_requests,
    record_requests,
    resend_uncertain,
)
from tui.core.requests import RequestState
from tui.core.store import Store
from tui.sim import Simulator, fingerprint

pytestmark = pytest.mark.slow  # the simulator's tasks run in (scaled) real time


def now() -> datetime:
    return datetime.now(UTC)


async def run_engine(
    store: Store, config, *, clock=None, timeout: float = 30
) -> tuple[Engine, list[Event]]:
    engine = Engine(store, config, download=False, clock=clock)
    events: list[Event] = []
    engine.subscribe(events.append)
    try:
        await asyncio.wait_for(engine.run(until_done=True), timeout=timeout)
    finally:
        await engine.aclose()
    return engine, events


def requests_of(store: Store) -> dict[str, object]:
    return {r.name: r for r in query_requests(store)}


async def test_created_requests_become_tracked_tasks_linked_to_their_request(
    tmp_path: Path,
) -> None:
    with Simulator() as sim, Store.open(tmp_path / "tasks.db") as store:
        sim.shape_creates("kyy", queue_s=0.1, run_s=0.3)
        lines = planned("kyy", 3)
        record_requests(store, lines, batch="spring", now=now())
        _, events = await run_engine(store, config_for(tmp_path, provider_config(sim)))
        requests = query_requests(store)
        assert [r.state for r in requests] == [RequestState.CREATED] * 3
        assert sim.create_counts() == {fingerprint(line.body): 1 for line in lines}
        for request, line in zip(requests, lines, strict=True):
            task = store.get("kyy", request.task_id)
            assert task is not None and task.state is State.SUCCEEDED and task.batch == "spring"
            link = {"name": line.name, "fingerprint": line.fingerprint}
            assert task.to_json()["request"] == {**link, "attempt": 1, "previous_id": None}
            assert request.http_status == 200 and request.sent_at is not None
        moves = [(e.data["from"], e.data["to"]) for e in events if e.kind == "request"]
        assert sorted(moves) == [("pending", "sending")] * 3 + [("sending", "created")] * 3
        for made in sim.requests_for("kyy", endpoint="create"):  # first looked at soon after
            first_poll = min(r.ts for r in sim.requests_for("kyy", task_id=made.created_id))
            assert 2.5 <= first_poll - made.ts <= 5.0
        created = [e.to_json() for e in events if e.kind == "request" and e.data["to"] == "created"]
        assert {e["id"] for e in created} == {r.task_id for r in requests}
        assert all(set(e) >= {"ts", "event", "provider", "fingerprint", "name", "from", "to",
                              "id", "http_status", "error"} for e in created)  # fmt: skip


async def test_a_400_is_rejected_with_the_providers_reason(tmp_path: Path) -> None:
    with Simulator() as sim, Store.open(tmp_path / "tasks.db") as store:
        sim.shape_creates("kyy", queue_s=0.1, run_s=0.2)
        sim.faults.add(400, kind="kyy")
        record_requests(store, planned("kyy", 2), batch=None, now=now())
        await run_engine(store, config_for(tmp_path, provider_config(sim, concurrency=1)))
        first, second = query_requests(store)
        assert first.state is RequestState.REJECTED and first.http_status == 400
        assert first.error is not None and first.error.code == "invalid_parameter"
        assert second.state is RequestState.CREATED


async def test_401_on_create_stops_the_provider(tmp_path: Path) -> None:
    with Simulator() as sim, Store.open(tmp_path / "tasks.db") as store:
        sim.faults.add(401, kind="kyy", on="create")
        record_requests(store, planned("kyy", 3), batch=None, now=now())
        config = config_for(tmp_path, provider_config(sim, concurrency=1, max_live=1))
        engine, _ = await run_engine(store, config)
        states = [r.state for r in query_requests(store)]
        assert states == [RequestState.REJECTED, RequestState.PENDING, RequestState.PENDING]
        assert len(sim.requests_for("kyy", endpoint="create")) == 1
        assert engine.health()["kyy"][0] is ProviderHealth.AUTH_FAILED
        assert engine.submitter.left()["kyy"][0] == 2


async def test_quota_pauses_creating_once_and_polling_goes_on(tmp_path: Path) -> None:
    with Simulator() as sim, Store.open(tmp_path / "tasks.db") as store:
        tracked = sim.add_task("kyy", queue_s=0.2, run_s=0.8)
        store.add_tasks("kyy", [tracked], batch=None, now=now())
        sim.faults.add("quota", kind="kyy")
        record_requests(store, planned("kyy", 3), batch=None, now=now())
        config = config_for(tmp_path, provider_config(sim, concurrency=1, max_live=1))
        engine, events = await run_engine(store, config)
        states = [r.state for r in query_requests(store)]
        assert states == [RequestState.REJECTED, RequestState.PENDING, RequestState.PENDING]
        paused = [
            e for e in events if e.kind == "provider" and e.data.get("health") == "creating paused"
        ]
        assert len(paused) == 1 and "quota" in paused[0].data["message"]
        task = store.get("kyy", tracked)
        assert task is not None and task.state is State.SUCCEEDED  # polling went on
        assert engine.submitter.left()["kyy"][0] == 2
        assert len(sim.requests_for("kyy", endpoint="create")) == 1


async def test_429_silences_the_provider_then_the_request_goes_again(tmp_path: Path) -> None:
    with Simulator() as sim, Store.open(tmp_path / "tasks.db") as store:
        sim.shape_creates("kyy", queue_s=0.1, run_s=0.2)
        sim.faults.add(429, kind="kyy", on="create", retry_after=2)
        lines = planned("kyy", 2)
        record_requests(store, lines, batch=None, now=now())
        _, events = await run_engine(
            store, config_for(tmp_path, provider_config(sim, concurrency=1))
        )
        assert [r.state for r in query_requests(store)] == [RequestState.CREATED] * 2
        assert sim.create_counts() == {fingerprint(line.body): 1 for line in lines}
        log = sim.requests_for("kyy")
        [limited] = [r for r in log if r.status == 429]
        after = [r.ts for r in log if r.ts > limited.ts]
        assert after and min(after) >= limited.ts + 1.9  # nothing, polls included, meanwhile
        moves = [
            (e.data["from"], e.data["to"], e.data["http_status"])
            for e in events
            if e.kind == "request"
        ]
        assert ("sending", "pending", 429) in moves


async def test_5xx_and_hang_after_create_are_uncertain_and_never_sent_again(tmp_path: Path) -> None:
    with Simulator() as sim, Store.open(tmp_path / "tasks.db") as store:
        sim.shape_creates("kyy", queue_s=0.1, run_s=0.2)
        sim.faults.add(502, kind="kyy", after_create=True)
        sim.faults.add("hang", kind="kyy", after_create=True, hang_s=2.5)
        lines = planned("kyy", 3)
        record_requests(store, lines, batch=None, now=now())
        config = config_for(tmp_path, provider_config(sim, concurrency=1, max_live=1, timeout=1))
        await run_engine(store, config)
        await run_engine(store, config)  # a second run sends nothing again
        states = [r.state for r in query_requests(store)]
        assert states == [RequestState.UNCERTAIN, RequestState.UNCERTAIN, RequestState.CREATED]
        assert sim.create_counts() == {fingerprint(line.body): 1 for line in lines}
        first, second, _ = query_requests(store)
        assert first.http_status == 502 and second.http_status is None
        assert second.error is not None and "after sending" in (second.error.message or "")
        # only when the user asks: the same records go again (the provider made two of each)
        only_first = RequestFilter(fingerprints=frozenset({first.fingerprint}))
        assert len(resend_uncertain(store, only_first, now())) == 1
        await run_engine(store, config)
        assert [r.state for r in query_requests(store)] == [
            RequestState.CREATED, RequestState.UNCERTAIN, RequestState.CREATED,
        ]  # fmt: skip
        assert sim.create_counts()[fingerprint(lines[0].body)] == 2
        assert sim.create_counts()[fingerprint(lines[1].body)] == 1


async def test_sending_at_start_becomes_uncertain_and_is_not_sent(tmp_path: Path) -> None:
    with Simulator() as sim, Store.open(tmp_path / "tasks.db") as store:
        sim.shape_creates("kyy", queue_s=0.1, run_s=0.2)
        lines = planned("kyy", 2)
        record_requests(store, lines, batch=None, now=now())
        [crashed] = next_pending(store, "kyy", now())
        assert mark_sending(store, crashed, now()) is not None  # then the process died
        _, events = await run_engine(store, config_for(tmp_path, provider_config(sim)))
        first, second = query_requests(store)
        assert first.state is RequestState.UNCERTAIN and second.state is RequestState.CREATED
        assert fingerprint(lines[0].body) not in sim.create_counts()
        assert next((e.data["from"], e.data["to"]) for e in events if e.kind == "request") == (
            "sending",
            "uncertain",
        )


async def test_the_throttle_holds_max_live_create_rate_and_rate_limit(tmp_path: Path) -> None:
    clock = ScaledClock(20)
    with Simulator(clock=clock) as sim, Store.open(tmp_path / "tasks.db") as store:
        sim.shape_creates("ark", queue_s=2, run_s=4)
        sim.enforce_rate_limit("ark", 3)
        record_requests(store, planned("ark", 8), batch=None, now=now())
        provider = provider_config(
            sim, "ark", max_live=3, create_rate=5, rate_limit=3, min_interval=1, max_interval=4
        )
        await run_engine(store, config_for(tmp_path, provider), clock=clock, timeout=60)
        assert [r.state for r in query_requests(store)] == [RequestState.CREATED] * 8
        assert sim.peak_live("ark") == 3  # at the cap, never above
        assert sim.max_creates_in_window("ark", 60) <= 5
        assert sim.max_requests_in_window("ark", 1.0) <= 3 and sim.violations == []
        assert len(store.query(None)) == 8
        assert query_requests(store, RequestFilter(states=frozenset({RequestState.PENDING}))) == []
