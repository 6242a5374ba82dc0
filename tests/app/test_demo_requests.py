"""The demo starts its batch as `submit` does: create requests the engine sends to the simulator."""

from __future__ import annotations

from conftest import applied, screen_text, settle, wait_until

from tui.app.demo import DEMO_MAX_LIVE, FIRST_WAVE, PROVIDER_NAMES, DemoSession
from tui.app.demo_batch import demo_lines
from tui.core.clock import FrozenClock
from tui.core.model import State
from tui.core.request_store import query_requests
from tui.core.requests import RequestState
from tui.core.store import Store
from tui.sim.create import fingerprint as sim_fingerprint

SIZE = (120, 40)


def created_links(store: Store) -> dict[tuple[str, str], str]:
    """(provider, task id) -> the request's name, for every `created` request."""
    requests = query_requests(store)
    return {
        (r.provider, r.task_id): r.name or ""
        for r in requests
        if r.state is RequestState.CREATED and r.task_id is not None
    }


async def test_the_still_demo_tracks_only_tasks_its_create_requests_made() -> None:
    with DemoSession(
        tasks=60, seed=11, clock=FrozenClock(1_777_288_500.0), prefill=True
    ) as session:
        app = session.build()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            requests = query_requests(app.store)
            assert len(requests) == 60
            assert {r.batch for r in requests} == {"demo"}
            links = created_links(app.store)
            assert len(links) == 60  # below max_live at every provider: all were sent
            assert set(links) == set(app.index)  # every task came from a request
            for key, name in links.items():
                task = app.store.get(*key, with_raw=False)
                assert task is not None and task.batch == "demo"
                assert task.request is not None and task.request.name == name
                assert (task.request.attempt, task.request.previous_id) == (1, None)
            # the simulator created each body once, and only those
            counts = session.sim.create_counts()
            assert sorted(counts.values()) == [1] * 60
            assert set(counts) == {sim_fingerprint(r.body) for r in requests}
            # a mix: some ended at once (content-policy refusals), most still run
            states = app.index.counts()
            assert states[State.FAILED] > 0 and states[State.RUNNING] > 0
            assert "60 of 60 tasks" in screen_text(app)


async def test_the_live_demo_sends_the_rest_as_the_engine_runs() -> None:
    """Beyond the first wave (sent before the app opens) the app's own engine creates the
    tasks, never more than max_live live at a provider, until every request is sent."""
    tasks = 200
    per_kind = {kind: 0 for kind in PROVIDER_NAMES}
    for line in demo_lines(tasks, 7, tuple(PROVIDER_NAMES)):
        per_kind[line.kind] += 1
    assert max(per_kind.values()) > FIRST_WAVE  # some wait for the app's engine
    with DemoSession(tasks=tasks, speed=60) as session:
        assert session.config.providers["ark-sim"].max_live == DEMO_MAX_LIVE
        app = session.build()
        first_wave = len(created_links(app.store))
        assert 0 < first_wave <= FIRST_WAVE * len(PROVIDER_NAMES)
        async with app.run_test(size=SIZE) as pilot:
            await applied(pilot)
            assert len(app.index) >= first_wave  # at once: a batch under way, more coming

            def all_sent() -> bool:
                return len(created_links(app.store)) == tasks

            assert await wait_until(pilot, all_sent, timeout=60)
            assert await wait_until(pilot, lambda: len(app.index) == tasks, timeout=10)
            for kind, name in PROVIDER_NAMES.items():
                assert session.sim.peak_live(kind) <= DEMO_MAX_LIVE, name
            assert sorted(session.sim.create_counts().values()) == [1] * tasks
            await pilot.press("q")
