"""The simulator's HTTP plumbing: a threaded server, keep-alive handler, replies and resets.

Kept apart from `tui.sim.server` (what the providers answer) so that file reads as the
providers' behaviour. The handler reads every request body before answering, so a POST on a
keep-alive connection never leaves bytes behind for the next request.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

JSON = "application/json; charset=utf-8"
HTML = "text/html; charset=utf-8"
MAX_BODY = 16 * 1024 * 1024  # a create body with inline base64 images stays well below this


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    content_type: str = JSON
    headers: tuple[tuple[str, str], ...] = ()

    def with_headers(self, *headers: tuple[str, str]) -> Reply:
        return Reply(self.status, self.body, self.content_type, self.headers + headers)


def json_reply(status: int, body: Any) -> Reply:
    return Reply(status, json.dumps(body, ensure_ascii=False).encode())


class BodyError(Exception):
    """The request body could not be read; `reply` says why (the connection is then closed)."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256

    def __init__(
        self,
        address: tuple[str, int],
        serve: Callable[[Handler], None],
        on_error: Callable[[str], None],
    ) -> None:
        self.serve = serve
        self.on_error = on_error
        self.stopping = threading.Event()
        self._conns_lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        super().__init__(address, Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that hung up is not an error; anything else goes to `on_error`."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)) or self.stopping.is_set():
            return
        self.on_error(traceback.format_exc())

    def track(self, conn: socket.socket, open_: bool) -> None:
        with self._conns_lock:
            if open_:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def close_connections(self) -> None:
        """Wake hung handlers and close idle keep-alive connections."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real providers
    server_version = "seedance-sim"
    sys_version = ""
    timeout = 60  # an idle keep-alive connection is closed after this (wall seconds)
    server: Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without NODELAY, Nagle plus the client's
        # delayed ACK cost ~40 ms a request.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def handle(self) -> None:
        with contextlib.suppress(ConnectionError, TimeoutError):
            super().handle()

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read sim.requests
        pass

    def do_GET(self) -> None:
        self.server.serve(self)

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def read_body(self) -> bytes:
        """The whole request body; BodyError for chunked, unreadable or oversized ones."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            raise BodyError(json_reply(411, {"error": {"message": "Content-Length required"}}))
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            raise BodyError(json_reply(400, {"error": {"message": "bad Content-Length"}}))
        if length > MAX_BODY:
            self.close_connection = True
            raise BodyError(json_reply(413, {"error": {"message": "request body too large"}}))
        return self.rfile.read(length)

    def send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def reset(self) -> None:
        """Drop the connection with a TCP reset (SO_LINGER 0) and no response."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            self.connection.close()
