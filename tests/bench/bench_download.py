"""Download throughput and memory: the Downloader against `curl -o`, same file, same run.

The video host runs in a child process (its own interpreter and GIL, as a real CDN would be
another machine): in-process, the server's Python threads would compete with the client for
the GIL and the figure would measure that, not the downloader. Both clients fetch the same
signed URL from it over loopback, alternately, several rounds; the median of each is printed.

Memory: peak resident-set growth of this process (VmHWM, reset before each fetch) while the
Downloader fetches a small and a large video. Flat means about the same for both (the body
streams through a bounded buffer).

    .venv/bin/python tests/bench/bench_download.py             # 200 MB, 5 rounds
    .venv/bin/python tests/bench/bench_download.py --dir /dev/shm   # no disk in the figure
    .venv/bin/pytest tests/bench/bench_download.py -m bench -s   # 20 MB, quick

Figures are printed, never asserted against a time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tui.core.clock import SystemClock
from tui.core.config import DownloadConfig
from tui.core.downloads import Downloader
from tui.core.model import Download, DownloadState, Event, State, Task
from tui.core.store import Store

CURL = "/usr/bin/curl"
MB = 1024 * 1024


@contextmanager
def host_process(sizes: list[int]) -> Iterator[dict[int, str]]:
    """A VideoHost in a child process (`python -m tui.sim.video_host`); yields {size: url}."""
    specs = [f"bench-{size}:{size}" for size in sizes]
    child = subprocess.Popen(
        [sys.executable, "-m", "tui.sim.video_host", *specs],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        urls = [child.stdout.readline().strip() for _ in sizes]
        if not all(urls):
            raise RuntimeError("the video host process did not start")
        yield dict(zip(sizes, urls, strict=True))
    finally:
        assert child.stdin is not None
        child.stdin.close()
        try:
            child.wait(5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _status(field: str) -> int:
    """A `/proc/self/status` size field (VmRSS, VmHWM) in bytes."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


class RssPeak:
    """Peak resident-set growth over a block, without a sampling thread (which would fight
    the download for the GIL): Linux resets the high-water mark VmHWM on `5 > clear_refs`.
    Where that is not allowed, growth is how far the block pushed the old high-water mark."""

    def __enter__(self) -> RssPeak:
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
                refs.write("5")
            self.start = _status("VmRSS")
        except OSError:
            self.start = _status("VmHWM")
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak = _status("VmHWM")

    @property
    def growth(self) -> int:
        return max(0, self.peak - self.start)


def curl_once(url: str, dest: Path) -> float:
    started = time.perf_counter()
    subprocess.run([CURL, "-s", "-f", "-o", str(dest), url], check=True)
    elapsed = time.perf_counter() - started
    dest.unlink()
    return elapsed


class Fetcher:
    """One Downloader (warm: its client already made) over a throw-away store."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.store = Store.open(workdir / "bench.db")
        self.events: list[Event] = []

        async def no_refresh(_: Task) -> Task | None:
            return None

        config = DownloadConfig(dir=workdir / "videos", template="{id}.mp4", concurrency=1)
        self.downloader = Downloader(
            config, self.store, clock=SystemClock(), publish=self.events.append, refresh=no_refresh
        )
        self._runner: asyncio.Task[None] | None = None
        self._n = 0

    async def __aenter__(self) -> Fetcher:
        self._runner = asyncio.create_task(self.downloader.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        self._runner.cancel()
        await asyncio.gather(self._runner, return_exceptions=True)
        await self.downloader.aclose()
        self.store.close()

    async def fetch(self, url: str) -> tuple[float, int, int]:
        """Seconds (enqueue to done, file fsynced and renamed), bytes on disk, RSS growth."""
        self._n += 1
        name = f"v{self._n}"
        self.store.add_tasks("bench", [name], batch=None, now=datetime.now(UTC))
        task = Task("bench", name, state=State.SUCCEEDED, video_url=url, download=Download())
        self.store.save(task)
        with RssPeak() as rss:
            started = time.perf_counter()
            self.downloader.enqueue(task)
            await self.downloader.drain()
            elapsed = time.perf_counter() - started
        done = self.store.get("bench", name)
        assert done is not None and done.download.state is DownloadState.DONE, self.events[-1:]
        target = self.workdir / "videos" / f"{name}.mp4"
        size = target.stat().st_size
        target.unlink()
        return elapsed, size, rss.growth


async def measure(big: int, small: int, rounds: int, where: str | None = None) -> dict[str, float]:
    warm = 64 * 1024
    with (
        tempfile.TemporaryDirectory(dir=where) as tmp,
        host_process([big, small, warm]) as urls,
    ):
        workdir = Path(tmp)
        async with Fetcher(workdir) as fetcher:
            await fetcher.fetch(urls[warm])  # the client and its TLS context, made once
            _, size, small_growth = await fetcher.fetch(urls[small])
            assert size == small
            curl_times: list[float] = []
            ours: list[float] = []
            big_growth = 0
            for _ in range(rounds):
                curl_times.append(curl_once(urls[big], workdir / "curl.mp4"))
                seconds, size, grew = await fetcher.fetch(urls[big])
                assert size == big
                ours.append(seconds)
                big_growth = max(big_growth, grew)
    curl_rate = big / statistics.median(curl_times) / MB
    our_rate = big / statistics.median(ours) / MB
    print(
        f"\n{big / MB:.0f} MB over loopback into {where or tempfile.gettempdir()}, "
        f"median of {rounds}: curl -o {curl_rate:.0f} MB/s, Downloader {our_rate:.0f} MB/s "
        f"(ratio {our_rate / curl_rate:.2f}; the Downloader's time includes fsync + rename)\n"
        f"  rounds (s): curl {', '.join(f'{t:.2f}' for t in curl_times)}; "
        f"Downloader {', '.join(f'{t:.2f}' for t in ours)}\n"
        f"peak RSS growth during a download: {small / MB:.0f} MB video "
        f"{small_growth / MB:.1f} MB, {big / MB:.0f} MB video {big_growth / MB:.1f} MB"
    )
    return {
        "size_mb": big / MB,
        "curl_mb_s": curl_rate,
        "downloader_mb_s": our_rate,
        "ratio": our_rate / curl_rate,
        "rss_growth_small_mb": small_growth / MB,
        "rss_growth_big_mb": big_growth / MB,
    }


@pytest.mark.bench
async def test_bench_download_small() -> None:
    """20 MB vs 2 MB, one round: prints the figures; asserts only that the files were whole
    and that memory did not grow with the file (a 20 MB video may not cost 20 MB)."""
    figures = await measure(20 * MB, 2 * MB, rounds=2)
    assert figures["rss_growth_big_mb"] < 16, figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the big video (MB)")
    parser.add_argument("--small-mb", type=int, default=20, help="size of the small video (MB)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", help="where both write (default: the temp dir; try /dev/shm)")
    args = parser.parse_args(argv)
    asyncio.run(measure(args.mb * MB, args.small_mb * MB, args.rounds, args.dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
