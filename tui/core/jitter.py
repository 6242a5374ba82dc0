"""Randomness in timing, one formula: `value` scaled by a uniform draw in [low, high].

Spread keeps many clients (or many tasks) from acting in lockstep. Every delay that is
randomised goes through here, so the shapes in use are named where they are used:
full jitter (0, 1), equal jitter (0.5, 1), a small nudge above a floor (1, 1.1).
"""

from __future__ import annotations

import random

FULL = (0.0, 1.0)  # anywhere from nothing to the whole value: back-off after errors
EQUAL = (0.5, 1.0)  # at least half: a breaker's cool-down
NUDGE = (1.0, 1.1)  # just above a floor that must hold (min_interval)


def jittered(value: float, rng: random.Random, spread: tuple[float, float] = FULL) -> float:
    """`value * uniform(low, high)`: one random delay of the given shape."""
    low, high = spread
    return value * rng.uniform(low, high)
