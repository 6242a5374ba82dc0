"""Which configured provider tracks an id: the one provider whose dialect the id's prefix names.

One rule for `seedance-tui add` and the dashboard's add dialog; each words its own messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tui.core.config import ProviderConfig
from tui.core.dialects import kinds_for_id


@dataclass
class Routing:
    """Where each id goes, and the ids that could not be placed, by reason."""

    assigned: dict[str, list[str]] = field(default_factory=dict)  # provider -> ids
    ambiguous: list[tuple[str, list[str]]] = field(default_factory=list)  # id, providers
    unconfigured: list[tuple[str, list[str]]] = field(default_factory=list)  # id, kinds
    unknown_prefix: list[str] = field(default_factory=list)

    @property
    def unplaced(self) -> int:
        return len(self.ambiguous) + len(self.unconfigured) + len(self.unknown_prefix)


def route_ids(ids: Iterable[str], providers: Mapping[str, ProviderConfig]) -> Routing:
    """Place every id with the one configured provider of its prefix's dialect."""
    by_kind: dict[str, list[str]] = {}
    for provider in providers.values():
        by_kind.setdefault(provider.kind, []).append(provider.name)
    routing = Routing()
    for task_id in ids:
        kinds = kinds_for_id(task_id)
        names = [name for kind in kinds for name in by_kind.get(kind, [])]
        if len(names) == 1:
            routing.assigned.setdefault(names[0], []).append(task_id)
        elif names:
            routing.ambiguous.append((task_id, names))
        elif kinds:
            routing.unconfigured.append((task_id, kinds))
        else:
            routing.unknown_prefix.append(task_id)
    return routing
