"""`requests`: the recorded create requests, as a table for people or request objects (JSON)
for scripts. Uncertain requests are shown loudly: the provider may have created them, and only
a person can tell (see the README's "never twice" rules).

Also the request filter shared by `requests` and `submit --resend-uncertain`.
"""

from __future__ import annotations

import sys

from tui.cli.errors import EXIT_OK, PROG, fail
from tui.cli.options import load_config, names, open_store

TYPE_CHECKING = False  # `typing` costs start-up time; annotations are strings here anyway
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import TextIO

    from tui.core.config import Config
    from tui.core.request_store import RequestFilter
    from tui.core.requests import CreateRequest, RequestState
    from tui.core.store import Store

# tui.core.requests.RequestState's values, written out because importing it costs start-up
# time; tests/test_cli_submit.py fails the day the two differ.
REQUEST_STATE_WORDS = ("pending", "sending", "created", "rejected", "uncertain")
COLUMNS = ("PROVIDER", "NAME", "STATE", "TASK ID", "ATTEMPT", "HTTP", "ERROR")
PIPED_ERROR_WIDTH = 60  # cells of the error text when stdout is no terminal
MIN_ERROR_WIDTH = 24


def parse_request_states(text: str) -> frozenset[RequestState]:
    """`--state uncertain,rejected` -> the RequestState set (a bad word is a usage error)."""
    import argparse

    from tui.core.requests import RequestState

    out: set[RequestState] = set()
    for word in (w.strip().lower() for w in text.split(",")):
        if word not in REQUEST_STATE_WORDS:
            raise argparse.ArgumentTypeError(
                f"unknown request state {word or '(empty)'!r}: use "
                f"{', '.join(REQUEST_STATE_WORDS)}, comma-separated"
            )
        out.add(RequestState(word))
    return frozenset(out)


def request_filter(
    args: argparse.Namespace,
    store: Store,
    config: Config,
    states: frozenset[RequestState] | None = None,
) -> RequestFilter:
    """The --provider/--batch filter over requests; a provider or batch nobody knows is a typo."""
    from tui.core.request_store import RequestFilter, request_batches, request_counts

    if args.provider is not None:
        known = set(config.providers) | set(request_counts(store)) | set(store.providers())
        if args.provider not in known:
            fail(f"unknown provider {args.provider!r}: use one of {names(known)}")
    if args.batch is not None:
        batches = request_batches(store) | set(store.batches())
        if args.batch not in batches:
            fail(
                f"no batch {args.batch!r} in the store: batches are {names(batches)} "
                f"(set with `{PROG} submit --batch LABEL`)"
            )
    return RequestFilter(states=states, provider=args.provider, batch=args.batch)


def cmd_requests(args: argparse.Namespace) -> int:
    config = load_config(args)
    from tui import output
    from tui.core.request_store import query_requests

    store = open_store(args, config, writable=False)
    try:
        flt = request_filter(args, store, config, args.state)
        found = query_requests(store, flt)
    finally:
        store.close()
    if args.json:
        output.write_json_texts(sys.stdout, (output.dumps(r.to_json()) for r in found))
    elif found:
        write_request_table(sys.stdout, found, width=_terminal_width())
    elif args.state or args.provider or args.batch:
        print("no requests match these filters")
    else:
        print(f"no requests recorded yet: record some with `{PROG} submit FILE`")
    sys.stdout.flush()
    return EXIT_OK


def _terminal_width() -> int | None:
    if not sys.stdout.isatty():
        return None
    import shutil

    return shutil.get_terminal_size().columns


def request_row(request: CreateRequest) -> tuple[str, ...]:
    """The cells of one request, in COLUMNS order (the error uncut: the table fits it)."""
    from tui import output

    error = request.error.label if request.error else ""
    return (
        output.safe(request.provider),
        output.safe(request.name) or "-",
        str(request.state).upper() if request.state == "uncertain" else str(request.state),
        output.safe(request.task_id) or "-",
        str(request.attempt),
        str(request.http_status) if request.http_status is not None else "-",
        output.safe(error),
    )


def write_request_table(
    out: TextIO, requests: Sequence[CreateRequest], *, width: int | None = None
) -> None:
    """The requests table, a counts line, and what to do about uncertain requests."""
    from collections import Counter

    from tui import output
    from tui.core.text_width import cut

    rows = [request_row(r) for r in requests]
    header: tuple[str, ...] = COLUMNS
    if all(not row[-1] for row in rows):
        header, rows = header[:-1], [row[:-1] for row in rows]
    else:
        others = output.column_widths([row[:-1] for row in rows], header[:-1])
        room = PIPED_ERROR_WIDTH if width is None else width - sum(others) - 2 * len(others)
        rows = [(*row[:-1], cut(row[-1], max(room, MIN_ERROR_WIDTH))) for row in rows]
    out.write("\n".join(output.table_lines(rows, header)) + "\n\n")
    counts = Counter(str(r.state) for r in requests)
    out.write(requests_counts_line(counts) + "\n")
    if counts["uncertain"]:
        out.write(uncertain_advice(counts["uncertain"]) + "\n")


def requests_counts_line(counts: dict[str, int]) -> str:
    """`42 requests: 30 created, 10 pending, 2 uncertain` in the states' own order."""
    total = sum(counts.values())
    parts = [f"{counts[w]} {w}" for w in REQUEST_STATE_WORDS if counts.get(w)]
    noun = "request" if total == 1 else "requests"
    return f"{total} {noun}" + (": " + ", ".join(parts) if parts else "")


def uncertain_advice(count: int) -> str:
    """The loud footer: what an uncertain request means and what the user should do."""
    return (
        f"!! {count} UNCERTAIN: the provider may have created these tasks (and may charge for "
        "them) without telling us their id. Look for them in the provider's console first; "
        f"only if they are not there, `{PROG} submit --resend-uncertain` sends them again."
    )
