"""`retry`: a new attempt for each failed task the filters (or ids) select whose failure is
transient, from its stored create request. Content-policy and invalid-parameter failures fail
the same way again (and cost money again), so they are skipped unless `--all`; a task added by
id has no stored request, so it cannot be retried; a chain stops at `max_attempts`.

It only records the new requests (`pending`): `watch`, the dashboard or `submit --watch` send
them. Exit 0 when something was recorded (or nothing failed), 1 when every selected task was
skipped.
"""

from __future__ import annotations

import re

from tui.cli.confirm import confirm, interactive
from tui.cli.errors import EXIT_NOTHING_MATCHED, EXIT_OK, PROG, fail, say
from tui.cli.options import load_config, open_store, task_filter

TYPE_CHECKING = False  # `typing` costs start-up time; annotations are strings here anyway
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    from tui.core.config import Config
    from tui.core.model import Key
    from tui.core.request_retry import RetryPlan, RetrySkip
    from tui.core.store import Store

SHOWN_REASONS = 8  # reasons listed; the rest are counted on one line
SHOWN_IDS = 3  # example task ids per reason
_A_TASK_ID = re.compile(r"(newest attempt) \S+ ")


def cmd_retry(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from tui.core.request_retry import plan_retries, record_retries

    config = load_config(args)
    store = open_store(args, config)
    try:
        keys = _selected(args, store, config)
        if not keys:
            print("nothing to retry: no failed task matches")
            return EXIT_OK

        def max_attempts_of(provider: str) -> int:
            found = config.providers.get(provider)
            return found.max_attempts if found is not None else 3

        plan = plan_retries(store, keys, include_all=args.all, max_attempts_of=max_attempts_of)
        print(plan_text(plan))
        if not plan.requests:
            say("nothing recorded: no selected task can be retried (reasons above)")
            return EXIT_NOTHING_MATCHED
        question = f"send {len(plan.requests)} request(s) again? they cost money"
        if interactive() and not args.yes and not confirm(question):
            print("nothing recorded")
            return EXIT_OK
        done = record_retries(
            store,
            keys,
            include_all=args.all,
            max_attempts_of=max_attempts_of,
            now=datetime.now(UTC),
        )
    finally:
        store.close()
    print(f"recorded {len(done.requests)} retr{'y' if len(done.requests) == 1 else 'ies'}")
    say(f"`{PROG} watch` or the dashboard sends them")
    return EXIT_OK


def _selected(args: argparse.Namespace, store: Store, config: Config) -> list[Key]:
    """The tasks to consider: the ids given (any state: the plan says why it skips one),
    else the failed and expired tasks the filters select."""
    import dataclasses

    from tui.core.ids import is_valid_id
    from tui.core.model import State

    flt = task_filter(args, store, config)
    if args.ids:
        bad = [i for i in args.ids if not is_valid_id(i)]
        if bad:
            from tui import output

            fail(f"not a task id: {output.safe(bad[0])!r} (ids hold letters, digits and . _ : -)")
        flt = dataclasses.replace(flt, ids=frozenset(args.ids))
    elif flt.states is None:
        flt = dataclasses.replace(flt, states=frozenset({State.FAILED, State.EXPIRED}))
    keys = [(t.provider, t.id) for t in store.query(flt)]
    if args.ids:
        found = {task_id for _, task_id in keys}
        missing = [i for i in args.ids if i not in found]
        if missing:
            say(f"not tracked: {', '.join(missing[:10])}" + (" …" if len(missing) > 10 else ""))
    return keys


def plan_text(plan: RetryPlan) -> str:
    """`3 task(s) will be retried (attempt 2: 3)` and the skipped ones counted by reason."""
    from collections import Counter

    lines = []
    attempts = Counter(r.attempt for r in plan.requests)
    if plan.requests:
        per = ", ".join(f"attempt {n}: {attempts[n]}" for n in sorted(attempts))
        lines.append(f"{len(plan.requests)} task(s) will be retried ({per})")
    else:
        lines.append("no task will be retried")
    if plan.skipped:
        lines.append(f"{len(plan.skipped)} skipped:")
        lines.extend(skip_lines(plan.skipped))
    return "\n".join(lines)


def skip_lines(skipped: Sequence[RetrySkip]) -> list[str]:
    """One line per reason (task ids taken out so alike reasons count together), most first."""
    from tui import output

    by_reason: dict[str, list[str]] = {}
    for skip in skipped:
        reason = _A_TASK_ID.sub(r"\1 ", skip.reason)
        by_reason.setdefault(reason, []).append(skip.task_id)
    ordered = sorted(by_reason.items(), key=lambda item: -len(item[1]))
    lines = []
    for reason, ids in ordered[:SHOWN_REASONS]:
        example = ", ".join(output.safe(i) for i in ids[:SHOWN_IDS])
        more = " …" if len(ids) > SHOWN_IDS else ""
        lines.append(f"  {len(ids):>4}  {output.safe(reason)}  (e.g. {example}{more})")
    rest = ordered[SHOWN_REASONS:]
    if rest:
        lines.append(f"  {sum(len(ids) for _, ids in rest):>4}  for {len(rest)} other reason(s)")
    return lines
