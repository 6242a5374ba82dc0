"""The simulator's server: one real HTTP server on 127.0.0.1 speaking all three dialects.

Tests, benchmarks and `seedance-tui demo` talk to it over loopback exactly as they talk to the
real providers, so the whole client (httpx, pacing, back-off, parsing) runs for real. Every
request is logged with what the etiquette checks need (clock time, task, status, whether a
correct key came along) but never the key itself.

Routes (one server, a path prefix per provider; see `tui.sim.create` for the create calls):
    GET  /kyy/v1/result/{id}                    POST /kyy/v1/kyyvideo2/videos
    GET  /newapi/v1/video/generations/{task_id} POST /newapi/v1/video/generations
    GET  /ark/contents/generations/tasks/{id}   POST /ark/contents/generations/tasks
    GET  /_sim/creates  the create counts, for tests in another process (outside every
                        provider's prefix, so no provider path reaches it)
This module knows nothing of scenarios: `tui.sim.scenarios` builds on it.
"""

from __future__ import annotations

import random
import threading
import traceback
from dataclasses import asdict
from typing import Any, Self
from urllib.parse import unquote, urlsplit

from tui.core.clock import Clock, SystemClock
from tui.core.dialects import KINDS
from tui.sim import create as C
from tui.sim import tasks as T
from tui.sim.faults import Fault, FaultPlan, fault_reply
from tui.sim.httpd import BodyError, Handler, Reply, Server, json_reply
from tui.sim.request_log import LoggedRequest, RateLimit, RequestLog, Violation, max_in_window
from tui.sim.timing import timing_for

ROUTES: dict[str, str] = {
    "kyy": "/kyy/v1/result/",
    "newapi": "/newapi/v1/video/generations/",
    "ark": "/ark/contents/generations/tasks/",
}
SIM_PREFIX = "/_sim/"
DEFAULT_KEYS: dict[str, str] = {kind: f"sk-sim-{kind}" for kind in KINDS}


class SimServer:
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
        self._log = RequestLog()
        self._errors: list[str] = []
        self._created: list[C.CreateRecord] = []
        self._shapes: list[C.CreateShape] = []
        self._live_caps: dict[str, tuple[int, float | None]] = {}
        self._maybe_live: dict[str, set[str]] = {kind: set() for kind in KINDS}
        self._stopping = threading.Event()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # -- life -------------------------------------------------------------------------------
    def start(self) -> Self:
        """Bind (port 0 = a free one) and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = Server(self._address, self._serve, self._record_error)
        server.stopping = self._stopping
        self._server = server
        bound_host, bound_port = server.server_address[:2]
        host = bound_host.decode() if isinstance(bound_host, bytes) else bound_host
        self.base_url = f"http://{host}:{bound_port}"
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
        server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
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
                default_queue, default_run = timing_for(model, "720p", rng)
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
                failure=T.pick_failure(kind, outcome, failure, nasty, rng),
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
            self._maybe_live[kind].add(task_id)
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
            task.failure = T.pick_failure(task.kind, outcome, failure, False, self._rng)
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

    # -- what the providers saw -------------------------------------------------------------
    @property
    def requests(self) -> list[LoggedRequest]:
        """Every request so far, in order of arrival (a copy)."""
        return self._log.requests()

    def requests_for(
        self, kind: str | None = None, task_id: str | None = None, endpoint: str | None = None
    ) -> list[LoggedRequest]:
        """The logged requests of one kind, task and/or endpoint ("status" or "create")."""
        return self._log.requests_for(kind, task_id, endpoint)

    def max_requests_in_window(self, kind: str | None = None, window: float = 1.0) -> int:
        """The most requests the provider got within any `window` clock seconds (half-open)."""
        return max_in_window((r.ts for r in self.requests_for(kind)), window)

    def clear_requests(self) -> None:
        self._log.clear()

    def enforce_rate_limit(
        self,
        kind: str,
        limit: float | None,
        *,
        window: float = 1.0,
        retry_after: float | None = 1.0,
    ) -> None:
        """Answer 429 (and record a Violation) whenever `kind` gets more than `limit` requests
        (polls and creates alike) within `window` clock seconds. `limit=None` turns it off."""
        _check_kind(kind)
        self._log.set_limit(kind, None if limit is None else RateLimit(limit, window, retry_after))

    @property
    def violations(self) -> list[Violation]:
        return self._log.violations

    @property
    def errors(self) -> list[str]:
        """Tracebacks of the simulator's own bugs (answered as 500); empty when all is well."""
        with self._lock:
            return list(self._errors)

    # -- creating ---------------------------------------------------------------------------
    def create_url(self, kind: str) -> str:
        """The full URL of the provider's create call (`provider_url` + its create path)."""
        return self.provider_url(kind) + C.CREATE_PATHS[kind]

    def limit_live(self, kind: str, cap: int | None, *, retry_after: float | None = None) -> None:
        """Answer a create with 429 while `kind`'s key has `cap` tasks queued or running (every
        task of the kind counts: one key per kind). `cap=None` lifts the cap."""
        _check_kind(kind)
        if cap is not None and cap < 0:
            raise ValueError("cap must be >= 0")
        with self._lock:
            if cap is None:
                self._live_caps.pop(kind, None)
            else:
                self._live_caps[kind] = (cap, retry_after)

    def shape_creates(self, kind: str | None = None, **rule: Any) -> C.CreateShape:
        """Add a rule for how created tasks turn out (see `tui.sim.create.CreateShape`)."""
        if kind is not None:
            _check_kind(kind)
        shape = C.CreateShape(kind=kind, **rule)
        if shape.outcome not in T.OUTCOMES or shape.newapi_id not in C.NEWAPI_ID_STYLES:
            raise ValueError(f"bad outcome {shape.outcome!r} or newapi_id {shape.newapi_id!r}")
        with self._lock:
            self._shapes.append(shape)
        return shape

    def live_count(self, kind: str) -> int:
        """Tasks of `kind` queued or running at the clock's now."""
        _check_kind(kind)
        with self._lock:
            return self._live(kind, self.clock.now())

    def created(self, kind: str | None = None) -> list[C.CreateRecord]:
        """Every task made by a create call, in order (answered or not)."""
        with self._lock:
            return [r for r in self._created if kind is None or r.kind == kind]

    def create_counts(self, kind: str | None = None) -> dict[str, int]:
        """How many tasks each body fingerprint (`tui.sim.create.fingerprint`) created."""
        counts: dict[str, int] = {}
        for record in self.created(kind):
            counts[record.fingerprint] = counts.get(record.fingerprint, 0) + 1
        return counts

    def max_creates_in_window(self, kind: str | None = None, window: float = 60.0) -> int:
        """The most create calls (whatever their answer) within any `window` clock seconds."""
        creates = self.requests_for(kind, endpoint="create")
        return max_in_window((r.ts for r in creates), window)

    def peak_live(self, kind: str) -> int:
        """The most tasks made by create calls that were queued or running at one moment."""
        with self._lock:
            made = (self._tasks.get(r.task_id) for r in self._created if r.kind == kind)
            spans = [(t.created_at, t.finished_at) for t in made if t is not None]
        edges = sorted(
            [(start, 1) for start, end in spans if end > start]
            + [(end, -1) for start, end in spans if end > start]
        )
        live = peak = 0
        for _, step in edges:  # at a tie the end (-1) sorts first: half-open spans
            live += step
            peak = max(peak, live)
        return peak

    def _create(self, kind: str, raw: bytes) -> tuple[Reply, dict[str, Any]]:
        """Answer a create call: (reply, fields for the log entry). The task is made here."""
        try:
            body, settings = C.parse_body(kind, raw)
        except C.BadBody as bad:
            return json_reply(*C.invalid_parameter(kind, bad.message, bad.param)), {}
        fp = C.fingerprint(body)
        with self._lock:
            now = self.clock.now()
            cap = self._live_caps.get(kind)
            if cap is not None and self._live(kind, now) >= cap[0]:
                reply = json_reply(*C.too_many_live(kind, cap[0]))
                retry = Fault("429", retry_after=cap[1]).retry_after_header(now)
                reply = reply.with_headers(("Retry-After", retry)) if retry else reply
                return reply, {"fingerprint": fp}
            shape = next((s for s in self._shapes if s.matches(kind)), C.CreateShape())
            shape.hits += 1
            queue_s, run_s = timing_for(settings["model"], settings["resolution"], self._rng)
            task_id = None
            if kind == "newapi" and shape.newapi_id == "cgt":
                task_id = T.ark_id(self._rng, now)
            task_id = self.add_task(
                kind, task_id, outcome=shape.outcome, failure=shape.failure, created_at=now,
                queue_s=queue_s if shape.queue_s is None else shape.queue_s,
                run_s=run_s if shape.run_s is None else shape.run_s, **settings,
            )  # fmt: skip
            task = self._tasks[task_id]
            self._created.append(C.CreateRecord(now, kind, fp, task_id))
        answer = C.created_answer(task, shape.id_keys)
        return json_reply(200, answer), {"fingerprint": fp, "created_id": task_id}

    def _live(self, kind: str, now: float) -> int:
        """Tasks of `kind` not yet done; finished ones leave the set for good. Under the lock."""
        maybe = self._maybe_live[kind]
        for task_id in list(maybe):
            task = self._tasks.get(task_id)
            if task is None or task.phase(now) == "done":
                maybe.discard(task_id)
        return len(maybe)

    def _sim_info(self, method: str, path: str) -> Reply:
        """`GET /_sim/creates`: the create counts and records as JSON, for other processes."""
        if urlsplit(path).path != SIM_PREFIX + "creates":
            return json_reply(404, {"error": {"message": "no such route"}})
        if method != "GET":
            return json_reply(405, {"error": {"message": f"{method} not allowed"}})
        return json_reply(
            200,
            {
                "counts": self.create_counts(),
                "created": [asdict(record) for record in self.created()],
                "requests": [_create_entry(r) for r in self.requests_for(endpoint="create")],
            },
        )

    # -- serving (called from handler threads) ----------------------------------------------
    def _serve(self, handler: Handler) -> None:
        method, path = handler.command, handler.path
        try:
            raw = handler.read_body()
        except BodyError as refused:
            handler.send(refused.reply)
            return
        if path.startswith(SIM_PREFIX):  # not a provider: not logged, not rate-limited
            handler.send(self._sim_info(method, path))
            return
        kind, endpoint, task_id = route(path)
        auth = handler.headers.get("Authorization")
        has_auth = auth is not None
        auth_ok = kind is not None and _auth_ok(auth, self._keys[kind])
        now = self.clock.now()
        entry = LoggedRequest(
            now, method, path, kind, task_id, None, has_auth, auth_ok, endpoint=endpoint
        )
        limited = self._log.arrive(entry)
        try:
            if limited is not None:
                reply = self._rate_limit_reply(kind or "", limited, now)
                self._log.finish(entry, status=reply.status, fault="rate_limit")
                handler.send(reply)
                return
            fault = None
            if kind is not None and endpoint is not None:
                fault = self.faults.take(kind, task_id, now, endpoint)
            if fault is not None and (fault.action == "reset" or self._hang(fault)):
                self._drop(handler, entry, fault, {})
                return
            if fault is not None and fault.action != "hang":
                reply, extra = fault_reply(fault, kind or "", self.clock.now()), dict[str, Any]()
            else:
                reply, extra = self._normal_reply(
                    method, kind, endpoint, task_id, (has_auth, auth_ok), raw
                )
            if "created_id" in extra:  # the task exists; a fault may still spoil the answer
                late = self.faults.take(kind, None, now, endpoint or "create", after_create=True)
                if late is not None and (late.action == "reset" or self._hang(late)):
                    self._drop(handler, entry, late, extra)
                    return
                if late is not None and late.action != "hang":
                    reply = fault_reply(late, kind or "", self.clock.now())
                fault = late or fault
        except Exception:
            self._record_error(traceback.format_exc())
            reply, extra = json_reply(500, {"error": {"message": "simulator error"}}), {}
            fault = None
        action = fault.action if fault is not None else None
        self._log.finish(entry, status=reply.status, fault=action, **extra)
        handler.send(reply)

    def _hang(self, fault: Fault) -> bool:
        """Hold the connection for a "hang" fault; True when stop() cut it short."""
        return fault.action == "hang" and self._wait(fault.hang_s)

    def _drop(
        self, handler: Handler, entry: LoggedRequest, fault: Fault, extra: dict[str, Any]
    ) -> None:
        """No answer at all: a TCP reset (also what a hang cut short by stop() ends in)."""
        self._log.finish(entry, status=None, fault=fault.action, **extra)
        handler.reset()

    def _normal_reply(
        self,
        method: str,
        kind: str | None,
        endpoint: str | None,
        task_id: str | None,
        auth: tuple[bool, bool],  # (a key came along, it is the right one)
        raw: bytes,
    ) -> tuple[Reply, dict[str, Any]]:
        if kind is None or endpoint is None:
            return json_reply(404, {"error": {"message": "no such route", "type": "not_found"}}), {}
        allowed = "POST" if endpoint == "create" else "GET"
        if method != allowed:
            reply = json_reply(405, {"error": {"message": f"{method} not allowed"}})
            return reply.with_headers(("Allow", allowed)), {}
        if not auth[1]:
            return json_reply(*T.unauthorized(kind, auth[0])), {}
        if endpoint == "create":
            return self._create(kind, raw)
        assert task_id is not None
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None or task.kind != kind:
                return json_reply(*T.not_found(kind, task_id)), {}
            now = self.clock.now()
            body = T.render(task, now, lambda: self._minter.urls(task, now))
        return json_reply(200, body), {}

    def _rate_limit_reply(self, kind: str, limit: RateLimit, now: float) -> Reply:
        reply = json_reply(*T.rate_limited(kind))
        if limit.retry_after is None:
            return reply
        retry = Fault("429", retry_after=limit.retry_after).retry_after_header(now)
        return reply.with_headers(("Retry-After", retry or "1"))

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


def route(path: str) -> tuple[str | None, str | None, str | None]:
    """(kind, endpoint, task id): endpoint "status" (with its id) or "create"; (kind, None,
    None) for a bad path under a provider; all None outside every provider."""
    bare = urlsplit(path).path
    for kind, prefix in ROUTES.items():
        if bare == f"/{kind}" + C.CREATE_PATHS[kind]:
            return kind, "create", None
        if bare.startswith(prefix):
            rest = bare[len(prefix) :]
            if rest and "/" not in rest:
                return kind, "status", unquote(rest)
            return kind, None, None
    for kind in ROUTES:
        if bare.startswith(f"/{kind}/") or bare == f"/{kind}":
            return kind, None, None
    return None, None, None


def _auth_ok(header: str | None, key: str) -> bool:
    if not header:
        return False
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and token.strip() == key


def _create_entry(request: LoggedRequest) -> dict[str, Any]:
    keep = ("ts", "kind", "status", "fault", "fingerprint", "created_id")
    return {name: getattr(request, name) for name in keep}


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown provider kind {kind!r}; one of {', '.join(KINDS)}")
