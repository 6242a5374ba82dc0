"""`Simulator`: the provider simulator as tests and the demo use it, scenarios included.

The server (`tui.sim.server.SimServer`) knows tasks, dialects, faults and creates; the
scenarios build realistic batches on top of it. This class joins the two so that callers keep
one object (`sim.demo_batch(...)`) while the server never imports the scenarios.
"""

from __future__ import annotations

from tui.sim.scenarios import demo_batch
from tui.sim.server import SimServer


class Simulator(SimServer):
    """The simulator with its scenarios; see `tui.sim.server` for the routes."""

    def demo_batch(
        self, n: int, *, kinds: tuple[str, ...] = ("newapi", "kyy"), seed: int | None = None
    ) -> list[tuple[str, str]]:
        """A realistic mix of `n` tasks; see `tui.sim.scenarios.demo_batch`."""
        return demo_batch(self, n, kinds=kinds, seed=seed)
