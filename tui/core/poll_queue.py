"""Which task a provider polls next: due time first, then priority when the budget can't keep up.

Pure and synchronous, so the engine and the scheduler benchmark share the exact same policy.
Tasks wait in a heap ordered by when they are due. Once due, they move to a "ready" heap ordered
by `priority` (most likely finished first). Priorities only grow while a task waits, so the ready
heap is rebuilt every `reprioritize_every` seconds to let long-waiting tasks catch up.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

# Generic on purpose, not `model.Key`: the engine queues (provider, id) tuples, the tests
# strings, the scheduler benchmark ints. Keys are only hashed (heap entries carry a unique
# counter before the key, so two keys are never compared).
Key = TypeVar("Key", bound=Hashable)


@dataclass
class _Lane(Generic[Key]):
    """One provider's queue."""

    waiting: list[tuple[float, int, Key]] = field(default_factory=list)
    ready: list[tuple[float, int, Key]] = field(default_factory=list)
    ready_built_at: float = float("-inf")


class PollQueue(Generic[Key]):
    def __init__(
        self, priority: Callable[[Key, float], float], *, reprioritize_every: float = 5.0
    ) -> None:
        self._priority = priority
        self._reprioritize_every = reprioritize_every
        self._lanes: dict[str, _Lane[Key]] = {}
        self._due: dict[Key, tuple[str, float, int]] = {}  # key -> (lane, due, entry id)
        self._ids = itertools.count()

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, key: Key) -> bool:
        return key in self._due

    def schedule(self, lane: str, key: Key, due: float) -> None:
        """(Re)schedule `key`; an earlier entry for it is forgotten."""
        entry = next(self._ids)
        self._due[key] = (lane, due, entry)
        heapq.heappush(self._lanes.setdefault(lane, _Lane[Key]()).waiting, (due, entry, key))

    def discard(self, key: Key) -> None:
        self._due.pop(key, None)

    def due_at(self, key: Key) -> float | None:
        found = self._due.get(key)
        return found[1] if found else None

    def next_due(self, lane: str) -> float | None:
        """When this lane next has something to poll (None: nothing scheduled)."""
        state = self._lanes.get(lane)
        if state is None:
            return None
        self._drop_stale(state.ready)
        if state.ready:
            return float("-inf")
        self._drop_stale(state.waiting)
        return state.waiting[0][0] if state.waiting else None

    def pop_ready(self, lane: str, now: float) -> Key | None:
        """The most deserving due task of this lane, removed from the queue; None if none is due."""
        state = self._lanes.get(lane)
        if state is None:
            return None
        if now - state.ready_built_at >= self._reprioritize_every and state.ready:
            self._rebuild_ready(state, now)
        while state.waiting and state.waiting[0][0] <= now:
            _, entry, key = heapq.heappop(state.waiting)
            if self._is_current(key, entry):
                heapq.heappush(state.ready, (-self._priority(key, now), entry, key))
        self._drop_stale(state.ready)
        if not state.ready:
            return None
        _, _, key = heapq.heappop(state.ready)
        del self._due[key]
        return key

    def lanes(self) -> list[str]:
        return list(self._lanes)

    def _rebuild_ready(self, state: _Lane[Key], now: float) -> None:
        state.ready = [
            (-self._priority(key, now), entry, key)
            for _, entry, key in state.ready
            if self._is_current(key, entry)
        ]
        heapq.heapify(state.ready)
        state.ready_built_at = now

    def _is_current(self, key: Key, entry: int) -> bool:
        found = self._due.get(key)
        return found is not None and found[2] == entry

    def _drop_stale(self, heap: list[tuple[float, int, Key]]) -> None:
        while heap and not self._is_current(heap[0][2], heap[0][1]):
            heapq.heappop(heap)
