"""The kyy API (docs.xingchaoyiqing.com): a flat task object at `GET /v1/result/{id}`.

`status` is queued/processing/completed/failed/cancelled, `error` is a bare message string,
`totalTokens` a bare total, `actualDuration` the output length; a 404 means no such task.
"""

from __future__ import annotations

from urllib.parse import quote

from tui.core.dialects import _fields as f
from tui.core.expiry import url_expiry
from tui.core.model import Snapshot, State

STATES: dict[str, State] = {
    "queued": State.QUEUED,
    "processing": State.RUNNING,
    "completed": State.SUCCEEDED,
    "failed": State.FAILED,
    "cancelled": State.CANCELLED,
}


class KyyDialect:
    kind = "kyy"
    create_path = "/v1/kyyvideo2/videos"  # POST here to create a task (the provider's docs)
    id_prefixes: tuple[str, ...] = ("video_",)

    def status_path(self, task_id: str) -> str:
        return f"/v1/result/{quote(task_id, safe='')}"

    def parse(self, http_status: int, body: bytes) -> Snapshot:
        """One kyy answer as a Snapshot; raises BadResponse when it cannot be understood."""
        if http_status == 404 and not f.looks_like_html(body):
            return Snapshot(state=State.UNKNOWN, not_found=True, raw=f.raw_body(body))
        if not 200 <= http_status < 300:
            raise f.http_error(http_status, body)
        data = f.load_object(http_status, body)
        word = f.status_word(data, http_status)
        state = f.map_status(word, STATES)
        video_url = f.as_str(data.get("video_url"))
        progress = f.as_progress(data.get("progress"))
        return Snapshot(
            state=state,
            upstream_status=word,
            model=f.as_str(data.get("model")),
            progress=100 if state is State.SUCCEEDED else progress,
            created_at=f.as_epoch(data.get("created")),
            video_url=video_url,
            url_expires_at=url_expiry(video_url),
            duration=f.as_float(data.get("actualDuration")),
            tokens=f.as_tokens(None, total_only=data.get("totalTokens")),
            failure=f.failure_for(state, f.as_failure(data.get("error"))),
            raw=data,
        )


DIALECT = KyyDialect()
