"""The demo's batch as create requests: what a user's `submit` file would hold, and how each
task the simulator creates from it turns out.

The demo records these requests in its store (like `seedance-tui submit`) and the engine sends
them to the simulator's create endpoints, throttled by `max_live`, exactly as for a real batch.
The simulator is told beforehand how the i-th create of each dialect ends (`shape_creates`,
one rule per line, consumed in the order the lines are sent), so the batch plays out as a real
one does: about 70 % succeed, 15 % fail for five reasons per dialect (content-policy refusals
at once, as the kyy docs say), a few are cancelled or expire, one reports an unknown status and
one fails with a message full of markup and terminal escapes. Each line has already been
generating for a while (its generation time minus a random age): the first screen shows a
batch in progress, not one that has just started.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from tui.core.request_lines import PlannedRequest
from tui.core.request_store import Planned, RecordResult, record_requests
from tui.core.requests import fingerprint
from tui.core.store import Store
from tui.sim.scenarios import DURATIONS, RATIOS, outcome_plan, pick, resolution_for

BATCH = "demo"
_IMAGE_ROLES = ((None, 60), ("reference_image", 20), ("first_frame", 12))
_SUBJECTS = (
    "a red fox trotting through fresh snow",
    "rain on a neon street at night, reflections in puddles",
    "a paper boat drifting down a gutter stream",
    "a lighthouse in a storm, waves breaking on the rocks",
    "a cat asleep on a sunny windowsill, curtains moving",
    "a barista pouring latte art, close-up",
    "a skateboarder at golden hour, slow motion",
    "a hot-air balloon rising over misty hills",
)
_CAMERA = ("slow dolly-in", "handheld", "aerial orbit", "static shot", "tracking shot")


@dataclass(frozen=True, slots=True)
class DemoLine:
    """One line of the demo's file, and how the simulator makes its task end."""

    kind: str
    name: str
    body: dict[str, Any]
    outcome: str
    failure: tuple[str | None, str] | None
    queue_s: float  # clock seconds still queued after the create
    run_s: float  # clock seconds still running after that


def demo_lines(n: int, seed: int, kinds: Sequence[str]) -> list[DemoLine]:
    """`n` lines the way a real batch looks (see the module doc), the same for the same seed."""
    from tui.sim import tasks as T
    from tui.sim.scenarios import MODELS
    from tui.sim.timing import timing_for

    if n < 0:
        raise ValueError("n must be >= 0")
    rng = random.Random(seed * 7919 + n)
    unknown_kind = "newapi" if "newapi" in kinds else kinds[0]
    lines: list[DemoLine] = []
    failure_turn = 0
    for number, outcome in enumerate(outcome_plan(n, rng), 1):
        kind = unknown_kind if outcome == "unknown" else kinds[rng.randrange(len(kinds))]
        if outcome == "expired" and kind == "kyy":
            outcome = "cancelled"  # kyy has no expired state
        model = pick(rng, MODELS[kind])
        ultra = model == T.ULTRA_MODEL
        # an ultra task runs at 480p upstream and is super-resolved to the body's resolution
        resolution = resolution_for(model, rng, ultra)
        queue_s, run_s = timing_for(model, "480p" if ultra else resolution, rng)
        failure: tuple[str | None, str] | None = None
        at_once = False
        if outcome in ("failed", "nasty"):
            catalog = T.KYY_FAILURES if kind == "kyy" else T.ARK_FAILURES
            failure = catalog[failure_turn % len(catalog)]
            failure_turn += 1
            if outcome == "nasty":
                failure = (failure[0], T.NASTY_MESSAGE)
            at_once = any(word in failure[1] for word in T.IMMEDIATE_FAILURE_WORDS)
            run_s = 0.0 if at_once else round(run_s * rng.uniform(0.2, 0.9), 3)
            outcome = "failed"
        elif outcome == "cancelled":
            queue_s, run_s = round(rng.uniform(20, 150), 3), 0.0
        elif outcome == "expired":
            queue_s, run_s = round(rng.uniform(120, 400), 3), 0.0
        age = rng.uniform(0.0, 1.2) * (queue_s + run_s)
        queue_left = 0.0 if at_once else max(0.0, queue_s - age)
        run_left = max(0.0, run_s - max(0.0, age - queue_s))
        name = f"shot-{number:03}"
        body = _body(kind, model, resolution, rng, f"{name}: {_prompt(rng)}")
        lines.append(
            DemoLine(kind, name, body, outcome, failure, round(queue_left, 3), round(run_left, 3))
        )
    return lines


def submit_demo_batch(
    sim: Any, store: Store, lines: Sequence[DemoLine], providers: Mapping[str, str], now: datetime
) -> RecordResult:
    """Tell the simulator how each line's task ends, then record the lines as `pending` create
    requests of batch `demo` (`providers`: kind -> provider name), as `submit` would."""
    for line in lines:
        sim.shape_creates(
            line.kind,
            count=1,
            outcome=line.outcome,
            failure=line.failure,
            queue_s=line.queue_s,
            run_s=line.run_s,
        )
    planned = []
    for number, line in enumerate(lines, 1):
        provider = providers[line.kind]
        fp = fingerprint(provider, line.body, line.name)
        planned.append(PlannedRequest(number, provider, line.body, line.name, fp))
    # `Planned` declares plain (writable) attributes, a frozen PlannedRequest has read-only
    # ones: the same fields, which mypy cannot see
    return record_requests(store, cast("list[Planned]", planned), batch=BATCH, now=now)


def _body(
    kind: str, model: str, resolution: str, rng: random.Random, prompt: str
) -> dict[str, Any]:
    """A create body in the dialect's own shape (the docs' field names)."""
    ratio, duration = pick(rng, RATIOS), pick(rng, DURATIONS)
    audio, seed = rng.random() < 0.8, rng.randint(1, 99_999)
    if kind == "kyy":
        return {
            "model": model,
            "prompt": prompt,
            "duration": duration,
            "aspect_ratio": ratio,
            "generateAudio": audio,
            "seed": seed,
        }
    content: list[dict[str, Any]] = [{"type": "text", "text": prompt}]
    role = pick(rng, _IMAGE_ROLES)
    if role is not None:
        url = f"https://example.com/refs/{rng.randint(1, 40):02}.png"
        content.append({"type": "image_url", "image_url": {"url": url}, "role": role})
    return {
        "model": model,
        "content": content,
        "resolution": resolution,
        "ratio": ratio,
        "duration": duration,
        "generate_audio": audio,
        "seed": seed,
        "watermark": False,
    }


def _prompt(rng: random.Random) -> str:
    return f"{rng.choice(_SUBJECTS)}, {rng.choice(_CAMERA)}"
