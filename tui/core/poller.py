"""One provider's API client: asks for a task's status politely and never raises for trouble.

Every attempt (retries too) waits for a concurrency slot and then a pacing token, so the
provider never sees more than `rate_limit` request starts in any second nor more than
`concurrency` in flight. A 429/503 holds the whole provider (Retry-After in seconds or as an
HTTP date; without one, a back-off). 401/403 stops it for good with one clear message. Network
errors and 5xx feed a circuit breaker: after a run of them the provider is DOWN, nothing is sent
for a cool-down, then one probe decides. Every other answer goes to the dialect's `parse`.

Keys: the key lives in the httpx client's default headers and nowhere else: not in a message,
a repr, a log line. Error messages are short and cleaned (the HTTP status, at most an excerpt of
the body, an HTML page reduced to its title) and any echo of the key is masked.

Logging: httpx logs every request URL at INFO on the `httpx` logger (for video hosts, full
signed URLs). This module configures no logging; the application must not let `httpx` INFO
reach user-visible logs (set that logger to WARNING or do not propagate it).
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from tui.core.backoff import Backoff, BreakerState, CircuitBreaker
from tui.core.clean import clean_line
from tui.core.clock import Clock
from tui.core.config import ProviderConfig
from tui.core.dialects import get_dialect
from tui.core.errors import BadResponse, excerpt
from tui.core.ids import is_valid_id
from tui.core.jitter import EQUAL, jittered
from tui.core.model import Snapshot
from tui.core.ratelimit import PacingLimiter
from tui.core.redact import mask_secret
from tui.core.tls import tls_context

log = logging.getLogger(__name__)

MAX_BODY = 4 * 1024 * 1024  # a status answer is a few KiB; more than this is not one
MAX_RETRY_AFTER = 86_400.0  # a Retry-After beyond a day is treated as a day
BREAKER_THRESHOLD = 5  # network errors/5xx in a row before the provider counts as down
BREAKER_COOLDOWN = 60.0  # clock seconds a down provider rests before one probe
HOLD_BASE = 2.0  # 429/503 without Retry-After: provider-wide hold, exponential from here
HOLD_CAP = 120.0  # ... up to this or max_interval, whichever is shorter

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


class ProviderHealth(enum.StrEnum):
    OK = "ok"
    BACKING_OFF = "backing off"
    AUTH_FAILED = "auth failed"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class PollError:
    """Why a poll produced no snapshot. `kind`: http, timeout, network, bad_response, auth,
    rate_limited. `message` is short and clean, for people. `retry_after`: what the provider
    asked for (seconds), or when a DOWN provider takes its next probe. `sent` is False when no
    request left this machine (a DOWN provider, an invalid id): nothing for the HTTP log."""

    kind: str
    message: str
    status: int | None = None
    retry_after: float | None = None
    sent: bool = True


@dataclass(frozen=True, slots=True)
class PollResult:
    snapshot: Snapshot | None = None
    error: PollError | None = None


@dataclass(frozen=True, slots=True)
class CreateResult:
    """A create call's outcome: the provider's answer (`status`, `body`, and `retry_after` for
    a 429/503: the provider-wide hold), or `error`, a short clean message. Without an answer,
    `sent` says whether the body may have reached the provider: False when it surely did not
    (the connection failed, the provider is down or refused the key: send it again later),
    True when it may have (a timeout or reset after sending: the task may exist)."""

    status: int | None = None
    body: bytes = b""
    retry_after: float | None = None
    error: str | None = None
    sent: bool = True


class ProviderClient:
    """The poller for one configured provider. One per provider per event loop."""

    def __init__(
        self,
        config: ProviderConfig,
        *,
        clock: Clock,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
        breaker_threshold: int = BREAKER_THRESHOLD,
        breaker_cooldown: float | None = None,
    ) -> None:
        """`breaker_cooldown` defaults to BREAKER_COOLDOWN, or max_interval when that is
        shorter: no live task is left unasked longer than max_interval, even when DOWN.
        `config.timeout` is wall-clock seconds (it is about the network, not the clock)."""
        self.config = config
        self.name = config.name
        self.clock = clock
        self.dialect = get_dialect(config.kind)
        self._rng = rng or random.Random()
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self._client = httpx.AsyncClient(
            base_url=config.base_url,
            headers=headers,
            timeout=config.timeout,
            follow_redirects=False,
            transport=transport,
            verify=tls_context(),
        )
        self._slots = asyncio.Semaphore(max(1, int(config.concurrency)))
        self._limiter = PacingLimiter(config.rate_limit, clock)
        base = max(1.0, config.min_interval)
        self._backoff = Backoff(base=base, cap=max(base, 4 * config.max_interval), rng=self._rng)
        longest = max(config.min_interval, min(HOLD_CAP, config.max_interval), 0.1)
        self._hold = Backoff(base=min(HOLD_BASE, longest), cap=longest, rng=self._rng)
        if breaker_cooldown is None:
            breaker_cooldown = max(0.1, min(BREAKER_COOLDOWN, config.max_interval))
        self._breaker = CircuitBreaker(
            clock, threshold=breaker_threshold, cooldown=breaker_cooldown
        )
        self._auth_error: PollError | None = None
        self._last_error: PollError | None = None

    def __repr__(self) -> str:  # never the key
        return f"ProviderClient({self.name!r}, kind={self.config.kind!r})"

    # ------------------------------------------------------------------ what the UI reads

    @property
    def health(self) -> ProviderHealth:
        if self._auth_error is not None:
            return ProviderHealth.AUTH_FAILED
        if self._breaker.state is not BreakerState.CLOSED:
            return ProviderHealth.DOWN
        if self.blocked_until is not None or self._breaker.consecutive > 0:
            return ProviderHealth.BACKING_OFF
        return ProviderHealth.OK

    @property
    def health_reason(self) -> str | None:
        """One line saying why the health is not OK (None when it is)."""
        health = self.health
        if health is ProviderHealth.AUTH_FAILED:
            return self._auth_error.message if self._auth_error else None
        if health is ProviderHealth.DOWN:
            return self._down_message()
        if health is ProviderHealth.BACKING_OFF:
            until = self.blocked_until
            last = self._last_error.message if self._last_error else "errors"
            if until is not None:
                return f"{last} (holding for {max(0.0, until - self.clock.now()):.0f} s)"
            return last
        return None

    @property
    def blocked_until(self) -> float | None:
        """When the provider-wide hold (Retry-After or back-off) ends, clock epoch; None if none."""
        return self._limiter.blocked_until

    def requests_per_second(self) -> float:
        """Request starts per second over the last few seconds."""
        return self._limiter.recent_rate()

    def backoff_delay(self, task_key: str) -> float:
        """Seconds to wait before polling this task again after its last error (full jitter);
        0 after a success."""
        return self._backoff.delay(task_key)

    # ------------------------------------------------------------------ polling

    async def poll(self, task_id: str) -> PollResult:
        """One status request for `task_id`, when etiquette allows. Never raises for HTTP or
        network trouble: the outcome is a snapshot or a PollError."""
        if not is_valid_id(task_id) or ".." in task_id:
            shown = excerpt(str(task_id), 40)
            return _error("bad_response", f"invalid task id {shown!r}: not sent", sent=False)
        if self._auth_error is not None:
            return PollResult(error=self._auth_error)
        if self._breaker.blocked:  # DOWN: answer at once, send nothing
            return self._down()
        async with self._slots:
            await self._limiter.acquire()
            if self._auth_error is not None:  # refused while we waited our turn
                return PollResult(error=self._auth_error)
            if not self._breaker.allow():
                return self._down()
            settled = False
            try:
                result = await self._attempt(task_id)
                settled = True
                return result
            finally:
                if not settled:  # cancelled mid-request: a probe must not stay out forever
                    self._breaker.release_probe()

    async def create(
        self, path: str, body: dict[str, Any], *, started: Callable[[], None] | None = None
    ) -> CreateResult:
        """POST one create body to `path`, under the same slots, pacing, hold and breaker as
        polls (a create counts toward `rate_limit` and `concurrency` like a poll). Never raises
        for HTTP or network trouble. A 401/403 is returned, not acted on: the caller tells a
        refused key (`refuse_key`) from a quota refusal. `started()` is called when the body
        is about to leave (after the pacing wait): the moment `create_rate` counts."""
        if self._auth_error is not None:
            return CreateResult(error=self._auth_error.message, sent=False)
        if self._breaker.blocked:
            return self._create_down()
        async with self._slots:
            await self._limiter.acquire()
            if self._auth_error is not None:
                return CreateResult(error=self._auth_error.message, sent=False)
            if not self._breaker.allow():
                return self._create_down()
            if started is not None:
                started()
            settled = False
            try:
                result = await self._create_attempt(path, body)
                settled = True
                return result
            finally:
                if not settled:
                    self._breaker.release_probe()

    def refuse_key(self, status: int) -> None:
        """The provider refused the key on a create: stop it, as a refused poll does."""
        self._refused(status)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _create_attempt(self, path: str, body: dict[str, Any]) -> CreateResult:
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        try:
            async with asyncio.timeout(self.config.timeout):
                async with self._client.stream(
                    "POST", path, content=content, headers=headers
                ) as response:
                    status = response.status_code
                    answer = await _read_capped(response)
                    response_headers = response.headers
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            self._breaker.failure()  # nothing left this machine: safe to send again later
            message = f"{self.name}: connection failed before sending ({self._short(exc)})"
            return CreateResult(error=clean_line(message), sent=False)
        except (TimeoutError, httpx.TimeoutException):
            self._breaker.failure()
            message = f"{self.name}: no answer within {self.config.timeout:g} s after sending"
            return CreateResult(error=message)
        except _BodyTooLarge:
            self._breaker.success()
            return CreateResult(error=f"{self.name}: answer larger than {MAX_BODY} bytes")
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            self._breaker.failure()
            message = f"{self.name}: connection lost after sending ({self._short(exc)})"
            return CreateResult(error=clean_line(message))
        log.debug("%s create -> HTTP %s", self.name, status)
        retry_after = None
        if status in (401, 403):
            self._breaker.release_probe()
        elif status in (429, 503):
            self._breaker.release_probe()
            retry_after = self._hold_provider(response_headers)
        elif status >= 500:
            self._breaker.failure()
        else:
            self._breaker.success()
        return CreateResult(status, answer, retry_after)

    def _hold_provider(self, headers: httpx.Headers) -> float:
        """A 429/503: nothing goes to the provider for Retry-After (or a back-off); seconds."""
        now = self.clock.now()
        hold = parse_retry_after(headers.get("Retry-After"), now)
        if hold is None:
            self._hold.failure("provider")
            hold = jittered(self._hold.ceiling("provider"), self._rng, EQUAL)
        self._limiter.block_until(now + hold)
        return hold

    def _create_down(self) -> CreateResult:
        return CreateResult(
            error=self._down_message(), retry_after=self._breaker.retry_in(), sent=False
        )

    # ------------------------------------------------------------------ one attempt

    async def _attempt(self, task_id: str) -> PollResult:
        path = self.dialect.status_path(task_id)
        try:
            async with asyncio.timeout(self.config.timeout):
                async with self._client.stream("GET", path) as response:
                    status = response.status_code
                    body = await _read_capped(response)
                    headers = response.headers
        except (TimeoutError, httpx.TimeoutException):
            return self._transport_failure(
                task_id, "timeout", f"{self.name}: no answer within {self.config.timeout:g} s"
            )
        except _BodyTooLarge:
            return self._failure(
                task_id, "bad_response", f"{self.name}: answer larger than {MAX_BODY} bytes"
            )
        except httpx.DecodingError as exc:
            return self._failure(task_id, "bad_response", f"{self.name}: {self._short(exc)}")
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            return self._transport_failure(
                task_id, "network", f"{self.name}: connection failed ({self._short(exc)})"
            )
        log.debug("%s %s -> HTTP %s", self.name, task_id, status)
        if status in (401, 403):
            return self._refused(status)
        if status in (429, 503):
            return self._rate_limited(task_id, status, body, headers)
        if status >= 500:
            self._breaker.failure()
            return self._failure(task_id, "http", self._http_message(status, body), status)
        self._breaker.success()  # the provider answered: it is up, whatever it said
        if 300 <= status < 400:
            message = f"{self.name}: unexpected HTTP {status} (redirects are not followed)"
            return self._failure(task_id, "http", message, status)
        try:
            snapshot = self.dialect.parse(status, body)
        except BadResponse as exc:
            if _is_html(body):  # a proxy's or CDN's page: its title says enough
                why = f"an HTML page instead of JSON ({self._snippet(body)})"
            else:
                why = self._mask(str(exc))
            message = f"{self.name}: HTTP {status}: {why}"
            return self._failure(task_id, "bad_response", message, status)
        except Exception:  # a parser bug must not stop the polling: say so, keep going
            log.exception("%s: could not read an HTTP %s answer", self.name, status)
            message = f"{self.name}: HTTP {status}: could not read the answer"
            return self._failure(task_id, "bad_response", message, status)
        self._backoff.success(task_id)
        self._hold.success("provider")
        self._last_error = None
        return PollResult(snapshot=snapshot)

    # ------------------------------------------------------------------ outcomes

    def _refused(self, status: int) -> PollResult:
        where = self.config.api_key_env or f"the api_key of [providers.{self.name}]"
        message = f"{self.name} refused the API key (HTTP {status}): check {where}"
        self._breaker.release_probe()
        if self._auth_error is None:
            self._auth_error = PollError("auth", message, status)
            log.warning("%s", message)
        return PollResult(error=self._auth_error)

    def _rate_limited(
        self, task_id: str, status: int, body: bytes, headers: httpx.Headers
    ) -> PollResult:
        self._breaker.release_probe()
        now = self.clock.now()
        retry_after = parse_retry_after(headers.get("Retry-After"), now)
        if retry_after is not None:
            hold, said = retry_after, f"Retry-After {retry_after:.0f} s"
        else:
            self._hold.failure("provider")
            ceiling = self._hold.ceiling("provider")
            hold = jittered(ceiling, self._rng, EQUAL)
            said = f"no Retry-After: backing off {hold:.0f} s"
        self._limiter.block_until(now + hold)
        word = "rate limited" if status == 429 else "unavailable"
        message = f"{self.name}: HTTP {status} {word} ({said}); holding all its requests"
        return self._failure(task_id, "rate_limited", message, status, retry_after)

    def _transport_failure(self, task_id: str, kind: str, message: str) -> PollResult:
        self._breaker.failure()
        return self._failure(task_id, kind, message)

    def _failure(
        self,
        task_id: str,
        kind: str,
        message: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> PollResult:
        self._backoff.failure(task_id)
        error = PollError(kind, clean_line(message) or kind, status, retry_after)
        self._last_error = error
        return PollResult(error=error)

    def _down(self) -> PollResult:
        return _error(
            "network", self._down_message(), retry_after=self._breaker.retry_in(), sent=False
        )

    def _down_message(self) -> str:
        wait = self._breaker.retry_in()
        return (
            f"{self.name} is down after {self._breaker.consecutive} failed requests in a row: "
            f"next try in {wait:.0f} s"
        )

    # ------------------------------------------------------------------ messages

    def _http_message(self, status: int, body: bytes) -> str:
        """`name: HTTP 502: Bad Gateway`: a page titled "502 Bad Gateway" does not say 502 twice."""
        snippet = self._snippet(body)
        if snippet.startswith(f"{status} "):
            snippet = snippet[len(str(status)) + 1 :]
        return f"{self.name}: HTTP {status}" + (f": {snippet}" if snippet else "")

    def _snippet(self, body: bytes) -> str:
        """At most a short excerpt: an HTML page is reduced to its <title>."""
        if _is_html(body):
            found = _TITLE.search(body[:65536])
            title = excerpt(found.group(1)) if found else ""
            return self._mask(title) if title else "an HTML page"
        return self._mask(excerpt(body))

    def _short(self, exc: BaseException) -> str:
        text = clean_line(str(exc)) or ""
        name = type(exc).__name__
        return self._mask(excerpt(f"{name}: {text}" if text else name))

    def _mask(self, text: str) -> str:
        return mask_secret(text, self.config.api_key)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Retry-After as seconds from `now` (clock epoch): delta-seconds or an HTTP date.

    None when absent or unreadable (the caller backs off instead); never negative; capped at
    MAX_RETRY_AFTER.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now
    if math.isnan(seconds):
        return None
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


def _is_html(body: bytes) -> bool:
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body", b"<title"))


class _BodyTooLarge(Exception):
    pass


async def _read_capped(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_BODY:
            raise _BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _error(
    kind: str, message: str, *, retry_after: float | None = None, sent: bool = True
) -> PollResult:
    return PollResult(error=PollError(kind, message, retry_after=retry_after, sent=sent))
