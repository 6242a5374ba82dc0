"""End to end: the real CLI (subprocesses) against the simulator over loopback.

`add` + `watch --json` + `status --json`, then the simulator's request log is read back to check
the etiquette the contract promises: no task polled more often than `min_interval`, no provider
above `rate_limit` in any one-second window, nothing sent during a `Retry-After`, no terminal task
polled again, and the key only ever sent to its provider's API.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tui.sim import Simulator
from tui.sim.video_host import VideoHost

pytestmark = pytest.mark.slow  # real CLI processes against the simulator

MIN_INTERVAL = 0.6
RATE_LIMIT = 4.0
KEYS = {"kyy": "sk-sim-kyy-e2e-secret", "newapi": "sk-sim-newapi-e2e-secret"}


def cli(*args: str, env: dict[str, str], stdin: str | None = None, timeout: float = 90):
    return subprocess.run(
        [sys.executable, "-m", "tui", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


@pytest.fixture
def world(tmp_path: Path):
    with VideoHost() as host, Simulator(keys=KEYS, video_host=host) as sim:
        config = tmp_path / "config.toml"
        config.write_text(
            f"""
[providers.kyy]
kind = "kyy"
base_url = "{sim.provider_url("kyy")}"
api_key_env = "E2E_KYY_KEY"
rate_limit = {RATE_LIMIT}
concurrency = 4
min_interval = {MIN_INTERVAL}
max_interval = 1.5
timeout = 5

[providers.anyfast]
kind = "newapi"
base_url = "{sim.provider_url("newapi")}"
api_key_env = "E2E_NEWAPI_KEY"
rate_limit = {RATE_LIMIT}
concurrency = 4
min_interval = {MIN_INTERVAL}
max_interval = 1.5
timeout = 5

[download]
dir = "{tmp_path / "videos"}"
template = "{{provider}}/{{id}}.mp4"
"""
        )
        env = {
            **os.environ,
            "SEEDANCE_TUI_CONFIG": str(config),
            "SEEDANCE_TUI_DB": str(tmp_path / "tasks.db"),
            "E2E_KYY_KEY": KEYS["kyy"],
            "E2E_NEWAPI_KEY": KEYS["newapi"],
        }
        yield sim, host, env, tmp_path


def _tasks_by_id(env: dict[str, str]) -> dict[str, dict]:
    result = cli("status", "--json", env=env)
    assert result.returncode == 0, result.stderr
    return {task["id"]: task for task in json.loads(result.stdout)}


@pytest.mark.serial
def test_add_watch_status_against_the_simulator(world):
    sim, host, env, tmp_path = world
    ok_kyy = sim.add_task(
        "kyy",
        model="seedance_2_0_fast",
        outcome="succeeded",
        queue_s=0.5,
        run_s=1.5,
        video_bytes=50_000,
    )
    failed_kyy = sim.add_task(
        "kyy",
        model="videos",
        outcome="failed",
        queue_s=0.2,
        run_s=0.8,
        failure=(None, "Reference video exceeds maximum total duration of 15 seconds."),
    )
    ultra = sim.add_task(
        "newapi",
        model="seedance-turbo",
        outcome="succeeded",
        ultra=True,
        queue_s=0.5,
        run_s=2.0,
        video_bytes=80_000,
    )
    failed_new = sim.add_task(
        "newapi",
        outcome="failed",
        queue_s=0.3,
        run_s=1.0,
        failure=("InvalidParameter", "img_url must be set for image to video method"),
    )
    expired = sim.add_task("newapi", outcome="expired", queue_s=0.3, run_s=1.0)
    ghost = "asyntask_doesnotexist0000000000000000"

    lines = "\n".join(
        [
            ok_kyy,
            failed_kyy,
            json.dumps({"data": {"task_id": ultra}}),
            json.dumps({"task_id": failed_new}),
            expired,
            ghost,
        ]
    )
    added = cli("add", "--batch", "e2e", "--file", "-", env=env, stdin=lines)
    assert added.returncode == 0, added.stderr

    watched = cli("watch", "--json", "--exit-status", "--timeout", "60", env=env)
    assert watched.returncode == 1, watched.stderr  # some tasks did not succeed
    events = [json.loads(line) for line in watched.stdout.splitlines() if line.strip()]
    assert events[-1]["event"] == "summary"
    assert events[-1]["counts"] == {"succeeded": 2, "failed": 2, "expired": 1, "missing": 1}
    state_events = [e for e in events if e["event"] == "state"]
    to_failed = next(e for e in state_events if e["id"] == failed_new and e["to"] == "failed")
    assert to_failed["from"] in ("queued", "running")
    assert to_failed["upstream_status"] == "FAILURE"
    assert to_failed["failure"] == {
        "code": "InvalidParameter",
        "message": "img_url must be set for image to video method",
    }
    downloads = [e for e in events if e["event"] == "download" and e["state"] == "done"]
    assert {e["id"] for e in downloads} == {ok_kyy, ultra}

    tasks = _tasks_by_id(env)
    assert set(tasks) == {ok_kyy, failed_kyy, ultra, failed_new, expired, ghost}

    kyy = tasks[ok_kyy]
    assert kyy["provider"] == "kyy" and kyy["batch"] == "e2e"
    assert kyy["state"] == "succeeded" and kyy["upstream_status"] == "completed"
    assert kyy["model"] == "seedance_2_0_fast"
    assert kyy["video_url"].startswith(host.base_url)
    assert kyy["url_expires_at"].endswith("Z")
    assert kyy["failure"] is None
    assert kyy["tokens"]["total"] is not None and kyy["tokens"]["super_resolution"] is None
    assert kyy["download"]["state"] == "done"
    assert Path(kyy["download"]["path"]).stat().st_size == kyy["download"]["bytes"] == 50_000
    assert kyy["polls"] >= 1 and kyy["last_polled_at"].endswith("Z")

    up = tasks[ultra]
    assert up["state"] == "succeeded" and up["upstream_status"] == "SUCCESS"
    assert up["resolution"] == "480p" and up["super_resolution"] == "720p"
    assert up["tokens"]["super_resolution"] is not None
    assert up["video_url"] == up["raw"]["data"]["result_url"]
    assert up["video_url"] != up["raw"]["data"]["original_result_url"]
    assert up["failure"] is None  # the SUCCESS fail_reason quirk is not a failure

    assert tasks[failed_new]["failure"] == {
        "code": "InvalidParameter",
        "message": "img_url must be set for image to video method",
    }
    assert tasks[failed_kyy]["failure"] == {
        "code": None,
        "message": "Reference video exceeds maximum total duration of 15 seconds.",
    }
    assert tasks[expired]["state"] == "expired"
    assert tasks[ghost]["state"] == "missing"
    for task in tasks.values():
        assert list(task) == [
            "provider", "id", "batch", "state", "upstream_status", "model", "progress",
            "created_at", "started_at", "finished_at", "video_url", "url_expires_at",
            "duration", "resolution", "super_resolution", "ratio", "fps", "seed",
            "generate_audio", "tokens", "failure", "polls", "last_polled_at", "download",
            "request", "raw",
        ]  # fmt: skip
        assert task["request"] is None  # added by id: no create request

    assert not any(key in watched.stdout + watched.stderr for key in KEYS.values())
    _assert_etiquette(sim, terminal_ids=set(tasks))
    _assert_key_stays_home(sim, host, env, tmp_path)


def test_retry_after_silences_the_whole_provider(world):
    sim, _host, env, _ = world
    ids = [sim.add_task("kyy", queue_s=0.2, run_s=2.5, video_bytes=1000) for _ in range(3)]
    sim.faults.add(kind="kyy", status=429, retry_after=2, count=1)
    assert cli("add", *ids, env=env).returncode == 0
    watched = cli("watch", "--json", "--no-download", "--timeout", "60", env=env)
    assert watched.returncode == 0, watched.stderr
    events = [json.loads(line) for line in watched.stdout.splitlines()]
    limited = [e for e in events if e["event"] == "http_error" and e["status"] == 429]
    assert limited and limited[0]["retry_after"] == 2.0
    log = sim.requests_for(kind="kyy")
    first_429 = next(r for r in log if r.status == 429)
    after = [r for r in log if r.ts > first_429.ts]
    assert after, "polling resumed after the Retry-After"
    assert min(r.ts for r in after) >= first_429.ts + 2.0 - 0.05


def test_a_second_watch_on_the_same_store_is_refused(world):
    sim, _host, env, _ = world
    task_id = sim.add_task("kyy", queue_s=5, run_s=30)
    assert cli("add", task_id, env=env).returncode == 0
    first = subprocess.Popen(
        [sys.executable, "-m", "tui", "watch", "--no-download"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(100):  # wait until the first watch is polling
            if sim.requests_for(kind="kyy"):
                break
            time.sleep(0.1)
        # the key reached the poller through its environment variable, never its arguments
        argv = Path(f"/proc/{first.pid}/cmdline").read_bytes()
        assert b"watch" in argv and not any(key.encode() in argv for key in KEYS.values())
        second = cli("watch", env=env, timeout=30)
        assert second.returncode == 2
        assert str(first.pid) in second.stderr
    finally:
        first.terminate()
        first.wait(timeout=10)


def _assert_etiquette(sim: Simulator, terminal_ids: set[str]) -> None:
    for kind in ("kyy", "newapi"):
        log = sim.requests_for(kind=kind)
        assert log, f"{kind} was polled"
        assert sim.max_requests_in_window(kind, window=1.0) <= RATE_LIMIT
        by_task: dict[str, list] = {}
        for request in log:
            by_task.setdefault(request.task_id, []).append(request)
        for task_id, requests in by_task.items():
            times = sorted(r.ts for r in requests)
            gaps = [b - a for a, b in itertools.pairwise(times)]
            assert all(gap >= MIN_INTERVAL - 0.05 for gap in gaps), (task_id, gaps)
            # once the provider's answer was terminal, the task was never polled again
            if task_id in sim.task_ids():
                finished = sim.task(task_id).finished_at
                assert len([r for r in requests if r.ts >= finished]) <= 1, task_id
            else:  # unknown at the provider: two "not found" answers make it missing
                assert len(requests) == 2, task_id
    assert not sim.violations


def _assert_key_stays_home(sim, host, env, tmp_path: Path) -> None:
    assert all(r.auth_ok for r in sim.requests if r.status != 401)
    assert not any(r.has_auth for r in host.requests)
    secrets = list(KEYS.values())
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(s.encode() in data for s in secrets), path
    exported = cli("export", "--format", "json", env=env)
    assert not any(s in exported.stdout for s in secrets)


def test_status_refresh_polls_only_the_selected_tasks(world):
    sim, _host, env, _ = world
    kyy_id = sim.add_task("kyy", queue_s=0.1, run_s=60)
    newapi_id = sim.add_task("newapi", queue_s=0.1, run_s=60)
    assert cli("add", kyy_id, newapi_id, env=env).returncode == 0
    refreshed = cli("status", "--refresh", "--provider", "kyy", "--json", env=env)
    assert refreshed.returncode == 0, refreshed.stderr
    assert [r.task_id for r in sim.requests] == [kyy_id]
    tasks = {t["id"]: t for t in json.loads(refreshed.stdout)}
    assert tasks[kyy_id]["polls"] == 1 and tasks[kyy_id]["state"] == "running"
