"""Realistic batches of simulated tasks, for `seedance-tui demo` and for load tests.

Scenarios build on the server (they call `SimServer.add_task`), never the other way round.
Generation times come from `tui.sim.timing`; content-policy failures come back almost at
once, as the kyy docs say.
"""

from __future__ import annotations

import random
from typing import TypeVar

from tui.sim import tasks as T
from tui.sim.server import SimServer
from tui.sim.timing import timing_for

V = TypeVar("V")

# (model, weight) per provider kind.
MODELS: dict[str, tuple[tuple[str, int], ...]] = {
    "kyy": (
        ("seedance_2_0", 22),
        ("seedance_2_0_fast", 25),
        ("seedance_2_0_pro", 12),
        ("seedance_2_0_fast_pro", 12),
        ("seedance_1_5_pro", 9),
        ("seedance_1_5_pro_flex", 5),
        ("videos", 8),
        ("videos_fast", 7),
    ),
    "newapi": (
        ("doubao-seedance-2-0-260128", 45),
        ("doubao-seedance-2-0-fast-260128", 30),
        (T.ULTRA_MODEL, 25),
    ),
    "ark": (
        ("doubao-seedance-2-0-260128", 50),
        ("doubao-seedance-2-0-fast-260128", 30),
        ("doubao-seedance-1-5-pro-251215", 20),
    ),
}
_ACTIONS = (("generate", 60), ("referenceGenerate", 20), ("firstTailGenerate", 12))
RATIOS = (("16:9", 55), ("9:16", 25), ("1:1", 10), ("4:3", 5), ("21:9", 5))
DURATIONS = ((5, 50), (8, 15), (10, 25), (12, 5), (15, 5))


def demo_batch(
    sim: SimServer,
    n: int,
    *,
    kinds: tuple[str, ...] = ("newapi", "kyy"),
    seed: int | None = None,
) -> list[tuple[str, str]]:
    """Add `n` tasks the way a real batch looks and return [(kind, id), ...] in creation order.

    About 70 % succeed, 15 % fail (five different reasons per dialect, content-policy ones at
    once), a few are cancelled or expire, some newapi ones are ultra (super-resolution); one
    reports an unlisted status word and one fails with a message full of markup and terminal
    escapes (both when n >= 8). Tasks were created over the last few minutes, so some are done
    already, most are queued or running.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if not kinds:
        raise ValueError("kinds must name at least one provider kind")
    rng = random.Random(sim.seed * 7919 + n if seed is None else seed)
    outcomes = outcome_plan(n, rng)
    now = sim.clock.now()
    out: list[tuple[str, str]] = []
    unknown_kind = "newapi" if "newapi" in kinds else kinds[0]
    failure_turn = 0
    for outcome in outcomes:
        kind = unknown_kind if outcome == "unknown" else kinds[rng.randrange(len(kinds))]
        if outcome == "expired" and kind == "kyy":
            outcome = "cancelled"  # kyy has no expired state
        model = pick(rng, MODELS[kind])
        ultra = model == T.ULTRA_MODEL
        resolution = "480p" if ultra else resolution_for(model, rng)
        queue_s, run_s = timing_for(model, resolution, rng)
        failure: tuple[str | None, str] | None = None
        nasty = outcome == "nasty"
        if outcome in ("failed", "nasty"):
            catalog = T.KYY_FAILURES if kind == "kyy" else T.ARK_FAILURES
            failure = catalog[failure_turn % len(catalog)]
            failure_turn += 1
            if any(word in failure[1] for word in T.IMMEDIATE_FAILURE_WORDS):
                queue_s, run_s = round(rng.uniform(1, 5), 3), 0.0
            else:
                run_s = round(run_s * rng.uniform(0.2, 0.9), 3)
            outcome = "failed"
        elif outcome == "cancelled":
            queue_s, run_s = round(rng.uniform(20, 150), 3), 0.0
        elif outcome == "expired":
            queue_s, run_s = round(rng.uniform(120, 400), 3), 0.0
        total = queue_s + run_s
        age = rng.uniform(0.0, 1.2) * total
        task_id = sim.add_task(
            kind,
            model=model,
            outcome=outcome,
            queue_s=queue_s,
            run_s=run_s,
            failure=failure,
            nasty=nasty,
            ultra=ultra,
            created_at=now - age,
            resolution=resolution,
            super_resolution="1080p" if ultra and rng.random() < 0.2 else "720p",
            duration=pick(rng, DURATIONS),
            ratio=pick(rng, RATIOS),
            seed=rng.randint(1, 99_999),
            generate_audio=rng.random() < 0.8,
            action=pick(rng, _ACTIONS),
            video_bytes=rng.randint(200_000, 1_500_000),
        )
        out.append((kind, task_id))
    return out


def outcome_plan(n: int, rng: random.Random) -> list[str]:
    """The batch's outcome words, shuffled (`nasty` is a failure with a hostile message)."""
    specials = ["unknown", "nasty"] if n >= 8 else []
    cancelled = max(1, round(n * 0.05)) if n >= 20 else 0
    expired = max(1, round(n * 0.04)) if n >= 20 else 0
    failed = max(0, round(n * 0.15) - len(specials) // 2)
    plan = specials + ["cancelled"] * cancelled + ["expired"] * expired + ["failed"] * failed
    plan = plan[:n]
    plan += ["succeeded"] * (n - len(plan))
    rng.shuffle(plan)
    return plan


def resolution_for(model: str, rng: random.Random, ultra: bool = False) -> str:
    """A resolution as a batch would ask for it (an ultra task is made at 720p or 1080p)."""
    if ultra:
        return "1080p" if rng.random() < 0.2 else "720p"
    if "1_5" in model or "1-5" in model:
        return "1080p" if rng.random() < 0.35 else "720p"
    roll = rng.random()
    return "480p" if roll < 0.25 else "1080p" if roll > 0.85 else "720p"


def pick(rng: random.Random, weighted: tuple[tuple[V, int], ...]) -> V:
    """One value, drawn by weight."""
    values = [value for value, _ in weighted]
    weights = [weight for _, weight in weighted]
    return rng.choices(values, weights=weights, k=1)[0]
