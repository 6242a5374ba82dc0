"""However the dashboard ends, its engine is closed: what the store writer holds is written and
its thread stops. `q` goes through `shutdown`; Textual's own exit (an error, `App.exit`, a test
leaving `run_test`) does not, and used to leave the writer's thread running with the app."""

from __future__ import annotations

import threading
from collections.abc import Callable

from conftest import Dash, wait_until
from test_store_outages import KEY, batch, providers

from tui.core.clock import SystemClock
from tui.core.store import Store
from tui.sim import Simulator


def writer_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("store-writer")}


async def test_an_app_that_ends_without_q_still_closes_its_engine(
    make_dash: Callable[..., Dash],
) -> None:
    before = writer_threads()
    with Simulator(keys={"kyy": KEY}) as sim:
        tasks = batch(sim, [0.3, 0.6])
        dash = make_dash(tasks, providers=providers(sim), clock=SystemClock(), paused=False)
        app = dash.app
        async with app.run_test(size=(120, 40)) as pilot:

            def shown() -> dict[str, str]:
                return {key[1]: str(app.index.get(key).state) for key in app.index}  # type: ignore[union-attr]

            assert await wait_until(pilot, lambda: "succeeded" in shown().values(), timeout=15)
            started = writer_threads() - before
            assert started, "the engine wrote nothing: the test would show nothing"
            last_shown = shown()
        # left without `q`: only Textual's own exit ran
        for thread in started:
            thread.join(timeout=5)
        assert not any(thread.is_alive() for thread in started)
        with Store.open(dash.db_path) as store:
            stored = {t.id: str(t.state) for t in store.query()}
        # What the screen showed last was written (the engine may have gone further since).
        order = ["queued", "running", "succeeded"]
        assert stored.keys() == last_shown.keys()
        assert all(order.index(stored[i]) >= order.index(last_shown[i]) for i in stored), (
            stored,
            last_shown,
        )
