"""A pretend video CDN: its own port (so its own origin), signed expiring URLs, Range and faults.

The providers hand out pre-signed object-storage URLs (Volcengine TOS, S3-style) that die after a
day. The downloader is tested against this server over loopback the way it meets the real ones:
`Range`/`If-Range` resumes, `ETag`/`Last-Modified` validators, `403` with an XML body once a URL
has expired, redirects, and the faults CDNs really show (cut bodies, resets, ignored ranges,
gzip nobody asked for, HTML error pages served with 200, changing objects, slow links).

Video bytes are made on the fly from one shared 1 MiB pseudo-random block, shifted per video and
version, so a 200 MB video costs no memory and every offset has a known, checkable value.

The request log records, per request, whether an `Authorization` header came along: the test
that the API key never reaches a video host reads it. The key itself is never stored.
"""

from __future__ import annotations

import calendar
import contextlib
import gzip
import hashlib
import hmac
import os
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from tui.core.clock import Clock, SystemClock, utc
from tui.sim.video_faults import FAULT_KINDS, Fault, FaultPlan

STYLES: tuple[str, ...] = ("tos", "amz", "expires", "plain")
_PERIOD = 1_048_573  # a prime just under 1 MiB: the shared block's length
_CHUNK = 256 * 1024
_SIGNED_PARAMS = {
    "tos": ("X-Tos-Date", "X-Tos-Expires", "X-Tos-Signature"),
    "amz": ("X-Amz-Date", "X-Amz-Expires", "X-Amz-Signature"),
}


def _block() -> bytes:
    data = random.Random(20260427).randbytes(_PERIOD)
    return data + data  # any window up to _PERIOD long is one slice


_BLOCK = memoryview(_block())


@dataclass
class Video:
    """One published object. `version` moves when the object changes (etag_change)."""

    name: str
    size: int
    content_type: str = "video/mp4"
    version: int = 0
    published_at: float = 0.0
    url_expires_at: float = 0.0
    style: str = "tos"

    @property
    def etag(self) -> str:
        digest = hashlib.sha1(f"{self.name}\0{self.version}".encode()).hexdigest()
        return f'"{digest[:20]}"'

    @property
    def last_modified(self) -> str:
        return formatdate(int(self.published_at) + self.version, usegmt=True)


@dataclass(frozen=True)
class VideoRequest:
    """One request as the host saw it. Never holds header values beyond Range/If-Range."""

    ts: float
    method: str
    path: str
    name: str | None
    range: str | None
    if_range: str | None
    accept_encoding: str | None
    status: int
    has_auth: bool
    sent: int = 0  # body bytes actually written
    faults: tuple[str, ...] = ()


class VideoHost:
    """The video CDN. `start()` it, `publish()` videos, read `requests`, `stop()` it."""

    def __init__(self, *, clock: Clock | None = None, host: str = "127.0.0.1") -> None:
        self.clock: Clock = clock or SystemClock()
        self.faults = FaultPlan()
        self._host = host
        self._secret = os.urandom(16)
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)
        self._handling = 0  # requests between their first byte and their log entry
        self._videos: dict[str, Video] = {}
        self._log: list[VideoRequest] = []
        self._in_flight = 0
        self.peak_in_flight = 0  # most video bodies being sent at once (concurrency checks)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> VideoHost:
        server = ThreadingHTTPServer((self._host, 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self.base_url = f"http://{self._host}:{server.server_address[1]}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.name = "video-host"
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> VideoHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- videos -----------------------------------------------------------------------------
    def publish(
        self,
        name: str,
        *,
        size: int,
        ttl: float = 86400,
        style: str = "tos",
        content_type: str = "video/mp4",
        redirect: bool = False,
    ) -> str:
        """Make (or re-sign) a video and return a signed URL valid for `ttl` clock seconds.

        Publishing a name again keeps its bytes (unless `size` changes) and signs a fresh URL,
        the way a provider's re-poll hands out a new link to the same object. `redirect=True`
        gives a `/r/NAME` URL that answers 302 to the real one.
        """
        if style not in STYLES:
            raise ValueError(f"unknown URL style {style!r}; one of {', '.join(STYLES)}")
        if size < 0:
            raise ValueError("size must be >= 0")
        now = self.clock.now()
        with self._lock:
            video = self._videos.get(name)
            if video is None or video.size != size:
                video = Video(name=name, size=size, published_at=float(int(now)))
                self._videos[name] = video
            video.content_type = content_type
            video.style = style
            video.url_expires_at = float(int(now + ttl))
        path = ("/r/" if redirect else "/videos/") + quote(name, safe="")
        query = self._sign(f"/videos/{quote(name, safe='')}", style, now, ttl)
        return f"{self.base_url}{path}" + (f"?{query}" if query else "")

    def video(self, name: str) -> Video:
        with self._lock:
            return self._videos[name]

    def change(self, name: str) -> None:
        """The object changes in place: new bytes, new ETag, new Last-Modified."""
        with self._lock:
            self._videos[name].version += 1

    def content(self, name: str, start: int = 0, end: int | None = None) -> bytes:
        """The video's current bytes [start, end): what a correct download must hold."""
        video = self.video(name)
        stop = video.size if end is None else min(end, video.size)
        return b"".join(bytes(c) for c in _chunks(video, start, stop))

    def sha256(self, name: str) -> str:
        """SHA-256 of the current bytes, computed in chunks (fine for big videos)."""
        video = self.video(name)
        digest = hashlib.sha256()
        for chunk in _chunks(video, 0, video.size):
            digest.update(chunk)
        return digest.hexdigest()

    @property
    def requests(self) -> list[VideoRequest]:
        """The log so far. A client can hold its whole answer a moment before the handler
        writes the entry, so this first waits (up to 2 s) for requests being handled."""
        with self._settled:
            self._settled.wait_for(lambda: self._handling == 0, timeout=2.0)
            return list(self._log)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()
            self.peak_in_flight = self._in_flight

    def _sending(self, delta: int) -> None:
        with self._lock:
            self._in_flight += delta
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)

    # -- signing ----------------------------------------------------------------------------
    def _sign(self, path: str, style: str, now: float, ttl: float) -> str:
        if style == "plain":
            return ""
        expires_at = int(now + ttl)
        if style == "expires":
            sig = self._mac(path, str(expires_at))
            return urlencode({"Expires": expires_at, "Signature": sig, "KeyId": "SIMKEY"})
        # Date + duration: the date is whole seconds, the duration at least 1 s.
        duration = max(1, round(ttl)) if ttl >= 1 else 1
        date_epoch = expires_at - duration
        date = utc(date_epoch).strftime("%Y%m%dT%H%M%SZ")
        date_key, expires_key, sig_key = _SIGNED_PARAMS[style]
        prefix = date_key.split("-")[1]  # Tos | Amz
        day = date[:8]
        params = {
            f"X-{prefix}-Algorithm": f"{prefix.upper()}4-HMAC-SHA256",
            f"X-{prefix}-Credential": f"AKLTSIMULATOR/{day}/cn-beijing/{prefix.lower()}/request",
            date_key: date,
            expires_key: str(duration),
            f"X-{prefix}-SignedHeaders": "host",
        }
        params[sig_key] = self._mac(path, f"{date}/{duration}")
        return urlencode(params)

    def _mac(self, path: str, what: str) -> str:
        return hmac.new(self._secret, f"{path}\n{what}".encode(), hashlib.sha256).hexdigest()

    def _check_url(self, video: Video, path: str, query: dict[str, str]) -> str | None:
        """None when the URL may fetch now; else the XML error code for a 403."""
        now = self.clock.now()
        lower = {k.lower(): v for k, v in query.items()}
        prefix = next((p for p in ("x-tos-", "x-amz-") if p + "date" in lower), None)
        if prefix is not None:
            date, duration = lower.get(prefix + "date", ""), lower.get(prefix + "expires", "")
            given = lower.get(prefix + "signature", "")
            if not duration.isdigit() or not hmac.compare_digest(
                self._mac(path, f"{date}/{duration}"), given
            ):
                return "SignatureDoesNotMatch"
            try:
                start = calendar.timegm(time.strptime(date, "%Y%m%dT%H%M%SZ"))
            except ValueError:
                return "SignatureDoesNotMatch"
            return "AccessDenied" if now >= start + int(duration) else None
        if "expires" in lower:
            expires = lower["expires"]
            if not expires.isdigit() or not hmac.compare_digest(
                self._mac(path, expires), lower.get("signature", "")
            ):
                return "SignatureDoesNotMatch"
            return "AccessDenied" if now >= int(expires) else None
        if video.style != "plain":
            return "AccessDenied"  # a signed object asked for without a signature
        return "AccessDenied" if now >= video.url_expires_at else None

    def _begin(self) -> None:
        with self._lock:
            self._handling += 1

    def _record(self, entry: VideoRequest) -> None:
        with self._settled:
            self._log.append(entry)
            self._handling -= 1
            self._settled.notify_all()


def _chunks(video: Video, start: int, stop: int, size: int = _CHUNK) -> Iterator[memoryview]:
    shift = int.from_bytes(hashlib.sha256(f"{video.name}\0{video.version}".encode()).digest()[:8])
    offset = start
    while offset < stop:
        n = min(size, stop - offset)
        j = (offset + shift) % _PERIOD
        yield _BLOCK[j : j + n]
        offset += n


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_ERROR_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
    "<Message>{message}</Message><RequestId>sim-{rid}</RequestId>"
    "<HostId>video-host.sim</HostId></Error>\n"
)
_HTML_PAGE = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>"
    "<h1>Bad Gateway</h1><p>The CDN could not reach the origin. Try again later.</p>"
    "</body></html>\n"
)


def _handler_for(host: VideoHost) -> type[BaseHTTPRequestHandler]:
    class Handler(_VideoHandler):
        pass

    Handler.host = host
    return Handler


class _VideoHandler(BaseHTTPRequestHandler):
    host: VideoHost
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go as separate writes
    server_version = "SimCDN/1.0"
    sys_version = ""
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read `requests`
        return

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    # -- the one request path ----------------------------------------------------------------
    def _serve(self, *, head: bool) -> None:
        split = urlsplit(self.path)
        info: dict[str, Any] = {
            "path": split.path,
            "name": None,
            "status": 0,
            "sent": 0,
            "faults": (),
        }
        self.host._begin()
        try:
            self._route(split.path, split.query, head, info)
        finally:
            self.host._record(
                VideoRequest(
                    ts=self.host.clock.now(),
                    method=self.command,
                    path=split.path,
                    name=info["name"],
                    range=self.headers.get("Range"),
                    if_range=self.headers.get("If-Range"),
                    accept_encoding=self.headers.get("Accept-Encoding"),
                    status=info["status"],
                    has_auth="Authorization" in self.headers,
                    sent=info["sent"],
                    faults=info["faults"],
                )
            )

    def _route(self, path: str, query: str, head: bool, info: dict[str, Any]) -> None:
        if path.startswith("/r/"):
            info["status"] = 302
            location = "/videos/" + path[3:] + (f"?{query}" if query else "")
            self._simple(302, "text/plain", b"moved\n", head, {"Location": location})
            return
        if not path.startswith("/videos/"):
            info["status"] = 404
            self._error(404, "NoSuchKey", "The specified key does not exist.", head)
            return
        name = unquote(path[len("/videos/") :])
        info["name"] = name
        try:
            video = self.host.video(name)
        except KeyError:
            info["status"] = 404
            self._error(404, "NoSuchKey", "The specified key does not exist.", head)
            return
        refused = self.host._check_url(video, path, dict(parse_qsl(query)))
        if refused:
            info["status"] = 403
            message = "Request has expired" if refused == "AccessDenied" else "Bad signature"
            self._error(403, refused, message, head)
            return
        faults = self.host.faults.take(name)
        info["faults"] = tuple(sorted(faults))
        if "etag_change" in faults:
            self.host.change(name)
            video = self.host.video(name)
        if "forbid" in faults:
            info["status"] = 403
            self._error(403, "AccessDenied", "Access Denied", head)
            return
        if "html" in faults:
            info["status"] = 200
            self._simple(200, "text/html; charset=utf-8", _HTML_PAGE.encode(), head)
            return
        if "gzip" in faults:
            info["status"] = 200
            body = gzip.compress(self.host.content(name), mtime=0)
            extra = {"Content-Encoding": "gzip", "ETag": video.etag}
            self._simple(200, video.content_type, body, head, extra)
            return
        self._video(video, faults, head, info)

    def _video(self, video: Video, faults: dict[str, Fault], head: bool, info: dict) -> None:
        size = video.size
        start, stop, status = 0, size, 200
        wanted = self.headers.get("Range")
        if wanted and "ignore_range" not in faults and self._if_range_ok(video):
            match = _RANGE.match(wanted.strip().replace(" ", ""))
            if match and (match[1] or match[2]):
                first, last = match[1], match[2]
                if first:
                    start = int(first)
                    stop = min(size, int(last) + 1) if last else size
                else:  # suffix: the last N bytes
                    start, stop = max(0, size - int(last)), size
                if start >= size or stop <= start:
                    info["status"] = 416
                    extra = {"Content-Range": f"bytes */{size}"}
                    self._simple(416, "text/plain", b"range not satisfiable\n", head, extra)
                    return
                status = 206
        if status == 206 and "bad_range" in faults:
            stop, start = stop - start, 0
        headers = {
            "Content-Type": video.content_type,
            "Accept-Ranges": "bytes",
            "ETag": video.etag,
            "Last-Modified": video.last_modified,
            "Cache-Control": "private, max-age=86400",
        }
        no_length = "no_length" in faults
        if not no_length:
            headers["Content-Length"] = str(stop - start)
        else:
            headers["Connection"] = "close"
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
        info["status"] = status
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if head:
            return
        if no_length:
            self.close_connection = True
        cut = faults.get("truncate") or faults.get("reset")
        limit = stop - start
        if cut is not None:
            limit = min(limit, cut.at if cut.at is not None else (stop - start) // 2)
        slow = faults.get("slow")
        rate = slow.rate if slow and slow.rate else None
        piece = _CHUNK if rate is None else max(1024, min(_CHUNK, int(rate / 20)))
        sent = 0
        self.host._sending(+1)
        try:
            for chunk in _chunks(video, start, start + limit, piece):
                self.wfile.write(chunk)
                sent += len(chunk)
                info["sent"] = sent
                if rate is not None:
                    time.sleep(len(chunk) / rate)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return
        finally:
            self.host._sending(-1)
        if cut is not None and limit < stop - start:
            self.close_connection = True
            if "reset" in faults:
                self._reset()

    def _if_range_ok(self, video: Video) -> bool:
        """RFC 9110 If-Range: the range applies only while the validator still matches."""
        validator = self.headers.get("If-Range")
        if validator is None:
            return True
        validator = validator.strip()
        if validator.startswith(('"', "W/")):
            return validator == video.etag  # strong comparison; W/ never matches
        try:
            given = parsedate_to_datetime(validator).timestamp()
            return given == parsedate_to_datetime(video.last_modified).timestamp()
        except (TypeError, ValueError):
            return False

    def _reset(self) -> None:
        """Abort the connection with RST instead of FIN (SO_LINGER 0)."""
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

    def _error(self, status: int, code: str, message: str, head: bool) -> None:
        rid = os.urandom(6).hex()
        body = _ERROR_XML.format(code=code, message=message, rid=rid).encode()
        self._simple(status, "application/xml", body, head)

    def _simple(
        self,
        status: int,
        content_type: str,
        body: bytes,
        head: bool,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)


__all__ = ["FAULT_KINDS", "STYLES", "Fault", "FaultPlan", "Video", "VideoHost", "VideoRequest"]


def main(argv: list[str] | None = None) -> int:
    """`python -m tui.sim.video_host NAME:BYTES ...`: serve those videos, print one signed URL a
    line, and stop when stdin closes (benchmarks run the host in its own process this way)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="A pretend video CDN on 127.0.0.1.")
    parser.add_argument("videos", nargs="+", metavar="NAME:BYTES")
    parser.add_argument("--ttl", type=float, default=86400.0)
    parser.add_argument("--style", choices=STYLES, default="tos")
    args = parser.parse_args(argv)
    with VideoHost() as host:
        for spec in args.videos:
            name, _, size = spec.rpartition(":")
            print(host.publish(name, size=int(size), ttl=args.ttl, style=args.style), flush=True)
        sys.stdin.read()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
