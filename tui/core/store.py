"""The task store: one SQLite file that outlives every process and is the dashboard's truth.

Why SQLite (stdlib `sqlite3`, WAL mode): a batch of 100,000 tasks must survive a crash, a
`kill -9` or a dropped SSH session, and a second process (the dashboard in viewer mode, a
`status` from another shell) must be able to read while the poller writes. WAL gives exactly
that: one writer, any number of readers, each reader seeing whole transactions only.

Durability is chosen per transaction: anything that adds, removes or finishes a task is
committed with `synchronous=FULL` (survives power loss), routine poll updates with `NORMAL`
(survives a crash of this process; cheap). A stored terminal state is final: an SQL trigger
skips any update that would move it, whoever writes.

One `Store` per thread. The object is not locked; the engine uses it from its asyncio loop.
It is opened with `check_same_thread=False` only so that a thread worker may *own* a second
`Store` on the same file (its own connection), never to share this one between threads.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tui.core.model import TERMINAL_STATES, Download, Event, State, Task
from tui.core.store_checks import (
    connect_read_only,
    noting_damage,
    read_header,
    refuse_if_damaged,
    refuse_if_not_ours,
    refuse_writes_if_read_only,
    unwritable_reason,
    wants_immutable,
)
from tui.core.store_errors import BUSY_TIMEOUT, StoreError, disk_is_full, explain
from tui.core.store_rows import (
    dt_out,
    dump,
    event_from_row,
    event_params,
    gc_paused,
    json_from_row,
    save_params,
    state_of,
    task_from_row,
    tasks_from_cursor,
)
from tui.core.store_schema import SCHEMA_VERSION, migrate, user_version
from tui.core.store_sql import (
    SELECT_JSON,
    SELECT_JSON_NO_RAW,
    SELECT_NO_RAW,
    SELECT_WITH_RAW,
    UPDATE_SQL,
    TaskFilter,
    where_sql,
)

__all__ = [
    "BUSY_TIMEOUT",
    "CACHE_KIB",
    "WAL_LIMIT_BYTES",
    "AddResult",
    "Store",
    "StoreError",
    "TaskFilter",
]

log = logging.getLogger(__name__)

# SQLite's page cache per connection (KiB). The default 2 MiB is small for 100,000 tasks; 8 MiB
# holds the tasks' indexes' hot pages (bench_store: no slower than 32 MiB), and a connection that
# reads every row (the engine's start, a full load) keeps all of it resident for good: 32 MiB
# was 24 MB more of the dashboard's memory.
CACHE_KIB = 8 * 1024
WAL_LIMIT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class AddResult:
    added: int
    skipped: int  # already tracked (or repeated in the same call)


class Store:
    """Tasks, their upstream bodies and the event log in one SQLite file. See the module doc."""

    def __init__(
        self, conn: sqlite3.Connection, path: Path, *, busy_timeout: float = BUSY_TIMEOUT
    ) -> None:
        """Use `Store.open`; this only wraps an open connection."""
        self._conn = conn
        self.path = path
        self._busy_timeout = busy_timeout
        self._sync: str | None = None

    # --- opening and closing ------------------------------------------------------------------

    @classmethod
    def open(
        cls, path: Path | str, *, writable: bool = True, busy_timeout: float = BUSY_TIMEOUT
    ) -> Store:
        """Open (creating parent folders and the file if needed) and bring the schema up to date.

        Raises StoreError for a path that cannot hold a store, a file that is not SQLite or
        belongs to another program, a store from a newer seedance-tui, a damaged store, and
        (when `writable`) a store this process may not write. Those are found before a byte
        of the file is written (see store_checks). `writable=False` is for commands that only
        read: a store on a read-only disk (or a full one) is still read. `busy_timeout`: how
        many seconds a statement waits for another process's lock before it fails as locked.
        """
        path = Path(path).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                path,
                f"cannot create the folder {path.parent} for the store "
                f"({exc.strerror or exc}): pass --db PATH (or set SEEDANCE_TUI_DB) "
                "to a writable place",
            ) from exc
        if path.is_dir():
            raise StoreError(path, f"{path} is a folder, not a store file: pass --db PATH/tasks.db")
        header = read_header(path)
        refuse_if_not_ours(path, header)
        if writable:
            refuse_writes_if_read_only(path)
        # Reading only, from a disk that takes no new file (read-only, or full): read it as is.
        as_is = (
            bool(header)
            and not writable
            and (unwritable_reason(path) is not None or disk_is_full(path))
        )
        try:
            if as_is and wants_immutable(path, header):  # no -shm can be made beside it
                conn = connect_read_only(path, immutable=True)
            else:
                conn = sqlite3.connect(
                    str(path),
                    timeout=busy_timeout,
                    isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                    check_same_thread=False,  # see the module doc: one Store per thread
                )
        except sqlite3.Error as exc:
            raise StoreError(path, explain(path, exc, busy_timeout=busy_timeout)) from exc
        store = cls(conn, path, busy_timeout=busy_timeout)
        try:
            if header:
                refuse_if_damaged(path, conn)
            store._prepare(switch_to_wal=not as_is)
        except BaseException:
            conn.close()
            raise
        return store

    def _prepare(self, *, switch_to_wal: bool) -> None:
        conn = self._conn
        with self.errors():
            if switch_to_wal:  # a no-op on a store already in WAL (every store since v1)
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA foreign_keys = ON")  # snapshots follow their task on remove
            conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            # After a checkpoint, cut the WAL back (a 100,000-task save leaves it huge).
            conn.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT_BYTES}")
            if user_version(conn) >= SCHEMA_VERSION:  # newer ones were refused by open()
                return
            with self.transaction(durable=True) as tx:
                # Another process may have migrated meanwhile; a file at version 0 with tables
                # was refused by open() (not ours), so an empty one is made a store here.
                migrate(tx)

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # --- transactions -------------------------------------------------------------------------

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        """sqlite3 errors become StoreError naming our file and what to do; damage is noted
        for the next open (see store_checks)."""
        try:
            with noting_damage(self.path):
                yield
        except sqlite3.Error as exc:
            raise StoreError(
                self.path, explain(self.path, exc, busy_timeout=self._busy_timeout)
            ) from exc

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection, for reads, with sqlite3 errors explained (see `errors`)."""
        with self.errors():
            yield self._conn

    @contextlib.contextmanager
    def transaction(self, *, durable: bool) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it lands, or none of it (full disk included).

        `durable` commits with synchronous=FULL (fsync of the WAL at commit), else NORMAL.
        SQLite refuses to change that level inside a transaction, so it is set before BEGIN.
        """
        conn = self._conn
        level = "FULL" if durable else "NORMAL"
        with self.errors():
            if self._sync != level:
                conn.execute(f"PRAGMA synchronous = {level}")
                self._sync = level
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # SQLite may already have rolled back (e.g. disk full)
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise

    @staticmethod
    def bump(conn: sqlite3.Connection) -> int:
        """The next change_seq, for every row this transaction touches."""
        rows = conn.execute(
            "UPDATE meta SET value = value + 1 WHERE key = 'change_seq' RETURNING value"
        ).fetchall()
        return int(rows[0][0])

    # --- tasks --------------------------------------------------------------------------------

    def add_tasks(
        self, provider: str, ids: Sequence[str], *, batch: str | None, now: datetime
    ) -> AddResult:
        """Track new tasks (state queued) in one durable transaction; known ids are skipped."""
        ids = list(ids)
        if not ids:
            return AddResult(0, 0)
        added_at = dt_out(now)
        with self.transaction(durable=True) as conn:
            seq = self.bump(conn)
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO tasks (provider, id, batch, state, added_at, change_seq) "
                "VALUES (?, ?, ?, 'queued', ?, ?)",
                [(provider, task_id, batch, added_at, seq) for task_id in ids],
            )
            added = conn.total_changes - before
        return AddResult(added, len(ids) - added)

    def get(self, provider: str, task_id: str, *, with_raw: bool = True) -> Task | None:
        sql = (SELECT_WITH_RAW if with_raw else SELECT_NO_RAW) + (
            " WHERE t.provider = ? AND t.id = ?"
        )
        with self.errors():
            row = self._conn.execute(sql, (provider, task_id)).fetchone()
        return None if row is None else task_from_row(row)

    def query(
        self, flt: TaskFilter | None = None, *, with_raw: bool = False, limit: int | None = None
    ) -> list[Task]:
        """Tasks matching `flt`, in the order they were added (the first `limit` of them). One
        statement, one snapshot of the file; `with_raw` joins each task's current body (no
        query per task)."""
        where, params = where_sql(flt)
        sql = (SELECT_WITH_RAW if with_raw else SELECT_NO_RAW) + where + " ORDER BY t.pk"
        if limit is not None:
            sql += " LIMIT ?"
            params = [*params, max(0, limit)]
        with self.errors(), gc_paused():
            return tasks_from_cursor(self._conn.execute(sql, params))

    def query_json(
        self, flt: TaskFilter | None = None, *, with_raw: bool = True
    ) -> list[dict[str, Any]]:
        """`[t.to_json() for t in query(flt, with_raw=...)]`, built straight from the rows:
        the `status --json` / `export` path, about 3x faster for 100,000 tasks."""
        where, params = where_sql(flt)
        sql = (SELECT_WITH_RAW if with_raw else SELECT_NO_RAW) + where + " ORDER BY t.pk"
        with self.errors(), gc_paused():
            return [json_from_row(row) for row in self._conn.execute(sql, params)]

    def iter_json(
        self, flt: TaskFilter | None = None, *, with_raw: bool = True, chunk: int = 2000
    ) -> Iterator[str]:
        """Each task's contract object as one line of JSON text (no newline), in added order:
        the streaming `status --json` / `export --format json|jsonl` path.

        SQLite builds each object (`task_json_sql`), so 100,000 bodies are never parsed
        into Python objects, and memory stays flat. `json.loads(line)` equals
        `task.to_json()`; whitespace and non-ASCII escapes differ from `json.dumps`.
        Rows are read `chunk` at a time by added order, so nothing is read twice; a task
        changed while the export runs appears as it was when its chunk was read.
        """
        where, params = where_sql(flt)
        sql = (
            (SELECT_JSON if with_raw else SELECT_JSON_NO_RAW)
            + (where + " AND" if where else " WHERE")
            + " t.pk > ? ORDER BY t.pk LIMIT ?"
        )
        chunk = max(1, chunk)
        last = 0
        while True:
            with self.errors():
                rows = self._conn.execute(sql, (*params, last, chunk)).fetchall()
            for _pk, line in rows:
                yield line
            if len(rows) < chunk:
                return
            last = rows[-1][0]

    def counts(self, flt: TaskFilter | None = None) -> dict[State, int]:
        """How many tasks are in each state; every State is a key (zero when none)."""
        where, params = where_sql(flt)
        with self.errors():
            rows = self._conn.execute(
                f"SELECT t.state, COUNT(*) FROM tasks t{where} GROUP BY t.state", params
            ).fetchall()
        out = dict.fromkeys(State, 0)
        for state, count in rows:
            out[state_of(state)] += count
        return out

    def save(self, task: Task, events: Sequence[Event] = ()) -> None:
        """Write what a poll learned about one task (see `save_many`)."""
        self.save_many([(task, events)])

    def save_many(self, items: Sequence[tuple[Task, Sequence[Event]]]) -> None:
        """Write tasks and their events in one transaction.

        Per task: every field except `download` (owned by `set_download`, so a poll holding an
        older copy cannot undo a finished download); `raw` becomes a new snapshot only when it
        differs from the task's last stored body, and `raw=None` keeps the stored body (a task
        read without raw can be saved back safely); `added_at=None` keeps the stored one.
        A task that is not in the store (removed meanwhile) is not brought back. A stored
        terminal state that would move to another state is refused: that item's row, body and
        events are all left out (logged), the other items are written.
        Committed with synchronous=FULL when any event is a state change or any task is
        terminal, NORMAL otherwise.
        """
        prepared = [
            (task, list(events), None if task.raw is None else dump(task.raw))
            for task, events in items
        ]
        if not prepared:
            return
        durable = any(
            task.state in TERMINAL_STATES or any(e.kind == "state" for e in events)
            for task, events, _ in prepared
        )
        with self.transaction(durable=durable) as conn:
            seq = self.bump(conn)
            for task, events, body in prepared:
                self._save_one(conn, task, events, body, seq)

    def _save_one(
        self,
        conn: sqlite3.Connection,
        task: Task,
        events: list[Event],
        body: str | None,
        seq: int,
    ) -> bool:
        row = conn.execute(
            "SELECT t.pk, t.state, t.raw_seq, s.body FROM tasks t "
            "LEFT JOIN snapshots s ON s.seq = t.raw_seq WHERE t.provider = ? AND t.id = ?",
            (task.provider, task.id),
        ).fetchone()
        if row is None:
            log.debug("save: %s/%s is not tracked (removed?); not written", *task.key)
            return False
        pk, stored_state, raw_seq, stored_body = row
        state = str(task.state)
        if stored_state != state and state_of(stored_state) in TERMINAL_STATES:
            log.warning(
                "save: refused to move %s/%s from terminal %s to %s",
                task.provider,
                task.id,
                stored_state,
                state,
            )
            return False
        new_snapshot = None
        if body is not None and body != stored_body:
            ts = dt_out(task.last_polled_at) or dt_out(datetime.now(UTC))
            new_snapshot = conn.execute(
                "INSERT INTO snapshots (task_pk, ts, body) VALUES (?, ?, ?)", (pk, ts, body)
            ).lastrowid
            raw_seq = new_snapshot
        updated = conn.execute(
            UPDATE_SQL,
            (*save_params(task), dt_out(task.added_at), raw_seq, seq, pk, state),
        ).rowcount
        if updated != 1:  # the trigger said no; keep the item all-or-nothing
            if new_snapshot is not None:
                conn.execute("DELETE FROM snapshots WHERE seq = ?", (new_snapshot,))
            return False
        if events:
            conn.executemany(
                "INSERT INTO events (ts, kind, provider, task_id, data) VALUES (?, ?, ?, ?, ?)",
                [event_params(e) for e in events],
            )
        return True

    def set_download(self, provider: str, task_id: str, download: Download) -> None:
        """Record a download's progress (durable: a kept video must not be fetched again)."""
        self.set_downloads([(provider, task_id, download)])

    def set_downloads(self, items: Sequence[tuple[str, str, Download]]) -> None:
        """`set_download` for many tasks (provider, id, download) in one durable transaction:
        one fsync for a thousand videos queued at once, not a thousand."""
        if not items:
            return
        with self.transaction(durable=True) as conn:
            seq = self.bump(conn)
            conn.executemany(
                "UPDATE tasks SET download_state = ?, download_path = ?, download_bytes = ?, "
                "download_error = ?, change_seq = ? WHERE provider = ? AND id = ?",
                [
                    (
                        str(download.state),
                        download.path,
                        download.bytes,
                        download.error,
                        seq,
                        provider,
                        task_id,
                    )
                    for provider, task_id, download in items
                ],
            )

    def remove(self, provider: str | None, ids: Sequence[str]) -> int:
        """Stop tracking: deletes the tasks and their bodies, keeps their events (the log).
        `provider=None` removes those ids at every provider. Returns how many were removed."""
        ids = list(ids)
        if not ids:
            return 0
        sql = "DELETE FROM tasks WHERE id IN (SELECT value FROM json_each(?))"
        params: list[Any] = [dump(ids)]
        if provider is not None:
            sql += " AND provider = ?"
            params.append(provider)
        with self.transaction(durable=True) as conn:
            self.bump(conn)
            return conn.execute(sql, params).rowcount

    def changed_since(self, change_seq: int, *, with_raw: bool = False) -> tuple[int, list[Task]]:
        """Viewer mode: the tasks whose row changed after `change_seq`, and the new mark.

        Start with `changed_since(0)` (every task). Rows are read up to the mark read first, so
        nothing committed meanwhile is lost: it comes with the next call. A mark larger than the
        store's (another file in its place) starts over. Removed tasks are not reported: follow
        the event log for those.
        """
        with self.errors():
            high = int(
                self._conn.execute("SELECT value FROM meta WHERE key = 'change_seq'").fetchone()[0]
            )
            if change_seq > high:
                change_seq = 0
            if change_seq == high:
                return high, []
            sql = (SELECT_WITH_RAW if with_raw else SELECT_NO_RAW) + (
                " WHERE t.change_seq > ? AND t.change_seq <= ? ORDER BY t.pk"
            )
            with gc_paused():
                return high, tasks_from_cursor(self._conn.execute(sql, (change_seq, high)))

    def snapshots(self, provider: str, task_id: str) -> list[tuple[datetime, Any]]:
        """The distinct bodies stored for a task, oldest first: (when, body)."""
        with self.errors():
            rows = self._conn.execute(
                "SELECT s.ts, s.body FROM snapshots s JOIN tasks t ON t.pk = s.task_pk "
                "WHERE t.provider = ? AND t.id = ? ORDER BY s.seq",
                (provider, task_id),
            ).fetchall()
        return [(datetime.fromisoformat(ts), json.loads(body)) for ts, body in rows]

    def providers(self) -> list[str]:
        with self.errors():
            rows = self._conn.execute("SELECT DISTINCT provider FROM tasks ORDER BY provider")
            return [name for (name,) in rows]

    def batches(self) -> list[str]:
        with self.errors():
            rows = self._conn.execute(
                "SELECT DISTINCT batch FROM tasks WHERE batch IS NOT NULL ORDER BY batch"
            )
            return [name for (name,) in rows]

    # --- events -------------------------------------------------------------------------------

    def append_events(self, events: Sequence[Event]) -> None:
        """Log events that change no task (http errors, notices, summaries, removals)."""
        if not events:
            return
        params = [event_params(e) for e in events]
        with self.transaction(durable=any(e.kind == "state" for e in events)) as conn:
            conn.executemany(
                "INSERT INTO events (ts, kind, provider, task_id, data) VALUES (?, ?, ?, ?, ?)",
                params,
            )

    def history(self, provider: str, task_id: str) -> list[Event]:
        """This task's events, oldest first."""
        with self.errors():
            rows = self._conn.execute(
                "SELECT id, ts, kind, provider, task_id, data FROM events "
                "WHERE provider = ? AND task_id = ? ORDER BY id",
                (provider, task_id),
            ).fetchall()
        return [event_from_row(row)[1] for row in rows]

    def events_after(self, event_id: int, limit: int = 1000) -> list[tuple[int, Event]]:
        """Events with an id above `event_id`, oldest first (a viewer's log follows these)."""
        with self.errors():
            rows = self._conn.execute(
                "SELECT id, ts, kind, provider, task_id, data FROM events "
                "WHERE id > ? ORDER BY id LIMIT ?",
                (event_id, limit),
            ).fetchall()
        return [event_from_row(row) for row in rows]

    def last_event_id(self) -> int:
        with self.errors():
            return int(self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])
