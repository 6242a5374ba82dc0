"""The provider simulator, exercised over loopback with httpx the way the client will meet it.

Shapes are checked against the providers' published examples (/work/shared/seeds), step by step
through each task's timeline on a FrozenClock; faults, the request log and the rate-limit
detector are checked from the outside, as a client sees them.
"""

from __future__ import annotations

import json
import math
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest

from tui.core.clock import FrozenClock, ScaledClock
from tui.sim import NASTY_MESSAGE, Simulator
from tui.sim.video_host import VideoHost

T0 = 1777288506.0  # 2026-04-27T11:15:06Z, the anyfast doc's submit_time
PATHS = {
    "kyy": "/v1/result/{}",
    "newapi": "/v1/video/generations/{}",
    "ark": "/contents/generations/tasks/{}",
}
KYY_ID = re.compile(r"^video_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
NEWAPI_ID = re.compile(r"^asyntask_[A-Za-z0-9]{32}$")
ARK_ID = re.compile(r"^cgt-\d{14}-[a-z0-9]{5}$")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def sim(clock: FrozenClock) -> Iterator[Simulator]:
    with Simulator(clock=clock, seed=1) as simulator:
        yield simulator
        assert simulator.errors == []


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


def url(sim: Simulator, kind: str, task_id: str) -> str:
    return sim.provider_url(kind) + PATHS[kind].format(task_id)


def get(
    http: httpx.Client, sim: Simulator, kind: str, task_id: str, key: str | None = "default"
) -> httpx.Response:
    headers = {}
    if key is not None:
        headers["Authorization"] = f"Bearer {sim.key(kind) if key == 'default' else key}"
    return http.get(url(sim, kind, task_id), headers=headers)


def body(http: httpx.Client, sim: Simulator, kind: str, task_id: str) -> dict:
    response = get(http, sim, kind, task_id)
    assert response.status_code == 200, response.text
    return response.json()


# -- kyy ------------------------------------------------------------------------------------
def test_kyy_timeline_has_the_documented_shapes(sim, clock, http):
    task_id = sim.add_task("kyy", model="seedance_2_0_fast", queue_s=10, run_s=60, duration=8)
    assert KYY_ID.match(task_id)

    queued = body(http, sim, "kyy", task_id)
    assert queued == {
        "id": task_id,
        "object": "video",
        "created": int(T0),
        "model": "seedance_2_0_fast",
        "status": "queued",
        "video_url": None,
        "error": None,
    }
    clock.advance(10)
    assert body(http, sim, "kyy", task_id)["status"] == "processing"
    clock.advance(59.9)
    assert body(http, sim, "kyy", task_id)["status"] == "processing"
    clock.advance(0.1)
    done = body(http, sim, "kyy", task_id)
    assert list(done) == [
        "id", "object", "created", "model", "status", "video_url", "actualDuration",
        "totalTokens", "error",
    ]  # fmt: skip
    assert done["status"] == "completed"
    assert done["actualDuration"] == 8
    assert isinstance(done["totalTokens"], int) and done["totalTokens"] > 0
    assert done["error"] is None
    assert done["video_url"].startswith("https://cdn.invalid/")
    assert "X-Tos-Date=20260427T111616Z" in done["video_url"]  # signed when it finished
    assert "X-Tos-Expires=86400" in done["video_url"]


def test_kyy_failed_cancelled_expired_and_unknown(sim, clock, http):
    failed = sim.add_task(
        "kyy",
        model="videos",
        outcome="failed",
        queue_s=1,
        run_s=0,
        failure=(None, "Reference video exceeds maximum total duration of 15 seconds."),
    )
    cancelled = sim.add_task("kyy", outcome="cancelled", queue_s=5, run_s=0)
    expired = sim.add_task("kyy", outcome="expired", queue_s=5, run_s=0)
    weird = sim.add_task("kyy", unknown_status="WEIRD", queue_s=1, run_s=1)
    clock.advance(10)
    answer = body(http, sim, "kyy", failed)
    assert answer["status"] == "failed" and answer["video_url"] is None
    assert answer["error"] == "Reference video exceeds maximum total duration of 15 seconds."
    assert "actualDuration" not in answer and "totalTokens" not in answer
    assert body(http, sim, "kyy", cancelled)["status"] == "cancelled"
    timed_out = body(http, sim, "kyy", expired)  # kyy has no `expired` word
    assert timed_out["status"] == "failed" and timed_out["error"]
    assert body(http, sim, "kyy", weird)["status"] == "WEIRD"


# -- newapi ---------------------------------------------------------------------------------
def test_newapi_timeline_from_not_start_to_success(sim, clock, http):
    task_id = sim.add_task("newapi", queue_s=20, run_s=100, resolution="720p", duration=5)
    assert NEWAPI_ID.match(task_id)

    first = body(http, sim, "newapi", task_id)
    assert first["code"] == "success" and first["message"] == ""
    data = first["data"]
    assert data["status"] == "NOT_START" and data["progress"] == "0%"
    assert data["start_time"] == 0 and data["finish_time"] == 0
    assert data["submit_time"] == int(T0)
    assert "data" not in data  # the upstream has not answered yet
    assert "result_url" not in data and data["fail_reason"] == ""

    clock.advance(10)
    data = body(http, sim, "newapi", task_id)["data"]
    assert data["status"] == "QUEUED"
    assert data["data"]["status"] == "queued"
    assert ARK_ID.match(data["data"]["id"])

    clock.advance(10)
    early = body(http, sim, "newapi", task_id)["data"]
    clock.advance(60)
    later = body(http, sim, "newapi", task_id)["data"]
    assert early["status"] == later["status"] == "IN_PROGRESS"
    assert early["data"]["status"] == "running"
    assert early["start_time"] == int(T0 + 20)
    assert early["progress"] == "50%"  # "progress advances from 50%"
    assert 50 < int(later["progress"].rstrip("%")) < 100

    clock.advance(40)
    data = body(http, sim, "newapi", task_id)["data"]
    assert list(data) == [
        "task_id", "action", "status", "result_url", "fail_reason", "submit_time",
        "start_time", "finish_time", "progress", "request_id", "data",
    ]  # fmt: skip
    assert data["status"] == "SUCCESS" and data["progress"] == "100%"
    assert data["fail_reason"] == data["result_url"]  # the relay's quirk
    assert data["finish_time"] == int(T0 + 120)
    assert re.match(r"^20260427111506\d{9}[A-Za-z]{8}$", data["request_id"])
    inner = data["data"]
    assert inner["content"]["video_url"] == data["result_url"]
    assert inner["status"] == "succeeded"
    assert inner["resolution"] == "720p" and "super_resolution" not in inner
    assert inner["usage"]["completion_tokens"] == inner["usage"]["total_tokens"] == 108000
    assert "super_resolution_tokens" not in inner["usage"]
    assert "original_result_url" not in data
    for key in ("model", "duration", "ratio", "framespersecond", "generate_audio", "seed"):
        assert key in inner


def test_newapi_ultra_task_result_is_the_super_resolved_video(sim, clock, http):
    task_id = sim.add_task("newapi", ultra=True, queue_s=5, run_s=30)
    clock.advance(35)
    data = body(http, sim, "newapi", task_id)["data"]
    assert data["status"] == "SUCCESS"
    assert data["result_url"] != data["original_result_url"]
    assert data["fail_reason"] == data["result_url"]
    inner = data["data"]
    assert inner["model"] == "seedance-turbo"
    assert inner["content"]["video_url"] == data["original_result_url"]
    assert inner["resolution"] == "480p" and inner["super_resolution"] == "720p"
    usage = inner["usage"]
    assert usage["super_resolution_tokens"] > usage["completion_tokens"] > 0


def test_newapi_failure_reason_format_and_immediate_failure(sim, clock, http):
    task_id = sim.add_task(
        "newapi",
        outcome="failed",
        queue_s=6,
        run_s=0,
        failure=("InvalidParameter", "img_url must be set for image to video method"),
    )
    clock.advance(6)
    data = body(http, sim, "newapi", task_id)["data"]
    assert data["status"] == "FAILURE" and data["progress"] == "100%"
    assert data["fail_reason"] == (
        "task failed, code: InvalidParameter, "
        "message: img_url must be set for image to video method"
    )
    assert data["start_time"] == 0 and data["finish_time"] == int(T0 + 6)
    assert "result_url" not in data and "data" not in data


def test_newapi_reports_expired_and_cancelled_as_in_progress(sim, clock, http):
    expired = sim.add_task("newapi", outcome="expired", queue_s=30, run_s=0)
    cancelled = sim.add_task("newapi", outcome="cancelled", queue_s=10, run_s=5)
    clock.advance(60)
    for task_id, word in ((expired, "expired"), (cancelled, "cancelled")):
        data = body(http, sim, "newapi", task_id)["data"]
        assert data["status"] == "IN_PROGRESS"
        assert data["data"]["status"] == word
        assert data["finish_time"] == 0 and "result_url" not in data


def test_newapi_unknown_status_word(sim, clock, http):
    task_id = sim.add_task("newapi", outcome="unknown", queue_s=1, run_s=1)
    clock.advance(5)
    assert body(http, sim, "newapi", task_id)["data"]["status"] == "WEIRD"


# -- ark ------------------------------------------------------------------------------------
def test_ark_task_object_through_its_timeline(sim, clock, http):
    task_id = sim.add_task("ark", queue_s=10, run_s=50, duration=10, resolution="1080p")
    assert ARK_ID.match(task_id)
    assert task_id.startswith("cgt-20260427191506-")  # Beijing time, as Ark stamps it
    queued = body(http, sim, "ark", task_id)
    assert queued["status"] == "queued" and queued["error"] is None
    assert "content" not in queued and "usage" not in queued
    assert queued["created_at"] == queued["updated_at"] == int(T0)
    clock.advance(10)
    running = body(http, sim, "ark", task_id)
    assert running["status"] == "running" and running["updated_at"] == int(T0 + 10)
    clock.advance(50)
    done = body(http, sim, "ark", task_id)
    assert done["status"] == "succeeded"
    assert done["content"]["video_url"].startswith("https://cdn.invalid/")
    assert done["usage"] == {"completion_tokens": 486_000, "total_tokens": 486_000}
    assert done["updated_at"] == int(T0 + 60)
    assert (done["duration"], done["resolution"], done["ratio"]) == (10, "1080p", "16:9")
    assert done["framespersecond"] == 24 and isinstance(done["seed"], int)


def test_ark_failed_cancelled_expired_unknown(sim, clock, http):
    failed = sim.add_task(
        "ark",
        outcome="failed",
        queue_s=1,
        run_s=2,
        failure=("OutputVideoSensitiveContentDetected", "The output video may be sensitive."),
    )
    others = {
        o: sim.add_task("ark", outcome=o, queue_s=1, run_s=0) for o in ("cancelled", "expired")
    }
    weird = sim.add_task("ark", unknown_status="paused_by_ops", queue_s=1, run_s=0)
    clock.advance(5)
    answer = body(http, sim, "ark", failed)
    assert answer["status"] == "failed"
    assert answer["error"] == {
        "code": "OutputVideoSensitiveContentDetected",
        "message": "The output video may be sensitive.",
    }
    for outcome, task_id in others.items():
        assert body(http, sim, "ark", task_id)["status"] == outcome
    assert body(http, sim, "ark", weird)["status"] == "paused_by_ops"


# -- not found, auth, routes ----------------------------------------------------------------
def test_unknown_ids_answer_each_providers_not_found(sim, http):
    kyy = get(http, sim, "kyy", "video_nope")
    assert kyy.status_code == 404 and "error" in kyy.json()
    newapi = get(http, sim, "newapi", "asyntask_nope")
    assert newapi.status_code == 400
    assert newapi.json() == {"code": "task_not_exist", "message": "task_not_exist", "data": None}
    ark = get(http, sim, "ark", "cgt-nope")
    assert ark.status_code == 404 and ark.json()["error"]["code"] == "ResourceNotFound"
    # a task of one provider is unknown to the others
    task_id = sim.add_task("kyy", queue_s=1, run_s=1)
    assert get(http, sim, "ark", task_id).status_code == 404
    sim.remove_task(task_id)
    assert get(http, sim, "kyy", task_id).status_code == 404


def test_auth_is_required_and_the_key_is_never_logged(clock, http):
    keys = {"kyy": "sk-secret-kyy-123", "newapi": "sk-secret-newapi-456"}
    with Simulator(clock=clock, keys=keys) as sim:
        task_id = sim.add_task("newapi", queue_s=1, run_s=1)
        missing = get(http, sim, "newapi", task_id, key=None)
        wrong = get(http, sim, "newapi", task_id, key="sk-wrong")
        right = get(http, sim, "newapi", task_id)
        assert missing.status_code == wrong.status_code == 401
        assert wrong.json()["error"]["type"] == "new_api_error"
        assert wrong.json()["error"]["code"] == ""
        assert right.status_code == 200
        assert get(http, sim, "kyy", "video_x", key=None).status_code == 401
        assert get(http, sim, "ark", "cgt-x", key="sk-sim-kyy").status_code == 401
        assert sim.key("ark") == "sk-sim-ark"  # the default for kinds not given

        log = sim.requests
        assert [(r.has_auth, r.auth_ok, r.status) for r in log[:3]] == [
            (False, False, 401),
            (True, False, 401),
            (True, True, 200),
        ]
        text = repr(log) + repr(sim) + wrong.text + missing.text
        assert not any(key in text for key in keys.values())


def test_other_paths_and_methods(sim, http):
    assert http.get(sim.base_url + "/nowhere").status_code == 404
    assert http.get(sim.provider_url("kyy") + "/v1/result/").status_code == 404
    task_id = sim.add_task("kyy", queue_s=1, run_s=1)
    posted = http.post(url(sim, "kyy", task_id), headers={"Authorization": "Bearer sk-sim-kyy"})
    assert posted.status_code == 405
    assert sim.requests[-1].method == "POST" and sim.requests[-1].status == 405


def test_ids_are_percent_decoded(sim, http):
    task_id = sim.add_task("kyy", "video_a:b.c", queue_s=1, run_s=1)
    response = http.get(
        sim.provider_url("kyy") + "/v1/result/video_a%3Ab.c",
        headers={"Authorization": "Bearer sk-sim-kyy"},
    )
    assert response.status_code == 200 and response.json()["id"] == task_id
    assert sim.requests[-1].task_id == task_id


# -- clocks and helpers ---------------------------------------------------------------------
@pytest.mark.serial
def test_scaled_clock_runs_a_task_in_a_fraction_of_wall_time(http):
    with Simulator(clock=ScaledClock(speed=600)) as sim:
        task_id = sim.add_task("ark", queue_s=120, run_s=120)  # 4 clock minutes = 0.4 s
        started = time.monotonic()
        seen: list[str] = []
        while time.monotonic() - started < 10:
            status = body(http, sim, "ark", task_id)["status"]
            if not seen or seen[-1] != status:
                seen.append(status)
            if status == "succeeded":
                break
            time.sleep(0.02)
        elapsed = time.monotonic() - started
        assert seen == ["queued", "running", "succeeded"]
        assert 0.3 < elapsed < 5
        assert sim.errors == []


def test_complete_now_set_outcome_and_created_at(sim, clock, http):
    task_id = sim.add_task("kyy", queue_s=100, run_s=100, created_at=T0 - 50)
    assert body(http, sim, "kyy", task_id)["created"] == int(T0 - 50)
    sim.complete_now(task_id)
    assert body(http, sim, "kyy", task_id)["status"] == "completed"
    other = sim.add_task("ark", queue_s=100, run_s=100)
    sim.set_outcome(other, "failed", failure=("InternalServiceError", "boom"))
    sim.complete_now(other)
    assert body(http, sim, "ark", other)["error"] == {
        "code": "InternalServiceError",
        "message": "boom",
    }
    with pytest.raises(ValueError):
        sim.add_task("kyy", task_id)  # duplicate
    with pytest.raises(ValueError):
        sim.add_task("kyy", ultra=True)
    with pytest.raises(ValueError):
        sim.add_task("nope")


def test_nasty_strings_reach_the_client_unchanged(sim, clock, http):
    for kind in ("kyy", "newapi", "ark"):
        task_id = sim.add_task(kind, outcome="failed", nasty=True, queue_s=1, run_s=1)
        clock.advance(2)
        answer = get(http, sim, kind, task_id)
        assert b"\\u001b]52;c;SGVsbG8=\\u0007" in answer.content  # JSON-escaped on the wire
        text = json.dumps(answer.json(), ensure_ascii=False)
        decoded = answer.json()
        message = {
            "kyy": lambda b: b["error"],
            "newapi": lambda b: b["data"]["fail_reason"],
            "ark": lambda b: b["error"]["message"],
        }[kind](decoded)
        assert NASTY_MESSAGE in message
        assert "[@click=app.quit]" in text and "[/]" in text
        assert "\x1b]52;c;SGVsbG8=\x07" in message


def test_video_urls_are_re_signed_after_expiry_except_on_kyy(sim, clock, http):
    ark = sim.add_task("ark", queue_s=1, run_s=1, url_ttl=100)
    kyy = sim.add_task("kyy", queue_s=1, run_s=1, url_ttl=100)
    clock.advance(2)
    ark_url = body(http, sim, "ark", ark)["content"]["video_url"]
    kyy_url = body(http, sim, "kyy", kyy)["video_url"]
    clock.advance(50)
    assert body(http, sim, "ark", ark)["content"]["video_url"] == ark_url
    clock.advance(60)
    fresh = body(http, sim, "ark", ark)["content"]["video_url"]
    assert fresh != ark_url and "X-Tos-Date=20260427T111658Z" in fresh
    assert body(http, sim, "kyy", kyy)["video_url"] == kyy_url  # "cannot be recovered"


def test_video_host_publishes_the_videos(clock, http):
    with VideoHost(clock=clock) as host, Simulator(clock=clock, video_host=host) as sim:
        plain = sim.add_task("kyy", queue_s=1, run_s=1, video_bytes=12_345)
        ultra = sim.add_task("newapi", ultra=True, queue_s=1, run_s=1, video_bytes=20_000)
        amz = sim.add_task("ark", queue_s=1, run_s=1, url_style="amz", url_ttl=100)
        clock.advance(2)
        video_url = body(http, sim, "kyy", plain)["video_url"]
        assert video_url.startswith(host.base_url)
        video = http.get(video_url)
        assert video.status_code == 200 and len(video.content) == 12_345
        assert video.content == host.content(sim.task(plain).video_name)

        data = body(http, sim, "newapi", ultra)["data"]
        final = http.get(data["result_url"])
        original = http.get(data["original_result_url"])
        assert final.status_code == original.status_code == 200
        assert len(final.content) == 20_000 and len(original.content) == 10_000

        signed = body(http, sim, "ark", amz)["content"]["video_url"]
        assert "X-Amz-Date=" in signed and "X-Amz-Expires=100" in signed
        clock.advance(100)
        assert http.get(signed).status_code == 403  # expired on the host's clock too
        fresh = body(http, sim, "ark", amz)["content"]["video_url"]
        assert fresh != signed and http.get(fresh).status_code == 200
        assert not any(r.has_auth for r in host.requests)
        assert sim.errors == []


# -- faults ---------------------------------------------------------------------------------
def test_429_with_retry_after_seconds_then_normal(sim, http):
    task_id = sim.add_task("kyy", queue_s=1, run_s=1)
    fault = sim.faults.add(status=429, kind="kyy", retry_after=2.5, count=2)
    first, second, third = (get(http, sim, "kyy", task_id) for _ in range(3))
    assert first.status_code == second.status_code == 429
    assert first.headers["Retry-After"] == "3"  # whole seconds, rounded up
    assert "error" in first.json()
    assert third.status_code == 200
    assert fault.hits == 2 and sim.faults.pending() == 0
    assert [r.fault for r in sim.requests] == ["429", "429", None]


def test_429_with_retry_after_as_http_date(sim, clock, http):
    task_id = sim.add_task("newapi", queue_s=1, run_s=1)
    sim.faults.add("429", retry_after=30, retry_after_date=True)
    limited = get(http, sim, "newapi", task_id)
    assert limited.status_code == 429
    when = parsedate_to_datetime(limited.headers["Retry-After"]).timestamp()
    assert when == math.ceil(T0 + 30)
    assert "upstream saturated" in limited.json()["error"]["message"]


def test_503_with_retry_after_and_html_error_pages(sim, http):
    task_id = sim.add_task("ark", queue_s=1, run_s=1)
    sim.faults.add(status=503, retry_after=7)
    sim.faults.add(status=500)
    sim.faults.add(status=502)
    unavailable = get(http, sim, "ark", task_id)
    assert unavailable.status_code == 503 and unavailable.headers["Retry-After"] == "7"
    assert unavailable.headers["Content-Type"].startswith("text/html")
    internal = get(http, sim, "ark", task_id)
    gateway = get(http, sim, "ark", task_id)
    assert internal.status_code == 500 and "<html>" in internal.text
    assert gateway.status_code == 502 and "502 Bad Gateway" in gateway.text
    assert "Retry-After" not in internal.headers
    assert get(http, sim, "ark", task_id).status_code == 200


def test_truncated_json_and_html_with_200(sim, http):
    task_id = sim.add_task("newapi", queue_s=1, run_s=1)
    sim.faults.add("truncated")
    sim.faults.add("html")
    cut = get(http, sim, "newapi", task_id)
    assert cut.status_code == 200
    assert int(cut.headers["Content-Length"]) == len(cut.content) > 0
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.content)
    page = get(http, sim, "newapi", task_id)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert page.text.lstrip().startswith("<!DOCTYPE html>")


def test_401_fault_even_with_the_right_key(sim, http):
    task_id = sim.add_task("kyy", queue_s=1, run_s=1)
    sim.faults.add(status=401, kind="kyy")
    refused = get(http, sim, "kyy", task_id)
    assert refused.status_code == 401
    assert sim.requests[-1].auth_ok and sim.requests[-1].fault == "401"


def test_connection_reset_sends_no_response(sim, http):
    task_id = sim.add_task("kyy", queue_s=1, run_s=1)
    sim.faults.add("reset", task_id=task_id)
    with pytest.raises(httpx.TransportError):
        get(http, sim, "kyy", task_id)
    assert get(http, sim, "kyy", task_id).status_code == 200
    statuses = [(r.status, r.fault) for r in sim.requests_for(task_id=task_id)]
    assert statuses == [(None, "reset"), (200, None)]


def test_faults_match_by_kind_task_and_clock_window(sim, clock, http):
    a = sim.add_task("kyy", queue_s=1, run_s=1)
    b = sim.add_task("kyy", queue_s=1, run_s=1)
    c = sim.add_task("ark", queue_s=1, run_s=1)
    sim.faults.add(status=502, task_id=a, count=None)
    sim.faults.add(status=500, kind="ark", count=None, start=T0 + 10, end=T0 + 20)
    assert get(http, sim, "kyy", a).status_code == 502
    assert get(http, sim, "kyy", a).status_code == 502  # unlimited
    assert get(http, sim, "kyy", b).status_code == 200
    assert get(http, sim, "ark", c).status_code == 200  # before the window
    clock.advance(10)
    assert get(http, sim, "ark", c).status_code == 500
    clock.advance(10)
    assert get(http, sim, "ark", c).status_code == 200  # after it
    sim.faults.clear()
    assert get(http, sim, "kyy", a).status_code == 200
    with pytest.raises(ValueError):
        sim.faults.add("teapot")
    with pytest.raises(ValueError):
        sim.faults.add(status=418)


@pytest.mark.serial
def test_a_hang_does_not_block_other_requests(sim, http):
    slow = sim.add_task("kyy", queue_s=1, run_s=1)
    fast = sim.add_task("kyy", queue_s=1, run_s=1)
    sim.faults.add("hang", task_id=slow, hang_s=1.5)
    results: dict[str, object] = {}

    def hung() -> None:
        with httpx.Client(timeout=5) as own:
            started = time.monotonic()
            results["status"] = get(own, sim, "kyy", slow).status_code
            results["took"] = time.monotonic() - started

    thread = threading.Thread(target=hung)
    thread.start()
    _wait_for(lambda: any(r.task_id == slow for r in sim.requests))
    started = time.monotonic()
    assert get(http, sim, "kyy", fast).status_code == 200
    assert time.monotonic() - started < 1.0
    assert thread.is_alive()  # still hanging while the other one was answered
    thread.join(timeout=10)
    assert results["status"] == 200  # a hang ends in the normal answer
    assert 1.4 < results["took"] < 5
    assert sim.requests_for(task_id=slow)[0].fault == "hang"


@pytest.mark.serial
def test_a_client_timeout_during_a_hang_is_quiet_and_stop_is_prompt(clock, capfd):
    sim = Simulator(clock=clock).start()
    task_id = sim.add_task("ark", queue_s=1, run_s=1)
    sim.faults.add("hang", task_id=task_id, hang_s=0.6)
    sim.faults.add("hang", task_id=task_id, hang_s=60)
    with httpx.Client(timeout=0.2) as client, pytest.raises(httpx.ReadTimeout):
        get(client, sim, "ark", task_id)
    # the server writes its late answer to a socket the client has closed: no traceback
    _wait_for(lambda: sim.requests[0].status is not None)

    def long_hang() -> None:
        with httpx.Client(timeout=30) as client, pytest.raises(httpx.TransportError):
            get(client, sim, "ark", task_id)

    thread = threading.Thread(target=long_hang)
    thread.start()
    _wait_for(lambda: len(sim.requests) == 2)
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 2
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert sim.errors == []
    assert capfd.readouterr().err == ""


# -- the request log and the rate limit -----------------------------------------------------
def test_request_log_and_window_counts(sim, clock, http):
    a = sim.add_task("kyy", queue_s=1, run_s=1)
    b = sim.add_task("newapi", queue_s=1, run_s=1)
    for _ in range(3):
        get(http, sim, "kyy", a)
    clock.advance(0.5)
    get(http, sim, "kyy", a)
    get(http, sim, "newapi", b)
    clock.advance(0.6)
    get(http, sim, "kyy", a)
    log = sim.requests
    assert [r.ts for r in log] == [T0, T0, T0, T0 + 0.5, T0 + 0.5, T0 + 1.1]
    first = log[0]
    assert (first.method, first.kind, first.task_id, first.status) == ("GET", "kyy", a, 200)
    assert first.path == "/kyy/v1/result/" + a
    assert len(sim.requests_for(kind="kyy")) == 5
    assert [r.task_id for r in sim.requests_for(task_id=b)] == [b]
    assert sim.max_requests_in_window("kyy", window=1.0) == 4
    assert sim.max_requests_in_window("kyy", window=0.4) == 3
    assert sim.max_requests_in_window(None, window=1.0) == 5
    assert sim.max_requests_in_window("ark") == 0
    sim.clear_requests()
    assert sim.requests == []


def test_rate_limit_enforcement_records_violations(sim, clock, http):
    task_id = sim.add_task("kyy", queue_s=1, run_s=1)
    other = sim.add_task("ark", queue_s=1, run_s=1)
    sim.enforce_rate_limit("kyy", 2)
    assert [get(http, sim, "kyy", task_id).status_code for _ in range(2)] == [200, 200]
    assert sim.violations == []
    over = get(http, sim, "kyy", task_id)
    assert over.status_code == 429 and over.headers["Retry-After"] == "1"
    assert get(http, sim, "ark", other).status_code == 200  # another provider's budget
    [violation] = sim.violations
    assert (violation.kind, violation.count, violation.limit, violation.ts) == ("kyy", 3, 2, T0)
    assert sim.requests_for(kind="kyy")[-1].fault == "rate_limit"
    clock.advance(1.0)  # the window is (now - 1 s, now]
    assert get(http, sim, "kyy", task_id).status_code == 200
    clock.advance(0.5)
    assert get(http, sim, "kyy", task_id).status_code == 200
    assert get(http, sim, "kyy", task_id).status_code == 429
    assert len(sim.violations) == 2
    sim.enforce_rate_limit("kyy", None)
    assert get(http, sim, "kyy", task_id).status_code == 200


# -- the demo batch -------------------------------------------------------------------------
def test_demo_batch_is_a_realistic_mix(sim, clock, http):
    batch = sim.demo_batch(200, kinds=("newapi", "kyy", "ark"), seed=7)
    assert len(batch) == len({task_id for _, task_id in batch}) == 200
    patterns = {"kyy": KYY_ID, "newapi": NEWAPI_ID, "ark": ARK_ID}
    assert all(patterns[kind].match(task_id) for kind, task_id in batch)
    assert {kind for kind, _ in batch} == {"newapi", "kyy", "ark"}
    tasks = [sim.task(task_id) for _, task_id in batch]
    outcomes = Counter(t.outcome for t in tasks)
    assert 130 <= outcomes["succeeded"] <= 155
    assert 25 <= outcomes["failed"] <= 35
    assert outcomes["cancelled"] >= 1 and outcomes["expired"] >= 1
    assert outcomes["unknown"] == 1
    assert len({t.failure for t in tasks if t.outcome == "failed"}) >= 8  # both catalogs
    assert sum(t.failure is not None and t.failure[1] == NASTY_MESSAGE for t in tasks) == 1
    assert any(t.ultra for t in tasks)
    models = {t.model for t in tasks}
    assert {"seedance_2_0_fast", "doubao-seedance-2-0-260128", "seedance-turbo"} <= models
    for t in tasks:  # times within the documented tables (flex and expiries wait longer)
        total = t.finished_at - t.created_at
        if t.outcome == "succeeded" and not t.model.endswith("_flex"):
            assert 60 <= total <= 480, (t.model, total)
    assert any(t.finished_at <= T0 for t in tasks), "some were already done"
    assert sum(t.finished_at > T0 for t in tasks) > 100, "most are still live"

    clock.advance(3600)
    words = Counter()
    for kind, task_id in batch:
        answer = body(http, sim, kind, task_id)
        words[answer["data"]["status"] if kind == "newapi" else answer["status"]] += 1
    assert words["SUCCESS"] + words["completed"] + words["succeeded"] == outcomes["succeeded"]
    assert words["WEIRD"] == 1
    assert not {"queued", "processing", "running", "QUEUED", "NOT_START"} & set(words)


def test_demo_batch_is_reproducible_and_small_batches_work(clock):
    with Simulator(clock=clock, seed=3) as one, Simulator(clock=clock, seed=3) as two:
        assert one.demo_batch(30) == two.demo_batch(30)
        assert len(one.demo_batch(3)) == 3
        assert one.demo_batch(0) == []


def test_running_standalone_prints_urls_and_keys(tmp_path: Path):
    ids_file = tmp_path / "ids.txt"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.sim", "--speed", "600", "--tasks", "6", "--ids", str(ids_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [proc.stdout.readline() for _ in range(5)]
        urls = {}
        for line in lines[:3]:
            kind, base, _, key = line.split()
            urls[kind] = (base, key)
        assert set(urls) == {"kyy", "newapi", "ark"}
        assert urls["kyy"][1] == "sk-sim-kyy"
        assert "6 tasks" in lines[3]
        ids = ids_file.read_text().split()
        assert len(ids) == 6
        kind = "kyy" if ids[0].startswith("video_") else "newapi"
        base, key = urls[kind]
        answer = httpx.get(
            base + PATHS[kind].format(ids[0]), headers={"Authorization": f"Bearer {key}"}
        )
        assert answer.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert err == ""


def _wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


def _sim_imports() -> dict[str, set[str]]:
    """tui.sim module -> the tui.sim modules it imports anywhere (functions and TYPE_CHECKING
    blocks included), read from the source."""
    import ast

    folder = Path(__file__).resolve().parent.parent / "tui" / "sim"
    names = {p.stem for p in folder.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                targets.add(node.module)
                targets.update(f"{node.module}.{alias.name}" for alias in node.names)
        graph[path.stem] = {t.rsplit(".", 1)[1] for t in targets if t.startswith("tui.sim.")} & (
            names - {"__init__", path.stem}
        )
    return graph


def test_the_simulator_has_no_import_cycle_and_the_server_never_imports_scenarios():
    graph = _sim_imports()
    assert "scenarios" not in graph["server"] and "simulator" not in graph["server"]
    assert "server" in graph["scenarios"]  # scenarios build on the server
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import cycle: {' -> '.join((*path, module))}"
        if module in done:
            return
        for target in sorted(graph.get(module, ())):
            visit(target, (*path, module))
        done.add(module)

    for module in sorted(graph):
        visit(module, ())
