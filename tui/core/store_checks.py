"""The checks `Store.open` makes before it writes a byte: is this file a seedance-tui store at
all, is it damaged, may we write to it.

Why before: switching a file to WAL rewrites its header, so another program's SQLite file (a
`photos.db`) must be recognised and refused on a read-only connection first. A damaged store
must be refused by every command alike, not only by those whose reads happen to hit the bad
page: a cheap walk of every b-tree runs at each open (every page header and cell checked, no
row decoded; once per process for an unchanged file). The full check (`PRAGMA quick_check`
and every row read, over a second at 100,000 tasks) runs only once SQLite has reported damage,
remembered in a `-damaged` file next to the store until a full check passes (a backup back).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from tui.core.atomic import write_text_atomic
from tui.core.store_errors import StoreError, damaged, explain, is_damage, not_a_store, read_only
from tui.core.store_schema import CORE_TABLES, SCHEMA_VERSION

log = logging.getLogger(__name__)

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_BYTES = 100


def wal_path(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def damage_mark(path: Path) -> Path:
    """Where an earlier process noted that SQLite reported this store damaged."""
    return path.with_name(path.name + "-damaged")


# One read-only descriptor per store file, kept open for the life of the process. Closing ANY
# descriptor of a file drops every POSIX lock this process holds on it, SQLite's included: a
# header read with open()/close() while a connection is open left that connection without its
# shared lock, so another process closing its own connection took itself for the last one and
# deleted the `-wal` still being written here (commits after that were lost on a crash).
_HEADER_FDS: dict[tuple[int, int], int] = {}
_HEADER_FDS_LOCK = threading.Lock()


def read_header(path: Path) -> bytes:
    """The file's first 100 bytes; empty when there is no file yet (or an empty one)."""
    try:
        with _HEADER_FDS_LOCK:
            stat = os.stat(path)
            identity = (stat.st_dev, stat.st_ino)
            fd = _HEADER_FDS.get(identity)
            if fd is None:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                opened = os.fstat(fd)
                identity = (opened.st_dev, opened.st_ino)
                _HEADER_FDS[identity] = fd  # never closed: see above
        return os.pread(fd, HEADER_BYTES, 0)
    except FileNotFoundError:
        return b""
    except OSError as exc:
        raise StoreError(path, f"cannot read the store {path} ({exc.strerror or exc})") from exc


def connect_read_only(path: Path, *, immutable: bool) -> sqlite3.Connection:
    """A connection that can never write the file (nor checkpoint a WAL into it on close).

    `immutable` reads the main file alone, without locks or `-shm`: for a WAL file with no
    `-wal` (nobody writes it, all of it is in the main file) on a disk where a `-shm` cannot
    be made (read-only folder, full disk), or that must not get one (another program's file).
    """
    escaped = str(path).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    uri = f"file:{escaped}?" + ("immutable=1" if immutable else "mode=ro")
    return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)


def wants_immutable(path: Path, header: bytes) -> bool:
    """A WAL file without a `-wal` that holds anything: read it as it is, and create no file
    beside it. (An empty `-wal` is what a failed open leaves behind.)"""
    is_wal = len(header) >= 20 and header[18:20] == b"\x02\x02"
    try:
        return is_wal and wal_path(path).stat().st_size == 0
    except FileNotFoundError:
        return is_wal


# Files this process found to be seedance-tui stores (device, inode). A second open of one (the
# engine's writer thread, the dashboard's workers) skips the check and its extra connection.
# (Not a lock hazard, measured: SQLite keeps the descriptor of a closed connection open while
# another connection of the process holds a lock on the file; only a descriptor opened outside
# SQLite drops the locks when closed, see `_HEADER_FDS`.)
_KNOWN_OURS: set[tuple[int, int]] = set()


def refuse_if_not_ours(path: Path, header: bytes) -> None:
    """Raise StoreError unless `path` is empty, missing, or a seedance-tui store (any version).

    Reads only, on a read-only connection: the file's bytes and mtime stay as they were.
    """
    if not header:
        return
    try:
        stat = os.stat(path)
    except OSError:
        stat = None
    identity = (stat.st_dev, stat.st_ino) if stat is not None else None
    if identity is not None and identity in _KNOWN_OURS:
        return
    _check_ours(path, header)
    if identity is not None:
        _KNOWN_OURS.add(identity)


def _check_ours(path: Path, header: bytes) -> None:
    if not header.startswith(SQLITE_MAGIC):
        raise StoreError(path, not_a_store(path, "not an SQLite database"))
    try:
        with contextlib.closing(
            connect_read_only(path, immutable=wants_immutable(path, header))
        ) as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            tables = {
                name
                for (name,) in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%'"
                )
            }
    except sqlite3.Error as exc:
        name = getattr(exc, "sqlite_errorname", "")
        if name == "SQLITE_NOTADB" or is_damage(exc):  # the header said SQLite: it is damaged
            note_damage(path)
            raise StoreError(path, damaged(path)) from exc
        raise StoreError(path, explain(path, exc)) from exc
    ours = tables >= CORE_TABLES if version else not tables
    if not ours:
        held = ", ".join(sorted(tables - CORE_TABLES) or tables)
        raise StoreError(path, not_a_store(path, f"an SQLite database that holds {held}"))
    if version > SCHEMA_VERSION:
        raise StoreError(
            path,
            f"the store {path} was written by a newer seedance-tui (schema v{version}; this "
            f"one knows up to v{SCHEMA_VERSION}): upgrade seedance-tui, or pass another --db PATH",
        )


def unwritable_reason(path: Path) -> str | None:
    """Why this process may not write the store (None: it may). Checked with access(2), which
    also says no to root on a read-only filesystem or an immutable file."""
    folder = path.parent
    try:
        on_read_only_disk = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        on_read_only_disk = False
    if on_read_only_disk:
        return f"its folder {folder} is on a read-only filesystem"
    if path.exists() and not os.access(path, os.W_OK):
        return "this process may not write the file"
    if not os.access(folder, os.W_OK):
        return f"this process may not write its folder {folder}"
    return None


# --- damage -----------------------------------------------------------------------------------


def walk_every_btree(conn: sqlite3.Connection) -> None:
    """Visit every page of every table and index: SQLite checks each page's header and cell
    layout (`cell_size_check`) as it reads it, and raises SQLITE_CORRUPT on a bad one. Rows are
    counted, not decoded: a page read per page (50-85 ms at 100,000 tasks, a 200 MB store)."""
    conn.execute("PRAGMA cell_size_check = ON")
    try:
        btrees = conn.execute(
            "SELECT type, name, tbl_name FROM sqlite_master "
            "WHERE type IN ('table', 'index') AND rootpage > 0"
        ).fetchall()
        for kind, name, table in btrees:
            quoted, quoted_table = _quote(name), _quote(table)
            if kind == "table":
                conn.execute(f"SELECT count(*) FROM {quoted} NOT INDEXED").fetchall()
                continue
            try:
                conn.execute(f"SELECT count(*) FROM {quoted_table} INDEXED BY {quoted}").fetchall()
            except sqlite3.OperationalError as exc:  # a partial index cannot serve count(*)
                if "no query solution" not in str(exc):
                    raise
                log.debug("store check: index %s skipped (%s)", name, exc)
    finally:
        conn.execute("PRAGMA cell_size_check = OFF")


def read_everything(conn: sqlite3.Connection) -> bool:
    """The full check: `quick_check` and every column of every row read (True: all readable)."""
    if conn.execute("PRAGMA quick_check").fetchall() != [("ok",)]:
        return False
    walk_every_btree(conn)
    tables = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND rootpage > 0"
    ).fetchall()
    for (table,) in tables:
        for _row in conn.execute(f"SELECT * FROM {_quote(table)}"):
            pass
    return True


# Files this process walked whole and found sound, as (device, inode, size, mtime, ctime): a
# second open of the same unchanged file (watch's writer thread, the dashboard's workers)
# skips the walk. Any write to the file moves its mtime.
_walked_sound: set[tuple[int, ...]] = set()


def _identity(path: Path) -> tuple[int, ...] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def refuse_if_damaged(path: Path, conn: sqlite3.Connection) -> None:
    """The cheap walk at every open; the full check only once SQLite has reported damage."""
    mark = damage_mark(path)
    identity = _identity(path)
    try:
        if mark.exists():
            if not read_everything(conn):
                raise StoreError(path, damaged(path))
            log.info("store %s: reported damaged before, reads whole now", path)
            try:
                mark.unlink()
            except OSError as exc:  # gone already, or a read-only folder: checked again next time
                log.debug("store %s: damage note kept: %s", path, exc)
            return
        if identity is not None and identity in _walked_sound:
            return
        walk_every_btree(conn)
        if identity is not None:
            _walked_sound.add(identity)
    except sqlite3.Error as exc:
        if not is_damage(exc):
            raise StoreError(path, explain(path, exc)) from exc
        note_damage(path)
        raise StoreError(path, damaged(path)) from exc


def note_damage(path: Path) -> None:
    """Remember that SQLite reported this store damaged, so that the next open of any command
    makes the full check (best effort: a read-only folder cannot keep the note)."""
    try:
        write_text_atomic(damage_mark(path), f"SQLite reported {path} damaged\n")
    except OSError as exc:
        # Not a warning on stderr: the user reads that the store is damaged already.
        log.info("store %s is damaged; could not note it in %s: %s", path, path.parent, exc)


@contextlib.contextmanager
def noting_damage(path: Path) -> Iterator[None]:
    """Any SQLITE_CORRUPT inside the block is remembered (see `note_damage`)."""
    try:
        yield
    except sqlite3.Error as exc:
        if is_damage(exc):
            note_damage(path)
        raise


def refuse_writes_if_read_only(path: Path) -> None:
    why = unwritable_reason(path)
    if why is not None:
        raise StoreError(path, read_only(path, why))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
