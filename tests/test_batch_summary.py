"""Batches at a glance: counts, progress, success rate, generation time, tokens, downloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tui.core.batch_summary import NO_BATCH, percent, summarise
from tui.core.model import Download, DownloadState, State, Task, Tokens

T0 = datetime(2026, 12, 1, 12, tzinfo=UTC)


def done(
    task_id: str, batch: str | None, provider: str = "a", seconds: float = 60, **kw: object
) -> Task:
    return Task(
        provider,
        task_id,
        batch=batch,
        state=State.SUCCEEDED,
        created_at=T0,
        finished_at=T0 + timedelta(seconds=seconds),
        **kw,  # type: ignore[arg-type]
    )


def test_one_row_per_batch_and_provider_with_its_numbers() -> None:
    tasks = [
        done("1", "spring", seconds=60, tokens=Tokens(total=100, super_resolution=40),
             download=Download(DownloadState.DONE, "/v/1.mp4", 10)),
        done("2", "spring", seconds=120, tokens=Tokens(total=50)),
        done("3", "spring", seconds=300),
        Task("a", "4", batch="spring", state=State.FAILED, created_at=T0),
        Task("a", "5", batch="spring", state=State.RUNNING),
        Task("b", "6", batch="spring", state=State.QUEUED),
        Task("a", "7", batch=None, state=State.QUEUED),
    ]  # fmt: skip
    rows = summarise(tasks)
    assert [(r.label, r.provider, r.total) for r in rows] == [
        ("spring", "a", 5),
        ("spring", "b", 1),
        (NO_BATCH, "a", 1),
    ]
    spring = rows[0]
    assert spring.states[State.SUCCEEDED] == 3 and spring.finished == 4
    assert spring.progress == 80
    assert spring.success_rate == 0.75
    assert spring.median_generation == 120
    assert (spring.tokens, spring.tokens_super) == (150, 40)
    assert spring.kept == 1


def test_progress_never_rounds_an_unfinished_batch_up_to_100() -> None:
    assert percent(299, 300) == 99
    assert percent(300, 300) == 100
    assert percent(0, 0) == 0
    rows = summarise([done(str(n), "b") for n in range(299)] + [Task("a", "x", batch="b")])
    assert rows[0].progress == 99


def test_nothing_finished_has_no_rate_and_no_median() -> None:
    (row,) = summarise([Task("a", "1", batch="b", state=State.RUNNING)])
    assert row.success_rate is None and row.median_generation is None and row.progress == 0
