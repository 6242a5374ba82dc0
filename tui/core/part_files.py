"""The local side of a download: the `.part` file, its `.part.json` validator, the folder.

A video streams into `NAME.part`. What makes those bytes resumable (a strong ETag or a
Last-Modified for `If-Range`, and the total size) is kept beside it in `NAME.part.json`;
without a valid one nothing proves the bytes belong to this video, so they are thrown away.
Trouble on this side (disk full, not writable, a file where a folder should be) is a
`DiskError` whose message says what the user can do about it.
"""

from __future__ import annotations

import contextlib
import errno
import json
from glob import escape as glob_escape
from pathlib import Path

import httpx

from tui.core.atomic import write_atomic
from tui.core.redact import redact_url


class DiskError(Exception):
    """The local side failed (disk full, not writable): the download stays pending."""


def meta_path(path: Path) -> Path:
    """The `.part.json` holding the resume validator of the video that goes to `path`."""
    return path.with_name(path.name + ".part.json")


def make_folder(folder: Path) -> None:
    """`mkdir -p`, with trouble reported as a DiskError."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DiskError(disk_message(exc, folder, making_dir=True)) from None


def resume_point(part: Path, meta: Path) -> tuple[int, str | None, int | None]:
    """(bytes already in .part, If-Range validator, total size) or a clean start (0, None)."""
    remove_stale_temporaries(meta)
    try:
        size = part.stat().st_size
    except FileNotFoundError:
        size = 0
    except OSError as exc:
        raise DiskError(disk_message(exc, part)) from None
    if size == 0:
        return 0, None, None
    try:
        saved = json.loads(meta.read_text(encoding="utf-8"))
        validator = saved.get("etag") or saved.get("last_modified")
        total = saved.get("total")
        if not isinstance(validator, str) or not validator:
            raise ValueError("no validator")
        if total is not None and (not isinstance(total, int) or size > total):
            raise ValueError("bigger than the video")
    except (OSError, ValueError, AttributeError):
        discard(part, meta)  # nothing proves these bytes belong to this video
        return 0, None, None
    return size, validator, total


def write_meta(meta: Path, response: httpx.Response, total: int | None, encoded: bool) -> None:
    """Remember what makes this .part resumable: a strong ETag or Last-Modified.

    Written atomically (a reader never sees half of it, and a failed write leaves no temporary
    file) but not fsynced: losing it in a power cut only means the next run starts from zero,
    which is what `resume_point` does with a missing or unreadable one."""
    etag = response.headers.get("etag", "")
    saved = {
        "etag": etag if etag.startswith('"') else None,  # a weak W/ tag cannot do If-Range
        "last_modified": response.headers.get("last-modified"),
        "total": total,
        "url": redact_url(response.url),
    }
    try:
        if encoded or not (saved["etag"] or saved["last_modified"]):
            meta.unlink(missing_ok=True)  # cannot resume safely: a cut restarts from zero
            return
        text = json.dumps(saved)
        write_atomic(meta, lambda handle: handle.write(text), durable=False)
    except OSError as exc:
        raise DiskError(disk_message(exc, meta)) from None


def remove_stale_temporaries(meta: Path) -> None:
    """Remove what a killed process left of an atomic write of `meta` (`.NAME.PID.tmp`, see
    `write_atomic`): a failed write removes its own, a SIGKILL or power cut cannot."""
    for stale in meta.parent.glob(f".{glob_escape(meta.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()


def discard(part: Path, meta: Path) -> None:
    """Remove a .part and its metadata (either may already be gone)."""
    for path in (part, meta):
        with contextlib.suppress(OSError):
            path.unlink()


def disk_message(exc: OSError, path: Path, *, making_dir: bool = False) -> str:
    """What went wrong writing `path`, and what the user can change about it."""
    if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
        return f"no space left on device writing {path}: free space or change [download] dir"
    if making_dir and exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return (
            f"cannot create the folder {path}: a file is in the way ({exc.strerror}); "
            "move it or change [download] dir"
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write {path}: {exc.strerror}; make it writable or change [download] dir"
    return f"cannot write {path}: {exc.strerror or exc}; check [download] dir"
