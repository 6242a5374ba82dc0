"""Creating tasks: each dialect's create call, its answer and its refusals, as the docs show.

    kyy     POST /v1/kyyvideo2/videos         {model, prompt, duration, aspect_ratio, ...}
    newapi  POST /v1/video/generations        {model, content: [...], resolution, ratio, ...}
    ark     POST /contents/generations/tasks  {model, content: [...], ...}

Pure functions (no I/O, no locks): the server reads the body, asks `parse_body` for a model
and task settings, makes the task and answers with `created_answer`. Every accepted create is
recorded under its body's `fingerprint`, so a test can prove that nothing was created twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, TypeGuard

from tui.sim import tasks as T

CREATE_PATHS: dict[str, str] = {
    "kyy": "/v1/kyyvideo2/videos",
    "newapi": "/v1/video/generations",
    "ark": "/contents/generations/tasks",
}
NEWAPI_ID_STYLES: tuple[str, ...] = ("asyntask", "cgt")
_RESOLUTIONS = ("480p", "720p", "1080p", "2k")


def fingerprint(body: Any) -> str:
    """`sha256:` + the hex digest of the body's canonical JSON (sorted keys, no whitespace,
    UTF-8 as is): the same body gives the same fingerprint whatever its key order."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CreateRecord:
    """A task the simulator made from a create call (whether or not the client heard its id)."""

    ts: float  # clock epoch seconds
    kind: str
    fingerprint: str
    task_id: str


@dataclass
class CreateShape:
    """How tasks made by create calls turn out. `count=None` applies forever.

    The first rule matching the kind with uses left shapes the task; without one a task
    succeeds after the model's documented generation time. `newapi_id` "cgt" makes the relay
    answer (and know the task by) the upstream Ark id; `id_keys` says which of `id` and
    `task_id` the relay's answer carries.
    """

    kind: str | None = None
    count: int | None = None
    outcome: str = "succeeded"
    failure: tuple[str | None, str] | str | None = None
    queue_s: float | None = None
    run_s: float | None = None
    newapi_id: str = "asyntask"
    id_keys: tuple[str, ...] = ("id", "task_id")
    hits: int = 0

    def matches(self, kind: str) -> bool:
        if self.count is not None and self.hits >= self.count:
            return False
        return self.kind is None or self.kind == kind


class BadBody(ValueError):
    """A create body the provider refuses with 400; `param` names the field, if one."""

    def __init__(self, message: str, param: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def parse_body(kind: str, raw: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the body, add_task settings drawn from it); BadBody when the provider would refuse it."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadBody(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadBody("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadBody("The parameter `model` specified in the request is missing.", "model")
    return body, _settings(kind, body, model)


def _settings(kind: str, body: dict[str, Any], model: str) -> dict[str, Any]:
    if kind == "kyy":
        ratio, audio = body.get("aspect_ratio"), body.get("generateAudio")
    else:
        ratio, audio = body.get("ratio"), body.get("generate_audio")
    resolution = body.get("resolution")
    resolution = resolution if resolution in _RESOLUTIONS else "720p"
    duration = body.get("duration")
    settings: dict[str, Any] = {
        "model": model,
        "duration": duration if _is_int(duration) and 1 <= duration <= 60 else 5,
        "ratio": ratio if isinstance(ratio, str) and 0 < len(ratio) <= 16 else "16:9",
        "generate_audio": audio if isinstance(audio, bool) else True,
        "resolution": resolution,
        "action": _action(body.get("content")),
    }
    seed = body.get("seed")
    if _is_int(seed) and seed >= 0:
        settings["seed"] = seed
    if kind == "newapi" and model == T.ULTRA_MODEL:  # upstream at 480p, super-resolved after
        settings.update(ultra=True, resolution="480p", super_resolution=resolution)
    return settings


def _action(content: Any) -> str:
    """The relay's sub-type, from the roles of the images in `content`."""
    roles = (
        {item.get("role") for item in content if isinstance(item, dict)}
        if isinstance(content, list)
        else set()
    )
    if "last_frame" in roles:
        return "firstTailGenerate"
    if "reference_image" in roles or "reference_video" in roles:
        return "referenceGenerate"
    return "generate"


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


# -- answers ----------------------------------------------------------------------------------
def created_answer(task: T.SimTask, id_keys: tuple[str, ...] = ("id", "task_id")) -> dict[str, Any]:
    """The 200 body of a create call that made `task`."""
    if task.kind == "kyy":  # the Create Video Task example of the kyy docs
        return {
            "id": task.id,
            "object": "video",
            "created": int(task.created_at),
            "model": task.model,
            "status": "queued",
            "error": None,
        }
    if task.kind == "newapi":  # new-api's OpenAI-style video object (dto.OpenAIVideo)
        ids: dict[str, str] = {key: task.id for key in ("id", "task_id") if key in id_keys}
        return {
            **ids,
            "object": "video",
            "model": task.model,
            "status": "queued",
            "progress": 0,
            "created_at": int(task.created_at),
        }
    return {"id": task.id}  # Ark answers the id alone


def invalid_parameter(kind: str, message: str, param: str = "") -> tuple[int, dict[str, Any]]:
    """A 400 for a body the provider will not take."""
    if kind == "ark":
        return 400, {
            "error": {
                "code": "InvalidParameter",
                "message": message,
                "param": param,
                "type": "BadRequest",
            }
        }
    kind_type = "new_api_error" if kind == "newapi" else "invalid_request_error"
    return 400, {"error": {"message": message, "type": kind_type, "code": "invalid_parameter"}}


def out_of_quota(kind: str) -> tuple[int, dict[str, Any]]:
    """Insufficient balance, as each provider says it.

    kyy (an OpenAI-style reseller): 402 `insufficient_quota`. new-api refuses a task it cannot
    pre-pay with HTTP 403 and the code `quota_not_enough` (relay/relay_task.go). Ark answers
    403 `AccountOverdueError` (its error-code table): the body says "overdue balance", not quota.
    """
    if kind == "newapi":
        return 403, {
            "error": {
                "message": "user quota is not enough",
                "type": "new_api_error",
                "code": "quota_not_enough",
            }
        }
    if kind == "ark":
        return 403, {
            "error": {
                "code": "AccountOverdueError",
                "message": "The request failed because your account has an overdue balance.",
                "param": "",
                "type": "Forbidden",
            }
        }
    return 402, {
        "error": {
            "message": "Insufficient balance: please top up your account.",
            "type": "insufficient_quota",
            "code": "insufficient_quota",
        }
    }


def too_many_live(kind: str, cap: int) -> tuple[int, dict[str, Any]]:
    """A 429 for a key that already has `cap` tasks queued or running."""
    if kind == "newapi":  # the relay rewrites every upstream 429 to its generic text
        return T.rate_limited("newapi")
    message = f"Too many concurrent tasks: at most {cap} may be queued or running at once."
    if kind == "ark":
        return 429, {
            "error": {
                "code": "RateLimitExceeded",
                "message": message,
                "param": "",
                "type": "TooManyRequests",
            }
        }
    return 429, {"error": {"message": message, "type": "rate_limit_error", "code": "rate_limited"}}
