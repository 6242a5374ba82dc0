"""TaskIndex / ViewSpec / TaskView: the table's pure model, checked against plain Python.

The reference for every order and filter is a from-scratch `sorted()` + list comprehension over
the index's tasks, so the incremental paths (bisect moves, bulk merges, narrowing filters) are
checked against the obvious implementation, with thousands of tasks and random update streams.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import pytest
from rich.cells import cell_len

from tui.app import format as fmt
from tui.app.task_sort import SORT_COLUMNS, STATE_RANK
from tui.app.task_view import TaskIndex, TaskView, ViewSpec
from tui.core.expiry import video_expiry
from tui.core.model import Download, DownloadState, Failure, State, Task, Tokens

T0 = datetime(2026, 4, 27, 11, 0, tzinfo=UTC)
MODELS = ("doubao-seedance-2-0-260128", "doubao-seedance-1-0-pro-250528", "Seedance-1.5", None)
FAILURES = (
    Failure("InvalidParameter", "img_url must be set for image to video method"),
    Failure(None, "SensitiveContent detected in prompt"),
    Failure("QuotaExceeded", None),
)


def make_task(rng: random.Random, i: int, provider: str | None = None) -> Task:
    state = rng.choice(list(State))
    return Task(
        provider=provider or rng.choice(("anyfast", "kyy", "ark")),
        id=f"task_{rng.getrandbits(32):08x}_{i}",
        state=state,
        model=rng.choice(MODELS),
        progress=rng.choice((None, *range(0, 101, 7))),
        created_at=rng.choice((None, T0 + timedelta(seconds=rng.randint(0, 5000)))),
        added_at=T0,
        duration=rng.choice((None, 5.0, 10.0)),
        resolution=rng.choice((None, "480p", "720p", "1080p")),
        super_resolution=rng.choice((None, None, "720p")),
        tokens=Tokens(total=rng.choice((None, rng.randint(1, 300_000)))),
        failure=rng.choice(FAILURES) if state is State.FAILED else None,
        next_poll_at=rng.choice((None, T0 + timedelta(seconds=rng.randint(0, 600)))),
        download=Download(state=rng.choice(list(DownloadState))),
    )


def mutate(rng: random.Random, task: Task) -> Task:
    """A plausible update: progress, state (with failure), model or tokens move."""
    state = rng.choice(list(State))
    return task.evolve(
        state=state,
        progress=rng.choice((None, *range(0, 101, 9))),
        model=rng.choice(MODELS),
        tokens=Tokens(total=rng.choice((None, rng.randint(1, 300_000)))),
        failure=rng.choice(FAILURES) if state is State.FAILED else None,
    )


def reference(index: TaskIndex, spec: ViewSpec) -> list[tuple[str, str]]:
    """The view computed the obvious way: filter every task, then one full sort."""

    def matches(task: Task) -> bool:
        states = spec.states
        if states is not None and task.state not in states:
            return False
        if spec.failure_group is not None and (
            task.failure is None or task.failure.label != spec.failure_group
        ):
            return False
        if spec.needle:
            fields = [task.id, task.provider, task.batch or "", task.model or "", task.state]
            if task.failure:
                fields += [task.failure.code or "", task.failure.message or ""]
            found = any(spec.needle in field.lower() for field in fields)
            return found != spec.inverted
        return True

    def value(task: Task) -> object:
        column = spec.sort_column
        if column == "state":
            return STATE_RANK[task.state]
        if column == "age":
            start = task.created_at or task.added_at
            return None if start is None else -start.timestamp()
        if column == "tokens":
            return task.tokens.total
        if column == "resolution":
            res = task.super_resolution or task.resolution
            return None if res is None else int(res.rstrip("p"))
        if column == "next_poll":
            if task.next_poll_at is None or task.state.terminal:
                return None
            return task.next_poll_at.timestamp()
        if column == "download":
            order = ("running", "pending", "failed", "expired", "done", "none")
            return order.index(task.download.state)
        if column == "failure":
            return None if task.failure is None else task.failure.label.lower()
        if column == "expires":  # the URL's deadline, only for a video still to download
            if task.state is not State.SUCCEEDED or not task.video_url:
                return None
            if task.download.state in ("done", "expired"):
                return None
            deadline = video_expiry(task)
            return None if deadline is None else deadline.timestamp()
        return getattr(task, column)

    tasks = [index.get(key) for key in index]
    chosen = [t for t in tasks if t is not None and matches(t)]
    # None last; ties in the order tasks were first added (the index iterates in that order and
    # the sort is stable); reversed reads backwards.
    chosen.sort(key=lambda t: (value(t) is None, value(t) or 0))
    keys = [t.key for t in chosen]
    return keys[::-1] if spec.sort_reverse else keys


@pytest.fixture
def rng() -> random.Random:
    return random.Random(20260427)


@pytest.fixture
def index(rng: random.Random) -> TaskIndex:
    return TaskIndex(make_task(rng, i) for i in range(3000))


# --- TaskIndex ------------------------------------------------------------------------------


def test_index_counts_versions_and_raw_dropped(rng: random.Random) -> None:
    first = make_task(rng, 1).evolve(state=State.RUNNING, raw={"big": "body"})
    second = make_task(rng, 2).evolve(state=State.FAILED, failure=FAILURES[0])
    index = TaskIndex([first, second])
    assert len(index) == 2
    assert index.get(first.key).raw is None  # the detail pane reads raw from the store
    assert index.counts()[State.RUNNING] == 1 and index.counts()[State.FAILED] == 1
    assert set(index.counts()) == set(State)
    version = index.version(first.key)

    assert index.upsert([first]) == set()  # same task again: nothing changed
    assert index.version(first.key) == version

    done = first.evolve(state=State.SUCCEEDED, progress=100)
    assert index.upsert([done]) == {first.key}
    assert index.version(first.key) != version
    assert index.counts()[State.RUNNING] == 0 and index.counts()[State.SUCCEEDED] == 1

    assert index.remove([second.key, ("nope", "nope")]) == {second.key}
    assert index.get(second.key) is None and second.key not in index
    assert len(index) == 1 and list(index) == [first.key]
    assert index.counts()[State.FAILED] == 0

    # Back again: it keeps its place among equals (its first-added order).
    assert index.upsert([second]) == {second.key}
    assert list(index) == [first.key, second.key]


def test_failure_groups_count_labels(index: TaskIndex) -> None:
    groups = index.failure_groups()
    expected: dict[str, int] = {}
    for key in index:
        task = index.get(key)
        if task is not None and task.failure is not None:
            expected[task.failure.label] = expected.get(task.failure.label, 0) + 1
    assert groups == expected and len(groups) == 3


def test_load_replaces_everything_and_views_rebuild(rng: random.Random, index: TaskIndex) -> None:
    view = TaskView(index)
    fresh = [make_task(rng, i, provider="fresh") for i in range(50)]
    index.load(fresh)
    assert len(index) == 50
    view.update(set())  # a view built on the old generation rebuilds on its next update
    shown = view.keys()
    assert shown == reference(index, view.spec)
    assert len(shown) == 50 and all(key[0] == "fresh" for key in shown)


# --- ViewSpec and filters --------------------------------------------------------------------


def test_viewspec_rejects_unknown_words() -> None:
    with pytest.raises(ValueError, match="state filter"):
        ViewSpec(state_filter="done-ish")
    with pytest.raises(ValueError, match="sort column"):
        ViewSpec(sort_column="colour")
    assert ViewSpec(text="!Foo ").inverted and ViewSpec(text="!Foo ").needle == "foo"


@pytest.mark.parametrize(
    "spec",
    [
        ViewSpec(),
        ViewSpec(text="ANYFAST"),  # provider, case-insensitive
        ViewSpec(text="seedance-1-0"),  # model
        ViewSpec(text="running"),  # state word
        ViewSpec(text="invalidparameter"),  # failure code
        ViewSpec(text="must be set"),  # failure message
        ViewSpec(text="!seedance-2"),  # inverted
        ViewSpec(text="!"),  # a lone ! filters nothing
        ViewSpec(state_filter="live"),
        ViewSpec(state_filter="terminal"),
        ViewSpec(state_filter="failed", failure_group=FAILURES[1].label),
        ViewSpec(failure_group="QuotaExceeded"),
        *(ViewSpec(state_filter=str(state)) for state in State),
        ViewSpec(text="kyy", state_filter="succeeded", sort_column="tokens", sort_reverse=True),
        ViewSpec(text="!kyy", state_filter="failed", sort_column="model"),  # few candidates
    ],
    ids=repr,
)
def test_filters_match_reference(index: TaskIndex, spec: ViewSpec) -> None:
    view = TaskView(index, spec)
    assert view.keys() == reference(index, spec)


def test_text_filter_hits_each_field(rng: random.Random) -> None:
    task = make_task(rng, 1).evolve(
        provider="Ark",
        id="cgt-AbC123",
        batch="Spring-Ads",
        model="Doubao-Seedance-PRO",
        state=State.FAILED,
        failure=Failure("SensitiveContent", "Blocked by Review"),
    )
    other = make_task(rng, 2).evolve(
        provider="kyy", id="video_1", batch=None, model="x", state=State.QUEUED, failure=None
    )
    index = TaskIndex([task, other])
    for text in ("abc1", "ark", "spring", "seedance-pro", "failed", "sensitive", "by review"):
        assert TaskView(index, ViewSpec(text=text)).keys() == [task.key], text
        assert TaskView(index, ViewSpec(text="!" + text)).keys() == [other.key], text


def test_typing_narrows_and_widens_like_a_fresh_filter(index: TaskIndex) -> None:
    view = TaskView(index)
    for text in ("t", "ta", "task", "task_", "task_a", "task_", "", "!", "!a", "!ab", "!a", "1"):
        view.set_spec(view.spec.replace(text=text))
        assert view.keys() == reference(index, view.spec), text


@pytest.mark.parametrize("column", SORT_COLUMNS)
def test_every_column_sorts_both_ways(index: TaskIndex, column: str) -> None:
    view = TaskView(index)
    view.set_spec(view.spec.replace(sort_column=column))
    assert view.keys() == reference(index, view.spec)
    view.set_spec(view.spec.replace(sort_reverse=True))
    assert view.keys() == reference(index, view.spec)


def test_positions_and_windows_agree_with_keys(index: TaskIndex) -> None:
    for reverse in (False, True):
        view = TaskView(index, ViewSpec(state_filter="live", sort_reverse=reverse))
        keys = view.keys()
        assert len(view) == len(keys) > 100
        assert [view[i] for i in range(len(view))] == keys
        assert view[-1] == keys[-1]
        assert view.window(10, 25) == keys[10:25]
        assert view.window(len(keys) - 3, len(keys) + 10) == keys[-3:]
        assert view.window(-5, 2) == keys[:2]
        for position in (0, 7, len(keys) - 1):
            assert view.position(keys[position]) == position
        hidden = next(key for key in index if key not in set(keys))
        assert view.position(hidden) is None and hidden not in view
        with pytest.raises(IndexError):
            view[len(keys)]


# --- incremental updates against the reference --------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        ViewSpec(),
        ViewSpec(sort_column="progress", sort_reverse=True),
        ViewSpec(text="seedance", sort_column="model"),
        ViewSpec(text="!kyy", state_filter="live", sort_column="tokens"),
        ViewSpec(state_filter="failed", failure_group=FAILURES[0].label, sort_column="id"),
    ],
    ids=repr,
)
def test_random_upserts_and_removes_keep_the_view_exact(
    rng: random.Random, index: TaskIndex, spec: ViewSpec
) -> None:
    view = TaskView(index, spec)
    next_id = 10_000
    for round_no in range(40):
        keys = list(index)
        # mostly small batches (bisect moves), sometimes bulk ones (the merge pass)
        size = rng.choice((1, 3, 10, 50)) if round_no % 5 else rng.choice((65, 400))
        updates = [mutate(rng, index.get(key)) for key in rng.sample(keys, size)]
        added = [make_task(rng, next_id + n) for n in range(rng.choice((0, 0, 2, 80)))]
        next_id += len(added)
        changed = index.upsert(updates + added)
        gone = set(rng.sample(keys, rng.choice((0, 0, 1, 5, 70))))
        gone -= {task.key for task in updates}
        changed |= index.remove(gone)
        if round_no % 7 == 3:  # a removed task comes back
            back = [make_task(rng, 0).evolve(provider=k[0], id=k[1]) for k in list(gone)[:2]]
            changed |= index.upsert(back)
        view.update(changed)
        assert view.keys() == reference(index, spec), f"round {round_no}"


def test_unchanged_sort_value_only_updates_membership(rng: random.Random) -> None:
    tasks = [make_task(rng, i).evolve(state=State.RUNNING, model="alpha") for i in range(200)]
    index = TaskIndex(tasks)
    view = TaskView(index, ViewSpec(text="alpha"))
    target = tasks[17]
    # same sort value (state), no longer matching the filter: leaves the view
    view.update(index.upsert([target.evolve(model="beta")]))
    assert target.key not in view and len(view) == 199
    # and comes back
    view.update(index.upsert([target.evolve(model="alphabet")]))
    assert view.keys() == reference(index, view.spec)


# --- cell formatting -----------------------------------------------------------------------------


def test_state_glyphs_are_one_cell_each() -> None:
    for state in State:
        assert cell_len(fmt.STATE_GLYPHS[state]) == 1
        assert fmt.state_cell(state) == f"{fmt.STATE_GLYPHS[state]} {state}"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "0s"),
        (0, "0s"),
        (59.9, "59s"),
        (60, "1m00s"),
        (192, "3m12s"),
        (3599, "59m59s"),
        (3900, "1h05m"),
        (86400 * 2 + 3 * 3600, "2d03h"),
        (86400 * 150, "150d"),
        (float("nan"), "0s"),
    ],
)
def test_compact_duration(seconds: float, text: str) -> None:
    assert fmt.compact_duration(seconds) == text
    assert len(text) <= 6


def test_small_cells() -> None:
    assert fmt.count_cell(None) == ""
    assert fmt.count_cell(950) == "950"
    assert fmt.count_cell(50638) == "50.6k"
    assert fmt.count_cell(114441) == "114k"
    assert fmt.count_cell(1_200_000) == "1.2M"
    assert fmt.count_cell(2000) == "2k"
    assert fmt.resolution_cell("480p", "720p") == "480p→720p"
    assert fmt.resolution_cell("720p", "720p") == "720p"
    assert fmt.resolution_cell(None, None) == ""
    assert fmt.progress_cell(None) == "" and fmt.progress_cell(130) == "100%"
    assert fmt.video_duration_cell(5.0) == "5s"
    assert fmt.age_cell(None, 100.0) == "" and fmt.age_cell(100.0, 292.0) == "3m"
    assert fmt.age_cell(100.0, 159.0) == "<1m" and fmt.age_cell(0.0, 3900.0) == "1h05m"
    # ages change at most once a minute: a screen of them costs nothing to keep current
    assert len({fmt.age_cell(0.0, 600.0 + s) for s in range(60)}) == 1
    at = 1_777_288_512.0
    assert fmt.next_poll_cell(at, at - 12, State.RUNNING) == time.strftime(
        "%H:%M:%S", time.localtime(at)
    )
    assert fmt.next_poll_cell(100.0, 100.5, State.QUEUED) == "due"
    assert fmt.next_poll_cell(500.0, 100.0, State.SUCCEEDED) == ""
    assert fmt.failure_cell(Failure("X", "y")) == "X: y" and fmt.failure_cell(None) == ""


class Progress:
    def __init__(self, done: int, total: int | None, speed: float) -> None:
        self.bytes, self.total, self.speed = done, total, speed


def test_download_cell() -> None:
    running = Download(state=DownloadState.RUNNING)
    assert fmt.download_cell(running, Progress(45, 100, 3_100_000)) == "45% 3.1 MB/s"
    assert fmt.download_cell(running, Progress(2_500_000, None, 0)) == "2.5 MB"
    assert fmt.download_cell(running) == "running"
    assert fmt.download_cell(Download(state=DownloadState.DONE)) == "done"
    assert fmt.download_cell(Download(state=DownloadState.FAILED)) == "failed"
    assert fmt.download_cell(Download(state=DownloadState.EXPIRED)) == "expired"
    assert fmt.download_cell(Download(state=DownloadState.PENDING)) == "waiting"
    assert fmt.download_cell(Download()) == ""


def test_sizes_read_as_the_status_command_prints_them() -> None:
    """999,999 bytes round up to the next unit (`1.0 MB`), never `1000.0 kB`, as `status` says."""
    running = Download(state=DownloadState.RUNNING)
    assert fmt.download_cell(running, Progress(999_999, None, 0)) == "1.0 MB"
    assert fmt.download_cell(running, Progress(999, None, 0)) == "999 Bytes"
    assert fmt.download_cell(running, Progress(1_000, None, 0)) == "1.0 kB"
    assert fmt.size_cell(5_000_000_000) == "5.0 GB"
