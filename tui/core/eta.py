"""An honest "what's left" for a batch: which live tasks can finish, which are blocked, and when
the ones that can finish will be seen finished.

Pure: no I/O and no clock of its own (`now` comes in as Unix seconds), so tests and
tests/bench/bench_eta.py run it on virtual time.

Why not throughput (finished tasks per second, as the summary did): a batch created at once
finishes in a burst near the end of its models' generation window, so early on the rate is tiny
(`ETA 5h55m` for a batch that ended 3 minutes later), and at the end one slow task makes the
rate-based figure count up. Instead the end of the batch is predicted per model group:

- every live task that can finish belongs to a group (provider, model, documented profile);
- a group's tasks end by `anchor + generation time`, and the batch ends when its last group does;
- the generation time's upper end is extrapolated from the times seen in this batch (creation
  to the moment the dashboard saw the result, so the polling delay is inside the figure) and the
  share of the group finished, weighed against the documented range from `tui.core.schedule`
  while few of the group's tasks have finished.

Blocked tasks (key refused, provider down, polling paused, state unknown) are counted apart and
left out of the ETA: they cannot finish while the block lasts.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from tui.core.model import Key, State, Task
from tui.core.schedule import PROFILES, profile_for

# Why a live task cannot finish for now (the words the summary shows).
KEY_REFUSED = "key refused"
PROVIDER_DOWN = "provider down"
PAUSED = "paused"
STATUS_UNKNOWN = "status unknown"
# Provider health words (`ProviderHealth` values, and the words a stopped provider is shown
# with) that block every task of that provider.
HEALTH_BLOCKS: dict[str, str] = {
    "auth failed": KEY_REFUSED,
    "stopped": KEY_REFUSED,
    "unauthorized": KEY_REFUSED,
    "down": PROVIDER_DOWN,
}

MIN_FINISHED = 3
"""The ETA says `measuring` until this many tasks of this batch (the groups' cohorts, below)
finished: before that it would be the documented ranges alone, a guess, not a measurement."""
MAX_SAMPLES = 2_000
"""Generation times kept per group, of the latest created tasks."""
MAX_GENERATION = 6 * 3600.0
"""A creation-to-result time longer than this is not a generation time (the task was added long
after it ended, or the clock jumped): it is not learned from."""
COHORT_WINDOWS = 2.0
"""A group's finished task belongs to this batch when it was created at most this many
documented windows (upper ends) before the oldest live task: an earlier batch of the same model
is history, and its creation times would make the batch look old."""
EARLY_SHARE = 0.5
"""Times under this share of the documented lower end are instant failures, not generations."""
DATA_WEIGHT = 10
"""Finishes of a group that weigh as much as its documented range in the upper end."""
EXTRAPOLATION_CAP = 3.0
"""The upper end extrapolated from a group's first finishes stays under this many times the
documented one (a handful of finishes can extrapolate to anything)."""
LOW_Q, HIGH_Q = 0.1, 0.9
"""The range shown: these quantiles of the group's last finish (the max of its tasks)."""
_LEARNED = (State.SUCCEEDED, State.FAILED)  # cancelled / expired times say nothing of generation


def blocked_reason(state: State, health: str | None, paused: bool) -> str | None:
    """Why a live task cannot finish now, or None when it can. A refused key or a down provider
    outranks `paused` (they outlast a resume); `unknown` comes next (we cannot read its state)."""
    reason = HEALTH_BLOCKS.get(health or "")
    if reason is not None:
        return reason
    if state is State.UNKNOWN:
        return STATUS_UNKNOWN
    return PAUSED if paused else None


@dataclass(frozen=True, slots=True)
class Blocked:
    provider: str
    reason: str
    count: int


@dataclass(frozen=True, slots=True)
class Remaining:
    """Live tasks split into those that can finish and those blocked, per provider and reason."""

    live: int
    can_finish: int
    blocked: tuple[Blocked, ...] = ()

    @property
    def blocked_count(self) -> int:
        return self.live - self.can_finish

    def text(self) -> str:
        """`blocked 3 (a: key refused)`, `blocked 5 (a: key refused 3, b: status unknown 2)`,
        or "" when nothing is blocked. With one part the total is its count; with several,
        each part says its own."""
        if not self.blocked:
            return ""
        parts = [f"{b.provider}: {b.reason}" for b in self.blocked]
        if len(self.blocked) > 1:
            parts = [f"{part} {b.count:,}" for part, b in zip(parts, self.blocked, strict=True)]
        if len({b.reason for b in self.blocked}) == 1 and self.blocked[0].reason == PAUSED:
            parts = [PAUSED]  # every provider paused: one word says it
        return f"blocked {self.blocked_count:,} ({', '.join(parts)})"


def count_remaining(
    tasks: Iterable[Task], health: Mapping[str, str], paused: bool = False
) -> Remaining:
    """`Remaining` by one scan over `tasks` (`EtaTracker.remaining` keeps the same incrementally).

    `health`: provider name -> health word (`str(ProviderHealth)`); a provider missing from it
    is taken as healthy."""
    live = 0
    blocked: dict[tuple[str, str], int] = {}
    for task in tasks:
        if task.state.terminal:
            continue
        live += 1
        reason = blocked_reason(task.state, health.get(task.provider), paused)
        if reason is not None:
            slot = (task.provider, reason)
            blocked[slot] = blocked.get(slot, 0) + 1
    return _remaining(live, blocked)


def _remaining(live: int, blocked: Mapping[tuple[str, str], int]) -> Remaining:
    parts = tuple(Blocked(p, r, n) for (p, r), n in sorted(blocked.items()) if n)
    return Remaining(live, live - sum(b.count for b in parts), parts)


def percent_done(done: int, total: int) -> int:
    """Whole percent, rounded down: an unfinished batch never shows 100 (299/300 is 99, and
    9,999/10,000 too); an empty batch is 0."""
    if total <= 0:
        return 0
    if done >= total:
        return 100
    return min(99, max(0, done) * 100 // total)


@dataclass(frozen=True, slots=True)
class Eta:
    """What the summary shows after `ETA`.

    `measuring`: not enough finishes seen yet (low/high are 0). `overdue`: every task that can
    finish is past its group's expected window; `low` is then a lower bound (the latest next
    poll), never a figure that grows. Otherwise `low..high` seconds from now.
    """

    low: float
    high: float
    measuring: bool = False
    overdue: bool = False

    @property
    def midpoint(self) -> float:
        return (self.low + self.high) / 2

    def text(self, duration: Callable[[float], str] | None = None) -> str:
        """`measuring…`, `overdue`, `2m-5m`; `duration` formats seconds (default: whole s)."""
        fmt = duration or (lambda seconds: f"{seconds:.0f}s")
        if self.measuring:
            return "measuring…"
        if self.overdue:
            return "overdue" + (f" (next look in {fmt(self.low)})" if self.low >= 1 else "")
        low, high = fmt(self.low), fmt(self.high)
        return low if low == high else f"{low}-{high}"


def anchor_seconds(task: Task) -> float | None:
    """When the task's generation clock started, as Unix seconds: created_at, else the first
    time it was seen live, else when it was added. Finished tasks are measured from the same
    anchor, so a live task's age and a finished task's time compare."""
    moment = task.created_at or task.first_seen_live_at or task.added_at
    return None if moment is None else moment.timestamp()


def generation_seconds(task: Task) -> float | None:
    """Creation to the moment the result was seen, for a task that succeeded or failed.

    The moment we saw it (first_seen_terminal_at) rather than the provider's finished_at: the
    user waits for the dashboard to see it, polling delay included. A task never seen live here
    was already done when added: its provider-side finished_at is all there is."""
    if task.state not in _LEARNED:
        return None
    start = anchor_seconds(task)
    seen: datetime | None = task.first_seen_terminal_at if task.first_seen_live_at else None
    end = seen or task.finished_at
    if start is None or end is None:
        return None
    seconds = end.timestamp() - start
    return seconds if 0 < seconds <= MAX_GENERATION else None


GroupKey = tuple[str, str, str]  # (provider, model as named, documented profile name)
_PROFILES = {profile.name: profile for profile in PROFILES}


def group_key(task: Task) -> GroupKey:
    """Tasks of one provider and model (1.5 at 1080p apart: its own documented range)."""
    return (task.provider, task.model or "", profile_for(task.model, task.resolution).name)


@dataclass
class _Samples:
    """One group's generation times, by anchor (when the task was created): a new batch of the
    same model reads only its own cohort (`cohort`), not yesterday's batch."""

    entries: list[tuple[float, float]] = field(default_factory=list)  # (anchor, seconds)
    version: int = 0
    _cached: tuple[tuple[int, int], list[float], float] | None = None

    def add(self, seconds: float, at: float) -> None:
        insort(self.entries, (at - seconds, seconds))
        if len(self.entries) > MAX_SAMPLES:
            del self.entries[0]  # the earliest created
        self.version += 1

    def cohort(self, since: float) -> tuple[list[float], float]:
        """(sorted times, sum of anchors) of the tasks created at or after `since`."""
        start = bisect_left(self.entries, (since,))
        cached = self._cached
        if cached is not None and cached[0] == (self.version, start):
            return cached[1], cached[2]
        part = self.entries[start:]
        times = sorted(seconds for _, seconds in part)
        anchors = sum(anchor for anchor, _ in part)
        self._cached = ((self.version, start), times, anchors)
        return times, anchors


@dataclass
class _Group:
    """The live tasks of one group. `anchors`: readable ones (key -> anchor, None if not known);
    `due`: their next polls; `unknown`: the ones in state `unknown`. `youngest`, `oldest` and
    `last_poll`
    are cached maxima (None = recompute), so a second's estimate does not scan the group."""

    anchors: dict[Key, float | None] = field(default_factory=dict)
    due: dict[Key, float] = field(default_factory=dict)
    unknown: set[Key] = field(default_factory=set)
    anchor_sum: float = 0.0  # of the known anchors
    anchor_count: int = 0
    youngest: float | None = None
    oldest: float | None = None
    youngest_known: bool = False
    last_poll: float | None = None
    last_poll_known: bool = False

    def extremes(self) -> tuple[float | None, float | None]:
        """(youngest, oldest) anchor."""
        if not self.youngest_known:
            known = [a for a in self.anchors.values() if a is not None]
            self.youngest = max(known) if known else None
            self.oldest = min(known) if known else None
            self.youngest_known = True
        return self.youngest, self.oldest

    def latest_poll(self) -> float | None:
        if not self.last_poll_known:
            self.last_poll = max(self.due.values()) if self.due else None
            self.last_poll_known = True
        return self.last_poll

    def set_due(self, key: Key, due: float | None) -> None:
        old = self.due.pop(key, None)
        if old is not None and old == self.last_poll:
            self.last_poll_known = False  # the latest poll moved: find the new latest
        if due is not None:
            self.due[key] = due
            if self.last_poll_known and (self.last_poll is None or due > self.last_poll):
                self.last_poll = due


class EtaTracker:
    """Fed every task change (like `BatchStats`); answers `remaining()` and `estimate()`.

    An update costs a few dictionary operations per task; an estimate costs one pass over the
    groups (tens), plus a max() over a group's members only when the youngest task or the
    latest-due poll of that group left or changed.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._where: dict[Key, GroupKey] = {}
        self._groups: dict[GroupKey, _Group] = {}
        self._samples: dict[GroupKey, _Samples] = {}
        self._learned: set[Key] = set()
        self._learned_count = 0
        self._membership = 0  # bumped when a task joins or leaves the live groups
        self._shown: tuple[object, float, Eta] | None = None

    # -- feeding --------------------------------------------------------------------------------

    def load(self, tasks: Iterable[Task]) -> None:
        self._reset()
        self.update(tasks)

    def update(self, tasks: Iterable[Task]) -> None:
        """Tasks added or changed: a live one joins its group, a finished one leaves it and its
        generation time is learned (once per task). A poll that only moved the next poll
        changes no membership (the guard in `estimate` still holds)."""
        for task in tasks:
            key = task.key
            if task.state.terminal:
                self._leave(key)
                if key not in self._learned:
                    seconds = generation_seconds(task)
                    if seconds is not None:
                        self._learned.add(key)
                        end = (anchor_seconds(task) or 0.0) + seconds
                        self.observe(group_key(task), seconds, end)
                continue
            where = group_key(task)
            anchor = anchor_seconds(task)
            unknown = task.state is State.UNKNOWN
            group = self._groups.get(where)
            same = (
                self._where.get(key) == where
                and group is not None
                and (key in group.unknown) == unknown
                and (unknown or group.anchors.get(key, -1.0) == anchor)
            )
            if not same:
                self._leave(key)
                group = self._groups.setdefault(where, _Group())
                self._where[key] = where
                self._membership += 1
                if unknown:
                    group.unknown.add(key)
                else:
                    group.anchors[key] = anchor
                    if anchor is not None:
                        group.anchor_sum += anchor
                        group.anchor_count += 1
                    if anchor is not None and group.youngest_known:
                        if group.youngest is None or group.oldest is None:
                            group.youngest = group.oldest = anchor
                        else:
                            group.youngest = max(group.youngest, anchor)
                            group.oldest = min(group.oldest, anchor)
            if not unknown:
                group = self._groups[where]
                due = task.next_poll_at.timestamp() if task.next_poll_at else None
                group.set_due(key, due)

    def remove(self, keys: Iterable[Key]) -> None:
        for key in keys:
            self._leave(key)

    def observe(self, where: GroupKey, seconds: float, at: float) -> None:
        """One generation time seen (creation to result seen), finished at `at` (Unix s)."""
        self._samples.setdefault(where, _Samples()).add(seconds, at)
        self._learned_count += 1

    def _leave(self, key: Key) -> None:
        where = self._where.pop(key, None)
        if where is None:
            return
        self._membership += 1
        group = self._groups[where]
        if key in group.anchors:
            anchor = group.anchors.pop(key)
            if anchor is not None:
                group.anchor_sum -= anchor
                group.anchor_count -= 1
            if anchor in (group.youngest, group.oldest):
                group.youngest_known = False
            group.set_due(key, None)
        group.unknown.discard(key)
        if not group.anchors and not group.unknown:
            del self._groups[where]

    # -- answering ------------------------------------------------------------------------------

    def remaining(self, health: Mapping[str, str], paused: bool = False) -> Remaining:
        """`count_remaining` from the groups: no scan of the tasks."""
        live = 0
        blocked: dict[tuple[str, str], int] = {}
        for (provider, _, _), group in self._groups.items():
            members, unknown = len(group.anchors), len(group.unknown)
            live += members + unknown
            word = health.get(provider)
            for count, state in ((members, State.RUNNING), (unknown, State.UNKNOWN)):
                reason = blocked_reason(state, word, paused) if count else None
                if reason is not None:
                    blocked[(provider, reason)] = blocked.get((provider, reason), 0) + count
        return _remaining(live, blocked)

    def estimate(self, now: float, health: Mapping[str, str], paused: bool = False) -> Eta | None:
        """Seconds until every task that can finish is seen finished, as a range.

        None while paused (nothing is polled, so nothing will be seen) or when no task can
        finish. While nothing changes (no task added, finished or removed, no health change)
        the upper bound only falls, by the time that passed: it never counts up. Once every
        such task is past its group's window the answer is `overdue`, with the latest next
        poll as a lower bound, instead of a number that would grow.
        """
        if paused:
            return None
        open_groups = [
            where
            for where, group in self._groups.items()
            if group.anchors and HEALTH_BLOCKS.get(health.get(where[0]) or "") is None
        ]
        if not open_groups:
            return None
        finished = sum(len(self._cohort(where, self._groups[where])[0]) for where in open_groups)
        if finished < MIN_FINISHED:
            return Eta(0.0, 0.0, measuring=True)
        end_low = end_high = last_poll = float("-inf")
        for where in open_groups:
            group = self._groups[where]
            low, high = self._group_end(where, group, now)
            end_low, end_high = max(end_low, low), max(end_high, high)
            latest = group.latest_poll()
            if latest is not None:
                last_poll = max(last_poll, latest)
        next_look = max(last_poll - now, 0.0)
        if end_high <= now:
            return Eta(next_look, next_look, overdue=True)
        eta = Eta(max(end_low - now, next_look, 0.0), end_high - now)
        return self._guarded(now, eta, (self._membership, self._learned_count, open_groups))

    def _group_end(self, where: GroupKey, group: _Group, now: float) -> tuple[float, float]:
        """(low, high) Unix seconds at which the group's last task is seen finished.

        Every task of the group is taken as anchored at the youngest one's anchor (a batch is
        created within seconds; the youngest decides the end). Its generation time is uniform
        between the group's lower end (or the youngest's age, if later) and its upper end; the
        last of `count` such tasks ends at the quantile q ** (1 / count) of that range.
        """
        count = len(group.anchors)
        lower, upper = self._generation_range(where, group, now)
        youngest, _ = group.extremes()
        youngest = now if youngest is None else min(youngest, now)
        floor = max(lower, now - youngest)
        span = max(0.0, upper - floor)
        return (
            youngest + floor + span * LOW_Q ** (1.0 / count),
            youngest + floor + span * HIGH_Q ** (1.0 / count),
        )

    def _generation_range(self, where: GroupKey, group: _Group, now: float) -> tuple[float, float]:
        """(lower, upper) generation seconds for the group, polling delay included.

        Documented: the profile's range, the upper end plus one documented polling interval
        (the result is seen at the first poll after it). Seen here: the times of the group's
        finished tasks. They are censored (only tasks faster than the group's age have
        finished), so the slowest time seen is no estimate of the upper end; instead, with
        generation times uniform on [lower, upper] and the group's tasks of about the same
        age, the share finished is (age - lower) / (upper - lower), which gives `upper`. That
        extrapolation is noisy while few have finished: it is weighed against the documented
        end by the number of finishes (DATA_WEIGHT finishes count as much as the documentation),
        and never put below the slowest time seen.
        """
        profile = _PROFILES[where[2]]
        lo, hi = profile.generation
        hi += profile.poll[0]
        times, anchor_sum = self._cohort(where, group)
        if not times:
            return lo, hi
        # Failures that come back at once (content checks) are no generation time.
        seen = times[bisect_left(times, EARLY_SHARE * lo) :]
        if not seen:
            return lo, hi
        done, live = len(seen), len(group.anchors)
        lower, slowest = seen[done // 10], seen[-1]
        age = now - (group.anchor_sum + anchor_sum) / max(1, group.anchor_count + len(times))
        share = done / (done + live)
        growing = share < 1.0 and age > lower
        extrapolated = lower + (age - lower) / share if growing else slowest
        extrapolated = min(max(extrapolated, slowest), EXTRAPOLATION_CAP * hi)
        weight = done / (done + DATA_WEIGHT)
        upper = max(slowest, weight * extrapolated + (1.0 - weight) * hi)
        return min(lower, upper), upper

    def _cohort(self, where: GroupKey, group: _Group) -> tuple[list[float], float]:
        """This batch's finished tasks of the group: (sorted times, sum of their anchors)."""
        samples = self._samples.get(where)
        _, oldest = group.extremes()
        if samples is None or oldest is None:
            return [], 0.0
        profile = _PROFILES[where[2]]
        window = profile.generation[1] + profile.poll[0]
        return samples.cohort(oldest - COHORT_WINDOWS * window)

    def _guarded(self, now: float, eta: Eta, signature: object) -> Eta:
        """The monotone guard: under the same signature as the first reading, the upper bound
        may not exceed that reading's minus the time since (the lower bound follows it)."""
        shown = self._shown
        if shown is None or shown[0] != signature:
            self._shown = (signature, now, eta)
            return eta
        _, then, first = shown
        high = min(eta.high, max(0.0, first.high - (now - then)))
        return Eta(min(eta.low, high), high)
