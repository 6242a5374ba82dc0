"""`add` and `remove`: which tasks the store tracks. Ids are checked and routed to a provider
before anything is written, so a bad line or an ambiguous id adds nothing."""

from __future__ import annotations

import sys

from tui.cli.errors import EXIT_OK, PROG, fail, say
from tui.cli.options import load_config, names, open_store

TYPE_CHECKING = False  # `typing` costs start-up time; annotations are strings here anyway
if TYPE_CHECKING:
    import argparse

    from tui.core.config import Config


def cmd_add(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from tui.core.ids import parse_id_lines

    if not args.ids and args.file is None:
        fail("nothing to add: give task ids, or --file PATH (`--file -` reads stdin)")
    if args.batch is not None:
        _check_label(args.batch)
    ids, errors = parse_id_lines(args.ids)
    bad = [f"argument {n}: {text!r}: {why}" for n, text, why in errors]
    if args.file is not None:
        more, file_errors = parse_id_lines(_read_lines(args.file))
        where = "stdin" if args.file == "-" else args.file
        bad += [f"{where}, line {n}: {text!r}: {why}" for n, text, why in file_errors]
        seen = set(ids)
        ids += [i for i in more if i not in seen]
    if bad:
        for line in bad:
            print(f"{PROG}: {line}", file=sys.stderr)
        fail(f"nothing added: fix the {len(bad)} bad line(s) above (one task id a line)")
    if not ids:
        fail("nothing to add: no task ids in the input")
    config = load_config(args)
    by_provider = _assign_providers(ids, args.provider, config)
    now = datetime.now(UTC)
    store = open_store(args)
    added = skipped = 0
    per_provider: list[str] = []
    try:
        for provider, provider_ids in by_provider.items():
            result = store.add_tasks(provider, provider_ids, batch=args.batch, now=now)
            added += result.added
            skipped += result.skipped
            if result.added:
                per_provider.append(f"{provider} {result.added}")
    finally:
        store.close()
    message = f"added {added}"
    if len(per_provider) > 1:
        message += f" ({', '.join(per_provider)})"
    if skipped:
        message += f", skipped {skipped} already tracked"
    print(message)
    return EXIT_OK


def _check_label(label: str) -> None:
    if not label.strip() or len(label) > 128 or any(ord(ch) < 32 or ord(ch) == 127 for ch in label):
        fail(f"--batch {label!r}: use a short label of printable characters, e.g. spring-ads")


def _read_lines(path: str) -> list[str]:
    if path == "-":
        return sys.stdin.read().splitlines()
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read().splitlines()
    except FileNotFoundError:
        fail(f"--file {path}: no such file")
    except IsADirectoryError:
        fail(f"--file {path}: is a directory: give a file with one task id a line")
    except OSError as exc:
        fail(f"--file {path}: cannot read it ({exc.strerror})")


def _assign_providers(ids: list[str], provider: str | None, config: Config) -> dict[str, list[str]]:
    """Each id's provider: the one named, else the one configured provider of the prefix's kind."""
    from tui.core.dialects import kinds_for_id

    providers = config.providers
    if provider is not None:
        if provider not in providers:
            fail(
                f"unknown provider {provider!r}: configured are {names(providers)} "
                "(add a [providers.NAME] table to the config)"
            )
        kind = providers[provider].kind
        odd = [i for i in ids if (kinds := kinds_for_id(i)) and kind not in kinds]
        if odd:
            say(
                f"warning: {len(odd)} id(s) look like another dialect's than {provider}'s "
                f"({kind}), e.g. {odd[0]}"
            )
        return {provider: ids}
    from tui.core.routing import route_ids

    routing = route_ids(ids, providers)
    problems = [
        f"{task_id}: several providers could track it ({', '.join(candidates)}): "
        f"add --provider {candidates[0]} (or another of them)"
        for task_id, candidates in routing.ambiguous
    ]
    problems += [
        f"{task_id}: has the id prefix of the {' or '.join(kinds)} dialect but no provider "
        f"of that kind is configured (configured: {_describe(config)}): add one, or use "
        "--provider"
        for task_id, kinds in routing.unconfigured
    ]
    problems += [
        f"{task_id}: its prefix names no dialect: add --provider NAME "
        f"(configured: {_describe(config)})"
        for task_id in routing.unknown_prefix
    ]
    unplaced = routing.unplaced
    problems = problems[:20]
    if problems:
        for line in problems:
            print(f"{PROG}: {line}", file=sys.stderr)
        more = f" ({unplaced - len(problems)} more like these)" if unplaced > len(problems) else ""
        fail(f"nothing added: say which provider tracks these ids with --provider NAME{more}")
    return routing.assigned


def _describe(config: Config) -> str:
    return ", ".join(f"{p.name} ({p.kind})" for p in config.providers.values()) or "none"


def cmd_remove(args: argparse.Namespace) -> int:
    from tui.core.ids import is_valid_id
    from tui.core.store import TaskFilter

    bad = [i for i in args.ids if not is_valid_id(i)]
    if bad:
        from tui import output

        fail(f"not a task id: {output.safe(bad[0])!r} (ids hold letters, digits and . _ : -)")
    store = open_store(args)
    try:
        tracked = {
            t.id for t in store.query(TaskFilter(ids=frozenset(args.ids), provider=args.provider))
        }
        removed = store.remove(args.provider, args.ids) if tracked else 0
    finally:
        store.close()
    print(f"removed {removed}")
    missing = [i for i in args.ids if i not in tracked]
    if missing:
        shown = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
        say(f"not tracked{' at ' + args.provider if args.provider else ''}: {shown}")
    return EXIT_OK
