"""The SQLite store, on real files: round trips, filters, durability rules, errors, viewers."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tui.core.model import (
    TERMINAL_STATES,
    Download,
    DownloadState,
    Event,
    Failure,
    RequestLink,
    State,
    Task,
    Tokens,
)
from tui.core.request_lines import PlannedRequest
from tui.core.request_store import mark_created, mark_sending, next_pending, record_requests
from tui.core.requests import fingerprint
from tui.core.store import AddResult, Store, StoreError, TaskFilter
from tui.core.store_schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    V1_TERMINAL_STATES,
    migrate,
    user_version,
)

T0 = datetime(2026, 4, 27, 11, 15, 6, 123456, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "tasks.db"


@pytest.fixture
def store(db: Path):
    with Store.open(db) as s:
        yield s


def full_task(provider: str = "anyfast", task_id: str = "asyntask_full") -> Task:
    """A task with every field set to something other than its default."""
    return Task(
        provider=provider,
        id=task_id,
        batch="spring-ads",
        state=State.FAILED,
        upstream_status="FAILURE",
        model="doubao-seedance-2-0-260128",
        progress=100,
        created_at=T0,
        started_at=T0 + timedelta(seconds=2),
        finished_at=T0 + timedelta(minutes=5, microseconds=7),
        video_url="https://ark.example/v.mp4?X-Tos-Date=20260427T111500Z&X-Tos-Expires=86400",
        url_expires_at=T0 + timedelta(days=1),
        duration=5.5,
        resolution="480p",
        super_resolution="720p",
        ratio="16:9",
        fps=24,
        seed=4304,
        generate_audio=False,
        tokens=Tokens(total=50638, completion=50637, super_resolution=114441),
        failure=Failure("InvalidParameter", "img_url must be set for image to video method"),
        polls=7,
        last_polled_at=T0 + timedelta(minutes=6),
        download=Download(DownloadState.FAILED, "/videos/anyfast/x.mp4", 1048576, "HTTP 403"),
        raw={
            "code": "success",
            "data": {"status": "FAILURE", "progress": "100%", "n": [1, 2.5, None, True]},
            "msg": "视频生成失败 \x1b]52;c;ZXZpbA==\x07",
        },
        added_at=T0 - timedelta(minutes=1),
        first_seen_live_at=T0,
        first_seen_terminal_at=T0 + timedelta(minutes=5, seconds=1),
        not_found_strikes=1,
        last_not_found_at=T0 + timedelta(minutes=3),
        next_poll_at=T0 + timedelta(minutes=7),
    )


def add_by_request(store: Store, task: Task, name: str = "shot-012") -> Task:
    """Track `task` as a created request would (the task object gains `request`)."""
    body = {"model": "m", "prompt": task.id}
    planned = PlannedRequest(1, task.provider, body, name, fingerprint(task.provider, body, name))
    record_requests(store, [planned], batch=task.batch, now=T0)
    [request] = next_pending(store, task.provider, T0)
    assert mark_sending(store, request, T0) is not None
    mark_created(store, request, task.id, 200, T0)
    return task.evolve(request=RequestLink(name, planned.fingerprint, 1, None))


def other_connection(db: Path) -> sqlite3.Connection:
    """A plain second connection: sees only what the store committed."""
    return sqlite3.connect(db, isolation_level=None)


def state_event(task: Task, old: State, new: State) -> Event:
    return Event(
        "state",
        task.provider,
        task.id,
        {"from": str(old), "to": str(new), "upstream_status": None, "failure": None},
        ts=T0,
    )


# --- opening, schema, migrations ----------------------------------------------------------------


def test_open_creates_folders_wal_and_current_schema(db: Path) -> None:
    assert not db.parent.exists()
    Store.open(db).close()
    con = other_connection(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert user_version(con) == SCHEMA_VERSION == len(MIGRATIONS)
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"tasks", "snapshots", "events", "meta"} <= tables


def test_migrates_an_empty_database_at_user_version_0(db: Path) -> None:
    db.parent.mkdir(parents=True)
    con = other_connection(db)
    con.execute("PRAGMA user_version = 0")
    con.execute("VACUUM")  # make it a real (empty) SQLite file on disk
    con.close()
    assert db.stat().st_size > 0
    with Store.open(db) as store:
        assert store.add_tasks("kyy", ["video_1"], batch=None, now=T0) == AddResult(1, 0)
    assert user_version(other_connection(db)) == SCHEMA_VERSION


def test_a_later_step_runs_once_on_a_current_file(db: Path) -> None:
    """How the next version arrives: one more function in MIGRATIONS; a file at the current
    version gets only that step, once."""
    Store.open(db).close()
    ran: list[int] = []
    nxt = SCHEMA_VERSION + 1

    def step(conn: sqlite3.Connection) -> None:
        ran.append(user_version(conn))
        conn.execute("ALTER TABLE tasks ADD COLUMN note TEXT")

    con = other_connection(db)
    con.execute("BEGIN IMMEDIATE")
    assert migrate(con, (*MIGRATIONS, step)) == nxt
    con.execute("COMMIT")
    assert ran == [SCHEMA_VERSION]
    assert user_version(con) == nxt
    assert "note" in {r[1] for r in con.execute("PRAGMA table_info(tasks)")}
    con.execute("BEGIN IMMEDIATE")
    assert migrate(con, (*MIGRATIONS, step)) == nxt  # nothing left to do
    con.execute("COMMIT")
    assert ran == [SCHEMA_VERSION]


def test_a_v1_store_gains_the_requests_table_and_keeps_its_tasks(db: Path) -> None:
    db.parent.mkdir(parents=True)
    con = other_connection(db)
    con.execute("BEGIN IMMEDIATE")
    migrate(con, MIGRATIONS[:1])
    con.execute("INSERT INTO tasks (provider, id) VALUES ('kyy', 'video_old')")
    con.execute("COMMIT")
    con.close()
    with Store.open(db) as store:
        assert [t.id for t in store.query()] == ["video_old"]
    con = other_connection(db)
    assert user_version(con) == SCHEMA_VERSION == 2
    assert "fingerprint" in {r[1] for r in con.execute("PRAGMA table_info(requests)")}


def test_reopening_keeps_everything(db: Path) -> None:
    with Store.open(db) as store:
        store.add_tasks("anyfast", ["task_1"], batch="b", now=T0)
        store.save(full_task("anyfast", "task_1"))
    with Store.open(db) as store:
        assert store.get("anyfast", "task_1") == dataclasses.replace(
            full_task("anyfast", "task_1"), download=Download()
        )


def test_newer_schema_is_refused(db: Path) -> None:
    Store.open(db).close()
    other_connection(db).execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer seedance-tui") as err:
        Store.open(db)
    assert str(db) in str(err.value)


def test_another_programs_sqlite_file_is_refused(db: Path) -> None:
    db.parent.mkdir(parents=True)
    other_connection(db).execute("CREATE TABLE invoices (n INTEGER)")
    with pytest.raises(StoreError, match="not a seedance-tui store") as err:
        Store.open(db)
    assert str(db) in str(err.value) and "invoices" in str(err.value)
    tables = {r[0] for r in other_connection(db).execute("SELECT name FROM sqlite_master")}
    assert tables == {"invoices"}  # left as it was


def test_a_file_that_is_not_sqlite_is_a_clear_error(db: Path) -> None:
    db.parent.mkdir(parents=True)
    db.write_text("[providers.anyfast]\nkind = 'newapi'\n" * 200)
    with pytest.raises(StoreError) as err:
        Store.open(db)
    message = str(err.value)
    assert str(db) in message
    assert "not a seedance-tui store" in message and "--db" in message
    assert err.value.path == db


def test_a_path_whose_folder_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    path = blocker / "sub" / "tasks.db"
    with pytest.raises(StoreError) as err:
        Store.open(path)
    assert str(blocker) in str(err.value) and "--db" in str(err.value)


def test_a_path_sqlite_cannot_open_is_a_clear_error(tmp_path: Path) -> None:
    """(Permissions cannot be tested as root; a dangling symlink fails the same way.)"""
    path = tmp_path / "tasks.db"
    path.symlink_to(tmp_path / "gone" / "tasks.db")
    with pytest.raises(StoreError, match="cannot open the store") as err:
        Store.open(path)
    assert str(path) in str(err.value) and "--db" in str(err.value)


def test_a_folder_as_the_db_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a folder") as err:
        Store.open(tmp_path)
    assert str(tmp_path) in str(err.value)


# --- round trips --------------------------------------------------------------------------------


def test_every_field_round_trips(store: Store) -> None:
    task = add_by_request(store, full_task())  # tracked by a created request: `request` set
    for field in dataclasses.fields(Task):  # keeps this test "fully populated" as Task grows
        default = (
            field.default_factory()
            if field.default_factory is not dataclasses.MISSING
            else field.default
        )
        assert getattr(task, field.name) != default, field.name
    store.save(task, [state_event(task, State.RUNNING, State.FAILED)])
    store.set_download(task.provider, task.id, task.download)

    got = store.get(task.provider, task.id)
    assert got == task
    assert got is not None and got.to_json() == task.to_json()
    assert got.created_at is not None and got.created_at.tzinfo is not None
    assert got.generate_audio is False and got.duration == 5.5
    [queried] = store.query(with_raw=True)
    assert queried == task
    [lean] = store.query()
    assert lean == dataclasses.replace(task, raw=None)
    assert store.get(task.provider, task.id, with_raw=False) == lean


def test_datetimes_come_back_as_exact_aware_utc(store: Store) -> None:
    store.add_tasks("kyy", ["video_a", "video_b"], batch=None, now=T0)
    plus8 = timezone(timedelta(hours=8))
    local = datetime(2026, 4, 27, 19, 15, 6, 999999, tzinfo=plus8)
    naive = datetime(2026, 4, 27, 11, 15, 6, 1)
    store.save(Task("kyy", "video_a", created_at=local, started_at=naive))
    got = store.get("kyy", "video_a")
    assert got is not None and got.created_at is not None and got.started_at is not None
    assert got.created_at == local and got.created_at.utcoffset() == timedelta(0)
    assert got.created_at.microsecond == 999999
    assert got.started_at == naive.replace(tzinfo=UTC)
    assert got.added_at == T0


@pytest.mark.parametrize(
    "raw",
    [
        {"code": "success", "data": {"task_id": "video_1", "nested": [{"a": 1}, [], {}]}},
        [1, "two", 3.25, None, False],
        "<html><body>502 Bad Gateway</body></html>",  # a non-JSON body, kept as text
        "",
        0,
        -1.5e300,
        True,
        "视频 \u2028 \x00 \x1b[31m",
        "lone surrogate \ud800 from a JSON escape",
        {"ordered": 1, "keys": 2, "kept": 3},
    ],
)
def test_raw_round_trips(store: Store, raw: Any) -> None:
    store.add_tasks("kyy", ["video_1"], batch=None, now=T0)
    store.save(Task("kyy", "video_1", raw=raw))
    got = store.get("kyy", "video_1")
    assert got is not None
    assert got.raw == raw and type(got.raw) is type(raw)
    if isinstance(raw, dict):
        assert list(got.raw) == list(raw)
    assert store.query(with_raw=True)[0].raw == raw


def test_an_empty_failure_is_not_no_failure(store: Store) -> None:
    store.add_tasks("kyy", ["video_1", "video_2"], batch=None, now=T0)
    store.save(Task("kyy", "video_1", failure=Failure()))
    store.save(Task("kyy", "video_2", failure=None))
    assert store.get("kyy", "video_1").failure == Failure()  # type: ignore[union-attr]
    assert store.get("kyy", "video_2").failure is None  # type: ignore[union-attr]


# --- adding, querying, counting, removing -------------------------------------------------------


def test_add_tasks_skips_known_ids_and_keeps_the_first_batch(store: Store) -> None:
    assert store.add_tasks("kyy", ["video_1", "video_2", "video_1"], batch="a", now=T0) == (
        AddResult(added=2, skipped=1)
    )
    later = T0 + timedelta(hours=1)
    assert store.add_tasks("kyy", ["video_2", "video_3"], batch="b", now=later) == AddResult(1, 1)
    assert store.add_tasks("kyy", [], batch="b", now=later) == AddResult(0, 0)
    tasks = {t.id: t for t in store.query()}
    assert tasks["video_2"].batch == "a" and tasks["video_2"].added_at == T0
    assert tasks["video_3"].batch == "b" and tasks["video_3"].added_at == later
    assert all(t.state is State.QUEUED and t.polls == 0 for t in tasks.values())
    # the same id at another provider is another task
    assert store.add_tasks("other", ["video_1"], batch=None, now=T0) == AddResult(1, 0)


def test_query_keeps_the_added_order(store: Store) -> None:
    store.add_tasks("kyy", ["video_z", "video_a"], batch=None, now=T0)
    store.add_tasks("anyfast", ["task_m"], batch=None, now=T0)
    store.add_tasks("kyy", ["video_b"], batch=None, now=T0)
    store.save(Task("kyy", "video_z", state=State.RUNNING))  # a save does not reorder
    assert [t.id for t in store.query()] == ["video_z", "video_a", "task_m", "video_b"]


def _filter_fixture(store: Store) -> None:
    store.add_tasks("kyy", ["video_1", "video_2", "video_3"], batch="spring", now=T0)
    store.add_tasks("anyfast", ["task_1", "task_2"], batch="summer", now=T0)
    store.add_tasks("anyfast", ["video_1"], batch=None, now=T0)
    store.save(Task("kyy", "video_2", batch="spring", state=State.RUNNING))
    store.save(Task("kyy", "video_3", batch="spring", state=State.SUCCEEDED))
    store.save(Task("anyfast", "task_2", batch="summer", state=State.FAILED))


def test_filters(store: Store) -> None:
    _filter_fixture(store)

    def ids(flt: TaskFilter | None) -> list[tuple[str, str]]:
        return [t.key for t in store.query(flt)]

    assert len(ids(None)) == len(ids(TaskFilter())) == 6
    assert ids(TaskFilter(states=frozenset({State.RUNNING, State.FAILED}))) == [
        ("kyy", "video_2"),
        ("anyfast", "task_2"),
    ]
    assert ids(TaskFilter(provider="anyfast")) == [
        ("anyfast", "task_1"),
        ("anyfast", "task_2"),
        ("anyfast", "video_1"),
    ]
    assert ids(TaskFilter(batch="spring", states=frozenset({State.QUEUED}))) == [("kyy", "video_1")]
    assert ids(TaskFilter(ids=frozenset({"video_1", "task_9"}))) == [
        ("kyy", "video_1"),
        ("anyfast", "video_1"),
    ]
    assert ids(TaskFilter(ids=frozenset({"video_1"}), provider="anyfast")) == [
        ("anyfast", "video_1")
    ]
    assert ids(TaskFilter(states=frozenset())) == []
    assert ids(TaskFilter(ids=frozenset())) == []
    assert ids(TaskFilter(provider="nobody")) == []
    big = frozenset(f"video_{i}" for i in range(50_000))  # beyond SQLite's variable limit
    assert len(ids(TaskFilter(ids=big))) == 4


def test_undownloaded_selects_the_videos_not_kept_yet(store: Store) -> None:
    """Succeeded or not, only a video URL with a download that is not `done` is selected."""
    url = "https://v.example/x.mp4"
    cases = {
        "video_none": (State.SUCCEEDED, url, Download()),
        "video_pending": (State.SUCCEEDED, url, Download(DownloadState.PENDING, "/v/p.mp4")),
        "video_failed": (State.SUCCEEDED, url, Download(DownloadState.FAILED, error="HTTP 500")),
        "video_expired": (State.SUCCEEDED, url, Download(DownloadState.EXPIRED, error="gone")),
        "video_done": (State.SUCCEEDED, url, Download(DownloadState.DONE, "/v/d.mp4", 10)),
        "video_no_url": (State.SUCCEEDED, None, Download()),
        "video_empty_url": (State.SUCCEEDED, "", Download()),
        "video_running": (State.RUNNING, None, Download()),
    }
    store.add_tasks("kyy", list(cases), batch="b", now=T0)
    store.add_tasks("anyfast", ["video_other"], batch=None, now=T0)
    store.save(Task("anyfast", "video_other", state=State.SUCCEEDED, video_url=url))
    for task_id, (state, video_url, download) in cases.items():
        store.save(Task("kyy", task_id, batch="b", state=state, video_url=video_url))
        store.set_download("kyy", task_id, download)

    def ids(flt: TaskFilter) -> list[str]:
        return [t.id for t in store.query(flt)]

    wanted = ["video_none", "video_pending", "video_failed", "video_expired"]
    assert ids(TaskFilter(undownloaded=True)) == [*wanted, "video_other"]
    assert ids(TaskFilter(undownloaded=True, provider="kyy")) == wanted
    assert ids(TaskFilter(undownloaded=True, batch="b")) == wanted
    assert store.counts(TaskFilter(undownloaded=True))[State.SUCCEEDED] == 5


def test_set_downloads_writes_all_in_one_durable_transaction(store: Store) -> None:
    store.add_tasks("kyy", ["video_1", "video_2", "video_3"], batch=None, now=T0)
    mark, seen = store.changed_since(0)
    assert len(seen) == 3
    pending = Download(DownloadState.PENDING, "/v/video_1.mp4")
    failed = Download(DownloadState.FAILED, "/v/video_2.mp4", None, "HTTP 403")
    store.set_downloads([("kyy", "video_1", pending), ("kyy", "video_2", failed)])
    store.set_downloads([])  # nothing to write: no transaction at all
    assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    after, changed = store.changed_since(mark)
    assert after == mark + 1  # one transaction for both
    assert {t.id: t.download for t in changed} == {"video_1": pending, "video_2": failed}
    got = store.get("kyy", "video_3")
    assert got is not None and got.download == Download()


def test_a_bulk_read_shares_equal_values_and_stays_exact(store: Store) -> None:
    """Tasks read together share their equal values (one object, not 100,000 copies: the
    dashboard's memory) and still equal what each task reads alone, field by field."""
    ids = [f"video_{i}" for i in range(40)]
    store.add_tasks("kyy", ids, batch="spring", now=T0)
    for i, task_id in enumerate(ids):
        failed = i % 4 == 3
        store.save(
            Task(
                "kyy",
                task_id,
                batch="spring",
                state=State.FAILED if failed else State.SUCCEEDED,
                upstream_status="FAILURE" if failed else "SUCCESS",
                model="doubao-seedance-2-0-260128",
                created_at=T0 + timedelta(seconds=i % 3),
                finished_at=T0 + timedelta(minutes=3, microseconds=i),  # never repeats
                duration=5.0,
                resolution="720p",
                tokens=Tokens(108900, 108900, None) if i % 2 else Tokens(),
                failure=Failure("Sensitive", "real people") if failed else None,
                polls=3,
                last_polled_at=T0 + timedelta(minutes=4),
            )
        )
    store.set_download("kyy", "video_0", Download(error="disk gone"))
    tasks = store.query()
    assert tasks == [store.get("kyy", task_id, with_raw=False) for task_id in ids]
    first, second = tasks[1], tasks[13]
    for name in ("provider", "batch", "upstream_status", "model", "added_at", "duration"):
        assert getattr(first, name) is getattr(second, name), name
    assert first.created_at is second.created_at  # same second: one datetime
    assert first.tokens is second.tokens and tasks[0].tokens is tasks[2].tokens
    assert tasks[3].failure is tasks[7].failure
    assert first.finished_at != second.finished_at
    assert tasks[0].download == Download(error="disk gone")


def test_a_bulk_read_is_exact_however_small_its_caches(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shared-value caches are emptied when they grow; what is read does not change."""
    from tui.core import store_rows

    ids = [f"video_{i}" for i in range(30)]
    store.add_tasks("kyy", ids, batch=None, now=T0)
    for i, task_id in enumerate(ids):
        store.save(
            full_task("kyy", task_id).evolve(
                model=f"model-{i % 7}",
                created_at=T0 + timedelta(seconds=i),
                tokens=Tokens(i, i % 5, None),
                failure=Failure(f"Code{i % 4}", f"message {i}"),
                duration=float(i % 3),
            )
        )
    expected = [store.get("kyy", task_id) for task_id in ids]
    monkeypatch.setattr(store_rows.TaskReader, "LIMIT", 2)
    assert store.query(with_raw=True) == expected
    assert store.changed_since(0, with_raw=True)[1] == expected


def test_counts(store: Store) -> None:
    _filter_fixture(store)
    counts = store.counts()
    assert set(counts) == set(State)
    assert counts[State.QUEUED] == 3 and counts[State.RUNNING] == 1
    assert counts[State.SUCCEEDED] == 1 and counts[State.FAILED] == 1
    assert counts[State.MISSING] == 0 and sum(counts.values()) == 6
    spring = store.counts(TaskFilter(batch="spring"))
    assert spring[State.QUEUED] == 1 and sum(spring.values()) == 3
    live = store.counts(TaskFilter(states=frozenset({State.QUEUED}), provider="anyfast"))
    assert sum(live.values()) == live[State.QUEUED] == 2


def test_providers_and_batches(store: Store) -> None:
    assert store.providers() == [] and store.batches() == []
    _filter_fixture(store)
    assert store.providers() == ["anyfast", "kyy"]
    assert store.batches() == ["spring", "summer"]


def test_remove(store: Store, db: Path) -> None:
    _filter_fixture(store)
    store.save(
        Task("kyy", "video_1", batch="spring", raw={"b": 1}), [Event("poll", "kyy", "video_1")]
    )
    assert store.remove("kyy", ["video_1", "video_404"]) == 1
    assert store.get("kyy", "video_1") is None
    assert store.get("anyfast", "video_1") is not None  # another provider's task with that id
    assert other_connection(db).execute("SELECT COUNT(*) FROM snapshots").fetchone()[0] == 0
    assert [e.kind for e in store.history("kyy", "video_1")] == ["poll"]  # the log stays
    assert store.remove(None, ["video_1", "task_1"]) == 2  # any provider
    assert store.remove(None, []) == 0
    assert sorted(t.id for t in store.query()) == ["task_2", "video_2", "video_3"]
    assert store.add_tasks("kyy", ["video_1"], batch=None, now=T0) == AddResult(1, 0)


# --- saving: what is written, and what is refused ------------------------------------------------


def test_a_terminal_state_never_moves(store: Store) -> None:
    store.add_tasks("kyy", ["video_1"], batch=None, now=T0)
    done = Task("kyy", "video_1", state=State.SUCCEEDED, video_url="https://v/1", raw={"s": 1})
    store.save(done, [state_event(done, State.RUNNING, State.SUCCEEDED)])
    stale = done.evolve(state=State.RUNNING, polls=9, raw={"s": "late"})
    store.save(stale, [state_event(stale, State.SUCCEEDED, State.RUNNING)])
    got = store.get("kyy", "video_1")
    assert got is not None and got.state is State.SUCCEEDED
    assert got.polls == 0 and got.raw == {"s": 1}  # the refused save wrote nothing
    assert [e.data["to"] for e in store.history("kyy", "video_1")] == ["succeeded"]
    assert len(store.snapshots("kyy", "video_1")) == 1
    # the same terminal state may still be refreshed (the fresh-URL re-poll)
    store.save(done.evolve(video_url="https://v/fresh", raw={"s": 2}, polls=2))
    got = store.get("kyy", "video_1")
    assert got is not None and got.video_url == "https://v/fresh" and got.polls == 2
    for terminal in TERMINAL_STATES:
        for other in set(State) - {terminal}:
            store.add_tasks("kyy", [f"video_{terminal}"], batch=None, now=T0)
            store.save(Task("kyy", f"video_{terminal}", state=terminal))
            store.save(Task("kyy", f"video_{terminal}", state=other))
            assert store.get("kyy", f"video_{terminal}").state is terminal  # type: ignore[union-attr]


def test_the_terminal_guard_holds_for_any_writer(store: Store, db: Path) -> None:
    """Even SQL that bypasses Store cannot move a finished task (the trigger)."""
    store.add_tasks("kyy", ["video_1", "video_2"], batch=None, now=T0)
    store.save(Task("kyy", "video_1", state=State.FAILED))
    store.save(Task("kyy", "video_2", state=State.RUNNING))
    con = other_connection(db)
    con.execute("UPDATE tasks SET state = 'queued', polls = 5")
    rows = dict(con.execute("SELECT id, state FROM tasks").fetchall())
    assert rows == {"video_1": "failed", "video_2": "queued"}
    assert store.get("kyy", "video_1").polls == 0  # type: ignore[union-attr]
    assert set(V1_TERMINAL_STATES) == {str(s) for s in TERMINAL_STATES}


def test_save_many_is_per_item_on_refusal(store: Store) -> None:
    store.add_tasks("kyy", ["video_1", "video_2"], batch=None, now=T0)
    store.save(Task("kyy", "video_1", state=State.CANCELLED))
    a = Task("kyy", "video_1", state=State.RUNNING, raw={"a": 1})
    b = Task("kyy", "video_2", state=State.RUNNING, raw={"b": 1})
    store.save_many(
        [(a, [state_event(a, State.QUEUED, State.RUNNING)]), (b, [Event("poll", "kyy", "video_2")])]
    )
    assert store.get("kyy", "video_1").state is State.CANCELLED  # type: ignore[union-attr]
    assert store.get("kyy", "video_2").state is State.RUNNING  # type: ignore[union-attr]
    assert store.history("kyy", "video_1") == []
    assert [e.kind for e in store.history("kyy", "video_2")] == ["poll"]


def test_save_never_brings_back_a_removed_task(store: Store) -> None:
    store.add_tasks("kyy", ["video_1"], batch=None, now=T0)
    task = store.get("kyy", "video_1")
    assert task is not None
    store.remove("kyy", ["video_1"])
    store.save(task.evolve(state=State.RUNNING, raw={"x": 1}), [Event("poll", "kyy", "video_1")])
    assert store.get("kyy", "video_1") is None and store.history("kyy", "video_1") == []


def test_snapshots_only_when_the_body_changes(store: Store, db: Path) -> None:
    store.add_tasks("kyy", ["video_1", "video_2"], batch=None, now=T0)
    task = Task("kyy", "video_1", state=State.RUNNING)
    bodies = [{"p": 10}, {"p": 10}, {"p": 10}, {"p": 50}, {"p": 50}, {"p": 10}]
    for i, body in enumerate(bodies):
        task = task.evolve(polls=i + 1, last_polled_at=T0 + timedelta(seconds=30 * i), raw=body)
        store.save(task)
    stored = store.snapshots("kyy", "video_1")
    assert [body for _, body in stored] == [{"p": 10}, {"p": 50}, {"p": 10}]
    assert [ts for ts, _ in stored] == [T0, T0 + timedelta(seconds=90), T0 + timedelta(seconds=150)]
    con = other_connection(db)
    assert con.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0] == 3
    # raw=None (a task read without raw) keeps the current body and stores nothing
    store.save(task.evolve(raw=None, polls=99))
    got = store.get("kyy", "video_1")
    assert got is not None and got.raw == {"p": 10} and got.polls == 99
    assert con.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0] == 3
    assert store.snapshots("kyy", "video_2") == [] and store.get("kyy", "video_2").raw is None  # type: ignore[union-attr]


def test_save_leaves_the_download_to_set_download(store: Store) -> None:
    store.add_tasks("kyy", ["video_1"], batch=None, now=T0)
    store.save(Task("kyy", "video_1", state=State.SUCCEEDED))
    done = Download(DownloadState.DONE, "/v/video_1.mp4", 2048, None)
    store.set_download("kyy", "video_1", done)
    stale = Task("kyy", "video_1", state=State.SUCCEEDED, video_url="https://fresh")
    store.save(stale)  # a poll's copy with the default Download()
    got = store.get("kyy", "video_1")
    assert got is not None and got.download == done and got.video_url == "https://fresh"
    store.set_download("kyy", "video_404", done)  # unknown task: nothing happens
    assert store.get("kyy", "video_404") is None


def test_synchronous_is_chosen_per_transaction(store: Store) -> None:
    """FULL for state changes, adds and removals; NORMAL for routine polls.
    (Read back from the store's own connection: the level is a per-connection setting.)"""

    def level() -> int:
        return store._conn.execute("PRAGMA synchronous").fetchone()[0]

    full, normal = 2, 1
    store.add_tasks("kyy", ["video_1", "video_2"], batch=None, now=T0)
    assert level() == full
    task = Task("kyy", "video_1", state=State.QUEUED)
    store.save(task.evolve(polls=1, raw={"p": 1}))
    assert level() == normal
    running = task.evolve(state=State.RUNNING)
    store.save(running, [state_event(running, State.QUEUED, State.RUNNING)])
    assert level() == full
    store.save(running.evolve(polls=2), [Event("poll", "kyy", "video_1")])
    assert level() == normal
    store.save(running.evolve(state=State.SUCCEEDED))  # terminal even without its event
    assert level() == full
    store.append_events([Event("notice", data={"message": "x"})])
    assert level() == normal
    store.remove("kyy", ["video_2"])
    assert level() == full


# --- events -------------------------------------------------------------------------------------


def test_events_round_trip_and_follow(store: Store) -> None:
    assert store.last_event_id() == 0 and store.events_after(0) == []
    store.add_tasks("kyy", ["video_1", "video_2"], batch=None, now=T0)
    e1 = Event("added", "kyy", "video_1", {"batch": None}, ts=T0)
    e2 = Event(
        "http_error",
        "kyy",
        None,
        {"status": 429, "retry_after": 12.0, "message": "slow down 请"},
        ts=T0 + timedelta(microseconds=1),
    )
    e3 = Event("summary", None, None, {"counts": {"succeeded": 40}}, ts=T0 + timedelta(hours=1))
    store.append_events([e1, e2, e3])
    task = Task("kyy", "video_1", state=State.FAILED, failure=Failure("X", "y"))
    e4 = state_event(task, State.RUNNING, State.FAILED)
    e4 = dataclasses.replace(e4, data={**e4.data, "failure": {"code": "X", "message": "y"}})
    store.save(task, [e4])
    store.append_events([Event("notice", "kyy", "video_2", {"message": "other task"})])

    pairs = store.events_after(0)
    assert [e for _, e in pairs][:4] == [e1, e2, e3, e4]
    ids = [i for i, _ in pairs]
    assert ids == sorted(ids) and len(set(ids)) == 5 and store.last_event_id() == ids[-1]
    assert [e for _, e in store.events_after(ids[1], limit=2)] == [e3, e4]
    assert store.events_after(ids[-1]) == []
    assert store.history("kyy", "video_1") == [e1, e4]
    assert store.history("kyy", "video_1")[1].to_json()["failure"] == {"code": "X", "message": "y"}
    store.append_events([])
    assert store.last_event_id() == ids[-1]


# --- viewers: another Store on the same file ----------------------------------------------------


def test_changed_since_follows_every_kind_of_change(store: Store) -> None:
    high, tasks = store.changed_since(0)
    assert (high, tasks) == (0, [])
    store.add_tasks("kyy", ["video_1", "video_2", "video_3"], batch=None, now=T0)
    high, tasks = store.changed_since(0)
    assert [t.id for t in tasks] == ["video_1", "video_2", "video_3"] and high > 0
    assert store.changed_since(high) == (high, [])

    store.save(Task("kyy", "video_2", state=State.RUNNING, raw={"r": 1}))
    high2, tasks = store.changed_since(high)
    assert high2 > high and [(t.id, t.state, t.raw) for t in tasks] == [
        ("video_2", State.RUNNING, None)
    ]
    assert store.changed_since(high, with_raw=True)[1][0].raw == {"r": 1}

    store.set_download("kyy", "video_3", Download(DownloadState.RUNNING))
    high3, tasks = store.changed_since(high2)
    assert [t.id for t in tasks] == ["video_3"]
    assert tasks[0].download.state is DownloadState.RUNNING

    store.remove("kyy", ["video_1"])
    high4, tasks = store.changed_since(high3)
    assert high4 > high3 and tasks == []
    # a mark from another file (larger than ours) starts over
    assert [t.id for t in store.changed_since(high4 + 1000)[1]] == ["video_2", "video_3"]


def test_two_stores_on_one_file_see_each_others_commits(db: Path) -> None:
    with Store.open(db) as writer, Store.open(db) as viewer:
        writer.add_tasks("kyy", ["video_1", "video_2"], batch="b", now=T0)
        high, tasks = viewer.changed_since(0)
        assert [t.id for t in tasks] == ["video_1", "video_2"]
        writer.save(Task("kyy", "video_1", batch="b", state=State.SUCCEEDED, raw={"ok": 1}))
        high2, tasks = viewer.changed_since(high)
        assert [(t.id, t.state) for t in tasks] == [("video_1", State.SUCCEEDED)]
        assert viewer.get("kyy", "video_1").raw == {"ok": 1}  # type: ignore[union-attr]
        viewer.append_events([Event("notice", data={"message": "from the viewer"})])
        assert [e.data["message"] for _, e in writer.events_after(0)] == ["from the viewer"]
        assert viewer.changed_since(high2) == (high2, [])


def test_a_reader_is_not_blocked_by_an_open_write(store: Store, db: Path) -> None:
    """WAL: while another process holds a write transaction, reads go on and see the last
    commit only."""
    store.add_tasks("kyy", ["video_1"], batch=None, now=T0)
    con = other_connection(db)
    con.execute("BEGIN IMMEDIATE")
    con.execute("UPDATE tasks SET polls = 42")
    try:
        with Store.open(db) as reader:
            assert reader.get("kyy", "video_1").polls == 0  # type: ignore[union-attr]
            assert sum(reader.counts().values()) == 1
    finally:
        con.execute("COMMIT")
    assert store.get("kyy", "video_1").polls == 42  # type: ignore[union-attr]


def test_a_thread_reads_through_its_own_store(store: Store, db: Path) -> None:
    store.add_tasks("kyy", [f"video_{i}" for i in range(100)], batch=None, now=T0)
    seen: list[int] = []
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            with Store.open(db) as mine:
                for _ in range(20):
                    seen.append(len(mine.query()))
        except BaseException as exc:  # reported to the main thread below
            failures.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    for i in range(20):
        store.save(Task("kyy", f"video_{i}", state=State.RUNNING))
    thread.join(timeout=30)
    assert not failures and seen == [100] * 20


# --- a full disk --------------------------------------------------------------------------------


def test_a_full_disk_is_a_clear_error_and_nothing_half_written(store: Store, db: Path) -> None:
    store.add_tasks("kyy", ["video_0"], batch=None, now=T0)
    high, _ = store.changed_since(0)
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages + 3}")  # a tiny "disk" for this test

    with pytest.raises(StoreError) as err:
        store.add_tasks("kyy", [f"video_{i:06d}_padding_padding" for i in range(1, 5000)],
                        batch="big", now=T0)  # fmt: skip
    assert str(db) in str(err.value) and "full" in str(err.value)
    assert [t.id for t in store.query()] == ["video_0"]

    store.add_tasks("kyy", ["video_1", "video_2"], batch=None, now=T0)
    high = store.changed_since(0)[0]
    events = store.last_event_id()
    big = {"blob": "x" * 20000}
    items = [
        (Task("kyy", f"video_{i}", state=State.RUNNING, raw={**big, "i": i}), [Event("poll")])
        for i in range(3)
    ]
    with pytest.raises(StoreError, match="full"):
        store.save_many(items)
    assert all(t.state is State.QUEUED and t.raw is None for t in store.query(with_raw=True))
    assert store.changed_since(high) == (high, []) and store.last_event_id() == events

    store._conn.execute("PRAGMA max_page_count = 1073741823")  # space again: all works
    store.save_many(items)
    assert [t.state for t in store.query()] == [State.RUNNING] * 3


def test_query_json_is_to_json_of_query(store: Store, db: Path) -> None:
    """The fast export path makes exactly the contract's objects, key order included."""
    store.add_tasks("kyy", ["video_lean"], batch=None, now=T0)
    full = add_by_request(store, full_task("anyfast", "asyntask_full"))
    store.add_tasks("anyfast", ["task_odd", "task_whole"], batch="b", now=T0)
    store.save(full)
    store.set_download(full.provider, full.id, full.download)
    store.save(
        Task(
            "anyfast",
            "task_whole",
            duration=5.0,
            generate_audio=True,
            created_at=datetime(2026, 1, 2, 3, 4, 5, 999999),  # naive, microseconds
            failure=Failure(),
            raw="<html>",
        )
    )
    store.set_download("anyfast", "task_whole", Download(error="disk gone"))
    # values another (newer) version might have written
    con = other_connection(db)
    con.execute("UPDATE tasks SET state = 'paused', download_state = 'new' WHERE id = 'task_odd'")

    for flt in (None, TaskFilter(provider="anyfast"), TaskFilter(ids=frozenset())):
        for with_raw in (True, False):
            expected = [t.to_json() for t in store.query(flt, with_raw=with_raw)]
            got = store.query_json(flt, with_raw=with_raw)
            assert json.dumps(got) == json.dumps(expected)
    objects = {o["id"]: o for o in store.query_json()}
    assert objects["task_odd"]["state"] == "unknown"
    assert objects["task_odd"]["download"]["state"] == "none"
    assert objects["task_whole"]["duration"] == 5 and objects["task_whole"]["raw"] == "<html>"
    assert objects[full.id] == full.to_json()


def test_iter_json_streams_the_same_objects(store: Store) -> None:
    ids = [f"asyntask_{i}" for i in range(7)]
    store.add_tasks("anyfast", ids, batch="b", now=T0)
    store.add_tasks("kyy", ["video_1"], batch=None, now=T0)
    add_by_request(store, Task("kyy", "video_2"))
    for i, task_id in enumerate(ids[:5]):
        raw: Any = {"i": i, "msg": "视频 \ud800", "n": [1.5, None]} if i != 3 else "<html>"
        store.save(dataclasses.replace(full_task("anyfast", task_id), raw=raw))
    for flt in (None, TaskFilter(provider="anyfast"), TaskFilter(states=frozenset())):
        for with_raw in (True, False):
            expected = [t.to_json() for t in store.query(flt, with_raw=with_raw)]
            for chunk in (0, 1, 3, 7, 1000):
                lines = list(store.iter_json(flt, with_raw=with_raw, chunk=chunk))
                assert all("\n" not in line for line in lines)
                assert [json.loads(line) for line in lines] == expected
    assert len(list(store.iter_json())) == 9
