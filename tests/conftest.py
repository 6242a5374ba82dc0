"""Settings and fixtures every test process shares (the main one and each xdist worker)."""

from __future__ import annotations

import gc
import signal

import pytest

pytest_plugins = ["faults"]  # the real faults of tests/faults.py: a small disk, a read-only store


def pytest_configure(config: pytest.Config) -> None:
    """Give the children the default Ctrl-C back.

    A job started in the background by a script (`make test &`, some CI runners) inherits
    SIGINT ignored, and an ignored signal stays ignored across exec: the `watch` and simulator
    children would then never see the SIGINT a test sends them, and the test hangs until its
    timeout. A Python-level handler is reset to the default on exec, so installing Python's own
    handler here means every child starts with SIGINT as a terminal would give it.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked `slow` early, one every two others.

    They spend their time waiting (for a subprocess, for the simulator's tasks), so they are
    best run beside the tests that keep the CPU busy, and started early so the longest (15 s)
    do not end the run. In file order they came last (their files sort after tests/app/) and
    made a tail of 30 s with idle cores; all first, they left the cores idle at the start.
    Every xdist worker orders the same way, as it must, and `--maxschedchunk 1` hands the
    tests out in this order."""
    slow = [item for item in items if item.get_closest_marker("slow") is not None]
    rest = [item for item in items if item.get_closest_marker("slow") is None]
    ordered: list[pytest.Item] = []
    for n, item in enumerate(slow):
        ordered += [item, *rest[2 * n : 2 * n + 2]]
    items[:] = ordered + rest[2 * len(slow) :]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Spare the garbage collector the imports: every module, class and CSS rule loaded so far
    lives for the whole run, so it is frozen out of the collector's scans; and the youngest
    generation is collected every 7,000 allocations, not 700 (the app tests allocate heavily
    and little of it survives). Measured on three app test files in one process: 38.7 s of
    CPU, 9.5 s of it collecting, before; 28.3 s, 3.7 s of it collecting, after. Nothing a test
    checks depends on when garbage is collected."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(7_000, 10, 10)
