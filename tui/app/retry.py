"""`R`: send a failed task's stored create request again, after saying how many and what not.

Which tasks: the failure group highlighted in the failures view, else the task under the table's
cursor (or in the focused detail pane). `plan_retries` decides (only transient failures, at
most `max_attempts` per chain, never a task added by id); the confirmation counts what it would
record and why the rest is skipped. On yes, `record_retries` writes through the engine's writer
(one durable transaction) and the submitter is woken: the new requests are sent as `max_live`
allows. Creating a video costs money, so nothing is recorded without the user's yes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from textual.content import Content
from textual.widgets import ContentSwitcher

from tui.app.widgets.failures import group_title
from tui.core.clean import clean_line
from tui.core.clock import utc
from tui.core.config import ProviderConfig
from tui.core.model import Event, Key, State
from tui.core.request_retry import RetryPlan, RetrySkip, plan_retries, record_retries

if TYPE_CHECKING:
    from tui.app.app import SeedanceApp
    from tui.app.screens.dashboard import DashboardScreen

# for a task of a provider no longer in the config (its requests wait, `submitter.left()`)
DEFAULT_MAX_ATTEMPTS = ProviderConfig(name="", kind="", base_url="").max_attempts
# (words a RetrySkip reason holds, what the confirmation calls the group), first match wins
_SKIP_KINDS: tuple[tuple[str, str], ...] = (
    ("not a transient failure", "not a transient failure (content policy, invalid parameter…)"),
    ("added by id", "added by id: no stored request to send again"),
    ("already tried", "max_attempts reached"),
    ("is succeeded", "its newest attempt succeeded"),
    ("still", "its newest attempt is still queued or running"),
    ("not a failed task", "a newer attempt is already recorded"),
    ("not tracked", "no longer tracked"),
)
IDS_SHOWN = 3  # task ids named per skip reason in the confirmation


def skip_kind(reason: str) -> str:
    """The group a `RetrySkip` reason belongs to (its own words when none fits)."""
    for words, kind in _SKIP_KINDS:
        if words in reason:
            return kind
    return clean_line(reason) or "skipped"


def skip_counts(skipped: Sequence[RetrySkip]) -> dict[str, list[str]]:
    """Skip group -> the task ids in it, biggest group first."""
    groups: dict[str, list[str]] = {}
    for skip in skipped:
        groups.setdefault(skip_kind(skip.reason), []).append(skip.task_id)
    return dict(sorted(groups.items(), key=lambda item: -len(item[1])))


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def skipped_lines(skipped: Sequence[RetrySkip]) -> list[str]:
    """`  2 × not a transient failure (…): video_a, video_b` per skip group."""
    lines = []
    for kind, ids in skip_counts(skipped).items():
        shown = ", ".join(clean_line(i) or "" for i in ids[:IDS_SHOWN])
        more = f" and {len(ids) - IDS_SHOWN:,} more" if len(ids) > IDS_SHOWN else ""
        lines.append(f"  {len(ids):,} × {kind}: {shown}{more}")
    return lines


def retry_question(plan: RetryPlan, what: str, paused: bool) -> Content:
    """The confirmation: how many are retried (a new paid create each), how many skipped, why."""
    count = len(plan.requests)
    attempts = sorted({r.attempt for r in plan.requests})
    which = ", ".join(str(a) for a in attempts)
    parts: list[Content | str | tuple[str, str]] = [
        "Retry ",
        (_plural(count, "failed task"), "bold"),
        f" ({clean_line(what) or what})?\n\n",
        f"A new create request is recorded for each (attempt {which}) and sent as max_live "
        "allows. Each one is a new generation, paid again.",
    ]
    if paused:
        parts.append("\nPolling is paused: they are sent once you press p.")
    if plan.skipped:
        parts.append(("\n\nSkipped: " + _plural(len(plan.skipped), "task") + "\n", "bold"))
        parts.append("\n".join(skipped_lines(plan.skipped)))
    return Content.assemble(*parts)


def keys_to_retry(screen: DashboardScreen) -> tuple[list[Key], str]:
    """The tasks `R` means, and how to name them: the highlighted failure group in the failures
    view, else the selected task."""
    app = screen.seedance
    if screen.query_one(ContentSwitcher).current == "failures":
        group = screen.failures.highlighted_group
        if group is None:
            return [], "no failure group"
        index = app.state.index
        keys = [
            key
            for key in group.keys
            if (task := index.get(key)) is not None and task.state in (State.FAILED, State.EXPIRED)
        ]
        return keys, f"failure group {group_title(group)}"
    detail = screen.detail
    key = detail.task_key if app.focused is detail else screen.table.cursor_key
    return ([key], key[1]) if key is not None else ([], "no task")


def max_attempts_of(app: SeedanceApp) -> dict[str, int]:
    return {name: p.max_attempts for name, p in app.config.providers.items()}


def offer_retry(screen: DashboardScreen) -> None:
    """Plan the retry of what `R` means, ask, and record it on yes."""
    from tui.app.screens.confirm import ConfirmScreen

    app = screen.seedance
    keys, what = keys_to_retry(screen)
    if not keys:
        app.notify(f"Nothing to retry: {what} selected.", severity="warning", markup=False)
        return
    limits = max_attempts_of(app)

    def limit(provider: str) -> int:
        return limits.get(provider, DEFAULT_MAX_ATTEMPTS)

    plan = plan_retries(app.store, keys, max_attempts_of=limit)
    if not plan.requests:
        if len(plan.skipped) == 1:
            [skip] = plan.skipped
            said = f"Nothing to retry: {skip.task_id}: {skip_kind(skip.reason)}."
        else:
            said = f"Nothing to retry in {what}:\n" + "\n".join(skipped_lines(plan.skipped))
        app.notify(
            said,
            title="Retry",
            severity="warning",
            timeout=10,
            markup=False,
        )
        return
    engine = app.engine
    question = retry_question(plan, what, paused=engine is not None and engine.paused)

    async def answered(yes: bool | None) -> None:
        if yes:
            await record(app, keys, limit)

    app.push_screen(
        ConfirmScreen(question, yes=f"Retry {len(plan.requests):,}", no="Cancel"), answered
    )


async def record(
    app: SeedanceApp, keys: Sequence[Key], limit: Callable[[str], int]
) -> RetryPlan | None:
    """Record the retries through the engine's writer and wake the submitter."""
    engine = app.engine
    if engine is None:  # the engine is made after the first frame; a viewer has none
        app.notify("Not polling from here: nothing was recorded.", severity="warning")
        return None
    now = utc(app.clock.now())
    try:
        done = await engine.writer.call(
            lambda store: record_retries(store, keys, max_attempts_of=limit, now=now)
        )
    except Exception as exc:  # a store that refuses the write: the user's news, not a crash
        app.warn(f"could not record the retries: {exc}")
        return None
    for provider in sorted({r.provider for r in done.requests}):
        engine.submitter.wake(provider)
    message = f"retry: recorded {_plural(len(done.requests), 'new request')}"
    if done.skipped:
        message += f", skipped {len(done.skipped):,}"
    app.log_panel.add_events([Event("notice", data={"message": message})])
    app.notify(message[0].upper() + message[1:] + ".", title="Retry", markup=False)
    app.refresh_summary()
    return done
