"""Volcengine Ark / BytePlus ModelArk, direct: `GET /contents/generations/tasks/{id}`.

The Ark task object is also what the newapi relay nests as `data.data`, so `task_fields` is
shared with that dialect. A 404 means no such task (or older than Ark's 7-day window).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tui.core.dialects import _fields as f
from tui.core.expiry import url_expiry
from tui.core.model import Snapshot, State

STATES: dict[str, State] = {
    "queued": State.QUEUED,
    "running": State.RUNNING,
    "processing": State.RUNNING,
    "succeeded": State.SUCCEEDED,
    "failed": State.FAILED,
    "cancelled": State.CANCELLED,
    "expired": State.EXPIRED,
}


def task_fields(obj: Any) -> dict[str, Any]:
    """The Snapshot fields an Ark task object carries (all None when `obj` is not an object)."""
    fps = f.as_int(f.dig(obj, "framespersecond"))
    duration = f.as_float(f.dig(obj, "duration"))
    frames = f.as_int(f.dig(obj, "frames"))
    if duration is None and frames and fps:  # Ark returns frames instead when asked for frames
        duration = frames / fps
    video_url = f.as_str(f.dig(obj, "content", "video_url"))
    return {
        "model": f.as_str(f.dig(obj, "model")),
        "video_url": video_url,
        "url_expires_at": url_expiry(video_url),
        "duration": duration,
        "resolution": f.as_str(f.dig(obj, "resolution")),
        "super_resolution": f.as_str(f.dig(obj, "super_resolution")),
        "ratio": f.as_str(f.dig(obj, "ratio")),
        "fps": fps,
        "seed": f.as_int(f.dig(obj, "seed")),
        "generate_audio": f.as_bool(f.dig(obj, "generate_audio")),
        "tokens": f.as_tokens(f.dig(obj, "usage")),
    }


class ArkDialect:
    kind = "ark"
    create_path = "/contents/generations/tasks"  # POST here to create a task (the provider's docs)
    id_prefixes: tuple[str, ...] = ("cgt-",)

    def status_path(self, task_id: str) -> str:
        return f"/contents/generations/tasks/{quote(task_id, safe='')}"

    def parse(self, http_status: int, body: bytes) -> Snapshot:
        """One Ark answer as a Snapshot; raises BadResponse when it cannot be understood."""
        if http_status == 404 and not f.looks_like_html(body):
            return Snapshot(state=State.UNKNOWN, not_found=True, raw=f.raw_body(body))
        if not 200 <= http_status < 300:
            raise f.http_error(http_status, body)
        data = f.load_object(http_status, body)
        word = f.status_word(data, http_status)
        state = f.map_status(word, STATES)
        fields = task_fields(data)
        progress = f.as_progress(data.get("progress"))
        return Snapshot(
            state=state,
            upstream_status=word,
            progress=100 if state is State.SUCCEEDED else progress,
            created_at=f.as_epoch(data.get("created_at")),
            finished_at=f.as_epoch(data.get("updated_at")) if state.terminal else None,
            failure=f.failure_for(state, f.as_failure(data.get("error"))),
            raw=data,
            **fields,
        )


DIALECT = ArkDialect()
