"""When each task is polled next, and which due task goes first when a provider's budget is short.

Pure: no I/O and no clock of its own (`now` comes in), so tests and the scheduler benchmark run
it on virtual time and the figures describe the code we ship.

Why not a fixed interval: the providers document how long a generation takes (the seed docs'
tables). A task cannot be done long before the lower end of that range, so polling it every 10 s
from the start spends most requests on answers we already know ("still running"). We poll
sparsely before the window opens, densely inside it (denser as the window runs out: the
hazard of finishing rises), and back off gently once a task takes longer than documented.

The generation-time model behind both functions (`finish_probability`) is deliberately vague:
a little mass before the window (content-policy failures are immediate), most of it spread
evenly over the documented range, and a tail for tasks that overrun it.
"""

from __future__ import annotations

import functools
import math
import random
import re
from dataclasses import dataclass
from datetime import datetime

from tui.core.model import State, Task


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """What the provider documents for a model: how long a generation takes and how often to ask.

    `generation`: seconds from creation to a result, (typical fastest, typical slowest).
    `poll`: the documented polling interval range, seconds.
    """

    name: str
    generation: tuple[float, float]
    poll: tuple[float, float]


# The seed docs' tables. 000/002: Seedance 2.0 on kyy; 001: Seedance 1.5 (720p / 1080p) and the
# flex tier; 003: `videos` models ("most tasks complete within a few minutes"); 004: anyfast
# (new-api relay) Seedance 2.0: "typically 1-5 minutes", "~15 s interval".
SEEDANCE_2_0 = ModelProfile("seedance_2_0", (120.0, 300.0), (20.0, 40.0))
SEEDANCE_2_0_FAST = ModelProfile("seedance_2_0_fast", (60.0, 180.0), (10.0, 20.0))
SEEDANCE_2_0_PRO = ModelProfile("seedance_2_0_pro", (180.0, 360.0), (20.0, 40.0))
SEEDANCE_2_0_FAST_PRO = ModelProfile("seedance_2_0_fast_pro", (120.0, 240.0), (10.0, 20.0))
SEEDANCE_1_5 = ModelProfile("seedance_1_5", (120.0, 300.0), (30.0, 60.0))
SEEDANCE_1_5_1080P = ModelProfile("seedance_1_5_1080p", (180.0, 480.0), (30.0, 60.0))
# Flex (offline) documents only its poll interval; the generation range is our assumption:
# the 1.5 range (2-5 min) doubled, since offline work waits for spare capacity. The simulator
# draws flex tasks from this same range, so the ETA's fallback and the demo agree.
FLEX = ModelProfile("flex", (240.0, 600.0), (60.0, 120.0))
VIDEOS = ModelProfile("videos", (60.0, 300.0), (30.0, 60.0))
NEWAPI_SEEDANCE_2_0 = ModelProfile("doubao-seedance-2-0", (60.0, 300.0), (15.0, 15.0))
# The relay's fast variant: the kyy fast table's range, the relay's ~15 s interval.
NEWAPI_SEEDANCE_2_0_FAST = ModelProfile("doubao-seedance-2-0-fast", (60.0, 180.0), (15.0, 15.0))
GENERIC = ModelProfile("generic", (60.0, 300.0), (20.0, 40.0))

PROFILES: tuple[ModelProfile, ...] = (
    SEEDANCE_2_0,
    SEEDANCE_2_0_FAST,
    SEEDANCE_2_0_PRO,
    SEEDANCE_2_0_FAST_PRO,
    SEEDANCE_1_5,
    SEEDANCE_1_5_1080P,
    FLEX,
    VIDEOS,
    NEWAPI_SEEDANCE_2_0,
    NEWAPI_SEEDANCE_2_0_FAST,
    GENERIC,
)

# --- the generation-time model ------------------------------------------------------------
P_EARLY = 0.05  # finished before the documented window (immediate content-policy failures)
P_LATE = 0.10  # still running past the documented window
TAIL = 0.5  # the overrun tail's time constant, as a fraction of the window's upper end
P_DONE_BEFORE_ADDED = 0.10  # a never-polled task may have finished before it was added

# --- the delay policy (tuned with tests/bench/bench_schedule.py) ---------------------------
EARLY_CHECK = 20.0  # one look at this age: content-policy failures come back "immediately"
LEAD = 0.85  # the sparse phase aims its poll at this fraction of the window's lower end
DENSE = 0.5  # the densest in-window interval, as a fraction of the documented poll interval
OVERDUE_GROWTH = 0.5  # past the window, the interval grows by poll_lo every this * hi seconds
PROGRESS_NEAR = 90  # a reported progress at/above this means "almost done": poll densely
JITTER = 0.1  # +-10% so tasks added together spread out instead of polling in lockstep

_ONE_FIVE = re.compile(r"(?<![0-9])1_5(?![0-9])")


@functools.lru_cache(maxsize=1024)
def profile_for(model: str | None, resolution: str | None = None) -> ModelProfile:
    """The documented profile for a model name as any of the providers spell it.

    kyy says `seedance_2_0_fast`, anyfast `doubao-seedance-2-0-260128`, Ark
    `doubao-seedance-1-5-pro-251215`: separators are normalized before matching. Seedance 1.5 at
    1080p has its own (longer) range, hence `resolution`.
    """
    if not model:
        return GENERIC
    name = re.sub(r"[^a-z0-9]+", "_", model.lower()).strip("_")
    words = set(name.split("_"))
    if "flex" in words:
        return FLEX
    if _ONE_FIVE.search(name):
        high = (resolution or "").lower() in {"1080p", "2k", "4k"}
        return SEEDANCE_1_5_1080P if high else SEEDANCE_1_5
    if "videos" in words:
        return VIDEOS
    if ("doubao" in words and "seedance_2_0" in name) or name == "seedance_turbo":
        # anyfast's Seedance 2.0 page, which also covers its ultra model (seedance-turbo)
        return NEWAPI_SEEDANCE_2_0_FAST if "fast" in words else NEWAPI_SEEDANCE_2_0
    if "seedance" in words and "2_0" in name:
        fast, pro = "fast" in words, "pro" in words
        if fast and pro:
            return SEEDANCE_2_0_FAST_PRO
        if fast:
            return SEEDANCE_2_0_FAST
        if pro:
            return SEEDANCE_2_0_PRO
        return SEEDANCE_2_0
    return GENERIC


def finish_probability(profile: ModelProfile, elapsed: float) -> float:
    """P(the task has finished within `elapsed` seconds of its anchor), our deliberately vague
    model of the documented range: P_EARLY before it, even inside it, an exponential tail after."""
    lo, hi = profile.generation
    if elapsed <= 0:
        return 0.0
    if elapsed < lo:
        return P_EARLY * elapsed / lo
    if elapsed < hi:
        return P_EARLY + (1.0 - P_EARLY - P_LATE) * (elapsed - lo) / (hi - lo)
    return 1.0 - P_LATE * math.exp(-(elapsed - hi) / (TAIL * hi))


def anchor(task: Task) -> datetime | None:
    """The moment the task's generation clock started, as well as we know it.

    started_at, else created_at, else first_seen_live_at, else added_at. A task that was still
    queued at its last poll had not started then, so that poll is the anchor when it is later.
    """
    base = task.started_at or task.created_at or task.first_seen_live_at or task.added_at
    polled = task.last_polled_at
    queued = task.state is State.QUEUED and task.started_at is None
    if queued and polled is not None and (base is None or polled > base):
        return polled
    return base


def planned_delay(task: Task, now: datetime, *, min_interval: float, max_interval: float) -> float:
    """`next_poll_delay` without the jitter: the policy itself, in seconds from `now`."""
    low, high = _bounds(min_interval, max_interval)
    if task.terminal or task.state is State.UNKNOWN:
        return high
    profile = profile_for(task.model, task.resolution)
    lo, hi = profile.generation
    poll_lo = profile.poll[0]
    densest = max(low, DENSE * poll_lo)
    elapsed = _elapsed(task, now)
    if task.progress is not None and task.progress >= PROGRESS_NEAR and task.state is State.RUNNING:
        base = densest
    elif task.polls <= 1 and elapsed < EARLY_CHECK:
        # Only the first look so far, right after creation: one more soon, for the failures
        # a provider reports at once (a rejected prompt), then the sparse phase.
        base = EARLY_CHECK - elapsed
    elif elapsed < LEAD * lo:
        # Cannot be done yet: one poll just before the window opens (max_interval caps it).
        base = max(LEAD * lo - elapsed, poll_lo)
    elif elapsed < hi:
        # Inside the window: the hazard of finishing grows as it runs out, so poll denser.
        left = min(1.0, (hi - elapsed) / (hi - lo))
        base = poll_lo * math.sqrt(left)
    else:
        # Longer than documented: keep asking, less and less often.
        base = poll_lo * (1.0 + (elapsed - hi) / (OVERDUE_GROWTH * hi))
    return min(high, max(densest, base))


def next_poll_delay(
    task: Task,
    now: datetime,
    *,
    min_interval: float,
    max_interval: float,
    rng: random.Random,
) -> float:
    """Seconds from `now` until this task should be polled again, in [min_interval, max_interval].

    A state we cannot read (unknown) is polled at exactly max_interval, as the contract says.
    Otherwise `planned_delay` gets +-JITTER, folded back inside the bounds (a delay sitting on
    min_interval is jittered upwards, one on max_interval downwards) so that thousands of tasks
    added together spread out instead of polling in lockstep.
    """
    low, high = _bounds(min_interval, max_interval)
    base = planned_delay(task, now, min_interval=low, max_interval=high)
    if task.state is State.UNKNOWN or task.terminal:
        return base
    span = min(JITTER * base, (high - low) / 2)
    start = max(low, min(base - span, high - 2 * span))
    return min(high, max(low, start + rng.random() * 2 * span))


def priority(task: Task, now: datetime) -> float:
    """Higher = poll first when a provider's budget cannot keep up with every due task.

    The probability that the task finished since we last looked, given it had not finished
    then: tasks most likely done come first, and a task's claim grows while it waits. A task
    never polled may have finished before it was added: it starts at P_DONE_BEFORE_ADDED.
    A reported progress at/above PROGRESS_NEAR counts as at least an even chance.
    """
    if task.terminal:
        return 0.0
    profile = profile_for(task.model, task.resolution)
    elapsed = _elapsed(task, now)
    if task.last_polled_at is None:
        done = finish_probability(profile, elapsed)
        return P_DONE_BEFORE_ADDED + (1.0 - P_DONE_BEFORE_ADDED) * done
    start = anchor(task)
    before = (task.last_polled_at - start).total_seconds() if start is not None else 0.0
    was = finish_probability(profile, before)
    is_now = finish_probability(profile, elapsed)
    chance = max(0.0, is_now - was) / max(1e-9, 1.0 - was)
    if task.progress is not None and task.progress >= PROGRESS_NEAR and task.state is State.RUNNING:
        chance = max(chance, 0.5)
    return min(1.0, chance)


def _elapsed(task: Task, now: datetime) -> float:
    start = anchor(task)
    return max(0.0, (now - start).total_seconds()) if start is not None else 0.0


def _bounds(min_interval: float, max_interval: float) -> tuple[float, float]:
    low = max(0.0, float(min_interval))
    return low, max(low, float(max_interval))
