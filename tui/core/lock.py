"""One poller per store: an advisory `flock` on `<db path>.lock`.

Why flock: the kernel drops the lock when its holder dies (even on `kill -9`), so a stale
lock file never blocks anyone, and no pid guessing is needed. The file's content (pid, command,
since) only tells others *who* holds it, for the message and the dashboard's viewer mode.
The file is never deleted: deleting a lock file lets two processes lock two different files.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tui.core.model import iso


@dataclass(frozen=True, slots=True)
class LockHolder:
    """Who polls a store now. `command` is what the holder chose to show (never its argv)."""

    pid: int
    command: str
    since: str  # ISO 8601 UTC


class LockHeld(Exception):
    """Another process polls this store; `str()` says who and what to do."""

    def __init__(self, pid: int, command: str, since: str) -> None:
        self.pid = pid
        self.command = command
        self.since = since
        super().__init__(
            f"another seedance-tui (pid {pid}, `{command}`) is polling this store since "
            f"{since or 'an unknown time'}; stop it or run the dashboard to view it read-only"
        )


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


class PollerLock:
    """Held by the one process that polls a store (the dashboard, `watch`, `status --refresh`)."""

    def __init__(self, db_path: Path) -> None:
        self.path = lock_path(Path(db_path).expanduser())
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def acquire(self, command: str) -> None:
        """Take the lock for `command` (e.g. "seedance-tui watch"), or raise LockHeld.

        Acquiring a lock this object already holds does nothing. `command` is written to a
        file others can read: pass the command's name, never a full argv.
        """
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # No O_TRUNC: until we own the lock, the file is the holder's to describe.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = self._read_holder()
            raise LockHeld(holder.pid, holder.command, holder.since) from None
        except BaseException:
            os.close(fd)
            raise
        info = {"pid": os.getpid(), "command": command, "since": iso(datetime.now(UTC))}
        data = json.dumps(info).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        self._fd = fd

    def holder(self) -> LockHolder | None:
        """Who holds the lock now, or None when nobody does (a leftover file means nothing)."""
        if self._fd is not None:
            return self._read_holder()
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return self._read_holder()
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)  # we could take it: nobody holds it
            return None
        finally:
            os.close(fd)

    def release(self) -> None:
        """Give the lock up (a no-op when not held). Also happens when the process dies."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> PollerLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def _read_holder(self) -> LockHolder:
        """The holder's note. It may be mid-write for an instant after the holder locked, so a
        few short retries; a note that never makes sense still yields a holder (pid 0)."""
        for attempt in range(20):
            try:
                info = json.loads(self.path.read_bytes())
                return LockHolder(
                    pid=int(info["pid"]), command=str(info["command"]), since=str(info["since"])
                )
            except (OSError, ValueError, KeyError, TypeError):
                if attempt < 19:
                    time.sleep(0.005)
        return LockHolder(pid=0, command="unknown command", since="")
