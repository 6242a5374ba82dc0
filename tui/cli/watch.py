"""`watch` and `download`: the engine run under asyncio until the selected tasks are done,
each event printed as it comes (a line for people, a JSON object for scripts).

The run holds this store's poller lock, stops at `--timeout`, prints a summary on Ctrl-C and
on SIGTERM/SIGHUP (every answer was saved as it came; a download in flight goes back to
`pending` with its `.part` kept for the resume), ends with exit 2 and the reason when the store
refused writes for longer than `[store] give_up_after`, and stops when the reader of a pipe
goes away, as SIGPIPE would stop any other Unix tool.
"""

from __future__ import annotations

import os
import signal
import sys

from tui.cli.errors import (
    EXIT_NOT_ALL_SUCCEEDED,
    EXIT_OK,
    EXIT_TIMEOUT,
    PROG,
    Stopped,
    UserError,
    fail,
    say,
    silence_stdout,
)
from tui.cli.options import db_path, load_config, open_store, task_filter

TYPE_CHECKING = False  # `typing` costs start-up time; annotations are strings here anyway
if TYPE_CHECKING:
    import argparse
    import asyncio
    from collections.abc import Callable
    from typing import Any

    from tui.core.config import Config
    from tui.core.engine import Engine
    from tui.core.model import Event, Task
    from tui.core.store import Store, TaskFilter


def cmd_watch(args: argparse.Namespace) -> int:
    config = load_config(args)
    store = open_store(args, config)
    try:
        flt = task_filter(args, store, config)
        if not sum(store.counts(flt).values()) and not _open_requests(store, flt):
            say(f"nothing to watch: no tracked task matches (add some with `{PROG} add ID`)")
        return watch_until_done(args, store, config, flt)
    finally:
        store.close()


def watch_until_done(
    args: argparse.Namespace,
    store: Store,
    config: Config,
    flt: TaskFilter,
    *,
    not_succeeded: Callable[[], int] | None = None,
) -> int:
    """`watch`'s run and exit code over `flt` (also `submit --watch`). `not_succeeded()`
    counts what else fails `--exit-status` (`submit`: rejected and uncertain requests)."""
    from tui import output
    from tui.core.model import LIVE_STATES, State
    from tui.core.poller import ProviderHealth

    timed_out, health, left = _poll_until_done(
        args, store, config, flt, download=not args.no_download, timeout=args.timeout
    )
    selected = _finish(args, store, flt)
    _report_disk_waits(selected)
    for name, (count, why) in sorted(left.items()):
        say(f"{name}: {count} request(s) not sent: {output.safe(why)}")
    if timed_out:
        say(f"--timeout {args.timeout:g} s reached: tasks still live are saved; watch again")
        return EXIT_TIMEOUT
    live = [t for t in selected if t.state in LIVE_STATES]
    refused = {
        name: why for name, (state, why) in health.items() if state is ProviderHealth.AUTH_FAILED
    }
    stuck = {t.provider for t in live} | set(left)
    if stuck and stuck <= set(refused):
        for name in sorted(stuck):
            say(f"{name}: {output.safe(refused[name]) or 'the provider refused the key'}")
        unsent = sum(count for count, _ in left.values())
        what = f"{len(live)} task(s) left unpolled" + (
            f" and {unsent} request(s) unsent" if unsent else ""
        )
        fail(
            f"{what}: every provider they belong to refused its key (check api_key_env and "
            "that the variable is exported)"
        )
    if args.exit_status:
        others = not_succeeded() if not_succeeded is not None else 0
        if others or any(t.state is not State.SUCCEEDED for t in selected):
            return EXIT_NOT_ALL_SUCCEEDED
    return EXIT_OK


def _open_requests(store: Store, flt: TaskFilter) -> int:
    """Requests `flt`'s provider and batch still have to send (`watch` sends them too)."""
    from tui.core.request_store import open_count

    providers = None if flt.provider is None else [flt.provider]
    return open_count(store, providers, batch=flt.batch)


def cmd_download(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    from tui.core.model import Download, DownloadState, State

    config = load_config(args)
    # Asking for downloads is the answer to `[download] enabled = false`.
    config = dataclasses.replace(
        config, download=dataclasses.replace(config.download, enabled=True)
    )
    store = open_store(args, config)
    try:
        flt = task_filter(args, store, config)
        if flt.states is not None and State.SUCCEEDED not in flt.states:
            fail("download fetches succeeded tasks' videos: drop --state or include succeeded")
        finished = dataclasses.replace(flt, states=frozenset({State.SUCCEEDED}))
        todo = []
        for task in store.query(finished):
            if task.download.state is DownloadState.DONE:
                if task.download.path and Path(task.download.path).is_file():
                    continue
                store.set_download(task.provider, task.id, Download())  # the file is gone
            if task.video_url:
                todo.append(task)
        if not todo:
            print("nothing to download: every finished video is on disk")
            return EXIT_OK
        chosen = dataclasses.replace(finished, ids=frozenset(t.id for t in todo))
        _poll_until_done(args, store, config, chosen, download=True, timeout=None)
        after = _finish(args, store, chosen)
    finally:
        store.close()
    _report_disk_waits(after)
    if args.exit_status and any(t.download.state is not DownloadState.DONE for t in after):
        return EXIT_NOT_ALL_SUCCEEDED
    return EXIT_OK


def _poll_until_done(
    args: argparse.Namespace,
    store: Store,
    config: Config,
    flt: TaskFilter,
    *,
    download: bool,
    timeout: float | None,
) -> tuple[bool, dict[str, Any], dict[str, tuple[int, str]]]:
    """Run the engine under this process's poller lock; (timed out?, provider health,
    requests left unsent per provider that cannot take them, and why).

    On Ctrl-C the summary is printed and KeyboardInterrupt goes on up (exit 130): every answer
    was saved as it came, so nothing is lost.
    """
    import asyncio

    from tui.core.lock import LockHeld, PollerLock

    lock = PollerLock(db_path(args))
    try:
        lock.acquire(f"{PROG} {args.command}")
    except LockHeld as held:
        fail(str(held))
    outcome: dict[str, Any] = {
        "timed_out": False,
        "health": {},
        "left": {},  # provider -> (requests left unsent, why): creating paused or stopped
        "signal": None,  # SIGTERM/SIGHUP: stop as on Ctrl-C, exit 128 + N
        "gave_up": None,  # why the store stopped taking writes for good: exit 2
        "disk_waits": False,  # `download`: only videos waiting for the disk are left
    }
    printer = EventPrinter(as_json=args.json, verbose=getattr(args, "verbose", False))

    async def run() -> None:
        from tui.core.engine import Engine
        from tui.core.store_writer import StoreGaveUp

        engine = Engine(store, config, download=download)
        engine.subscribe(printer)
        main = asyncio.current_task()
        if args.command == "download":
            # `download` is one go, not a vigil: once only videos waiting for the disk remain,
            # it stops and says so (`watch` waits for them).
            engine.subscribe(lambda event: _stop_when_only_disk_waits(event, main, outcome))
        reader = asyncio.create_task(printer.watch_reader(main))
        store_watch = asyncio.create_task(_end_when_the_store_gives_up(engine, main, outcome))
        _stop_on_signals(asyncio.get_running_loop(), main, outcome)
        try:
            async with asyncio.timeout(timeout) as deadline:
                await engine.run(flt, until_done=True)
        except TimeoutError:
            if not deadline.expired():
                raise
            outcome["timed_out"] = True
        except StoreGaveUp as gave_up:
            outcome["gave_up"] = str(gave_up)
        except asyncio.CancelledError:
            stopped = outcome["signal"] or outcome["disk_waits"] or outcome["gave_up"]
            if not printer.closed and not stopped:
                raise  # Ctrl-C
        finally:
            reader.cancel()
            store_watch.cancel()
            outcome["health"] = engine.health()
            outcome["left"] = engine.submitter.left()
            await engine.aclose()  # downloads in flight are written back as `pending` here

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        _finish(args, store, flt)
        raise
    finally:
        lock.release()
    if outcome["signal"] is not None:
        _finish(args, store, flt)
        raise Stopped(outcome["signal"])
    if outcome["gave_up"] is not None:
        _finish(args, store, flt)
        raise UserError(
            f"stopped: {outcome['gave_up']}; everything the store had committed is kept: "
            f"`{PROG} {args.command}` again once it takes writes"
        )
    return outcome["timed_out"], outcome["health"], outcome["left"]


async def _end_when_the_store_gives_up(
    engine: Engine, main: asyncio.Task[Any] | None, outcome: dict[str, Any]
) -> None:
    """The engine ends its run when the store gives up, but not while it waits for the last
    downloads (a disk full for hours): this ends that wait too."""
    import asyncio

    while engine.writer.failure is None:
        await asyncio.sleep(0.5)
    if main is not None and outcome["gave_up"] is None:
        outcome["gave_up"] = engine.writer.failure
        main.cancel()


def _stop_on_signals(
    loop: asyncio.AbstractEventLoop, main: asyncio.Task[Any] | None, outcome: dict[str, Any]
) -> None:
    """SIGTERM and SIGHUP end the run as Ctrl-C does (cleanly, summary printed), and the
    process exits 128 + the signal's number. A signal ignored when the process started
    (`nohup` ignores SIGHUP) stays ignored."""

    def stop(signum: int) -> None:
        if outcome["signal"] is None and main is not None:  # a second one: already stopping
            outcome["signal"] = signum
            main.cancel()

    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is signal.SIG_IGN:
            continue
        try:
            loop.add_signal_handler(signum, stop, signum)
        except (ValueError, RuntimeError):  # not the main thread (an embedding caller's)
            return


def _stop_when_only_disk_waits(
    event: Event, main: asyncio.Task[Any] | None, outcome: dict[str, Any]
) -> None:
    """The downloader's `notice` with a `pending` count: only disk waits are left."""
    only_disk_waits = event.kind == "notice" and "pending" in event.data
    if only_disk_waits and main is not None and not outcome["disk_waits"]:
        outcome["disk_waits"] = True
        main.cancel()


def _report_disk_waits(selected: list[Task]) -> None:
    """Say when videos still wait for the disk (after `--timeout`, or a `download` that
    stopped): their URLs die within a day."""
    from tui.core.model import DownloadState

    waiting = [
        t for t in selected if t.download.state is DownloadState.PENDING and t.download.error
    ]
    if waiting:
        say(
            f"{len(waiting)} finished video(s) not kept yet: {waiting[0].download.error}; "
            f"run `{PROG} download` before their URLs expire"
        )


class EventPrinter:
    """The engine subscriber that prints each event. When the reader of a pipe goes away
    (`watch | head`), the run stops, as SIGPIPE would stop any other Unix tool."""

    def __init__(self, *, as_json: bool, verbose: bool) -> None:
        self.as_json = as_json
        self.verbose = verbose  # `poll` events (a poll that changed nothing) only when asked
        self.closed = False

    def __call__(self, event: Event) -> None:
        if self.closed or (event.kind == "poll" and not self.verbose):
            return
        try:
            print_event_line(event, as_json=self.as_json)
        except BrokenPipeError:
            self.closed = True
            silence_stdout()

    async def watch_reader(self, run: asyncio.Task[Any] | None) -> None:
        """Cancel `run` once the reader is gone: seen by a failed write, or by polling the pipe
        when nothing was printed (`watch | head -n 1` with every line already in the pipe).
        The cancel comes from here, never from inside an engine callback, so it does not land
        in the middle of the engine's own bookkeeping."""
        import asyncio

        while not (self.closed or _stdout_reader_gone()):
            await asyncio.sleep(0.2)
        self.closed = True
        silence_stdout()
        if run is not None:
            run.cancel()


def print_event_line(event: Event, *, as_json: bool) -> None:
    """One event on stdout: JSON for scripts, else a line cut to a terminal's width."""
    from tui import output

    if as_json:
        line = output.dumps(event.to_json())
    else:
        line = output.event_line(event)
        if sys.stdout.isatty():
            import shutil

            from tui.core.text_width import cut

            line = cut(line, shutil.get_terminal_size().columns)
    print(line, flush=True)


def _stdout_reader_gone() -> bool:
    """True when stdout is a pipe whose reading end is closed (poll reports POLLERR)."""
    import select
    import stat

    try:
        fd = sys.stdout.fileno()
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return False
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return any(flags & (select.POLLERR | select.POLLHUP) for _, flags in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def _finish(args: argparse.Namespace, store: Store, flt: TaskFilter) -> list[Task]:
    """Print the summary event; return the selected tasks as they are now."""
    from tui import output

    selected = store.query(flt)
    print_event_line(output.summary_event(selected), as_json=args.json)
    return selected
