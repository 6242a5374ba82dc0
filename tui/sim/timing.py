"""How long a simulated task takes, by model: the one timing model for planned and created tasks.

Generation times follow the providers' published tables (seeds 000-004): Seedance 2.0 fast
variants 1-3 min, standard 2-5, pro 3-6, fast pro 2-4; Seedance 1.5 2-5 min at 720p and 3-8
at 1080p (flex, the offline tier, waits much longer in the queue); `videos` a few minutes.
Its own module so the server (tasks made by a create call) and the scenarios (demo batches)
draw from the same table without importing each other.
"""

from __future__ import annotations

import random

from tui.core.schedule import FLEX

# Total generation time (queue + run), clock seconds, by model.
GENERATION_S: dict[str, tuple[float, float]] = {
    "seedance_2_0": (120, 300),
    "seedance_2_0_fast": (60, 180),
    "seedance_2_0_pro": (180, 360),
    "seedance_2_0_fast_pro": (120, 240),
    "seedance_1_5_pro": (120, 300),
    "seedance_1_5_pro_flex": FLEX.generation,  # the engine's assumption, one source
    "videos": (90, 300),
    "videos_fast": (60, 180),
    "doubao-seedance-2-0-260128": (120, 300),
    "doubao-seedance-2-0-fast-260128": (60, 180),
    "doubao-seedance-1-5-pro-251215": (120, 300),
    "seedance-turbo": (120, 330),
}
GENERIC_S = (60.0, 300.0)


def timing_for(model: str, resolution: str, rng: random.Random) -> tuple[float, float]:
    """(queue_s, run_s) drawn from the model's documented generation time."""
    low, high = GENERATION_S.get(model, GENERIC_S)
    if "1_5" in model and resolution == "1080p":
        low, high = 180, 480
    total = rng.uniform(low, high)
    queued = rng.uniform(0.5, 0.7) if model.endswith("_flex") else rng.uniform(0.08, 0.3)
    return round(total * queued, 3), round(total * (1 - queued), 3)
