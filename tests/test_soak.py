"""The soak at its small size (issue 10): `watch` over 500 simulated tasks with provider faults
on 10 % of them, the store's disk filled and freed twice and the store locked twice by another
process. Every task ends in the simulator's state, every video is kept, the store is intact, the
providers saw perfect etiquette and the memory of `watch` stays flat. The full size (20,000
tasks) is `make soak`; tests/bench/bench_soak.py says what is done and checked."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from bench_soak import SMALL, report, run_soak  # noqa: E402


def test_watch_survives_a_small_soak(tmp_path: Path) -> None:
    soak = run_soak(tmp_path, SMALL, echo=lambda line: None)
    print(report(soak))
    assert soak.problems == []
    assert sum(soak.states.values()) == SMALL.tasks
    assert soak.videos_kept == soak.states["succeeded"] > 0
    assert soak.fault_hits >= soak.faulted_tasks > 0  # the providers misbehaved for real
    assert not any("batch ended before" in step for step in soak.steps), soak.steps
    assert len([s for s in soak.steps if s.endswith("store disk filled")]) == 2
    assert len([s for s in soak.steps if "store locked" in s]) == 2
    states = [event.split()[2] for event in soak.store_events]
    assert states == ["unavailable:", "available:"] * 2, soak.store_events  # both fills seen
    assert soak.peak_mb < 150, soak.rss_mb
    assert soak.growth_mb < 20, soak.rss_mb  # flat: no growth with the tasks done
