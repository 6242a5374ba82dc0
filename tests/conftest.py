"""Settings and fixtures every test process shares (the main one and each xdist worker)."""

from __future__ import annotations

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
