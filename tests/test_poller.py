"""The provider client against the real simulator over loopback: every HTTP outcome, mapped.

Etiquette is checked from the provider's side: the simulator's request log (arrival times on the
shared clock, whether a correct key came along) says what was actually sent.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tui.core.clock import SystemClock
from tui.core.config import ProviderConfig
from tui.core.model import State
from tui.core.poller import (
    PollError,
    ProviderClient,
    ProviderHealth,
    parse_retry_after,
)
from tui.sim import Simulator

KEYS = {
    "kyy": "sk-sim-kyy-poller-secret",
    "newapi": "sk-sim-newapi-poller-secret",
    "ark": "sk-sim-ark-poller-secret",
}
NAMES = {"kyy": "kyy", "newapi": "anyfast", "ark": "ark"}
ENVS = {"kyy": "KYY_API_KEY", "newapi": "ANYFAST_API_KEY", "ark": "ARK_API_KEY"}


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(keys=KEYS, seed=3) as simulator:
        yield simulator
        assert simulator.errors == []


def config(sim: Simulator, kind: str = "newapi", **changes) -> ProviderConfig:
    settings = {
        "name": NAMES[kind],
        "kind": kind,
        "base_url": sim.provider_url(kind),
        "api_key": KEYS[kind],
        "api_key_env": ENVS[kind],
        "rate_limit": 50.0,
        "concurrency": 8,
        "min_interval": 1.0,
        "max_interval": 5.0,
        "timeout": 5.0,
    }
    settings.update(changes)
    return ProviderConfig(**settings)


@pytest.fixture
async def clients() -> AsyncIterator[list[ProviderClient]]:
    made: list[ProviderClient] = []
    yield made
    for client in made:
        await client.aclose()


@pytest.fixture
def make(clients: list[ProviderClient]):
    def _make(cfg: ProviderConfig, **kwargs) -> ProviderClient:
        client = ProviderClient(cfg, clock=SystemClock(), **kwargs)
        clients.append(client)
        return client

    return _make


def error_of(result) -> PollError:
    assert result.snapshot is None and result.error is not None
    return result.error


def no_secret_in(text: str) -> bool:
    return all(key not in text for key in KEYS.values())


# ----------------------------------------------------------------------------- answers


@pytest.mark.parametrize("kind", ["kyy", "newapi", "ark"])
async def test_a_task_is_read_in_each_dialect(sim, make, kind):
    task_id = sim.add_task(kind, queue_s=0, run_s=0)  # already done
    client = make(config(sim, kind))
    result = await client.poll(task_id)
    assert result.error is None
    assert result.snapshot.state is State.SUCCEEDED
    assert result.snapshot.video_url
    [request] = sim.requests_for(kind, task_id)
    assert request.status == 200 and request.auth_ok
    assert client.health is ProviderHealth.OK and client.health_reason is None


@pytest.mark.parametrize("kind", ["kyy", "newapi", "ark"])
async def test_an_unknown_task_is_not_found_not_an_error(sim, make, kind):
    prefix = {"kyy": "video_", "newapi": "asyntask_", "ark": "cgt-"}[kind]
    result = await make(config(sim, kind)).poll(prefix + "nosuchtask")
    assert result.error is None
    assert result.snapshot.not_found
    assert result.snapshot.state is State.UNKNOWN


async def test_a_refused_key_stops_the_provider_with_one_clear_message(sim, make):
    task_id = sim.add_task("newapi")
    wrong = "sk-wrong-key-that-must-not-leak"
    client = make(config(sim, api_key=wrong))
    error = error_of(await client.poll(task_id))
    assert error.kind == "auth" and error.status == 401
    assert error.message == "anyfast refused the API key (HTTP 401): check ANYFAST_API_KEY"
    assert client.health is ProviderHealth.AUTH_FAILED
    assert client.health_reason == error.message
    sent = len(sim.requests)
    again = error_of(await client.poll(task_id))
    assert again == error
    assert len(sim.requests) == sent  # stopped: nothing more was sent
    assert wrong not in repr(client) and wrong not in error.message


async def test_a_401_fault_says_where_the_key_comes_from(sim, make):
    task_id = sim.add_task("kyy")
    sim.faults.add("401", kind="kyy")
    error = error_of(await make(config(sim, "kyy", api_key_env=None)).poll(task_id))
    assert (
        error.message == "kyy refused the API key (HTTP 401): check the api_key of [providers.kyy]"
    )


# ----------------------------------------------------------------------------- rate limits


@pytest.mark.parametrize("as_date", [False, True])
async def test_retry_after_holds_the_whole_provider(sim, make, as_date):
    first, second = sim.add_task("newapi"), sim.add_task("newapi")
    sim.faults.add("429", kind="newapi", retry_after=1.0, retry_after_date=as_date)
    client = make(config(sim))
    error = error_of(await client.poll(first))
    assert error.kind == "rate_limited" and error.status == 429
    assert error.retry_after is not None and 0.0 < error.retry_after <= 2.0
    assert "429" in error.message and "Retry-After" in error.message
    held_until = client.blocked_until
    assert held_until is not None
    assert client.health is ProviderHealth.BACKING_OFF
    # Another task, right away, for the same provider: it waits for the hold.
    result = await client.poll(second)
    assert result.snapshot is not None
    limited, after = sim.requests_for("newapi")
    assert limited.status == 429
    assert after.ts >= held_until
    assert after.ts - limited.ts >= error.retry_after - 0.05
    assert client.blocked_until is None


async def test_503_without_retry_after_backs_off_the_provider(sim, make):
    first, second = sim.add_task("kyy"), sim.add_task("kyy")
    sim.faults.add("503", kind="kyy")
    client = make(config(sim, "kyy"))
    error = error_of(await client.poll(first))
    assert error.kind == "rate_limited" and error.status == 503 and error.retry_after is None
    assert "<" not in error.message  # the nginx page is not dumped into the message
    held_until = client.blocked_until
    assert held_until is not None and held_until > time.time()
    await client.poll(second)
    assert sim.requests_for("kyy")[-1].ts >= held_until


@pytest.mark.serial
async def test_concurrent_polls_never_exceed_the_rate_limit(sim, make):
    ids = [sim.add_task("ark") for _ in range(15)]
    client = make(config(sim, "ark", rate_limit=5.0, concurrency=8))
    results = await asyncio.gather(*(client.poll(i) for i in ids))
    assert all(r.snapshot is not None for r in results)
    assert sim.max_requests_in_window("ark") <= 5
    times = [r.ts for r in sim.requests_for("ark")]
    assert times[-1] - times[0] >= 14 / 5 - 0.1  # paced, not burst
    assert client.requests_per_second() > 0


async def test_at_most_concurrency_requests_in_flight(sim, make):
    ids = [sim.add_task("kyy") for _ in range(4)]
    for task_id in ids:
        sim.faults.add("hang", kind="kyy", task_id=task_id, hang_s=0.6)
    client = make(config(sim, "kyy", concurrency=2))
    await asyncio.gather(*(client.poll(i) for i in ids))
    arrivals = sorted(r.ts for r in sim.requests_for("kyy"))
    assert arrivals[2] - arrivals[0] >= 0.5  # the third waited for a slot


# ----------------------------------------------------------------------------- trouble


async def test_a_500_html_page_is_an_http_error_with_a_short_message(sim, make):
    task_id = sim.add_task("newapi")
    sim.faults.add("500", kind="newapi")
    client = make(config(sim))
    error = error_of(await client.poll(task_id))
    assert error.kind == "http" and error.status == 500
    assert error.message == "anyfast: HTTP 500: Internal Server Error"  # not 500 twice
    assert client.health is ProviderHealth.BACKING_OFF
    assert 0.0 <= client.backoff_delay(task_id) <= 1.0  # base = min_interval, full jitter


async def test_truncated_json_is_a_bad_response(sim, make):
    task_id = sim.add_task("kyy")
    sim.faults.add("truncated", kind="kyy")
    error = error_of(await make(config(sim, "kyy")).poll(task_id))
    assert error.kind == "bad_response"
    assert "HTTP 200" in error.message and len(error.message) < 200


async def test_a_challenge_page_with_200_is_a_bad_response(sim, make):
    task_id = sim.add_task("ark")
    sim.faults.add("html", kind="ark")
    error = error_of(await make(config(sim, "ark")).poll(task_id))
    assert error.kind == "bad_response"
    assert error.message == "ark: HTTP 200: an HTML page instead of JSON (Just a moment...)"


@pytest.mark.serial
async def test_a_hung_request_times_out(sim, make):
    task_id = sim.add_task("newapi")
    sim.faults.add("hang", kind="newapi", hang_s=5.0)
    client = make(config(sim, timeout=0.3))
    began = time.monotonic()
    error = error_of(await client.poll(task_id))
    assert time.monotonic() - began < 2.0
    assert error.kind == "timeout"
    assert error.message == "anyfast: no answer within 0.3 s"


async def test_a_reset_connection_is_a_network_error(sim, make):
    task_id = sim.add_task("kyy")
    sim.faults.add("reset", kind="kyy")
    client = make(config(sim, "kyy"))
    error = error_of(await client.poll(task_id))
    assert error.kind == "network"
    assert error.message.startswith("kyy: connection failed")
    assert no_secret_in(error.message)
    assert (await client.poll(task_id)).snapshot is not None  # and the next one works
    assert client.backoff_delay(task_id) == 0.0  # success reset the task's back-off


async def test_nothing_listening_is_a_network_error(make):
    cfg = ProviderConfig(
        name="gone", kind="kyy", base_url="http://127.0.0.1:9", api_key="k", timeout=2.0
    )
    error = error_of(await make(cfg).poll("video_1"))
    assert error.kind == "network"


@pytest.mark.parametrize(
    "bad",
    [
        "../etc/passwd",
        "a/b",
        "video_1?x=1",
        "video%2F1",
        "video 1",
        "a..b",
        "",
        "-x",
        "é",
        "x" * 129,
    ],
)
async def test_a_bad_id_is_never_sent(sim, make, bad):
    client = make(config(sim, "kyy"))
    error = error_of(await client.poll(bad))
    assert error.kind == "bad_response"
    assert "invalid task id" in error.message
    assert sim.requests == []


async def test_repeated_failures_open_the_breaker_then_one_probe(sim, make):
    task_id = sim.add_task("kyy")
    sim.faults.add("502", kind="kyy", count=3)
    client = make(config(sim, "kyy"), breaker_threshold=3, breaker_cooldown=0.5)
    for _ in range(3):
        assert error_of(await client.poll(task_id)).kind == "http"
    assert client.health is ProviderHealth.DOWN
    assert "down after 3 failed requests" in client.health_reason
    sent = len(sim.requests)
    down = error_of(await client.poll(task_id))
    assert down.kind == "network" and down.retry_after is not None
    assert len(sim.requests) == sent  # nothing sent while down
    await asyncio.sleep(0.55)
    assert (await client.poll(task_id)).snapshot is not None  # the probe
    assert client.health is ProviderHealth.OK
    assert len(sim.requests) == sent + 1


# ----------------------------------------------------------------------------- Retry-After


def test_retry_after_reads_seconds_and_http_dates():
    now = 1_777_288_506.0
    assert parse_retry_after("12", now) == 12.0
    assert parse_retry_after(" 1.5 ", now) == 1.5
    assert parse_retry_after("Mon, 27 Apr 2026 11:15:36 GMT", now) == pytest.approx(30.0)
    assert parse_retry_after("Mon, 27 Apr 2026 11:00:00 GMT", now) == 0.0  # in the past
    assert parse_retry_after("-5", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("", now) is None
    assert parse_retry_after(None, now) is None
    assert parse_retry_after("nan", now) is None
    assert parse_retry_after("99999999999", now) == 86_400.0


async def test_a_down_provider_is_probed_again_within_max_interval(sim, make):
    task_id = sim.add_task("ark")
    sim.faults.add("reset", kind="ark", count=5)
    client = make(config(sim, "ark", max_interval=0.4))
    for _ in range(5):
        assert error_of(await client.poll(task_id)).kind == "network"
    down = error_of(await client.poll(task_id))
    assert client.health is ProviderHealth.DOWN
    assert 0.0 < down.retry_after <= 0.4
    await asyncio.sleep(0.45)
    assert (await client.poll(task_id)).snapshot is not None


# ----------------------------------------------------------------------------- a rude server


class _Rude(BaseHTTPRequestHandler):
    """Answers the simulator does not give: a redirect elsewhere, a 500 echoing the key."""

    seen: list[tuple[str, bool]]

    def do_GET(self) -> None:
        self.seen.append((self.path, "Authorization" in self.headers))
        if self.path.startswith("/redirect/"):
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{self.server.server_port}/elsewhere")
            body = b""
        else:
            self.send_response(500)
            body = f"bad header: {self.headers.get('Authorization')}".encode()
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def rude() -> Iterator[tuple[str, list[tuple[str, bool]]]]:
    seen: list[tuple[str, bool]] = []
    handler = type("Handler", (_Rude,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    # shutdown() waits for the serving loop's next look: 0.5 s at the default poll interval
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    server.server_close()


async def test_a_redirect_is_not_followed_so_the_key_goes_nowhere_else(rude, make):
    base, seen = rude
    cfg = ProviderConfig(name="kyy", kind="kyy", base_url=f"{base}/redirect", api_key="sk-k1")
    error = error_of(await make(cfg).poll("video_1"))
    assert error.kind == "http" and error.status == 302
    assert seen == [("/redirect/v1/result/video_1", True)]


async def test_a_key_echoed_by_the_server_is_masked_in_the_message(rude, make):
    base, _ = rude
    key = "sk-echoed-secret-123"
    cfg = ProviderConfig(name="kyy", kind="kyy", base_url=f"{base}/echo", api_key=key)
    error = error_of(await make(cfg).poll("video_1"))
    assert error.kind == "http" and error.status == 500
    assert key not in error.message
    assert error.message == "kyy: HTTP 500: bad header: Bearer ***"
