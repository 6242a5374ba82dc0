"""What went wrong with the store, in words a user can act on: every message names the file
and says what to do. SQLite's own words ("disk I/O error") say neither, and one fault wears
several codes: a full disk is SQLITE_FULL, or SQLITE_IOERR_SHMSIZE when the `-shm` file cannot
be grown, or another SQLITE_IOERR_*; so a failed write is checked against the disk itself."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from tui.core.config_types import StoreConfig

# How long a write waits for another process's write transaction before giving up (seconds),
# unless `[store] busy_timeout` says otherwise.
BUSY_TIMEOUT = StoreConfig.busy_timeout
# Less free space than this on the store's disk, after an I/O error, means "no space left".
FULL_BELOW_BYTES = 1 << 20


class StoreError(Exception):
    """The store cannot do what was asked; `str()` names the file and says what to do."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path


def no_space(path: Path) -> str:
    return (
        f"no space left on the disk of the store {path} (the disk is full): free some space "
        "and try again (nothing of this change was written)"
    )


def damaged(path: Path) -> str:
    """The one message every command gives for a damaged store (reading or writing)."""
    return (
        f"the store {path} is damaged (SQLite found unreadable pages), so nothing is written "
        f"to it: restore a backup, or save what is readable with `sqlite3 {path} .recover`, "
        "or start a new store with --db PATH"
    )


def read_only(path: Path, why: str) -> str:
    return (
        f"the store {path} is read-only ({why}): `status` and `export` still read it; "
        "to change it, make the file and its folder writable, or pass --db PATH to a "
        "writable copy"
    )


def not_a_store(path: Path, what: str) -> str:
    return (
        f"{path} is not a seedance-tui store ({what}): pass another --db PATH, "
        "or move that file away"
    )


def disk_is_full(path: Path) -> bool:
    """Whether the filesystem that holds `path` has (almost) no space left for us."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        stats = os.statvfs(folder)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < FULL_BELOW_BYTES


def is_damage(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith("SQLITE_CORRUPT") or "malformed" in str(exc)


def explain(path: Path, exc: sqlite3.Error, *, busy_timeout: float = BUSY_TIMEOUT) -> str:
    """A message for people: which file, what went wrong, what to do. `busy_timeout` is how
    long the connection waited for another process's lock."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if name in ("SQLITE_FULL", "SQLITE_IOERR_SHMSIZE") or "disk is full" in text:
        return no_space(path)
    if name.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN")) and disk_is_full(path):
        return no_space(path)  # e.g. SQLITE_IOERR_WRITE with ENOSPC, a -wal that cannot be made
    if is_damage(exc):
        return damaged(path)
    if name == "SQLITE_NOTADB" or "not a database" in text:
        return not_a_store(path, "not an SQLite database")
    if name == "SQLITE_CANTOPEN" or "unable to open" in text:
        return (
            f"cannot open the store {path}: check that its folder exists and is writable, "
            "or pass --db PATH (or set SEEDANCE_TUI_DB) to a writable place"
        )
    if name.startswith("SQLITE_READONLY") or "readonly" in text:
        return read_only(path, "SQLite may not write to it")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return (
            f"the store {path} stayed locked by another process for {busy_timeout:g} s: "
            "try again in a moment"
        )
    if name.startswith("SQLITE_IOERR"):
        return (
            f"the store {path} could not be read or written ({text}, {name}): check its disk, "
            "then try again"
        )
    return f"the store {path} failed: {text}"
