"""The simulator's video CDN, over loopback: signed expiring URLs, Range/If-Range, every fault,
and the request log the no-key-on-video-hosts test relies on."""

from __future__ import annotations

import gzip
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from tui.core.clock import FrozenClock
from tui.core.expiry import url_expiry
from tui.sim.video_host import FAULT_KINDS, VideoHost

START = datetime(2026, 4, 27, 11, 15, 0, tzinfo=UTC).timestamp()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def host(clock: FrozenClock) -> Iterator[VideoHost]:
    with VideoHost(clock=clock) as server:
        yield server


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(headers={"Accept-Encoding": "identity"}, timeout=10) as client:
        yield client


def test_serves_the_whole_video_with_validators(host: VideoHost, http: httpx.Client) -> None:
    url = host.publish("video_a", size=300_000)
    response = http.get(url)
    assert response.status_code == 200
    assert response.content == host.content("video_a")
    assert len(response.content) == 300_000
    assert response.headers["content-length"] == "300000"
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"].startswith('"')
    assert response.headers["last-modified"].endswith("GMT")
    assert host.requests[-1].status == 200 and host.requests[-1].sent == 300_000


def test_bytes_are_deterministic_and_differ_per_video(clock: FrozenClock) -> None:
    with VideoHost(clock=clock) as one, VideoHost(clock=clock) as two:
        one.publish("x", size=5000)
        two.publish("x", size=5000)
        one.publish("y", size=5000)
        assert one.content("x") == two.content("x")
        assert one.content("x") != one.content("y")
        assert len(set(one.content("x"))) > 200  # not a constant fill


def test_a_huge_video_costs_no_memory_and_any_offset_is_right(
    host: VideoHost, http: httpx.Client
) -> None:
    url = host.publish("huge", size=5 * 10**9)
    head = http.head(url)
    assert head.headers["content-length"] == str(5 * 10**9)
    start = 4_321_000_123
    part = http.get(url, headers={"Range": f"bytes={start}-{start + 99_999}"})
    assert part.status_code == 206
    assert part.content == host.content("huge", start, start + 100_000)
    assert part.headers["content-range"] == f"bytes {start}-{start + 99_999}/{5 * 10**9}"


def test_ranges(host: VideoHost, http: httpx.Client) -> None:
    url = host.publish("v", size=10_000)
    whole = host.content("v")
    open_ended = http.get(url, headers={"Range": "bytes=9000-"})
    assert open_ended.status_code == 206
    assert open_ended.content == whole[9000:]
    assert open_ended.headers["content-range"] == "bytes 9000-9999/10000"
    assert open_ended.headers["content-length"] == "1000"
    suffix = http.get(url, headers={"Range": "bytes=-10"})
    assert suffix.status_code == 206 and suffix.content == whole[-10:]
    beyond = http.get(url, headers={"Range": "bytes=10000-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == "bytes */10000"
    multi = http.get(url, headers={"Range": "bytes=0-1,5-6"})
    assert multi.status_code == 200 and multi.content == whole  # not supported: whole body


def test_if_range_with_etag_and_with_date(host: VideoHost, http: httpx.Client) -> None:
    url = host.publish("v", size=10_000)
    first = http.get(url)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert http.get(url, headers={"Range": "bytes=100-", "If-Range": etag}).status_code == 206
    assert http.get(url, headers={"Range": "bytes=100-", "If-Range": modified}).status_code == 206
    stale = http.get(url, headers={"Range": "bytes=100-", "If-Range": '"old"'})
    assert stale.status_code == 200 and stale.content == first.content
    weak = http.get(url, headers={"Range": "bytes=100-", "If-Range": f"W/{etag}"})
    assert weak.status_code == 200  # weak validators never satisfy If-Range


@pytest.mark.parametrize("style", ["tos", "amz", "expires", "plain"])
def test_urls_expire_on_the_hosts_clock(
    host: VideoHost, http: httpx.Client, clock: FrozenClock, style: str
) -> None:
    url = host.publish("v", size=1000, ttl=3600, style=style)
    if style != "plain":
        assert url_expiry(url) == datetime.fromtimestamp(START + 3600, UTC)
    assert http.get(url).status_code == 200
    clock.advance(3599)
    assert http.get(url).status_code == 200
    clock.advance(1)
    expired = http.get(url)
    assert expired.status_code == 403
    assert expired.headers["content-type"] == "application/xml"
    assert b"<Code>AccessDenied</Code>" in expired.content
    assert b"Request has expired" in expired.content


def test_tos_url_looks_like_the_real_thing(host: VideoHost) -> None:
    url = host.publish("cgt-1", size=10)
    for name in (
        "X-Tos-Algorithm=TOS4-HMAC-SHA256",
        "X-Tos-Credential=",
        "X-Tos-Date=20260427T111500Z",
        "X-Tos-Expires=86400",
        "X-Tos-SignedHeaders=host",
        "X-Tos-Signature=",
    ):
        assert name in url


def test_a_tampered_url_is_refused(host: VideoHost, http: httpx.Client) -> None:
    url = host.publish("v", size=1000, ttl=60)
    longer = url.replace("X-Tos-Expires=60", "X-Tos-Expires=99999")
    refused = http.get(longer)
    assert refused.status_code == 403 and b"SignatureDoesNotMatch" in refused.content
    bare = http.get(url.split("?")[0])
    assert bare.status_code == 403


def test_republishing_signs_a_fresh_url_to_the_same_bytes(
    host: VideoHost, http: httpx.Client, clock: FrozenClock
) -> None:
    old = host.publish("v", size=2000, ttl=10)
    etag = http.get(old).headers["etag"]
    clock.advance(60)
    fresh = host.publish("v", size=2000, ttl=10)
    assert fresh != old
    assert http.get(old).status_code == 403
    again = http.get(fresh)
    assert again.status_code == 200 and again.headers["etag"] == etag
    assert again.content == host.content("v")


def test_unknown_video_is_404_xml(host: VideoHost, http: httpx.Client) -> None:
    missing = http.get(f"{host.base_url}/videos/nope")
    assert missing.status_code == 404 and b"NoSuchKey" in missing.content
    assert http.get(f"{host.base_url}/elsewhere").status_code == 404


def test_redirect_path_goes_to_the_real_one(host: VideoHost, http: httpx.Client) -> None:
    url = host.publish("v", size=1000, redirect=True)
    assert "/r/v?" in url
    first = http.get(url)
    assert first.status_code == 302
    assert first.headers["location"].startswith("/videos/v?X-Tos-")
    followed = http.get(url, follow_redirects=True)
    assert followed.status_code == 200 and followed.content == host.content("v")
    assert [r.status for r in host.requests] == [302, 302, 200]


def test_log_records_authorization_presence_never_its_value(
    host: VideoHost, http: httpx.Client
) -> None:
    url = host.publish("v", size=100)
    http.get(url)
    http.get(url, headers={"Authorization": "Bearer sk-should-not-be-stored"})
    http.get(url, headers={"Range": "bytes=5-", "If-Range": '"x"'})
    log = host.requests
    assert [r.has_auth for r in log] == [False, True, False]
    assert log[2].range == "bytes=5-" and log[2].if_range == '"x"'
    assert log[0].accept_encoding == "identity"
    assert all(r.path == "/videos/v" and r.name == "v" for r in log)
    assert "sk-should-not-be-stored" not in repr(log)


def test_log_is_thread_safe(host: VideoHost) -> None:
    url = host.publish("v", size=10_000)

    def fetch() -> None:
        with httpx.Client() as client:
            for _ in range(10):
                client.get(url)

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(host.requests) == 80
    assert all(r.status == 200 and r.sent == 10_000 for r in host.requests)
    assert 1 <= host.peak_in_flight <= 8


# -- faults -----------------------------------------------------------------------------------


def test_unknown_fault_is_refused(host: VideoHost) -> None:
    with pytest.raises(ValueError, match="truncate"):
        host.faults.add("v", "explode")
    assert "gzip" in FAULT_KINDS


def test_truncate_sends_a_short_body_then_closes(host: VideoHost, http: httpx.Client) -> None:
    url = host.publish("v", size=100_000)
    host.faults.add("v", "truncate", at=40_000)
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(url)
    assert host.requests[-1].sent == 40_000 and host.requests[-1].faults == ("truncate",)
    assert http.get(url).content == host.content("v")  # once only


def test_reset_aborts_the_connection(host: VideoHost, http: httpx.Client) -> None:
    url = host.publish("v", size=2_000_000)
    host.faults.add("v", "reset", at=500_000)
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        http.get(url)
    assert host.requests[-1].sent == 500_000


def test_ignore_range(host: VideoHost, http: httpx.Client) -> None:
    url = host.publish("v", size=5000)
    host.faults.add("v", "ignore_range")
    answer = http.get(url, headers={"Range": "bytes=100-"})
    assert answer.status_code == 200 and answer.content == host.content("v")


def test_bad_range_sends_bytes_from_zero_with_206(host: VideoHost, http: httpx.Client) -> None:
    url = host.publish("v", size=5000)
    host.faults.add("v", "bad_range")
    answer = http.get(url, headers={"Range": "bytes=100-"})
    assert answer.status_code == 206
    assert answer.headers["content-range"] == "bytes 0-4899/5000"
    assert answer.content == host.content("v")[:4900]


def test_etag_change_gives_new_bytes_and_validators(host: VideoHost, http: httpx.Client) -> None:
    url = host.publish("v", size=5000)
    before = http.get(url)
    host.faults.add("v", "etag_change")
    after = http.get(url, headers={"Range": "bytes=100-", "If-Range": before.headers["etag"]})
    assert after.status_code == 200  # the validator no longer matches: whole new body
    assert after.headers["etag"] != before.headers["etag"]
    assert after.headers["last-modified"] != before.headers["last-modified"]
    assert after.content != before.content and after.content == host.content("v")


def test_gzip_whatever_was_asked(host: VideoHost, http: httpx.Client) -> None:
    url = host.publish("v", size=50_000)
    host.faults.add("v", "gzip")
    with http.stream("GET", url) as answer:
        raw = b"".join(answer.iter_raw())
    assert answer.headers["content-encoding"] == "gzip"
    assert int(answer.headers["content-length"]) == len(raw) != 50_000
    assert gzip.decompress(raw) == host.content("v")


def test_html_error_page_with_200(host: VideoHost, http: httpx.Client) -> None:
    url = host.publish("v", size=5000)
    host.faults.add("v", "html", times=2)
    for _ in range(2):
        page = http.get(url)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.content.startswith(b"<!DOCTYPE html>")
    assert http.get(url).headers["content-type"] == "video/mp4"


def test_forbid_once_then_fine(host: VideoHost, http: httpx.Client) -> None:
    url = host.publish("v", size=5000)
    host.faults.add("v", "forbid")
    assert http.get(url).status_code == 403
    assert http.get(url).status_code == 200


def test_skip_lets_requests_through_first(host: VideoHost, http: httpx.Client) -> None:
    url = host.publish("v", size=5000)
    host.faults.add("v", "forbid", skip=2, times=None)
    assert [http.get(url).status_code for _ in range(4)] == [200, 200, 403, 403]
    host.faults.clear("v")
    assert http.get(url).status_code == 200


def test_slow_paces_the_body(host: VideoHost, http: httpx.Client) -> None:
    url = host.publish("v", size=40_000)
    host.faults.add("v", "slow", rate=100_000)
    started = time.monotonic()
    assert http.get(url).content == host.content("v")
    assert time.monotonic() - started >= 0.3  # 40 kB at 100 kB/s: a lower bound, not a bench


def test_no_length_ends_at_close(host: VideoHost, http: httpx.Client) -> None:
    url = host.publish("v", size=70_000)
    host.faults.add("v", "no_length")
    answer = http.get(url)
    assert "content-length" not in answer.headers
    assert answer.content == host.content("v")


def test_head_answers_headers_only(host: VideoHost, http: httpx.Client) -> None:
    url = host.publish("v", size=12_345)
    head = http.head(url)
    assert head.status_code == 200 and head.headers["content-length"] == "12345"
    assert head.content == b"" and host.requests[-1].method == "HEAD"


def test_runs_as_its_own_process() -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "tui.sim.video_host", "clip:4096"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        url = child.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and "/videos/clip?" in url
        assert len(httpx.get(url).content) == 4096
    finally:
        assert child.stdin is not None
        child.stdin.close()
        assert child.wait(10) == 0
