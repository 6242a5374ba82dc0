"""Warnings and errors logged by the program's own code reach the dashboard's log panel.

The core logs what goes wrong off screen (`log.exception` in the engine, the downloader's
retries); without this handler those lines went nowhere while the dashboard ran. Records may come
from any thread (the export, the store-reading thread): they are queued and delivered in the
app's event loop, cleaned of control characters, as `notice` (warning) or `error` events.
"""

from __future__ import annotations

import asyncio
import logging
import queue
from collections.abc import Callable

from tui.core.clean import clean_line
from tui.core.model import Event

LOGGER = "tui"  # every module's logger is a child of this one


class PanelHandler(logging.Handler):
    """Queue each record as an `Event`; `deliver` receives them, in order, in the loop."""

    def __init__(
        self,
        deliver: Callable[[list[Event]], None],
        loop: asyncio.AbstractEventLoop,
        level: int = logging.WARNING,
    ) -> None:
        super().__init__(level)
        self._deliver = deliver
        self._loop = loop
        self._queue: queue.SimpleQueue[Event] = queue.SimpleQueue()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                error = record.exc_info[1]
                message = f"{message}: {type(error).__name__}: {error}"
        except (TypeError, ValueError):  # a bad format string: say what we can
            message = str(record.msg)
        kind = "error" if record.levelno >= logging.ERROR else "notice"
        text = clean_line(f"{record.name}: {message}") or record.name
        self._queue.put(Event(kind, data={"message": text}))
        try:
            self._loop.call_soon_threadsafe(self.deliver_queued)
        except RuntimeError:  # the loop is closed: the app is gone, nothing left to show
            return

    def deliver_queued(self) -> None:
        """Hand every queued record over (runs in the loop)."""
        events: list[Event] = []
        while True:
            try:
                events.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if events:
            self._deliver(events)


def forward_logs(
    deliver: Callable[[list[Event]], None], loop: asyncio.AbstractEventLoop | None = None
) -> Callable[[], None]:
    """Attach a `PanelHandler` to the program's loggers; returns the function that detaches it.
    Call from inside the running loop (or pass `loop`)."""
    handler = PanelHandler(deliver, loop or asyncio.get_running_loop())
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)

    def remove() -> None:
        logger.removeHandler(handler)

    return remove
