"""Writing the dashboard's export: the chosen tasks, with their upstream bodies, to one file.

Run in a thread with its own store connection (100,000 bodies never block the screen), written
with `write_atomic`: a reader sees the old file or the whole new one, and a failed export leaves
no temporary file behind.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO, cast

from tui.core.atomic import write_atomic
from tui.core.model import Key

_C1 = re.compile(r"[\x7f-\x9f]")


@dataclass
class ExportJob:
    """The tasks to write (in this order), the format (`tui.output.WRITERS`), where, and the
    words that say what they are ("the current view")."""

    keys: list[Key]
    format: str
    path: Path
    what: str


def write_export(db_path: Path, job: ExportJob) -> str:
    """Write `job` from the store at `db_path`; returns the sentence that says what was done."""
    from tui.core.store import Store, TaskFilter
    from tui.output import WRITERS

    with Store.open(db_path) as store:
        wanted = set(job.keys)
        found = store.query(TaskFilter(ids=frozenset(k[1] for k in wanted)), with_raw=True)
    by_key = {t.key: t for t in found if t.key in wanted}
    ordered = [by_key[k] for k in job.keys if k in by_key]
    count = write_atomic(
        job.path, lambda handle: WRITERS[job.format](cast(TextIO, handle), ordered)
    )
    return f"Exported {count:,} tasks ({job.what}) to {job.path}"


def json_for_copy(raw: Any) -> str:
    """The body as JSON text a person can paste anywhere: non-ASCII kept, C1 controls escaped
    (json.dumps leaves them raw with ensure_ascii=False, and a terminal could act on them)."""
    text = raw if isinstance(raw, str) else json.dumps(raw, indent=2, ensure_ascii=False)
    return _C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
