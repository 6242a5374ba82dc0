"""Read the socket in 1 MiB pieces instead of httpcore's 64 KiB, for video downloads.

Why: on loopback the small reads cost about 45 % of the download throughput
(tests/bench/bench_download.py: 0.53x of `curl -o` with 64 KiB reads, 0.98x with 1 MiB).
httpcore offers the read size only as a class attribute of its HTTP/1.1 connection, so the
change is process-wide and also reaches the providers' API clients, where it changes nothing:
a status answer is a few KiB. It only ever raises the value, so a newer httpcore that already
reads more at once is left alone.
"""

from __future__ import annotations

LARGE_READ_BYTES = 1 << 20


def read_sockets_in_large_chunks() -> None:
    """Raise httpcore's per-read size to LARGE_READ_BYTES (idempotent; called before the
    downloader makes its client)."""
    from httpcore._async.http11 import AsyncHTTP11Connection

    if getattr(AsyncHTTP11Connection, "READ_NUM_BYTES", 0) < LARGE_READ_BYTES:
        AsyncHTTP11Connection.READ_NUM_BYTES = LARGE_READ_BYTES
