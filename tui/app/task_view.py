"""The dashboard's in-memory tasks and the filtered, sorted view the table shows.

Pure Python, no Textual, because it must stay fast at 100,000 tasks and be testable alone:

- `TaskIndex` holds key -> Task (without `raw`, which the detail pane reads from the store),
  a lowercase haystack per task for filter-as-you-type, a version per task (the table's line
  cache key) and the counts per state, all kept up to date on `upsert`.
- `ViewSpec` is what the user asked to see: filter text (`!` inverts), a state filter, a
  failure label or a failure group's keys, a sort column and direction.
- `TaskView` is the ordered list of keys matching a spec. Sort values (`tui.app.task_sort`) are
  precomputed per task; an upsert of a few tasks moves them with `bisect` instead of re-sorting
  100,000 rows, and a filter keystroke is one comprehension over precomputed haystacks.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from tui.app.task_sort import SORT_COLUMNS, SORT_LAST, SORT_VALUE, or_last
from tui.core.batch_summary import NO_BATCH
from tui.core.model import LIVE_STATES, TERMINAL_STATES, Key, State, Task

STATE_GROUPS: dict[str, frozenset[State] | None] = {
    "all": None,
    "live": LIVE_STATES,
    "terminal": TERMINAL_STATES,
    **{str(state): frozenset({state}) for state in State},
}
"""Words accepted as `ViewSpec.state_filter`: all, live, terminal and every state word."""


def haystack(task: Task) -> str:
    """What the filter text searches: id, provider, batch, model, state, failure code/message."""
    failure = task.failure
    return "\n".join(
        (
            task.id,
            task.provider,
            task.batch or "",
            task.model or "",
            task.state.value,
            (failure.code or "") if failure else "",
            (failure.message or "") if failure else "",
        )
    ).lower()


class TaskIndex:
    """Every task the dashboard knows, fast to load, update and search at 100k tasks.

    Each key gets a *slot* (an int, in the order tasks were first added) and the per-task data
    lives in lists indexed by slot: the view's hot loops index lists instead of hashing
    (provider, id) tuples, which is several times faster at 100k rows. A removed key keeps its
    slot as a tombstone (task None), so a view can still find and drop it, and a key added back
    gets its old slot (and place among equals) again.
    """

    def __init__(self, tasks: Iterable[Task] = ()) -> None:
        self._slot: dict[Key, int] = {}
        self._keys: list[Key] = []
        self._tasks: list[Task | None] = []
        self._hay: list[str] = []
        self._state: list[State | None] = []
        self._version: list[int] = []
        self._counts: dict[State, int] = dict.fromkeys(State, 0)
        self._live = 0
        self._ticket = 0
        self.generation = 0
        """Bumped by `load`: a view built on an older generation rebuilds."""
        if tasks:
            self.load(tasks)

    def load(self, tasks: Iterable[Task]) -> None:
        """Replace everything (the dashboard's start, or a viewer's full reload)."""
        self._slot = {}
        self._keys, self._tasks, self._hay, self._state, self._version = [], [], [], [], []
        self._counts = dict.fromkeys(State, 0)
        self._live = 0
        self.generation += 1
        self.upsert(tasks)

    def upsert(self, tasks: Iterable[Task]) -> set[Key]:
        """Add or replace tasks; returns the keys whose task actually changed."""
        slots, store, counts = self._slot, self._tasks, self._counts
        hay, state, version = self._hay, self._state, self._version
        changed: set[Key] = set()
        ticket = self._ticket
        for task in tasks:
            if task.raw is not None:
                task = dataclasses.replace(task, raw=None)
            key = (task.provider, task.id)
            slot = slots.get(key)
            if slot is None:
                slot = slots[key] = len(store)
                self._keys.append(key)
                store.append(task)
                hay.append(haystack(task))
                state.append(task.state)
                version.append(ticket)
                self._live += 1
            else:
                old = store[slot]
                if old is not None:
                    if old == task:
                        continue
                    counts[old.state] -= 1
                else:
                    self._live += 1
                store[slot] = task
                hay[slot] = haystack(task)
                state[slot] = task.state
                version[slot] = ticket
            ticket += 1
            counts[task.state] += 1
            changed.add(key)
        self._ticket = ticket
        return changed

    def remove(self, keys: Iterable[Key]) -> set[Key]:
        """Forget tasks; returns the keys that were known."""
        removed: set[Key] = set()
        for key in keys:
            slot = self._slot.get(key)
            if slot is None or (task := self._tasks[slot]) is None:
                continue
            self._counts[task.state] -= 1
            self._live -= 1
            self._tasks[slot] = None
            self._state[slot] = None
            self._hay[slot] = ""
            self._version[slot] = self._ticket
            self._ticket += 1
            removed.add(key)
        return removed

    def get(self, key: Key) -> Task | None:
        slot = self._slot.get(key)
        return None if slot is None else self._tasks[slot]

    def counts(self) -> dict[State, int]:
        """Tasks per state (every state present, zero included)."""
        return dict(self._counts)

    def failure_groups(self) -> dict[str, int]:
        """Failure label -> number of tasks (the values `ViewSpec.failure_group` accepts)."""
        groups: dict[str, int] = {}
        for task in self._tasks:
            if task is not None and task.failure is not None:
                label = task.failure.label
                groups[label] = groups.get(label, 0) + 1
        return groups

    def failed_tasks(self) -> list[Task]:
        """Every task with a failure (what the failures view normalises, once, off the loop)."""
        return [task for task in self._tasks if task is not None and task.failure is not None]

    def version(self, key: Key) -> int:
        """Changes whenever the task changes: a cache key for anything drawn from it."""
        slot = self._slot.get(key)
        return -1 if slot is None else self._version[slot]

    def haystack(self, key: Key) -> str:
        return self._hay[self._slot[key]]

    def tasks(self) -> Iterator[Task]:
        """Every task known, in the order first added (for one-pass summaries)."""
        return (task for task in self._tasks if task is not None)

    @property
    def stamp(self) -> tuple[int, int]:
        """Changes whenever any task is added, changed or removed (or the index reloads)."""
        return (self.generation, self._ticket)

    def __len__(self) -> int:
        return self._live

    def __contains__(self, key: object) -> bool:
        slot = self._slot.get(key)  # type: ignore[call-overload]
        return slot is not None and self._tasks[slot] is not None

    def __iter__(self) -> Iterator[Key]:
        keys = self._keys
        return (keys[slot] for slot, task in enumerate(self._tasks) if task is not None)


@dataclass(frozen=True, slots=True)
class ViewSpec:
    """What the user asked to see. Invalid words raise ValueError (a typo, not an empty view)."""

    text: str = ""
    state_filter: str = "all"
    failure_group: str | None = None
    group_keys: frozenset[Key] | None = None
    """Only these tasks (a failure group chosen in the failures view: its members, not a label)."""
    group_title: str | None = None
    """What the table's title calls `group_keys`."""
    sort_column: str = "state"
    sort_reverse: bool = False
    batch: str | None = None
    """Only this batch label (`NO_BATCH`: tasks without one); None: every batch."""
    provider: str | None = None
    """Only this provider; None: every provider."""

    def __post_init__(self) -> None:
        if self.state_filter not in STATE_GROUPS:
            raise ValueError(
                f"unknown state filter {self.state_filter!r}; use one of: {', '.join(STATE_GROUPS)}"
            )
        if self.sort_column not in SORT_VALUE:
            raise ValueError(
                f"unknown sort column {self.sort_column!r}; use one of: {', '.join(SORT_COLUMNS)}"
            )

    def replace(self, **changes: Any) -> ViewSpec:
        return dataclasses.replace(self, **changes)

    @property
    def inverted(self) -> bool:
        return self.text.startswith("!")

    @property
    def needle(self) -> str:
        """The filter text without its `!`, lowercase, ends stripped."""
        return (self.text[1:] if self.inverted else self.text).strip().lower()

    @property
    def states(self) -> frozenset[State] | None:
        return STATE_GROUPS[self.state_filter]


_ABSENT: Any = object()  # the sort value of a slot the view does not hold


class TaskView:
    """The keys matching a `ViewSpec`, in display order, kept current incrementally.

    `_pv[slot]` is each task's sort value for the current column. Both the full list (`_base`)
    and the shown list (`_rows`) hold slots in ascending (value, slot) order, so every position
    is unique and `bisect` finds a slot exactly; ties keep the order tasks were added. A reversed
    sort only flips how positions are read, so `S` costs nothing.
    """

    # Above this many changed keys one re-sort (of cached values, fast same-type compares) beats
    # moving each key with list.insert / del (two memmoves of the 100k-slot lists per key).
    BULK = 256

    def __init__(self, index: TaskIndex, spec: ViewSpec | None = None) -> None:
        self.index = index
        self._spec = spec or ViewSpec()
        self._pv: list[Any] = []
        self._base: list[int] = []
        self._rows: list[int] = []
        self._generation = -1
        self.rebuild()

    # --- reading -----------------------------------------------------------------------------

    @property
    def spec(self) -> ViewSpec:
        return self._spec

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, position: int) -> Key:
        """The key shown at `position` (0 = top of the table)."""
        rows = self._rows
        n = len(rows)
        if position < 0:
            position += n
        if not 0 <= position < n:
            raise IndexError(position)
        slot = rows[n - 1 - position] if self._spec.sort_reverse else rows[position]
        return self.index._keys[slot]

    def keys(self) -> list[Key]:
        """The whole view, in display order (a new list)."""
        keys = self.index._keys
        rows = reversed(self._rows) if self._spec.sort_reverse else self._rows
        return [keys[slot] for slot in rows]

    def window(self, start: int, stop: int) -> list[Key]:
        """Keys shown at positions start..stop-1 (clamped)."""
        n = len(self._rows)
        start, stop = max(0, start), min(n, stop)
        if start >= stop:
            return []
        if self._spec.sort_reverse:
            part = self._rows[n - stop : n - start][::-1]
        else:
            part = self._rows[start:stop]
        keys = self.index._keys
        return [keys[slot] for slot in part]

    def position(self, key: Key) -> int | None:
        """Where `key` is shown, or None when the view leaves it out. O(log n)."""
        slot = self.index._slot.get(key)
        if slot is None:
            return None
        i = self._find(self._rows, slot)
        if i is None:
            return None
        return len(self._rows) - 1 - i if self._spec.sort_reverse else i

    def __contains__(self, key: object) -> bool:
        return self.position(key) is not None  # type: ignore[arg-type]

    @property
    def stale(self) -> bool:
        """True after `TaskIndex.load`: the next `update` (or `rebuild`) starts over."""
        return self._generation != self.index.generation

    # --- changing ----------------------------------------------------------------------------

    def set_spec(self, spec: ViewSpec) -> None:
        """Apply a new spec doing only the work it needs: a flip, a refilter or a re-sort."""
        old, self._spec = self._spec, spec
        if self._generation != self.index.generation:
            self.rebuild()
            return
        if spec.sort_column != old.sort_column:
            self._resort()
            self._rows = self._filter(self._base)
            return
        if (
            spec.text,
            spec.state_filter,
            spec.failure_group,
            spec.group_keys,
            spec.batch,
            spec.provider,
        ) == (
            old.text,
            old.state_filter,
            old.failure_group,
            old.group_keys,
            old.batch,
            old.provider,
        ):
            return  # only the direction changed
        narrowing = (
            spec.state_filter == old.state_filter
            and spec.failure_group == old.failure_group
            and (spec.batch, spec.provider) == (old.batch, old.provider)
            and spec.group_keys == old.group_keys
            and spec.inverted == old.inverted
            and bool(old.needle)
            and bool(spec.needle)
            and (spec.needle in old.needle if spec.inverted else old.needle in spec.needle)
        )
        self._rows = self._filter(self._rows if narrowing else self._base)

    def rebuild(self) -> None:
        """Sort and filter everything from scratch (a load, or a new sort column)."""
        self._generation = self.index.generation
        self._resort()
        self._rows = self._filter(self._base)

    def update(self, changed: Iterable[Key]) -> None:
        """Fold changed keys (added, updated or removed from the index) into the view."""
        if self._generation != self.index.generation:
            self.rebuild()
            return
        index = self.index
        slot_of = index._slot
        slots = {slot for key in changed if (slot := slot_of.get(key)) is not None}
        if not slots:
            return
        pv = self._pv
        if len(pv) < len(index._tasks):
            pv.extend([_ABSENT] * (len(index._tasks) - len(pv)))
        column = self._spec.sort_column
        primary, last = SORT_VALUE[column], SORT_LAST[column]
        tasks = index._tasks
        if len(slots) > self.BULK:
            for slot in slots:
                task = tasks[slot]
                pv[slot] = _ABSENT if task is None else or_last(primary(task), last)
            self._base = sorted(
                [slot for slot, value in enumerate(pv) if value is not _ABSENT],
                key=pv.__getitem__,
            )  # slot order in, stable sort: ties stay in slot order
            self._rows = self._filter(self._base)
            return
        base, rows, key = self._base, self._rows, self._sort_key
        for slot in slots:
            old = pv[slot]
            task = tasks[slot]
            in_rows = None if old is _ABSENT else self._find(rows, slot)
            if task is None:
                if old is not _ABSENT:
                    at = self._find(base, slot)
                    if at is not None:
                        del base[at]
                    if in_rows is not None:
                        del rows[in_rows]
                    pv[slot] = _ABSENT
                continue
            new = or_last(primary(task), last)
            matches = self._matches(slot, task)
            if old is _ABSENT:
                pv[slot] = new
                insort(base, slot, key=key)
                if matches:
                    insort(rows, slot, key=key)
            elif new != old:
                at = self._find(base, slot)
                if at is not None:
                    del base[at]
                if in_rows is not None:
                    del rows[in_rows]
                pv[slot] = new
                insort(base, slot, key=key)
                if matches:
                    insort(rows, slot, key=key)
            elif matches and in_rows is None:
                insort(rows, slot, key=key)
            elif not matches and in_rows is not None:
                del rows[in_rows]

    # --- internals ---------------------------------------------------------------------------

    def _sort_key(self, slot: int) -> tuple[Any, int]:
        return (self._pv[slot], slot)

    def _resort(self) -> None:
        column = self._spec.sort_column
        primary, last = SORT_VALUE[column], SORT_LAST[column]
        self._pv = pv = [
            _ABSENT if task is None else or_last(primary(task), last) for task in self.index._tasks
        ]
        # slot order in, stable sort on the values alone: ties stay in slot order
        self._base = sorted(
            [slot for slot, value in enumerate(pv) if value is not _ABSENT], key=pv.__getitem__
        )

    def _find(self, rows: list[int], slot: int) -> int | None:
        if slot >= len(self._pv) or self._pv[slot] is _ABSENT:
            return None
        i = bisect_left(rows, (self._pv[slot], slot), key=self._sort_key)
        if i < len(rows) and rows[i] == slot:
            return i
        return None

    def _matches(self, slot: int, task: Task) -> bool:
        spec = self._spec
        states = spec.states
        if states is not None and task.state not in states:
            return False
        if spec.failure_group is not None and (
            task.failure is None or task.failure.label != spec.failure_group
        ):
            return False
        if not _in_batch(spec, task):
            return False
        if spec.group_keys is not None and self.index._keys[slot] not in spec.group_keys:
            return False
        needle = spec.needle
        if needle:
            return (needle in self.index._hay[slot]) != spec.inverted
        return True

    def _filter(self, slots: list[int]) -> list[int]:
        """The slots of `slots` (in order) that match the spec: one tight loop per criterion."""
        spec = self._spec
        index = self.index
        out = slots
        states = spec.states
        if states is not None:
            state = index._state
            out = [s for s in out if state[s] in states]
        group = spec.failure_group
        if group is not None:
            tasks = index._tasks
            out = [
                s
                for s in out
                if (task := tasks[s]) is not None
                and task.failure is not None
                and task.failure.label == group
            ]
        if spec.provider is not None or spec.batch is not None:
            tasks = index._tasks
            out = [s for s in out if (task := tasks[s]) is not None and _in_batch(spec, task)]
        if spec.group_keys is not None:
            slot_of = index._slot
            members = {slot_of[key] for key in spec.group_keys if key in slot_of}
            out = [s for s in out if s in members]
        needle = spec.needle
        if needle:
            hay = index._hay
            if len(out) * 4 < len(hay):
                # few candidates: test them directly
                if spec.inverted:
                    out = [s for s in out if needle not in hay[s]]
                else:
                    out = [s for s in out if needle in hay[s]]
            else:
                # many: search every haystack in memory order (cache-friendly), then pick the
                # sorted slots through a one-byte-per-task mask that stays in the CPU cache
                if spec.inverted:
                    mask = bytes([needle not in h for h in hay])
                else:
                    mask = bytes([needle in h for h in hay])
                out = [s for s in out if mask[s]]
        return out if out is not slots else list(slots)


def _batch_label(task: Task) -> str:
    return task.batch if task.batch is not None else NO_BATCH


def _in_batch(spec: ViewSpec, task: Task) -> bool:
    return (spec.provider is None or task.provider == spec.provider) and (
        spec.batch is None or _batch_label(task) == spec.batch
    )
