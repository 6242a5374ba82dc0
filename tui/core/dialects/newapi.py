"""The new-api relay (anyfast): `GET /v1/video/generations/{task_id}`.

The relay wraps the upstream Ark task object: `{"code", "message", "data": {relay fields,
"data": <Ark task object>}}`. Its quirks: `fail_reason` repeats the video URL on success (never a
failure); failures read `task failed, code: X, message: Y`; upstream expired/cancelled can show
as `IN_PROGRESS` with the inner status telling the truth; for ultra tasks `result_url` is the
super-resolved video and `original_result_url` stays in `raw`; an unknown task id is HTTP 400
`{"code": "task_not_exist", ...}`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from tui.core.dialects import _fields as f
from tui.core.dialects import ark
from tui.core.errors import BadResponse
from tui.core.expiry import url_expiry
from tui.core.model import Failure, Snapshot, State

STATES: dict[str, State] = {
    "not_start": State.QUEUED,
    "submitted": State.QUEUED,
    "queued": State.QUEUED,
    "in_progress": State.RUNNING,
    "success": State.SUCCEEDED,
    "failure": State.FAILED,
    "unknown": State.UNKNOWN,
}
# While the relay says IN_PROGRESS, these inner (Ark) words tell the truth.
INNER_WINS = frozenset({"cancelled", "expired", "failed", "succeeded"})
NOT_FOUND_CODE = "task_not_exist"
_FAIL_REASON = re.compile(r"task failed, code: (.*?), message: (.*)", re.DOTALL)


class NewApiDialect:
    kind = "newapi"
    create_path = "/v1/video/generations"  # POST here to create a task (the provider's docs)
    id_prefixes: tuple[str, ...] = ("asyntask_", "task_")

    def status_path(self, task_id: str) -> str:
        return f"/v1/video/generations/{quote(task_id, safe='')}"

    def parse(self, http_status: int, body: bytes) -> Snapshot:
        """One relay answer as a Snapshot; raises BadResponse when it cannot be understood."""
        raw = f.raw_body(body) if http_status < 500 else None
        if isinstance(raw, dict) and NOT_FOUND_CODE in (raw.get("code"), raw.get("message")):
            return Snapshot(state=State.UNKNOWN, not_found=True, raw=raw)
        if not 200 <= http_status < 300:
            raise f.http_error(http_status, body)
        envelope = f.load_object(http_status, body)
        data = envelope.get("data")
        if not isinstance(data, dict):
            reason = f.as_failure(envelope)
            said = f": {reason.label}" if reason and envelope.get("code") != "success" else ""
            raise BadResponse(f"HTTP {http_status}: no 'data' object in the answer{said}")
        word = f.status_word(data, http_status)
        inner = data.get("data") if isinstance(data.get("data"), dict) else None
        state = _state(word, f.as_str(f.dig(inner, "status")))
        fields = ark.task_fields(inner)
        result_url = f.as_str(data.get("result_url"))
        if result_url:  # the final video: for ultra tasks the super-resolved one
            fields.update(video_url=result_url, url_expires_at=url_expiry(result_url))
        structured, plain = _fail_reason(data.get("fail_reason"), fields["video_url"])
        inner_error = f.as_failure(f.dig(inner, "error"))
        progress = f.as_progress(data.get("progress"))
        return Snapshot(
            state=state,
            upstream_status=word,
            progress=100 if progress is None and state is State.SUCCEEDED else progress,
            created_at=f.as_epoch(data.get("submit_time")),
            started_at=f.as_epoch(data.get("start_time")),
            finished_at=f.as_epoch(data.get("finish_time")),
            failure=f.failure_for(state, structured, inner_error, plain),
            raw=envelope,
            **fields,
        )


def _state(word: str, inner_word: str | None) -> State:
    state = f.map_status(word, STATES)
    if word.casefold() == "in_progress" and inner_word and inner_word.casefold() in INNER_WINS:
        return f.map_status(inner_word, ark.STATES)
    return state


def _fail_reason(value: Any, video_url: str | None) -> tuple[Failure | None, Failure | None]:
    """(`task failed, code: X, message: Y` split, or None; any other text as a message, or None).

    A URL is the relay's success quirk (fail_reason copied from result_url), never a reason.
    """
    text = f.as_str(value)
    if not text or text == video_url or text.startswith(("http://", "https://")):
        return None, None
    match = _FAIL_REASON.fullmatch(text)
    if match is None:
        return None, Failure(None, text)
    code, message = (part.strip() or None for part in match.groups())
    return Failure(code, message), None


DIALECT = NewApiDialect()
