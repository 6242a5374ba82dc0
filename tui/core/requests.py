"""Create requests: what `submit` records, and what a create call's answer means for it.

Creating a video costs money, so a request is recorded before it is sent and every answer is
read to one of the contract's request states: `created` (the task is tracked), `rejected` (a
definite refusal: nothing was created), `uncertain` (the provider may have created it without
us learning its id: never re-sent unless the user asks) or back to `pending` (a 429, or a
connection that failed before the body left). Pure: no I/O here.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tui.core.clean import clean_line
from tui.core.dialects._fields import as_failure, looks_like_html, raw_body
from tui.core.ids import parse_id_lines
from tui.core.model import Failure, iso


class RequestState(enum.StrEnum):
    """The contract's request states."""

    PENDING = "pending"  # recorded, not sent
    SENDING = "sending"  # written durably just before the body leaves
    CREATED = "created"  # 2xx with an id: the task is tracked
    REJECTED = "rejected"  # a definite refusal: nothing was created
    UNCERTAIN = "uncertain"  # the provider may have created it: a person decides


OPEN_STATES = frozenset({RequestState.PENDING, RequestState.SENDING})


def fingerprint(provider: str, body: dict[str, Any], name: str | None) -> str:
    """`sha256:<hex>` of provider + body + name: the same line submitted twice has the same
    fingerprint, whatever its key order or whitespace."""
    canonical = json.dumps(
        {"provider": provider, "body": body, "name": name},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class CreateRequest:
    """One recorded create request (the contract's request object)."""

    provider: str
    fingerprint: str
    body: dict[str, Any]
    name: str | None = None
    batch: str | None = None
    state: RequestState = RequestState.PENDING
    task_id: str | None = None
    attempt: int = 1
    previous_id: str | None = None
    created_at: datetime | None = None
    sent_at: datetime | None = None
    answered_at: datetime | None = None
    http_status: int | None = None
    error: Failure | None = None
    seq: int = field(default=0, compare=False)  # the store's row id: the order they were recorded

    @property
    def model(self) -> str | None:
        model = self.body.get("model")
        return model if isinstance(model, str) else None

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "fingerprint": self.fingerprint,
            "name": self.name,
            "batch": self.batch,
            "state": str(self.state),
            "task_id": self.task_id,
            "attempt": self.attempt,
            "previous_id": self.previous_id,
            "created_at": iso(self.created_at),
            "sent_at": iso(self.sent_at),
            "answered_at": iso(self.answered_at),
            "http_status": self.http_status,
            "error": self.error.to_json() if self.error else None,
            "body": self.body,
        }


class Verdict(enum.StrEnum):
    """What to do after a create call."""

    CREATED = "created"
    REJECTED = "rejected"
    UNCERTAIN = "uncertain"
    RETRY_LATER = "retry_later"  # a 429: back to pending, the provider hears nothing meanwhile


class Stop(enum.StrEnum):
    """What a refusal means for the provider's other requests."""

    NONE = "none"
    PAUSE_CREATES = "pause_creates"  # no balance or quota: creating waits for a restart
    STOP_PROVIDER = "stop_provider"  # the key is refused: nothing more goes to it


@dataclass(frozen=True, slots=True)
class Answer:
    """A create call's answer, read."""

    verdict: Verdict
    task_id: str | None = None
    error: Failure | None = None
    stop: Stop = Stop.NONE
    retry_after: float | None = None


_QUOTA_WORDS = ("quota", "balance", "insufficient", "overdue", "余额", "额度", "欠费")


def read_create_answer(http_status: int, body: bytes, retry_after: float | None = None) -> Answer:
    """The verdict for an HTTP answer to a create call that reached the provider."""
    if http_status == 429:
        return Answer(
            Verdict.RETRY_LATER, error=_reason(http_status, body), retry_after=retry_after
        )
    if 200 <= http_status < 300:
        task_id = _task_id(body)
        if task_id is None:
            why = Failure(None, f"HTTP {http_status} without a readable task id")
            return Answer(Verdict.UNCERTAIN, error=why)
        return Answer(Verdict.CREATED, task_id=task_id)
    error = _reason(http_status, body)
    if http_status == 402 or (http_status == 403 and _says_quota(error)):
        return Answer(Verdict.REJECTED, error=error, stop=Stop.PAUSE_CREATES)
    if http_status in (401, 403):
        return Answer(Verdict.REJECTED, error=error, stop=Stop.STOP_PROVIDER)
    if 400 <= http_status < 500 and _has_error_body(body):
        stop = Stop.PAUSE_CREATES if _says_quota(error) else Stop.NONE
        return Answer(Verdict.REJECTED, error=error, stop=stop)
    return Answer(Verdict.UNCERTAIN, error=error)  # 5xx, or a 4xx page that says nothing


def _task_id(body: bytes) -> str | None:
    """The id in a create answer, by the same rules as `add` (`id`, `task_id`, `data.task_id`)."""
    text = body.decode("utf-8", "replace").strip()
    if not text.startswith("{"):
        return None
    ids, errors = parse_id_lines([" ".join(text.split())])
    return ids[0] if ids and not errors else None


def _has_error_body(body: bytes) -> bool:
    data = raw_body(body)
    return isinstance(data, dict) and not looks_like_html(body) and _failure_of(data) is not None


def _failure_of(data: dict[str, Any]) -> Failure | None:
    return as_failure(data.get("error")) or as_failure(
        {"code": data.get("code"), "message": data.get("message") or data.get("msg")}
    )


def _reason(http_status: int, body: bytes) -> Failure:
    """The provider's own words, cleaned; else what the HTTP status says."""
    data = raw_body(body)
    if isinstance(data, dict) and not looks_like_html(body):
        failure = _failure_of(data)
        if failure is not None:
            return Failure(clean_line(failure.code), clean_line(failure.message))
    return Failure(None, f"HTTP {http_status}")


def _says_quota(error: Failure | None) -> bool:
    if error is None:
        return False
    text = f"{error.code or ''} {error.message or ''}".casefold()
    return any(word in text for word in _QUOTA_WORDS)
