"""The failures view's `FailureIndex`, built once off the event loop and then kept current.

Normalising 100,000 failure messages takes about 2 s: on the event loop that freezes the
screen. So the first build runs in a thread on a snapshot of the failed tasks (frozen
dataclasses, safe to read there); changes that arrive meanwhile wait in `pending` and are
folded in when the build lands. After that each tick folds in only the tasks that changed,
which costs one regex pass per changed failed task. Pure Python, no Textual: tested alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from tui.app.task_view import TaskIndex
from tui.core.failure_groups import FailureGroup, FailureIndex
from tui.core.model import Key, Task


class FailureSync:
    """Who owns the failures index and what it still has to learn."""

    def __init__(self, index: TaskIndex) -> None:
        self.index = index
        self.failures: FailureIndex | None = None
        self.pending: set[Key] = set()
        self._built_for = -1  # the TaskIndex generation `failures` was built from
        self._building_for: int | None = None

    @property
    def ready(self) -> bool:
        """True when `groups()` answers for the index as it is now."""
        return self.failures is not None and self._built_for == self.index.generation

    @property
    def building(self) -> bool:
        return self._building_for is not None

    def start_build(self) -> tuple[list[Task], int] | None:
        """(the failed tasks to normalise in a thread, the generation they belong to), or None
        when the index is current or a build for this generation is already running."""
        generation = self.index.generation
        if self.ready or self._building_for == generation:
            return None
        self._building_for = generation
        self.pending.clear()
        return self.index.failed_tasks(), generation

    def finish_build(self, built: FailureIndex, generation: int) -> bool:
        """Adopt a finished build; False when the index was reloaded meanwhile (build again)."""
        if self._building_for == generation:
            self._building_for = None
        if generation != self.index.generation:
            return False
        self.failures = built
        self._built_for = generation
        self._catch_up()
        return True

    def changed(self, keys: Iterable[Key]) -> None:
        """Tasks that changed (added, updated or removed) since the last call."""
        if self.failures is None and self._building_for is None:
            return  # nothing built yet: the first build reads everything anyway
        self.pending.update(keys)
        if self._building_for is None and self.ready:
            self._catch_up()

    def groups(self) -> list[FailureGroup] | None:
        """The groups, or None while the first build is running."""
        if not self.ready:
            return None
        self._catch_up()
        assert self.failures is not None
        return self.failures.groups()

    def _catch_up(self) -> None:
        failures = self.failures
        if failures is None or not self.pending:
            return
        index = self.index
        present: list[Task] = []
        gone: list[Key] = []
        for key in self.pending:
            task = index.get(key)
            if task is None:
                gone.append(key)
            else:
                present.append(task)
        self.pending.clear()
        failures.update(present)
        failures.remove(gone)


def build_index(tasks: list[Task]) -> FailureIndex:
    """What the thread runs: normalise every failed task and group once (both cached)."""
    built = FailureIndex(tasks)
    built.groups()
    return built
