"""Honest messages for the store, through the real CLI on real faults: a full disk, another
program's file, a store with damaged pages, a store on a disk nobody may write."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from faults import damage, fill, make_read_only

from tui.cli import main
from tui.core.model import Event, State, Task
from tui.core.store import Store, StoreError

NOW = datetime(2026, 12, 1, tzinfo=UTC)

# Every command that opens the store, and whether it must write to it.
WRITING = (
    ["add", "--provider", "kyy", "video_new_one"],
    ["remove", "video_00000001"],
    ["watch", "--timeout", "5"],
    ["download"],
)
READING = (["status"], ["status", "--json"], ["export", "--format", "jsonl"])


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config with one provider (nothing is ever sent: every command stops at the store)."""
    config = tmp_path / "config.toml"
    config.write_text(
        '[providers.kyy]\nkind = "kyy"\nbase_url = "https://kyy.invalid"\n'
        'api_key_env = "FAULTS_TEST_KEY"\n\n'
        f'[download]\ndir = "{tmp_path / "videos"}"\n'
    )
    monkeypatch.setenv("SEEDANCE_TUI_CONFIG", str(config))
    monkeypatch.setenv("FAULTS_TEST_KEY", "sk-faults-test")
    return tmp_path


def run(db: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["--db", str(db), *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def seed(db: Path, count: int, *, bodies: bool = False) -> None:
    """`count` tasks as polling leaves them (with a 1 KB upstream body each when `bodies`)."""
    ids = [f"video_{i:08d}" for i in range(count)]
    with Store.open(db) as store:
        store.add_tasks("kyy", ids, batch="b", now=NOW)
        if bodies:
            for lo in range(0, count, 1000):
                store.save_many(
                    [
                        (
                            Task(
                                "kyy",
                                task_id,
                                state=State.RUNNING,
                                raw={"id": task_id, "pad": "x" * 1000},
                            ),
                            [Event("state", "kyy", task_id, {"from": "queued", "to": "running"})],
                        )
                        for task_id in ids[lo : lo + 1000]
                    ]
                )


def fingerprint(path: Path) -> tuple[bytes, int, str]:
    """The file's header, mtime and whole content: 'not a byte written' is all three equal."""
    data = path.read_bytes()
    return data[:100], path.stat().st_mtime_ns, hashlib.sha256(data).hexdigest()


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


# --- a full disk --------------------------------------------------------------------------------


def test_a_full_disk_is_no_space_left_when_no_shm_can_be_made(
    env: Path, small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The store was closed before the disk filled: SQLite says SQLITE_IOERR_SHMSIZE."""
    db = small_disk / "tasks.db"
    seed(db, 3)
    filler = fill(small_disk)
    for argv in WRITING:
        code, _, err = run(db, argv, capsys)
        assert code == 2, argv
        assert f"no space left on the disk of the store {db}" in err, (argv, err)
        assert "disk I/O error" not in err

    code, out, _ = run(db, ["status"], capsys)  # reading needs no space
    assert code == 0 and "video_00000002" in out

    filler.unlink()
    assert run(db, ["add", "--provider", "kyy", "video_later"], capsys)[0] == 0
    with Store.open(db) as store:
        assert len(store.query()) == 4


def test_a_disk_that_fills_during_a_write_is_no_space_left(
    env: Path, small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The store is open elsewhere (its -shm exists), the write itself hits the full disk."""
    db = small_disk / "tasks.db"
    seed(db, 3)
    with Store.open(db) as other:  # keeps -wal and -shm in place
        other.query()
        fill(small_disk)
        ids = [f"video_{i:08d}_with_a_long_suffix_to_fill_pages" for i in range(5000)]
        code, _, err = run(db, ["add", "--provider", "kyy", *ids], capsys)
        assert code == 2 and f"no space left on the disk of the store {db}" in err
        assert len(other.query()) == 3  # nothing half written


# --- another program's file ---------------------------------------------------------------------


def photos_db(path: Path) -> Path:
    """Another application's SQLite file, in rollback-journal mode, its schema at version 3."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, taken TEXT, file TEXT)")
        conn.execute("CREATE TABLE albums (id INTEGER PRIMARY KEY, name TEXT)")
        conn.executemany(
            "INSERT INTO photos (taken, file) VALUES (?, ?)",
            [(f"2026-0{i % 9 + 1}-01", f"IMG_{i:04d}.jpg") for i in range(500)],
        )
        conn.execute("PRAGMA user_version = 3")
    conn.close()
    return path


def photos_db_in_wal(path: Path) -> Path:
    """The same in WAL mode, closed (no -wal): even a read must not leave a -shm beside it."""
    photos_db(path)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    return path


def not_sqlite(path: Path) -> Path:
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    return path


@pytest.mark.parametrize(
    "make", [photos_db, photos_db_in_wal, not_sqlite], ids=["photos.db", "in WAL", "a png"]
)
def test_another_programs_file_is_refused_without_a_byte_written(
    env: Path, capsys: pytest.CaptureFixture[str], make
) -> None:
    db = make(env / "photos.db")
    before = fingerprint(db)
    os.utime(db, ns=(before[1] - 10**9, before[1] - 10**9))  # an mtime a write would move
    before = fingerprint(db)
    listing = sorted(os.listdir(env))
    for argv in (*WRITING, *READING):
        code, _, err = run(db, argv, capsys)
        assert code == 2, argv
        assert f"{db} is not a seedance-tui store" in one_line(err), (argv, err)
        assert fingerprint(db) == before, argv
        assert sorted(os.listdir(env)) == listing, argv  # no -wal, -shm or lock beside it

    from tui.app.build import run_dashboard  # the dashboard opens the store the same way
    from tui.core.config import load_config

    with pytest.raises(StoreError, match="not a seedance-tui store"):
        run_dashboard(db, load_config(env / "config.toml"))
    assert fingerprint(db) == before and sorted(os.listdir(env)) == listing


def test_a_photos_db_at_schema_version_1_is_not_upgraded_into_a_store(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Many programs keep their own schema number in `user_version`: 1 is not our v1."""
    db = photos_db(env / "photos.db")
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 1")
    conn.close()
    before = fingerprint(db)
    code, _, err = run(db, ["add", "--provider", "kyy", "video_1"], capsys)
    assert code == 2 and "albums, photos" in err and fingerprint(db) == before


# --- a damaged store ----------------------------------------------------------------------------


@pytest.fixture
def damaged_db(env: Path) -> Iterator[Path]:
    db = env / "tasks.db"
    seed(db, 3000, bodies=True)
    damage(db)
    yield db


def test_a_damaged_store_is_refused_by_every_command_with_one_message(
    damaged_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = fingerprint(damaged_db)
    messages = set()
    for argv in (*WRITING, *READING):
        code, out, err = run(damaged_db, argv, capsys)
        assert code == 2, (argv, out, err)
        messages.add(one_line(err))
        assert fingerprint(damaged_db)[2] == before[2], argv  # not a byte written
    assert messages == {
        f"seedance-tui: the store {damaged_db} is damaged (SQLite found unreadable pages), so "
        f"nothing is written to it: restore a backup, or save what is readable with "
        f"`sqlite3 {damaged_db} .recover`, or start a new store with --db PATH"
    }


def test_damage_a_read_found_makes_every_later_command_refuse(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Damage inside a row (no page is malformed, so the check at open passes) is found by the
    first command that reads that row; from then on, `add` refuses too, until a backup is
    back in place."""
    db = env / "tasks.db"
    seed(db, 50, bodies=True)
    backup = db.read_bytes()
    data = bytearray(backup)
    # One stored body's record header (size 6: seq, task_pk, ts, body's 2-byte length) before
    # its values (task_pk in 1 byte, ts in 32): the body's length grows past the row's end.
    body = data.index(b'{"id":"video_00000020"')
    header = body - 32 - 1 - 6
    assert data[header] == 6 and data[header + 3] == 13 + 2 * 32
    data[header + 4] = 0x9F
    db.write_bytes(bytes(data))

    assert run(db, ["add", "--provider", "kyy", "video_before"], capsys)[0] == 0  # not seen yet
    code, _, err = run(db, ["export", "--format", "jsonl"], capsys)
    assert code == 2 and "is damaged" in err
    code, _, err_add = run(db, ["add", "--provider", "kyy", "video_after"], capsys)
    assert code == 2 and err_add == err
    assert run(db, ["status"], capsys)[2] == err

    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.write_bytes(backup)  # a backup restored: every command works again
    assert run(db, ["add", "--provider", "kyy", "video_after"], capsys)[0] == 0
    assert run(db, ["status"], capsys)[0] == 0


# --- a store nobody may write -------------------------------------------------------------------


def test_a_store_on_a_read_only_disk_reads_and_refuses_writes_clearly(
    env: Path, small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = small_disk / "tasks.db"
    seed(db, 3)
    make_read_only(small_disk)

    code, out, _ = run(db, ["status"], capsys)
    assert code == 0 and "video_00000002" in out
    code, out, _ = run(db, ["export", "--format", "jsonl"], capsys)
    assert code == 0 and len(out.splitlines()) == 3
    target = env / "out.csv"
    assert run(db, ["export", "-o", str(target)], capsys)[0] == 0
    assert "video_00000001" in target.read_text()

    for argv in WRITING:
        code, _, err = run(db, argv, capsys)
        assert code == 2, argv
        assert f"the store {db} is read-only" in err, (argv, err)
        assert "read-only filesystem" in err and "--db PATH" in err


def test_an_immutable_store_file_reads_and_refuses_writes_clearly(
    env: Path, small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The file may not be written (as 0444 is for a user; root needs chattr +i), its folder
    may: SQLite would open it read-only without a word, and fail at the first write."""
    db = small_disk / "tasks.db"
    seed(db, 3)
    subprocess.run(["chattr", "+i", str(db)], check=True)
    try:
        code, out, _ = run(db, ["status"], capsys)
        assert code == 0 and "video_00000002" in out
        assert run(db, ["export", "--format", "csv"], capsys)[0] == 0
        for argv in WRITING:
            code, _, err = run(db, argv, capsys)
            assert code == 2 and f"the store {db} is read-only" in err, (argv, err)
            assert "may not write the file" in err
    finally:
        subprocess.run(["chattr", "-i", str(db)], check=True)


def test_any_io_error_on_a_full_disk_reads_no_space_left(small_disk: Path) -> None:
    """SQLITE_IOERR_WRITE with ENOSPC (a short write) cannot be made on demand: the message
    for it is checked against the real disk, full and then not."""
    from tui.core.store_errors import explain

    db = small_disk / "tasks.db"
    error = sqlite3.OperationalError("disk I/O error")
    error.sqlite_errorname = "SQLITE_IOERR_WRITE"
    filler = fill(small_disk)
    assert explain(db, error).startswith(f"no space left on the disk of the store {db}")
    filler.unlink()
    assert explain(db, error) == (
        f"the store {db} could not be read or written (disk I/O error, SQLITE_IOERR_WRITE): "
        "check its disk, then try again"
    )


def test_opening_the_store_again_never_costs_the_first_connection_its_lock(tmp_path: Path) -> None:
    """A second Store on the same file in one process (the engine's writer thread does this)
    must not drop the first one's POSIX locks: if it did, another process closing its own
    connection would take itself for the last one and delete the `-wal` still being written
    here, and every commit after that would be lost in a crash."""
    import subprocess
    import sys

    db = tmp_path / "tasks.db"
    with Store.open(db) as first:
        first.add_tasks("kyy", ["video_1"], batch=None, now=datetime.now(UTC))
        Store.open(db).close()  # reads the header while `first` holds its lock
        other = (
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
            "c.execute('select count(*) from tasks').fetchall(); c.close()"
        )
        subprocess.run([sys.executable, "-c", other, str(db)], check=True)
        assert db.with_name("tasks.db-wal").exists()  # still ours: nobody checkpointed it away
        first.add_tasks("kyy", ["video_2"], batch=None, now=datetime.now(UTC))
