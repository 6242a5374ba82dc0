"""The failures view's `FailureIndex`, built once off the event loop and then kept current.

Normalising 100,000 failure messages takes about 2 s: on the event loop that freezes the
screen. So the first build runs in a thread on a snapshot of the failed tasks (frozen
dataclasses, safe to read there); changes that arrive meanwhile wait in `pending` and are
folded in when the build lands. After that each tick folds in only the tasks that changed,
which costs one regex pass per changed failed task (more than `INLINE_CHANGES` at once, as
in a progressive load, go to a thread). Regrouping the cached entries has no regex
but is still a Python loop over every failed task (about 85 ms at 100,000): above `INLINE`
entries it runs in a thread too, and the view shows the previous groups until it lands.
Pure Python, no Textual: tested alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from tui.app.task_view import TaskIndex
from tui.core.failure_groups import FailureGroup, FailureIndex
from tui.core.model import Key, Task

INLINE = 10_000  # failed tasks regrouped on the event loop (about 8 ms); more go to a thread
INLINE_CHANGES = 500  # changed tasks normalised on the event loop (about 20 ms); more: a thread


class FailureSync:
    """Who owns the failures index and what it still has to learn."""

    def __init__(self, index: TaskIndex) -> None:
        self.index = index
        self.failures: FailureIndex | None = None
        self.pending: set[Key] = set()
        self._built_for = -1  # the TaskIndex generation `failures` was built from
        self._building_for: int | None = None
        self._regrouping = False
        self._stale = False  # entries changed since `_last` was grouped
        self._last: list[FailureGroup] = []

    @property
    def ready(self) -> bool:
        """True when `groups()` answers for the index as it is now."""
        return self.failures is not None and self._built_for == self.index.generation

    @property
    def building(self) -> bool:
        return self._building_for is not None or self._regrouping

    @property
    def wants_regroup(self) -> bool:
        """True when the groups are out of date and the work is too big for the event loop:
        many failed tasks to regroup, or many changed tasks to normalise (a progressive load)."""
        if not self.ready or self.building:
            return False
        return self._stale or len(self.pending) > INLINE_CHANGES

    def start_regroup(self) -> Callable[[], list[FailureGroup]]:
        """The job for a thread: fold in the changed tasks read now, regroup. Later changes
        wait in `pending` until `finish_regroup`."""
        failures = self.failures
        assert failures is not None and not self.building
        present, gone = self._take_pending()
        self._regrouping = True
        self._stale = False

        def regroup() -> list[FailureGroup]:
            failures.update(present)
            failures.remove(gone)
            return failures.groups()

        return regroup

    def finish_regroup(self, groups: list[FailureGroup] | None) -> None:
        """Adopt the thread's groups (None: it failed or was cancelled; try again next time)."""
        self._regrouping = False
        if groups is None:
            self._stale = True
        else:
            self._last = groups
        self._catch_up()

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
        self._last = built.groups()  # computed in the thread, cached
        self._stale = False
        self._catch_up()
        return True

    def abandon(self) -> None:
        """A build or regroup thread failed or was cancelled: the next `groups()` tries again."""
        if self._regrouping:
            self._regrouping = False
            self._stale = True
        self._building_for = None

    def changed(self, keys: Iterable[Key]) -> None:
        """Tasks that changed (added, updated or removed) since the last call."""
        if self.failures is None and self._building_for is None:
            return  # nothing built yet: the first build reads everything anyway
        self.pending.update(keys)
        if not self.building and self.ready:
            self._catch_up()

    def groups(self) -> list[FailureGroup] | None:
        """The groups (the same list until something changed), or None while the first build
        is running. Above `INLINE` failed tasks a change leaves them as they were and sets
        `wants_regroup`: the caller regroups in a thread."""
        if not self.ready:
            return None
        self._catch_up()
        failures = self.failures
        assert failures is not None
        if self._stale and not self._regrouping and len(failures) <= INLINE:
            self._last = failures.groups()
            self._stale = False
        return self._last

    def _take_pending(self) -> tuple[list[Task], list[Key]]:
        """(changed tasks still known, keys gone), read from the index now; `pending` empties."""
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
        return present, gone

    def _catch_up(self) -> None:
        failures = self.failures
        pending = self.pending
        if failures is None or not pending or self.building or len(pending) > INLINE_CHANGES:
            return
        present, gone = self._take_pending()
        before = len(failures)
        failures.update(present)
        failures.remove(gone)
        # FailureIndex keeps its groups when nothing it holds changed; ask it cheaply: a
        # changed key that is (or was) failed makes the groups stale
        if len(failures) != before or any(task.failure is not None for task in present):
            self._stale = True


def build_index(tasks: list[Task], chunk: int = 1_000) -> FailureIndex:
    """What the thread runs: normalise every failed task and group once (both cached). Between
    chunks it lets go of the GIL, so the event loop keeps drawing while it works."""
    built = FailureIndex()
    for start in range(0, len(tasks), chunk):
        built.update(tasks[start : start + chunk])
        time.sleep(0)
    built.groups()
    return built
