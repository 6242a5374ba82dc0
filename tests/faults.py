"""Real faults for tests: a small tmpfs that fills up for real, so 'no space left' comes from
the kernel. Mounting needs root; the machine and CI run as root."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def small_disk(path: Path, size: str = "2m") -> Iterator[Path]:
    """A real tmpfs of `size` mounted at `path` (made if missing) for the block's length."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    assert mounted.returncode == 0, f"mounting a tmpfs needs root: {mounted.stderr}"
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


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


def temporary_files(folder: Path) -> list[str]:
    """Every `*.tmp` under `folder` (atomic writes must never leave one behind)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.tmp"))
