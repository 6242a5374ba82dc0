"""One simulated task: its timeline on the clock and the body each dialect answers for it.

A task is a plan, not a state machine: created at `created_at`, queued until `started_at`,
running until `finished_at`, then its `outcome` for good. What a provider says at any moment is
a pure function of the plan and the clock's `now`, so a FrozenClock test can step through the
phases and a ScaledClock demo runs them 30x faster, with nothing ticking in the background.

The bodies follow the providers' published examples (see /work/shared/seeds), quirks included:
newapi repeats the video URL in `fail_reason` on success, reports an upstream `expired` or
`cancelled` as `IN_PROGRESS` with only the inner `data.data.status` telling the truth, and puts
the super-resolved video in `result_url` for ultra tasks.
"""

from __future__ import annotations

import hashlib
import random
import string
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Protocol
from urllib.parse import quote, urlencode

OUTCOMES: tuple[str, ...] = ("succeeded", "failed", "cancelled", "expired", "unknown")
URL_STYLES: tuple[str, ...] = ("tos", "amz", "expires", "plain")

DEFAULT_MODELS: dict[str, str] = {
    "kyy": "seedance_2_0_fast",
    "newapi": "doubao-seedance-2-0-260128",
    "ark": "doubao-seedance-2-0-260128",
}
ULTRA_MODEL = "seedance-turbo"
UNKNOWN_STATUS = "WEIRD"

# Rich markup that would click "quit" and an OSC 52 escape that would write the clipboard:
# what a hostile or broken upstream can put in a string we show. The client must clean it.
NASTY_MESSAGE = (
    "prompt rejected [/] [@click=app.quit]click me[/] \x1b]52;c;SGVsbG8=\x07"
    "\x1b[31m red \x1b[0m\r\n second line\x9b2J"
)

# (code, message) as Ark / the newapi relay report them.
ARK_FAILURES: tuple[tuple[str, str], ...] = (
    ("InvalidParameter", "img_url must be set for image to video method"),
    (
        "OutputVideoSensitiveContentDetected",
        "The request failed because the output video may contain sensitive information.",
    ),
    (
        "InputImageSensitiveContentDetected.PrivacyInformation",
        "The request failed because the input image may contain real person.",
    ),
    (
        "InputTextSensitiveContentDetected",
        "The request failed because the input text may contain sensitive information.",
    ),
    ("InternalServiceError", "The service encountered an unexpected internal error."),
)
# kyy reports a bare message (`error` is a string); the code is None.
KYY_FAILURES: tuple[tuple[None, str], ...] = (
    (None, "Reference video exceeds maximum total duration of 15 seconds."),
    (None, "Content policy violation: the output video may contain sensitive content."),
    (None, "img_url must be set for image to video method"),
    (None, "Input image contains a real person and cannot be used as a reference."),
    (None, "Generation failed upstream, please retry later."),
)
# Failures a content check raises at once (kyy doc: "fail content policy checks ... immediately").
IMMEDIATE_FAILURE_WORDS = ("Sensitive", "policy", "real person", "exceeds", "img_url")

_RESOLUTION_PIXELS: dict[str, tuple[int, int]] = {
    "480p": (864, 480),
    "720p": (1280, 720),
    "1080p": (1920, 1080),
    "2k": (2560, 1440),
}
_BEIJING = timezone(timedelta(hours=8))
_ALNUM = string.ascii_letters + string.digits
_LOWER_ALNUM = string.ascii_lowercase + string.digits


class VideoHostLike(Protocol):
    """What the simulator needs from `tui.sim.video_host.VideoHost`: a signed URL per video."""

    def publish(self, name: str, *, size: int, ttl: float = 86400, style: str = "tos") -> str: ...


@dataclass
class SimTask:
    """The plan of one simulated task (mutable only through the Simulator's lock)."""

    kind: str
    id: str
    model: str
    created_at: float
    started_at: float
    finished_at: float
    outcome: str = "succeeded"
    failure: tuple[str | None, str] | None = None
    unknown_status: str = UNKNOWN_STATUS
    ultra: bool = False
    video_bytes: int = 262_144
    url_ttl: float = 86_400.0
    url_style: str = "tos"
    duration: int = 5
    resolution: str = "720p"
    super_resolution: str | None = None
    ratio: str = "16:9"
    fps: int = 24
    seed: int = 4304
    generate_audio: bool = True
    action: str = "generate"
    request_id: str = ""
    inner_id: str = ""  # newapi: the upstream Ark task id (cgt-...)
    # Signed URLs as handed out so far: (url, expires_at clock epoch) for the final video and,
    # for ultra tasks, the original low-resolution one.
    url: tuple[str, float] | None = None
    original_url: tuple[str, float] | None = None

    @property
    def video_name(self) -> str:
        """The name the video is published under on a video host."""
        return f"{self.id}.mp4"

    @property
    def original_video_name(self) -> str:
        return f"{self.id}.original.mp4"

    def phase(self, now: float) -> str:
        """`queued`, `running` or `done` at clock time `now`."""
        if now < self.started_at:
            return "queued"
        if now < self.finished_at:
            return "running"
        return "done"

    def fraction(self, now: float) -> float:
        """How far through the running phase (0..1)."""
        span = self.finished_at - self.started_at
        if span <= 0:
            return 1.0
        return min(1.0, max(0.0, (now - self.started_at) / span))

    @property
    def ran(self) -> bool:
        """Whether the task ever reached the running phase (start_time stays 0 otherwise)."""
        return self.finished_at > self.started_at

    @property
    def completion_tokens(self) -> int:
        return tokens_for(self.resolution, self.fps, self.duration)

    @property
    def super_resolution_tokens(self) -> int | None:
        if not self.ultra or not self.super_resolution:
            return None
        return round(tokens_for(self.super_resolution, self.fps, self.duration) * 1.06)

    @property
    def kyy_tokens(self) -> int:
        return self.duration * 155 + self.seed % 17


def tokens_for(resolution: str, fps: int, duration: int) -> int:
    """Ark bills about width x height x frames / 1024 tokens (108 900 for 5 s of 720p)."""
    width, height = _RESOLUTION_PIXELS.get(resolution, (1280, 720))
    return round(width * height * fps * duration / 1024)


def pick_failure(
    kind: str,
    outcome: str,
    failure: tuple[str | None, str] | str | None,
    nasty: bool,
    rng: random.Random,
) -> tuple[str | None, str] | None:
    """The (code, message) a task fails with: the given one, the nasty one, or a realistic one."""
    if isinstance(failure, str):
        failure = (None, failure)
    if nasty:
        code = failure[0] if failure else ("InvalidParameter" if kind != "kyy" else None)
        return (code, NASTY_MESSAGE)
    if failure is not None:
        return (failure[0], failure[1])
    if outcome != "failed":
        return None
    return rng.choice(KYY_FAILURES if kind == "kyy" else ARK_FAILURES)


# -- ids ------------------------------------------------------------------------------------
def kyy_id(rng: random.Random) -> str:
    return f"video_{uuid.UUID(int=rng.getrandbits(128), version=4)}"


def newapi_id(rng: random.Random) -> str:
    return "asyntask_" + "".join(rng.choice(_ALNUM) for _ in range(32))


def ark_id(rng: random.Random, created_at: float) -> str:
    stamp = datetime.fromtimestamp(created_at, _BEIJING).strftime("%Y%m%d%H%M%S")
    return f"cgt-{stamp}-" + "".join(rng.choice(_LOWER_ALNUM) for _ in range(5))


def new_id(kind: str, rng: random.Random, created_at: float) -> str:
    if kind == "kyy":
        return kyy_id(rng)
    if kind == "newapi":
        return newapi_id(rng)
    return ark_id(rng, created_at)


def request_id(rng: random.Random, at: float) -> str:
    """The relay's trace id: `20260427111505260254000NBdvZFoP` (UTC stamp + digits + letters)."""
    stamp = datetime.fromtimestamp(at, UTC).strftime("%Y%m%d%H%M%S")
    digits = "".join(rng.choice(string.digits) for _ in range(9))
    return stamp + digits + "".join(rng.choice(string.ascii_letters) for _ in range(8))


# -- video URLs -----------------------------------------------------------------------------
def fake_signed_url(path: str, signed_at: float, ttl: float, style: str = "tos") -> str:
    """A plausible pre-signed URL on a host that does not exist (no video host attached)."""
    base = f"https://cdn.invalid/{path}"
    if style == "plain":
        return base
    digest = hashlib.sha256(f"{path}|{signed_at}|{ttl}".encode()).hexdigest()
    if style == "expires":
        return base + "?" + urlencode({"Expires": int(signed_at + ttl), "Signature": digest})
    prefix = "Amz" if style == "amz" else "Tos"
    date = datetime.fromtimestamp(int(signed_at), UTC).strftime("%Y%m%dT%H%M%SZ")
    params = {
        f"X-{prefix}-Algorithm": f"{prefix.upper()}4-HMAC-SHA256",
        f"X-{prefix}-Credential": f"AKLTSIMULATOR/{date[:8]}/cn-beijing/{prefix.lower()}/request",
        f"X-{prefix}-Date": date,
        f"X-{prefix}-Expires": str(max(1, round(ttl))),
        f"X-{prefix}-SignedHeaders": "host",
        f"X-{prefix}-Signature": digest,
    }
    return base + "?" + urlencode(params)


class UrlMinter:
    """Hands out a task's signed video URLs: from the video host when there is one.

    A URL is signed when the task finished and lives `url_ttl` clock seconds. Ark and the newapi
    relay sign a fresh one when asked after the old one died (the downloader's refresh path);
    kyy does not ("the URL cannot be recovered after expiry").
    """

    def __init__(self, video_host: VideoHostLike | None) -> None:
        self.video_host = video_host

    def urls(self, task: SimTask, now: float) -> tuple[str, str | None]:
        """(final video URL, original low-res URL for ultra tasks else None). Call under lock."""
        task.url = self._mint(task, task.url, task.video_name, task.video_bytes, now, "")
        if not task.ultra:
            return task.url[0], None
        task.original_url = self._mint(
            task, task.original_url, task.original_video_name, task.video_bytes // 2, now, "orig/"
        )
        return task.url[0], task.original_url[0]

    def _mint(
        self,
        task: SimTask,
        current: tuple[str, float] | None,
        name: str,
        size: int,
        now: float,
        folder: str,
    ) -> tuple[str, float]:
        if current is not None and (task.kind == "kyy" or now < current[1]):
            return current
        expires_at = task.finished_at + task.url_ttl
        if current is not None or (task.kind != "kyy" and expires_at <= now):
            expires_at = now + task.url_ttl  # re-signed on this poll
        if self.video_host is not None:
            url = self.video_host.publish(
                name, size=size, ttl=expires_at - now, style=task.url_style
            )
        else:
            path = f"{task.kind}/{folder}{quote(name)}"
            url = fake_signed_url(path, expires_at - task.url_ttl, task.url_ttl, task.url_style)
        return url, expires_at


# -- bodies ---------------------------------------------------------------------------------
UrlSource = Any  # Callable[[], tuple[str, str | None]]; called only when a URL is shown


def final_word(task: SimTask) -> str:
    """The outcome as the Ark word (`unknown` outcomes report their unlisted word)."""
    if task.outcome == "unknown":
        return task.unknown_status
    return task.outcome


def render(task: SimTask, now: float, urls: UrlSource) -> dict[str, Any]:
    """The 200 body `task.kind` answers at clock time `now`."""
    if task.kind == "kyy":
        return render_kyy(task, now, urls)
    if task.kind == "newapi":
        return render_newapi(task, now, urls)
    return render_ark(task, now, urls)


def render_kyy(task: SimTask, now: float, urls: UrlSource) -> dict[str, Any]:
    phase = task.phase(now)
    body: dict[str, Any] = {
        "id": task.id,
        "object": "video",
        "created": int(task.created_at),
        "model": task.model,
    }
    error: str | None = None
    if phase == "queued":
        status = "queued"
    elif phase == "running":
        status = "processing"
    elif task.outcome == "succeeded":
        status = "completed"
    elif task.outcome in ("failed", "expired"):
        # kyy has no `expired`: a task that timed out in the queue is a failure there.
        status = "failed"
        error = _message(task) if task.outcome == "failed" else "Task expired before it started."
    elif task.outcome == "cancelled":
        status = "cancelled"
    else:
        status = task.unknown_status
    body["status"] = status
    body["video_url"] = None
    if status == "completed":
        body["video_url"] = urls()[0]
        body["actualDuration"] = task.duration
        body["totalTokens"] = task.kyy_tokens
    body["error"] = error
    return body


def render_ark(task: SimTask, now: float, urls: UrlSource) -> dict[str, Any]:
    phase = task.phase(now)
    status = {"queued": "queued", "running": "running"}.get(phase) or final_word(task)
    updated = {"queued": task.created_at, "running": task.started_at}.get(phase, task.finished_at)
    body: dict[str, Any] = {"id": task.id, "model": task.model, "status": status}
    if status == "succeeded":
        body["content"] = {"video_url": urls()[0]}
        body["usage"] = {
            "completion_tokens": task.completion_tokens,
            "total_tokens": task.completion_tokens,
        }
    body["error"] = _ark_error(task) if status == "failed" else None
    body.update(
        {
            "created_at": int(task.created_at),
            "updated_at": int(updated),
            "seed": task.seed,
            "resolution": task.resolution,
            "ratio": task.ratio,
            "duration": task.duration,
            "framespersecond": task.fps,
            "generate_audio": task.generate_audio,
            "service_tier": "default",
            "execution_expires_after": 172800,
        }
    )
    return body


def render_newapi(task: SimTask, now: float, urls: UrlSource) -> dict[str, Any]:
    phase = task.phase(now)
    inner_status = {"queued": "queued", "running": "running"}.get(phase) or final_word(task)
    not_started = phase == "queued" and now < task.created_at + min(3.0, 0.3 * _queue_s(task))
    result_url: str | None = None
    original_url: str | None = None
    finish_time = 0
    if phase == "queued":
        status, progress = ("NOT_START", "0%") if not_started else ("QUEUED", "10%")
    elif phase == "running":
        status, progress = "IN_PROGRESS", f"{50 + int(49 * task.fraction(now))}%"
    elif task.outcome == "succeeded":
        status, progress, finish_time = "SUCCESS", "100%", int(task.finished_at)
        result_url, original_url = urls()
    elif task.outcome == "failed":
        status, progress, finish_time = "FAILURE", "100%", int(task.finished_at)
    elif task.outcome in ("cancelled", "expired"):
        # The relay's quirk: it does not know these words and keeps saying IN_PROGRESS.
        status, progress = "IN_PROGRESS", "50%"
    else:
        status, progress = task.unknown_status, "50%"

    data: dict[str, Any] = {"task_id": task.id, "action": task.action, "status": status}
    if result_url is not None:
        data["result_url"] = result_url
        if original_url is not None:
            data["original_result_url"] = original_url
    if status == "SUCCESS":
        data["fail_reason"] = result_url
    elif status == "FAILURE":
        code, message = task.failure or ARK_FAILURES[0]
        data["fail_reason"] = f"task failed, code: {code}, message: {message}" if code else message
    else:
        data["fail_reason"] = ""
    data.update(
        {
            "submit_time": int(task.created_at),
            "start_time": int(task.started_at) if phase != "queued" and task.ran else 0,
            "finish_time": finish_time,
            "progress": progress,
            "request_id": task.request_id,
        }
    )
    if not not_started and status != "FAILURE":
        data["data"] = _newapi_inner(task, inner_status, original_url or result_url)
    return {"code": "success", "message": "", "data": data}


def _newapi_inner(task: SimTask, status: str, video_url: str | None) -> dict[str, Any]:
    """The upstream Ark task object the relay keeps in `data.data` (shape of the anyfast doc)."""
    inner: dict[str, Any] = {}
    if status == "succeeded" and video_url is not None:
        inner["content"] = {"video_url": video_url}
    inner.update(
        {
            "id": task.inner_id,
            "model": task.model,
            "duration": task.duration,
            "ratio": task.ratio,
            "resolution": task.resolution,
        }
    )
    if task.ultra and task.super_resolution:
        inner["super_resolution"] = task.super_resolution
    inner.update(
        {
            "framespersecond": task.fps,
            "generate_audio": task.generate_audio,
            "seed": task.seed,
            "status": status,
        }
    )
    if status == "succeeded":
        usage: dict[str, int] = {
            "completion_tokens": task.completion_tokens,
            "total_tokens": task.completion_tokens,
        }
        sr_tokens = task.super_resolution_tokens
        if sr_tokens is not None:
            usage["super_resolution_tokens"] = sr_tokens
        inner["usage"] = usage
    return inner


def _queue_s(task: SimTask) -> float:
    return max(0.0, task.started_at - task.created_at)


def _message(task: SimTask) -> str:
    return (task.failure or KYY_FAILURES[0])[1]


def _ark_error(task: SimTask) -> dict[str, Any]:
    code, message = task.failure or ARK_FAILURES[0]
    return {"code": code, "message": message}


# -- error bodies ---------------------------------------------------------------------------
def not_found(kind: str, task_id: str) -> tuple[int, dict[str, Any]]:
    """What each provider answers for an id it does not know."""
    if kind == "newapi":
        return 400, {"code": "task_not_exist", "message": "task_not_exist", "data": None}
    if kind == "ark":
        return 404, {
            "error": {
                "code": "ResourceNotFound",
                "message": f"The specified task {task_id} is not found.",
                "param": "id",
                "type": "NotFound",
            }
        }
    return 404, {
        "error": {"message": "Task not found", "type": "invalid_request_error", "code": "not_found"}
    }


def unauthorized(kind: str, has_auth: bool) -> tuple[int, dict[str, Any]]:
    """A missing or wrong key (the body never repeats the key it was sent)."""
    if kind == "newapi":
        message = "Invalid token" if has_auth else "No token provided"
        return 401, {"error": {"message": message, "type": "new_api_error", "code": ""}}
    if kind == "ark":
        return 401, {
            "error": {
                "code": "AuthenticationError",
                "message": "The API key in the request is missing or invalid.",
                "param": "",
                "type": "Unauthorized",
            }
        }
    return 401, {
        "error": {
            "message": "Invalid API key" if has_auth else "Missing API key",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
        }
    }


def rate_limited(kind: str) -> tuple[int, dict[str, Any]]:
    if kind == "newapi":  # the relay rewrites upstream 429 text to a generic one
        return 429, {
            "error": {
                "message": "upstream saturated, please retry later",
                "type": "new_api_error",
                "code": "",
            }
        }
    if kind == "ark":
        return 429, {
            "error": {
                "code": "RateLimitExceeded",
                "message": "Your account has exceeded the request rate limit. Retry later.",
                "param": "",
                "type": "TooManyRequests",
            }
        }
    return 429, {
        "error": {
            "message": "Rate limit exceeded, please slow down.",
            "type": "rate_limit_error",
            "code": "rate_limited",
        }
    }
