"""The simulator: one real HTTP server on 127.0.0.1 speaking all three provider dialects.

Tests, benchmarks and `seedance-tui demo` talk to it over loopback exactly as they talk to the
real providers, so the whole client (httpx, pacing, back-off, parsing) runs for real. Every
request is logged with what the etiquette checks need (clock time, task, status, whether a
correct key came along) but never the key itself.

Routes (one server, a path prefix per provider):
    /kyy/v1/result/{id}
    /newapi/v1/video/generations/{task_id}
    /ark/contents/generations/tasks/{id}
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import struct
import sys
import threading
import traceback
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from tui.core.clock import Clock, SystemClock
from tui.sim import tasks as T
from tui.sim.faults import CHALLENGE_PAGE, Fault, FaultPlan, nginx_page

ROUTES: dict[str, str] = {
    "kyy": "/kyy/v1/result/",
    "newapi": "/newapi/v1/video/generations/",
    "ark": "/ark/contents/generations/tasks/",
}
DEFAULT_KEYS: dict[str, str] = {kind: f"sk-sim-{kind}" for kind in T.KINDS}
_JSON = "application/json; charset=utf-8"
_HTML = "text/html; charset=utf-8"


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request as the provider saw it. `status` is None while in flight or after a reset."""

    ts: float  # clock epoch seconds at arrival
    method: str
    path: str
    kind: str | None
    task_id: str | None
    status: int | None
    has_auth: bool
    auth_ok: bool
    fault: str | None = None  # the fault action that shaped the answer, or "rate_limit"


@dataclass(frozen=True, slots=True)
class Violation:
    """A provider got more than its rate limit within one window of clock time."""

    ts: float
    kind: str
    count: int
    limit: float
    window: float


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    body: bytes
    content_type: str = _JSON
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class _RateLimit:
    limit: float
    window: float
    retry_after: float | None


class Simulator:
    """The stand-in for the providers. Durations are clock seconds; see the module docstring."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        seed: int = 0,
        keys: dict[str, str] | None = None,
        video_host: T.VideoHostLike | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.seed = seed
        self.video_host = video_host
        self.faults = FaultPlan()
        self._keys = {**DEFAULT_KEYS, **(keys or {})}
        self._address = (host, port)
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._tasks: dict[str, T.SimTask] = {}
        self._minter = T.UrlMinter(video_host)
        self._log: list[LoggedRequest] = []
        self._arrivals: dict[str, deque[float]] = {kind: deque() for kind in T.KINDS}
        self._limits: dict[str, _RateLimit] = {}
        self._violations: list[Violation] = []
        self._errors: list[str] = []
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # -- life -------------------------------------------------------------------------------
    def start(self) -> Simulator:
        """Bind (port 0 = a free one) and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(self._address, _Handler, self)
        self._server = server
        bound_host, bound_port = server.server_address[:2]
        self.base_url = f"http://{bound_host}:{bound_port}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name=f"sim-{bound_port}",
        )  # fmt: skip
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop promptly: hung handlers wake up, idle keep-alive connections are closed."""
        server = self._server
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._server = None
        self._thread = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    def provider_url(self, kind: str) -> str:
        """The `base_url` to configure for a provider of this kind."""
        _check_kind(kind)
        if not self.base_url:
            raise RuntimeError("the simulator is not started")
        return f"{self.base_url}/{kind}"

    def key(self, kind: str) -> str:
        """The key this provider accepts (a simulator key, never a real one)."""
        _check_kind(kind)
        return self._keys[kind]

    # -- tasks ------------------------------------------------------------------------------
    def add_task(
        self,
        kind: str,
        task_id: str | None = None,
        *,
        model: str | None = None,
        outcome: str = "succeeded",
        queue_s: float | None = None,
        run_s: float | None = None,
        failure: tuple[str | None, str] | str | None = None,
        ultra: bool = False,
        video_bytes: int = 262_144,
        unknown_status: str | None = None,
        nasty: bool = False,
        created_at: float | None = None,
        duration: int = 5,
        resolution: str | None = None,
        super_resolution: str = "720p",
        ratio: str = "16:9",
        fps: int = 24,
        seed: int | None = None,
        generate_audio: bool = True,
        action: str = "generate",
        url_ttl: float = 86_400.0,
        url_style: str = "tos",
    ) -> str:
        """Plan a task and return its id (made in the provider's format when not given).

        Queued for `queue_s`, running for `run_s` (clock seconds; defaults drawn from the
        model's documented generation time), then `outcome`: succeeded, failed (`failure` is
        `(code, message)`, a bare message, or a realistic default), cancelled, expired, or
        unknown (reports `unknown_status`, default "WEIRD", for good; giving `unknown_status`
        implies that outcome). `ultra` (newapi only): super-resolved result, 480p upstream.
        `nasty` puts Rich markup and terminal escapes into the failure message.
        """
        _check_kind(kind)
        if unknown_status is not None:
            outcome = "unknown"
        if outcome not in T.OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; one of {', '.join(T.OUTCOMES)}")
        if ultra and kind != "newapi":
            raise ValueError("ultra (super-resolution) tasks exist only on the newapi relay")
        if url_style not in T.URL_STYLES:
            raise ValueError(f"unknown url_style {url_style!r}; one of {', '.join(T.URL_STYLES)}")
        model = model or (T.ULTRA_MODEL if ultra else T.DEFAULT_MODELS[kind])
        with self._lock:
            rng = self._rng
            created = self.clock.now() if created_at is None else created_at
            if queue_s is None or run_s is None:
                default_queue, default_run = _default_timing(model, rng)
                queue_s = default_queue if queue_s is None else queue_s
                run_s = default_run if run_s is None else run_s
            if queue_s < 0 or run_s < 0:
                raise ValueError("queue_s and run_s must be >= 0")
            task_id = task_id or T.new_id(kind, rng, created)
            if task_id in self._tasks:
                raise ValueError(f"task {task_id!r} already exists")
            task = T.SimTask(
                kind=kind,
                id=task_id,
                model=model,
                created_at=created,
                started_at=created + queue_s,
                finished_at=created + queue_s + run_s,
                outcome=outcome,
                failure=self._failure(kind, outcome, failure, nasty, rng),
                unknown_status=unknown_status or T.UNKNOWN_STATUS,
                ultra=ultra,
                video_bytes=video_bytes,
                url_ttl=url_ttl,
                url_style=url_style,
                duration=duration,
                resolution=resolution or ("480p" if ultra else "720p"),
                super_resolution=super_resolution if ultra else None,
                ratio=ratio,
                fps=fps,
                seed=rng.randint(1, 99_999) if seed is None else seed,
                generate_audio=generate_audio,
                action=action,
                request_id=T.request_id(rng, created),
                inner_id=T.ark_id(rng, created) if kind == "newapi" else "",
            )
            self._tasks[task_id] = task
        return task_id

    def set_outcome(
        self,
        task_id: str,
        outcome: str,
        *,
        failure: tuple[str | None, str] | str | None = None,
        unknown_status: str | None = None,
    ) -> None:
        """Change how a task ends (takes effect from its next answer)."""
        if outcome not in T.OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; one of {', '.join(T.OUTCOMES)}")
        with self._lock:
            task = self._task(task_id)
            task.outcome = outcome
            task.failure = self._failure(task.kind, outcome, failure, False, self._rng)
            if unknown_status is not None:
                task.unknown_status = unknown_status

    def complete_now(self, task_id: str, outcome: str | None = None, **kwargs: Any) -> None:
        """Finish the task at the clock's now (optionally with another outcome)."""
        if outcome is not None:
            self.set_outcome(task_id, outcome, **kwargs)
        with self._lock:
            task = self._task(task_id)
            now = self.clock.now()
            task.finished_at = min(task.finished_at, now)
            task.started_at = min(task.started_at, task.finished_at)

    def remove_task(self, task_id: str) -> None:
        """The provider forgets the task: from now on it answers "not found"."""
        with self._lock:
            self._tasks.pop(task_id, None)

    def task(self, task_id: str) -> T.SimTask:
        """The task's plan (a live object: read it, change it through the methods above)."""
        with self._lock:
            return self._task(task_id)

    def task_ids(self, kind: str | None = None) -> list[str]:
        with self._lock:
            return [t.id for t in self._tasks.values() if kind is None or t.kind == kind]

    def body(self, task_id: str) -> dict[str, Any]:
        """The 200 body the task's provider would answer now (no request logged)."""
        with self._lock:
            task = self._task(task_id)
            now = self.clock.now()
            return T.render(task, now, lambda: self._minter.urls(task, now))

    def demo_batch(
        self, n: int, *, kinds: tuple[str, ...] = ("newapi", "kyy"), seed: int | None = None
    ) -> list[tuple[str, str]]:
        """A realistic mix of `n` tasks; see `tui.sim.scenarios.demo_batch`."""
        from tui.sim.scenarios import demo_batch

        return demo_batch(self, n, kinds=kinds, seed=seed)

    # -- what the providers saw -------------------------------------------------------------
    @property
    def requests(self) -> list[LoggedRequest]:
        """Every request so far, in order of arrival (a copy)."""
        with self._lock:
            return list(self._log)

    def requests_for(
        self, kind: str | None = None, task_id: str | None = None
    ) -> list[LoggedRequest]:
        with self._lock:
            return [
                r
                for r in self._log
                if (kind is None or r.kind == kind) and (task_id is None or r.task_id == task_id)
            ]

    def max_requests_in_window(self, kind: str | None = None, window: float = 1.0) -> int:
        """The most requests the provider got within any `window` clock seconds (half-open)."""
        times = sorted(r.ts for r in self.requests_for(kind))
        best = 0
        first = 0
        for last, ts in enumerate(times):
            while ts - times[first] >= window:
                first += 1
            best = max(best, last - first + 1)
        return best

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()
            self._violations.clear()

    def enforce_rate_limit(
        self,
        kind: str,
        limit: float | None,
        *,
        window: float = 1.0,
        retry_after: float | None = 1.0,
    ) -> None:
        """Answer 429 (and record a Violation) whenever `kind` gets more than `limit` requests
        within `window` clock seconds. `limit=None` turns enforcement off."""
        _check_kind(kind)
        with self._lock:
            if limit is None:
                self._limits.pop(kind, None)
            else:
                self._limits[kind] = _RateLimit(limit, window, retry_after)

    @property
    def violations(self) -> list[Violation]:
        with self._lock:
            return list(self._violations)

    @property
    def errors(self) -> list[str]:
        """Tracebacks of the simulator's own bugs (answered as 500); empty when all is well."""
        with self._lock:
            return list(self._errors)

    # -- serving (called from handler threads) ----------------------------------------------
    def _serve(self, handler: _Handler) -> None:
        method = handler.command
        path = handler.path
        kind, task_id = route(path)
        auth = handler.headers.get("Authorization")
        has_auth = auth is not None
        auth_ok = kind is not None and _auth_ok(auth, self._keys[kind])
        with self._lock:
            now = self.clock.now()
            index = len(self._log)
            entry = LoggedRequest(now, method, path, kind, task_id, None, has_auth, auth_ok)
            self._log.append(entry)
            limited = self._over_limit(kind, now)
        try:
            if limited is not None:
                reply = self._rate_limit_reply(kind or "", limited, now)
                self._finish(index, entry, reply.status, "rate_limit")
                handler.send(reply)
                return
            fault = self.faults.take(kind, task_id, now) if kind is not None else None
            hung_up = fault is not None and fault.action == "hang" and self._wait(fault.hang_s)
            if fault is not None and (hung_up or fault.action == "reset"):
                self._finish(index, entry, None, fault.action)
                handler.reset()
                return
            if fault is not None and fault.action != "hang":
                reply = self._fault_reply(fault, kind or "")
            else:
                reply = self._normal_reply(method, kind, task_id, has_auth, auth_ok)
        except Exception:
            self._record_error(traceback.format_exc())
            reply = _json_reply(500, {"error": {"message": "simulator error"}})
            fault = None
        self._finish(index, entry, reply.status, fault.action if fault is not None else None)
        handler.send(reply)

    def _normal_reply(
        self, method: str, kind: str | None, task_id: str | None, has_auth: bool, auth_ok: bool
    ) -> _Reply:
        if kind is None or task_id is None:
            return _json_reply(404, {"error": {"message": "no such route", "type": "not_found"}})
        if method != "GET":
            reply = _json_reply(405, {"error": {"message": f"{method} not allowed"}})
            return _Reply(reply.status, reply.body, headers=(("Allow", "GET"),))
        if not auth_ok:
            return _json_reply(*T.unauthorized(kind, has_auth))
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None or task.kind != kind:
                return _json_reply(*T.not_found(kind, task_id))
            now = self.clock.now()
            body = T.render(task, now, lambda: self._minter.urls(task, now))
        return _json_reply(200, body)

    def _fault_reply(self, fault: Fault, kind: str) -> _Reply:
        now = self.clock.now()
        retry = fault.retry_after_header(now)
        headers = (("Retry-After", retry),) if retry is not None else ()
        action = fault.action
        if action == "429":
            reply = _json_reply(*T.rate_limited(kind))
            return _Reply(reply.status, reply.body, headers=headers)
        if action == "503":
            return _Reply(503, nginx_page(503, "Service Temporarily Unavailable"), _HTML, headers)
        if action == "500":
            return _Reply(500, nginx_page(500, "Internal Server Error"), _HTML)
        if action == "502":
            return _Reply(502, nginx_page(502, "Bad Gateway"), _HTML)
        if action == "401":
            return _json_reply(*T.unauthorized(kind, True))
        if action == "html":
            return _Reply(200, CHALLENGE_PAGE, _HTML)
        # truncated: a well-framed 200 whose JSON stops half way
        body = json.dumps(_truncation_source(kind)).encode()
        return _Reply(200, body[: max(1, len(body) // 2)])

    def _rate_limit_reply(self, kind: str, limit: _RateLimit, now: float) -> _Reply:
        reply = _json_reply(*T.rate_limited(kind))
        if limit.retry_after is None:
            return reply
        retry = Fault("429", retry_after=limit.retry_after).retry_after_header(now)
        return _Reply(reply.status, reply.body, headers=(("Retry-After", retry or "1"),))

    def _over_limit(self, kind: str | None, now: float) -> _RateLimit | None:
        """Count the arrival; the limit it breaks, if any. Call under the lock."""
        if kind is None:
            return None
        arrivals = self._arrivals[kind]
        arrivals.append(now)
        limit = self._limits.get(kind)
        horizon = limit.window if limit is not None else 1.0
        while arrivals and arrivals[0] <= now - horizon:
            arrivals.popleft()
        if limit is None or len(arrivals) <= limit.limit:
            return None
        self._violations.append(Violation(now, kind, len(arrivals), limit.limit, limit.window))
        return limit

    def _finish(
        self, index: int, entry: LoggedRequest, status: int | None, fault: str | None
    ) -> None:
        done = LoggedRequest(
            entry.ts, entry.method, entry.path, entry.kind, entry.task_id, status,
            entry.has_auth, entry.auth_ok, fault,
        )  # fmt: skip
        with self._lock:
            if index < len(self._log) and self._log[index] is entry:
                self._log[index] = done
            else:  # the log was cleared meanwhile: find it, if it is still there
                for i, logged in enumerate(self._log):
                    if logged is entry:
                        self._log[i] = done

    def _wait(self, seconds: float) -> bool:
        """Sleep `seconds` of wall time, cut short by stop(); True when stopping."""
        return self._stopping.wait(seconds)

    def _record_error(self, text: str) -> None:
        with self._lock:
            self._errors.append(text)

    def _task(self, task_id: str) -> T.SimTask:
        try:
            return self._tasks[task_id]
        except KeyError:
            raise KeyError(f"no simulated task {task_id!r}") from None

    def _failure(
        self,
        kind: str,
        outcome: str,
        failure: tuple[str | None, str] | str | None,
        nasty: bool,
        rng: random.Random,
    ) -> tuple[str | None, str] | None:
        if isinstance(failure, str):
            failure = (None, failure)
        if nasty:
            code = failure[0] if failure else ("InvalidParameter" if kind != "kyy" else None)
            return (code, T.NASTY_MESSAGE)
        if failure is not None:
            return (failure[0], failure[1])
        if outcome != "failed":
            return None
        return rng.choice(T.KYY_FAILURES if kind == "kyy" else T.ARK_FAILURES)


# -- HTTP plumbing --------------------------------------------------------------------------
class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], handler: type, sim: Simulator) -> None:
        self.sim = sim
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that hung up is not an error; anything else is kept in sim.errors."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)) or self.sim._stopping.is_set():
            return
        self.sim._record_error(traceback.format_exc())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real providers
    server_version = "seedance-sim"
    sys_version = ""
    timeout = 60  # an idle keep-alive connection is closed after this (wall seconds)
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without NODELAY, Nagle plus the client's
        # delayed ACK cost ~40 ms a request.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.sim._lock:
            self.server.sim._conns.add(self.connection)

    def finish(self) -> None:
        with self.server.sim._lock:
            self.server.sim._conns.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def handle(self) -> None:
        with contextlib.suppress(ConnectionError, TimeoutError):
            super().handle()

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read sim.requests
        pass

    def do_GET(self) -> None:
        self.server.sim._serve(self)

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def send(self, reply: _Reply) -> None:
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


def route(path: str) -> tuple[str | None, str | None]:
    """(kind, task id) for a request path; (kind, None) for a bad path under a provider."""
    bare = urlsplit(path).path
    for kind, prefix in ROUTES.items():
        if bare.startswith(prefix):
            rest = bare[len(prefix) :]
            if rest and "/" not in rest:
                return kind, unquote(rest)
            return kind, None
    for kind in ROUTES:
        if bare.startswith(f"/{kind}/") or bare == f"/{kind}":
            return kind, None
    return None, None


def _auth_ok(header: str | None, key: str) -> bool:
    if not header:
        return False
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and token.strip() == key


def _json_reply(status: int, body: Any) -> _Reply:
    return _Reply(status, json.dumps(body, ensure_ascii=False).encode())


def _truncation_source(kind: str) -> dict[str, Any]:
    """A plausible body to cut in half."""
    if kind == "newapi":
        return {
            "code": "success",
            "message": "",
            "data": {"task_id": "asyntask_x", "status": "IN_PROGRESS", "progress": "50%"},
        }
    if kind == "ark":
        return {"id": "cgt-x", "model": "doubao-seedance-2-0-260128", "status": "running"}
    return {"id": "video_x", "object": "video", "status": "processing", "video_url": None}


def _check_kind(kind: str) -> None:
    if kind not in T.KINDS:
        raise ValueError(f"unknown provider kind {kind!r}; one of {', '.join(T.KINDS)}")


def _default_timing(model: str, rng: random.Random) -> tuple[float, float]:
    from tui.sim.scenarios import timing_for

    return timing_for(model, "720p", rng)
