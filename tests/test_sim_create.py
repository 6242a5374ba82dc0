"""The simulator's create calls, exercised over loopback with httpx as the client will meet them.

Each dialect's create answer and refusals, the created task polled to its end, every create
fault (including the ambiguous ones where the task exists but the client never hears its id),
the per-fingerprint counts that prove nothing was created twice, and the live-task cap.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tui.core.clock import FrozenClock, ScaledClock
from tui.sim import Simulator, fingerprint
from tui.sim.video_host import VideoHost

T0 = 1777288506.0
STATUS_PATHS = {
    "kyy": "/v1/result/{}",
    "newapi": "/v1/video/generations/{}",
    "ark": "/contents/generations/tasks/{}",
}
BODIES = {
    "kyy": {
        "model": "seedance_2_0_fast",
        "prompt": "a red kite over the sea",
        "duration": 8,
        "aspect_ratio": "9:16",
        "generateAudio": False,
        "first_image": "https://example.invalid/first.png",
    },
    "newapi": {
        "model": "doubao-seedance-2-0-260128",
        "content": [
            {"type": "text", "text": "a red kite over the sea"},
            {"type": "image_url", "image_url": {"url": "u://a"}, "role": "first_frame"},
            {"type": "image_url", "image_url": {"url": "u://b"}, "role": "last_frame"},
        ],
        "generate_audio": True,
        "resolution": "1080p",
        "ratio": "16:9",
        "duration": 10,
        "watermark": False,
    },
    "ark": {
        "model": "doubao-seedance-2-0-fast-260128",
        "content": [{"type": "text", "text": "a red kite over the sea"}],
        "ratio": "1:1",
        "duration": 5,
    },
}  # fmt: skip
TERMINAL = {"kyy": "completed", "newapi": "SUCCESS", "ark": "succeeded"}


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def sim(clock: FrozenClock) -> Iterator[Simulator]:
    with Simulator(clock=clock, seed=3) as simulator:
        yield simulator
        assert simulator.errors == []


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


def create(
    http: httpx.Client, sim: Simulator, kind: str, body: object, key: str | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or sim.key(kind)}"}
    if isinstance(body, bytes):
        return http.post(sim.create_url(kind), content=body, headers=headers)
    return http.post(sim.create_url(kind), json=body, headers=headers)


def status(http: httpx.Client, sim: Simulator, kind: str, task_id: str) -> dict:
    path = STATUS_PATHS[kind].format(task_id)
    response = http.get(sim.provider_url(kind) + path, headers=_auth(sim, kind))
    assert response.status_code == 200, response.text
    return response.json()


def status_word(kind: str, answer: dict) -> str:
    return answer["data"]["status"] if kind == "newapi" else answer["status"]


def _auth(sim: Simulator, kind: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {sim.key(kind)}"}


# -- answers ----------------------------------------------------------------------------------
def test_kyy_create_answers_the_documented_object(sim, http):
    response = create(http, sim, "kyy", BODIES["kyy"])
    assert response.status_code == 200
    answer = response.json()
    assert answer == {
        "id": answer["id"],
        "object": "video",
        "created": int(T0),
        "model": "seedance_2_0_fast",
        "status": "queued",
        "error": None,
    }
    assert answer["id"].startswith("video_")


def test_newapi_create_answers_id_and_task_id(sim, http):
    answer = create(http, sim, "newapi", BODIES["newapi"]).json()
    assert answer["id"] == answer["task_id"]
    assert answer["task_id"].startswith("asyntask_")
    assert answer["object"] == "video"
    assert (answer["status"], answer["progress"], answer["created_at"]) == ("queued", 0, int(T0))


def test_ark_create_answers_the_id_alone(sim, http):
    answer = create(http, sim, "ark", BODIES["ark"]).json()
    assert list(answer) == ["id"]
    assert answer["id"].startswith("cgt-")


@pytest.mark.parametrize("kind", ["kyy", "newapi", "ark"])
def test_a_created_task_polls_from_queued_to_done_with_its_video(kind, http):
    clock = ScaledClock(3000)  # the model's 1-5 minutes pass in about 0.1 s
    with VideoHost(clock=clock) as host, Simulator(clock=clock, video_host=host) as sim:
        answer = create(http, sim, kind, BODIES[kind]).json()
        task_id = answer.get("task_id") or answer["id"]
        first = status_word(kind, status(http, sim, kind, task_id))
        assert first in {"queued", "QUEUED", "NOT_START", "processing", "running", "IN_PROGRESS"}
        deadline = time.monotonic() + 5
        while (word := status_word(kind, last := status(http, sim, kind, task_id))) not in (
            TERMINAL[kind]
        ):
            assert time.monotonic() < deadline, word
            time.sleep(0.02)
        video_url = {
            "kyy": lambda: last["video_url"],
            "newapi": lambda: last["data"]["result_url"],
            "ark": lambda: last["content"]["video_url"],
        }[kind]()
        assert http.get(video_url).status_code == 200
        assert sim.errors == []


def test_the_task_takes_its_settings_from_the_body(sim, clock, http):
    kyy = create(http, sim, "kyy", BODIES["kyy"]).json()["id"]
    newapi = create(http, sim, "newapi", BODIES["newapi"]).json()["id"]
    ark = create(http, sim, "ark", BODIES["ark"]).json()["id"]
    clock.advance(3600)
    assert status(http, sim, "kyy", kyy)["actualDuration"] == 8
    relay = status(http, sim, "newapi", newapi)["data"]
    assert relay["action"] == "firstTailGenerate"
    assert (relay["data"]["resolution"], relay["data"]["duration"]) == ("1080p", 10)
    assert status(http, sim, "ark", ark)["ratio"] == "1:1"


def test_generation_time_follows_the_models_table(sim, clock, http):
    task_id = create(http, sim, "kyy", BODIES["kyy"]).json()["id"]  # fast: 1-3 minutes
    clock.advance(59)
    assert status(http, sim, "kyy", task_id)["status"] in ("queued", "processing")
    clock.advance(122)
    assert status(http, sim, "kyy", task_id)["status"] == "completed"


# -- bad requests ---------------------------------------------------------------------------
@pytest.mark.parametrize("raw", [b"{not json", b'["model"]', b"\xff\xfe", b'{"prompt": "x"}'])
def test_bad_bodies_get_each_dialects_invalid_parameter(sim, http, raw):
    kyy = create(http, sim, "kyy", raw)
    newapi = create(http, sim, "newapi", raw)
    ark = create(http, sim, "ark", raw)
    assert (kyy.status_code, newapi.status_code, ark.status_code) == (400, 400, 400)
    assert kyy.json()["error"]["code"] == "invalid_parameter"
    assert newapi.json()["error"]["code"] == "invalid_parameter"
    assert ark.json()["error"]["code"] == "InvalidParameter"
    assert sim.created() == [] and sim.create_counts() == {}


def test_missing_model_names_the_parameter(sim, http):
    answer = create(http, sim, "ark", {"content": []}).json()["error"]
    assert answer["param"] == "model" and "model" in answer["message"]


def test_wrong_key_and_wrong_method(sim, http):
    refused = create(http, sim, "newapi", BODIES["newapi"], key="sk-wrong")
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "new_api_error"
    listed = http.get(sim.create_url("kyy"), headers=_auth(sim, "kyy"))
    assert (listed.status_code, listed.headers["Allow"]) == (405, "POST")
    posted = http.post(sim.provider_url("ark") + "/contents/generations/tasks/cgt-x", json={})
    assert (posted.status_code, posted.headers["Allow"]) == (405, "GET")
    assert sim.created() == []


def test_keep_alive_survives_posts_and_chunked_bodies_are_refused(sim, http):
    for _ in range(3):  # one pooled connection: every body was read in full
        assert create(http, sim, "kyy", BODIES["kyy"]).status_code == 200
    chunks = iter([json.dumps(BODIES["kyy"]).encode()])
    chunked = http.post(sim.create_url("kyy"), content=chunks, headers=_auth(sim, "kyy"))
    assert chunked.status_code == 411
    assert len(sim.created("kyy")) == 3


# -- faults ---------------------------------------------------------------------------------
def test_invalid_parameter_fault(sim, http):
    sim.faults.add(400, kind="newapi")
    answer = create(http, sim, "newapi", BODIES["newapi"])
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_parameter"
    assert sim.created() == []
    assert create(http, sim, "newapi", BODIES["newapi"]).status_code == 200  # count=1


def test_401_fault_on_create(sim, http):
    sim.faults.add(401, kind="ark", on="create")
    answer = create(http, sim, "ark", BODIES["ark"])
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "AuthenticationError"
    assert sim.created() == []


@pytest.mark.parametrize(
    ("kind", "http_status", "code"),
    [
        ("kyy", 402, "insufficient_quota"),
        ("newapi", 403, "quota_not_enough"),
        ("ark", 403, "AccountOverdueError"),
    ],
)
def test_quota_fault_answers_what_each_provider_sends(sim, http, kind, http_status, code):
    fault = sim.faults.add(status=402, kind=kind)
    answer = create(http, sim, kind, BODIES[kind])
    assert answer.status_code == http_status
    assert answer.json()["error"]["code"] == code
    assert fault.hits == 1 and sim.created() == []


def test_429_with_retry_after_on_create(sim, http):
    sim.faults.add(429, kind="kyy", on="create", retry_after=12.5)
    answer = create(http, sim, "kyy", BODIES["kyy"])
    assert (answer.status_code, answer.headers["Retry-After"]) == (429, "13")
    assert sim.created() == []


def test_create_faults_leave_polls_alone_and_poll_faults_leave_creates(sim, http):
    task_id = sim.add_task("kyy")
    sim.faults.add("quota", count=None)
    sim.faults.add(502, on="status", count=None)
    assert http.get(sim.provider_url("kyy") + f"/v1/result/{task_id}").status_code == 502
    assert create(http, sim, "kyy", BODIES["kyy"]).status_code == 402
    with pytest.raises(ValueError, match="after_create"):
        sim.faults.add(502, on="status", after_create=True)


def test_live_cap_answers_429_until_a_task_finishes(sim, clock, http):
    sim.shape_creates("ark", queue_s=10, run_s=50)
    sim.limit_live("ark", 2, retry_after=30)
    first = create(http, sim, "ark", BODIES["ark"])
    second = create(http, sim, "ark", {**BODIES["ark"], "seed": 2})
    third = create(http, sim, "ark", {**BODIES["ark"], "seed": 3})
    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429)
    assert third.headers["Retry-After"] == "30"
    assert third.json()["error"]["code"] == "RateLimitExceeded"
    assert sim.live_count("ark") == 2
    clock.advance(60)  # both done: the key has room again
    assert create(http, sim, "ark", {**BODIES["ark"], "seed": 3}).status_code == 200
    assert len(sim.created("ark")) == 3
    assert sim.peak_live("ark") == 2
    assert [r.status for r in sim.requests_for("ark", endpoint="create")] == [200, 200, 429, 200]


def test_live_cap_counts_every_task_of_the_key(sim, http):
    sim.add_task("kyy", queue_s=100, run_s=100)  # made elsewhere (the console, another app)
    sim.limit_live("kyy", 1)
    answer = create(http, sim, "kyy", BODIES["kyy"])
    assert answer.status_code == 429
    assert "Retry-After" not in answer.headers
    sim.limit_live("kyy", None)
    assert create(http, sim, "kyy", BODIES["kyy"]).status_code == 200


def test_a_5xx_after_create_made_the_task_anyway(sim, clock, http):
    sim.faults.add(502, kind="newapi", after_create=True)
    answer = create(http, sim, "newapi", BODIES["newapi"])
    assert answer.status_code == 502 and "Bad Gateway" in answer.text
    [record] = sim.created("newapi")
    assert sim.create_counts() == {fingerprint(BODIES["newapi"]): 1}
    clock.advance(3600)
    assert status(http, sim, "newapi", record.task_id)["data"]["status"] == "SUCCESS"
    [logged] = sim.requests_for("newapi", endpoint="create")
    assert (logged.status, logged.fault, logged.created_id) == (502, "502", record.task_id)


def test_a_hang_after_create_made_the_task_before_the_client_timed_out(sim, http):
    sim.faults.add("hang", kind="kyy", after_create=True, hang_s=1.0)
    with pytest.raises(httpx.ReadTimeout):
        http.post(sim.create_url("kyy"), json=BODIES["kyy"], headers=_auth(sim, "kyy"), timeout=0.3)
    assert sim.create_counts("kyy") == {fingerprint(BODIES["kyy"]): 1}  # while still hanging
    assert create(http, sim, "kyy", BODIES["kyy"]).status_code == 200  # others are answered
    assert list(sim.create_counts("kyy").values()) == [2]


def test_a_reset_after_create_made_the_task(sim, http):
    sim.faults.add("reset", kind="ark", after_create=True)
    with pytest.raises(httpx.TransportError):
        create(http, sim, "ark", BODIES["ark"])
    assert len(sim.created("ark")) == 1
    [logged] = sim.requests_for("ark", endpoint="create")
    assert (logged.status, logged.fault) == (None, "reset")


def test_a_refused_create_does_not_use_up_an_after_create_fault(sim, http):
    fault = sim.faults.add(500, kind="kyy", after_create=True)
    assert create(http, sim, "kyy", {"prompt": "no model"}).status_code == 400
    assert fault.hits == 0
    assert create(http, sim, "kyy", BODIES["kyy"]).status_code == 500
    assert fault.hits == 1 and len(sim.created()) == 1


def test_a_hang_before_create_makes_the_task_late(sim, http):
    sim.faults.add("hang", kind="kyy", on="create", hang_s=0.5)
    with pytest.raises(httpx.ReadTimeout):
        http.post(sim.create_url("kyy"), json=BODIES["kyy"], headers=_auth(sim, "kyy"), timeout=0.2)
    assert sim.created() == []
    deadline = time.monotonic() + 5
    while not sim.created():
        assert time.monotonic() < deadline
        time.sleep(0.02)


# -- counts and logs ------------------------------------------------------------------------
def test_counts_are_per_canonical_body(sim, http):
    body = BODIES["ark"]
    reordered = dict(reversed(list(body.items())))
    create(http, sim, "ark", body)
    http.post(  # the same body with other key order and whitespace
        sim.create_url("ark"),
        content=json.dumps(reordered, indent=2).encode(),
        headers=_auth(sim, "ark"),
    )
    create(http, sim, "ark", {**body, "seed": 9})
    assert sim.create_counts() == {fingerprint(body): 2, fingerprint({**body, "seed": 9}): 1}
    assert fingerprint(body).startswith("sha256:")


def test_sim_creates_endpoint_for_other_processes(sim, http):
    create(http, sim, "newapi", BODIES["newapi"])
    create(http, sim, "kyy", b"junk")
    before = len(sim.requests)
    answer = http.get(sim.base_url + "/_sim/creates").json()
    assert answer["counts"] == {fingerprint(BODIES["newapi"]): 1}
    assert [r["task_id"] for r in answer["created"]] == [sim.created()[0].task_id]
    assert [(r["kind"], r["status"]) for r in answer["requests"]] == [("newapi", 200), ("kyy", 400)]
    assert len(sim.requests) == before  # not a provider request
    assert http.post(sim.base_url + "/_sim/creates").status_code == 405
    assert http.get(sim.base_url + "/_sim/other").status_code == 404
    # A provider path never reaches it: every provider URL lives under its own prefix.
    provider = http.get(sim.provider_url("newapi") + "/_sim/creates", headers=_auth(sim, "newapi"))
    assert provider.status_code == 404 and "counts" not in provider.text


def test_create_log_and_window_counts(sim, clock, http):
    for step in (0, 10, 20, 70):
        clock.advance(step)
        create(http, sim, "kyy", {**BODIES["kyy"], "seed": step})
    create(http, sim, "kyy", b"{")  # a refused create still counts toward create_rate
    creates = sim.requests_for("kyy", endpoint="create")
    assert [r.ts - T0 for r in creates] == [0, 10, 30, 100, 100]
    assert sim.max_creates_in_window("kyy", window=60) == 3
    assert sim.max_creates_in_window("ark") == 0
    assert all(r.endpoint == "create" for r in creates)


def test_rate_limit_enforcement_counts_creates_with_polls(sim, http):
    task_id = sim.add_task("kyy")
    sim.enforce_rate_limit("kyy", 2, window=1.0)
    http.get(sim.provider_url("kyy") + f"/v1/result/{task_id}", headers=_auth(sim, "kyy"))
    create(http, sim, "kyy", BODIES["kyy"])
    limited = create(http, sim, "kyy", BODIES["kyy"])
    assert limited.status_code == 429
    assert len(sim.violations) == 1 and len(sim.created()) == 1


def test_shape_creates_sets_outcome_and_newapi_id_style(sim, clock, http):
    sim.shape_creates("newapi", count=1, outcome="failed", newapi_id="cgt", id_keys=("id",))
    answer = create(http, sim, "newapi", BODIES["newapi"]).json()
    assert answer["id"].startswith("cgt-") and "task_id" not in answer
    clock.advance(3600)
    assert status(http, sim, "newapi", answer["id"])["data"]["status"] == "FAILURE"
    second = create(http, sim, "newapi", BODIES["newapi"]).json()  # the rule is used up
    assert second["task_id"].startswith("asyntask_")
    with pytest.raises(ValueError):
        sim.shape_creates("newapi", newapi_id="uuid")
