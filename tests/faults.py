"""Real faults for tests: a small disk that fills up for real (so 'no space left' comes from the
kernel), a disk made read-only, a store with damaged pages. Mounting needs root: the dev
machines and CI run as root."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def mounted_disk(path: Path, size: str = "2m") -> Iterator[Path]:
    """A real tmpfs of `size` mounted at `path` (made if missing) for the block's length."""
    if os.geteuid() != 0:
        pytest.skip(
            "a real full disk needs a small tmpfs, and mounting one needs root: "
            "run the suite as root (as CI and the dev machines do) to run this test"
        )
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    assert mounted.returncode == 0, f"could not mount a tmpfs: {mounted.stderr}"
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MiB filesystem for the test's length."""
    with mounted_disk(tmp_path / "disk") as mount:
        yield mount


def resize(path: Path, size: str) -> None:
    """Grow (or shrink) the tmpfs at `path`: space comes back without touching its files."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True)


def fill(folder: Path) -> Path:
    """Fill the disk of `folder` to the last byte; remove the returned file to free it."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        chunk = 1 << 16
        while chunk:
            try:
                os.write(fd, b"\0" * chunk)
            except OSError:
                chunk //= 2
    finally:
        os.close(fd)
    return filler


def make_read_only(mount: Path) -> None:
    """Remount the tmpfs at `mount` read-only: even root cannot write it (EROFS)."""
    subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)


def damage(path: Path, size: int = 3 * 4096) -> None:
    """Overwrite `size` bytes in the middle of the file with noise, as a failing disk would."""
    length = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.seek(length // 2)
        handle.write(bytes((i * 151 + 89) % 256 for i in range(size)))
        handle.flush()
        os.fsync(handle.fileno())


def temporary_files(folder: Path) -> list[str]:
    """Every `*.tmp` under `folder` (atomic writes must never leave one behind)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.tmp"))


_HOLD_EXCLUSIVE = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()  # until the test closes our stdin
conn.execute("ROLLBACK")
"""


@contextmanager
def store_locked(db: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holds `db` with `BEGIN EXCLUSIVE` for the block's length, as a backup
    tool or a second program would: every write waits (readers go on, the store is in WAL)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_EXCLUSIVE, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline().strip() == "locked", "the other process got no lock"
        yield holder
    finally:
        holder.stdin.close()
        try:
            holder.wait(timeout=15)
        finally:
            if holder.poll() is None:
                holder.kill()
                holder.wait()
