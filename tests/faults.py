"""Real faults for tests: a small disk that fills up, a disk made read-only, a store with
damaged pages. Mounting needs root (CI and the dev machines run as root)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MiB filesystem (tmpfs), so 'no space left' comes from the kernel."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI and the dev machines run as root)")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


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
