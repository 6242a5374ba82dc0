"""`submit`: create requests from a file recorded in the store as `pending`, never twice.

Every line is checked before anything is recorded (a typo on line 1,900 never leaves 1,899
requests half-submitted). Recording is one durable transaction; sending is the engine's, in
whatever polls the store: `watch`, the dashboard, or this process with `--watch`. A line whose
fingerprint was recorded before is skipped and counted unless `--again`.
`submit --resend-uncertain` marks uncertain requests pending again: only a person can tell
whether the provider created them (the README says how to check its console first).
"""

from __future__ import annotations

import sys

from tui.cli.confirm import confirm, interactive
from tui.cli.errors import EXIT_OK, PROG, fail, say
from tui.cli.options import load_config, names, open_store

TYPE_CHECKING = False  # `typing` costs start-up time; annotations are strings here anyway
if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterable, Sequence

    from tui.core.config import Config
    from tui.core.request_lines import PlannedRequest
    from tui.core.store import Store

MAX_INPUT_BYTES = 256 << 20  # 256 MiB: far past any batch of create bodies


def cmd_submit(args: argparse.Namespace) -> int:
    _check_watch_options(args)
    if args.resend_uncertain:
        if args.file is not None:
            fail("--resend-uncertain takes no FILE: it resends the uncertain requests recorded")
        return _resend_uncertain(args)
    if args.file is None:
        fail("nothing to submit: give a file of create bodies, one JSON object a line (`-`: stdin)")
    if args.batch is not None:
        from tui.cli.tasks import _check_label

        _check_label(args.batch)
    config = load_config(args)
    if args.provider is not None and args.provider not in config.providers:
        fail(
            f"unknown provider {args.provider!r}: configured are {names(config.providers)} "
            "(add a [providers.NAME] table to the config)"
        )
    planned = _checked_lines(args, config)
    poller = _poller(args)
    if args.dry_run:
        _print_plan(planned, _already_recorded(args, config, planned))
        print("dry run: nothing recorded")
        return EXIT_OK
    if interactive() and not args.yes:
        _print_plan(planned, _already_recorded(args, config, planned))
        if not confirm(f"record {len(planned)} create request(s)? they cost money once sent"):
            print("nothing recorded")
            return EXIT_OK
    from datetime import UTC, datetime

    from tui.core.request_store import record_requests

    store = open_store(args, config)
    try:
        result = record_requests(
            store, planned, batch=args.batch, now=datetime.now(UTC), again=args.again
        )
        message = f"recorded {result.recorded}"
        if result.skipped:
            message += f", skipped {result.skipped} already submitted (use --again to send copies)"
        _tell(args, message)
        if args.watch:
            return _watch(args, store, config, (p.fingerprint for p in planned))
    finally:
        store.close()
    if result.recorded:
        _who_sends(poller)
    return EXIT_OK


def _check_watch_options(args: argparse.Namespace) -> None:
    given = [
        name
        for name, on in (
            ("--json", args.json),
            ("--exit-status", args.exit_status),
            ("--timeout", args.timeout is not None),
            ("--no-download", args.no_download),
            ("--verbose", args.verbose),
        )
        if on
    ]
    if given and not args.watch:
        fail(f"{', '.join(given)}: only with --watch (add it, or leave these out)")


def _poller(args: argparse.Namespace) -> str | None:
    """Who polls this store now (`pid N (`watch`)`), or None. With --watch this process must
    be the one: refused before anything is recorded."""
    from tui.cli.options import db_path
    from tui.core.lock import PollerLock

    holder = PollerLock(db_path(args)).holder()
    if holder is None:
        return None
    who = f"pid {holder.pid} (`{holder.command}`)"
    if args.watch:
        fail(f"{who} polls this store and sends what is submitted: submit without --watch")
    return who


def _who_sends(poller: str | None) -> None:
    if poller is not None:
        say(f"{poller} polls this store: it sends them now")
    else:
        say(f"`{PROG} watch` or the dashboard sends them (or submit with --watch)")


def _tell(args: argparse.Namespace, message: str) -> None:
    """What was recorded: on stdout, or on stderr when stdout is `--json` event lines."""
    if args.watch and args.json:
        say(message)
    else:
        print(message, flush=True)


def _checked_lines(args: argparse.Namespace, config: Config) -> list[PlannedRequest]:
    """Every line checked; any bad one stops the command before the store is touched."""
    from tui.core.request_lines import check_request_lines

    lines = _read_lines(args.file)
    planned, bad = check_request_lines(lines, config.providers, provider=args.provider)
    where = "stdin" if args.file == "-" else args.file
    if bad:
        for line in bad:
            print(f"{PROG}: {where}, {line}", file=sys.stderr)
        fail(f"nothing recorded: fix the {len(bad)} bad line(s) above (one JSON object a line)")
    if not planned:
        fail(f"nothing to submit: {where} holds no create requests (one JSON object a line)")
    return planned


def _read_lines(path: str) -> list[bytes]:
    """The input's lines as bytes: the checks name binary junk and huge lines themselves."""
    if path == "-":
        data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    else:
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_INPUT_BYTES + 1)
        except FileNotFoundError:
            fail(f"{path}: no such file")
        except IsADirectoryError:
            fail(f"{path}: is a directory: give a file with one JSON create body a line")
        except OSError as exc:
            fail(f"{path}: cannot read it ({exc.strerror})")
    if len(data) > MAX_INPUT_BYTES:
        fail(f"{path}: over {MAX_INPUT_BYTES >> 20} MiB: split it into smaller files")
    return data.split(b"\n")


def _already_recorded(
    args: argparse.Namespace, config: Config, planned: Sequence[PlannedRequest]
) -> int:
    """How many of the planned lines `submit` would skip (0 with --again, or no store yet)."""
    from tui.cli.options import db_path

    if args.again or not db_path(args).exists():
        return 0
    from tui.core.request_store import RequestFilter, query_requests

    store = open_store(args, config, writable=False)
    try:
        fingerprints = frozenset(p.fingerprint for p in planned)
        seen = {
            r.fingerprint for r in query_requests(store, RequestFilter(fingerprints=fingerprints))
        }
    finally:
        store.close()
    unique: set[str] = set()
    skipped = 0
    for item in planned:
        if item.fingerprint in seen or item.fingerprint in unique:
            skipped += 1
        unique.add(item.fingerprint)
    return skipped


def _print_plan(planned: Sequence[PlannedRequest], skipped: int) -> None:
    """How many requests per provider and model, and how many would be skipped."""
    from collections import Counter

    from tui import output

    counts = Counter((p.provider, p.model) for p in planned)
    rows = [
        (output.safe(provider), output.safe(model), str(n))
        for (provider, model), n in sorted(counts.items())
    ]
    print(f"plan: {len(planned)} create request(s)")
    for line in output.table_lines(rows, ("PROVIDER", "MODEL", "REQUESTS")):
        print("  " + line)
    if skipped:
        print(f"{skipped} already submitted: skipped (use --again to send copies)")


def _watch(
    args: argparse.Namespace, store: Store, config: Config, fingerprints: Iterable[str]
) -> int:
    """Send, poll and download in this process, as `watch --provider P --batch B` would;
    with --exit-status, these requests also count as failed when rejected or uncertain."""
    from tui.cli.watch import watch_until_done
    from tui.core.request_store import RequestFilter, query_requests
    from tui.core.requests import RequestState
    from tui.core.store import TaskFilter

    mine = RequestFilter(
        states=frozenset({RequestState.REJECTED, RequestState.UNCERTAIN}),
        provider=args.provider,
        batch=args.batch,
        fingerprints=frozenset(fingerprints),
    )

    def not_succeeded() -> int:
        failed = query_requests(store, mine)
        if failed:
            say(f"{len(failed)} request(s) rejected or uncertain: see `{PROG} requests`")
        return len(failed)

    flt = TaskFilter(provider=args.provider, batch=args.batch)
    return watch_until_done(args, store, config, flt, not_succeeded=not_succeeded)


def _resend_uncertain(args: argparse.Namespace) -> int:
    """Uncertain requests (the filters') go back to `pending`: the same records, sent again."""
    from datetime import UTC, datetime

    from tui.cli.requests_cmd import request_filter, write_request_table
    from tui.core.request_store import query_requests, resend_uncertain
    from tui.core.requests import RequestState

    config = load_config(args)
    store = open_store(args, config)
    try:
        flt = request_filter(args, store, config, frozenset({RequestState.UNCERTAIN}))
        uncertain = query_requests(store, flt)
        if not uncertain:
            print("no uncertain requests: nothing to resend")
            return EXIT_OK
        if interactive() and not args.yes:
            write_request_table(sys.stdout, uncertain)
            if not confirm(f"send these {len(uncertain)} request(s) again?"):
                print("nothing changed")
                return EXIT_OK
        poller = _poller(args)
        events = resend_uncertain(store, flt, datetime.now(UTC))
        _tell(args, f"marked {len(events)} uncertain request(s) pending again")
        if args.watch:
            return _watch(args, store, config, (r.fingerprint for r in uncertain))
    finally:
        store.close()
    _who_sends(poller)
    return EXIT_OK
