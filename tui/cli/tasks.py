"""`add` and `remove`: which tasks the store tracks. Ids are checked and routed to a provider
before anything is written, so a bad line or an ambiguous id adds nothing."""

from __future__ import annotations

import sys

from tui.cli.errors import EXIT_NOTHING_MATCHED, EXIT_OK, PROG, fail, say
from tui.cli.options import load_config, names, open_store, task_filter

TYPE_CHECKING = False  # `typing` costs start-up time; annotations are strings here anyway
if TYPE_CHECKING:
    import argparse

    from tui.core.config import Config
    from tui.core.model import Key


def cmd_add(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    if not args.ids and args.file is None:
        fail("nothing to add: give task ids, or --file PATH (`--file -` reads stdin)")
    if args.batch is not None:
        _check_label(args.batch)
    ids = _gather_ids(args, "added")
    if not ids:
        fail("nothing to add: no task ids in the input")
    config = load_config(args)
    by_provider = _assign_providers(ids, args.provider, config)
    _warn_missing_keys(by_provider, config)
    now = datetime.now(UTC)
    store = open_store(args, config)
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


def _gather_ids(args: argparse.Namespace, done: str) -> list[str]:
    """The ids given as arguments, then those of --file (duplicates dropped). A bad line stops
    the command before the store is touched, naming every bad line (`nothing {done}`)."""
    from tui.core.ids import parse_id_lines

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
        fail(f"nothing {done}: fix the {len(bad)} bad line(s) above (one task id a line)")
    return ids


def _warn_missing_keys(by_provider: dict[str, list[str]], config: Config) -> None:
    """Adding works without a key, polling does not: say so now, not after a silent wait."""
    for name in by_provider:
        provider = config.providers[name]
        if provider.api_key:
            continue
        if provider.api_key_env:
            say(
                f"warning: {provider.api_key_env} is not set: these {name} tasks will not be "
                "polled until it is"
            )
        else:
            say(
                f"warning: [providers.{name}] has no key (set api_key_env): these {name} tasks "
                "will not be polled until it has one"
            )


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
    """Stop tracking the tasks named (ids, --file) and/or selected by the filters. A script
    command: it asks nothing, so it refuses to run with no ids and no filter at all."""
    import dataclasses

    from tui.core.ids import is_valid_id

    filtered = args.state is not None or args.provider is not None or args.batch is not None
    if not args.ids and args.file is None and not filtered:
        fail(
            "nothing to remove: give ids, --file or a filter (--state, --provider, --batch); "
            "`remove` alone never removes every task"
        )
    bad = [i for i in args.ids if not is_valid_id(i)]
    if bad:
        from tui import output

        fail(f"not a task id: {output.safe(bad[0])!r} (ids hold letters, digits and . _ : -)")
    ids = _gather_ids(args, "removed")
    if args.file is not None and not ids:
        fail("nothing to remove: no task ids in the input (leave --file out to remove by filter)")
    config = load_config(args)
    store = open_store(args, config)
    try:
        flt = task_filter(args, store, config)
        if ids:
            flt = dataclasses.replace(flt, ids=frozenset(ids))
        matched: list[Key] = [(t.provider, t.id) for t in store.query(flt)]
        removed = 0
        for provider, provider_ids in _by_provider(matched).items():
            removed += store.remove(provider, provider_ids)
    finally:
        store.close()
    print(f"removed {removed}")
    found = {task_id for _, task_id in matched}
    missing = [i for i in ids if i not in found]
    if missing:
        where = f" at {args.provider}" if args.provider else ""
        if args.state is not None or args.batch is not None:
            where += " matching the filters"
        shown = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
        say(f"not tracked{where}: {shown}")
    if not removed:
        say("nothing matched: no task removed")
        return EXIT_NOTHING_MATCHED
    return EXIT_OK


def _by_provider(keys: list[Key]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for provider, task_id in keys:
        out.setdefault(provider, []).append(task_id)
    return out
