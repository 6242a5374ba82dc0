"""Write a file so that a reader sees the old content or the new one, never half of either.

The one way this program replaces a file (config, exports, a `.part`'s metadata): a temporary
file in the same folder, flushed and fsynced, renamed over the target, then the folder fsynced
so the rename itself survives a power cut. On any error the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

T = TypeVar("T")


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in `folder` durable (POSIX: fsync the directory)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # a platform or filesystem that cannot open folders: nothing more to do
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the rename has still happened
    finally:
        os.close(fd)


def write_atomic(
    path: Path | str,
    write: Callable[[IO[Any]], T],
    *,
    text: bool = True,
    mode: int | None = None,
    durable: bool = True,
) -> T:
    """Replace `path` with what `write(handle)` writes; return what `write` returned.

    `text` opens the temporary file as UTF-8 text (newline untranslated), else binary;
    `mode` sets its permission bits before any byte is written (0o600 for a file holding a key).
    `durable=False` skips the fsyncs, for files that may be lost on a crash but never be torn.
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(tmp, flags, 0o666 if mode is None else mode)
    try:
        if mode is not None:
            os.fchmod(fd, mode)  # the umask may have narrowed it; a key file must be exactly this
        handle: IO[Any] = (
            os.fdopen(fd, "w", encoding="utf-8", newline="") if text else os.fdopen(fd, "wb")
        )
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    try:
        with handle:
            result = write(handle)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if durable:
        fsync_dir(target.parent)
    return result


def write_text_atomic(path: Path | str, content: str, *, mode: int | None = None) -> None:
    """`write_atomic` for a string."""
    write_atomic(path, lambda handle: handle.write(content), mode=mode)


def is_temp_name(name: str) -> bool:
    """True for the temporary names `write_atomic` uses (so a sweep can remove leftovers)."""
    return name.startswith(".") and name.endswith(".tmp")
