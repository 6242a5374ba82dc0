"""API dialects: how each kind of provider names a task's status path and shapes its answer.

A dialect is pure (no I/O): the poller fetches `base_url + status_path(id)` and hands the answer
to `parse`, which returns a clean `Snapshot` or raises `BadResponse`.
"""

from __future__ import annotations

from typing import Protocol

from tui.core.dialects import ark, kyy, newapi
from tui.core.model import Snapshot


class Dialect(Protocol):
    kind: str
    id_prefixes: tuple[str, ...]
    create_path: str  # the default path for create requests (`[providers.X] create_path`)

    def status_path(self, task_id: str) -> str:
        """The path to append to a provider's base_url (the id percent-quoted)."""
        ...

    def parse(self, http_status: int, body: bytes) -> Snapshot:
        """One answer (2xx, or 4xx other than 401/403/429) as a Snapshot; BadResponse if not."""
        ...


DIALECTS: dict[str, Dialect] = {d.kind: d for d in (kyy.DIALECT, newapi.DIALECT, ark.DIALECT)}
KINDS: tuple[str, ...] = tuple(DIALECTS)  # every provider `kind` a config may name


def get_dialect(kind: str) -> Dialect:
    """The dialect for `kind`; a ValueError naming the valid kinds for anything else."""
    try:
        return DIALECTS[kind]
    except (KeyError, TypeError):
        valid = ", ".join(DIALECTS)
        raise ValueError(f"unknown provider kind {kind!r}: use one of {valid}") from None


def kinds_for_id(task_id: str) -> list[str]:
    """The dialect kinds whose id prefix matches `task_id` (used to pick a provider for `add`)."""
    return [d.kind for d in DIALECTS.values() if task_id.startswith(d.id_prefixes)]
