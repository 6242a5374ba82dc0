"""`submit`, `requests` and `retry` through the real command line: in-process with
`main([...])` and, where only a process shows it, as a subprocess; the sending ones against the
simulator over loopback (short generation times), so the simulator's per-body create counts
prove that nothing was sent twice unless the user asked."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tui import output
from tui.cli import main
from tui.cli.requests_cmd import REQUEST_STATE_WORDS
from tui.core.model import Event
from tui.core.requests import RequestState
from tui.sim import Simulator, fingerprint

pytestmark = pytest.mark.slow  # real `submit --watch` and `retry` runs against the simulator

SECRET = "sk-submit-test-0123456789abcdef"
TRANSIENT = ("InternalServiceError", "The service encountered an unexpected internal error.")
POLICY = ("OutputVideoSensitiveContentDetected", "The output video may contain sensitive content.")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def kyy_body(n: int) -> dict[str, object]:
    return {"model": "seedance_2_0_fast", "prompt": f"shot {n}: a red kite", "duration": 5}


def newapi_body(n: int) -> dict[str, object]:
    return {
        "model": "doubao-seedance-2-0-260128",
        "content": [{"type": "text", "text": f"shot {n}: a paper boat"}],
        "duration": 5,
    }


def write_lines(path: Path, lines: list[object]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def requests_json(capsys: pytest.CaptureFixture[str], *extra: str) -> list[dict[str, object]]:
    code, out, err = run(["requests", "--json", *extra], capsys)
    assert code == 0, err
    return json.loads(out)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Two providers that are never called: `anyfast` has its key, `kyy` has none."""
    config = tmp_path / "config.toml"
    config.write_text(
        '[providers.anyfast]\nkind = "newapi"\nbase_url = "https://relay.invalid"\n'
        'api_key_env = "SUBMIT_TEST_NEWAPI"\n\n'
        '[providers.kyy]\nkind = "kyy"\nbase_url = "https://kyy.invalid"\n'
        'api_key_env = "SUBMIT_TEST_KYY"\n'
    )
    monkeypatch.setenv("SEEDANCE_TUI_CONFIG", str(config))
    monkeypatch.setenv("SEEDANCE_TUI_DB", str(tmp_path / "tasks.db"))
    monkeypatch.setenv("SUBMIT_TEST_NEWAPI", SECRET)
    monkeypatch.delenv("SUBMIT_TEST_KYY", raising=False)
    return {"config": config, "db": tmp_path / "tasks.db", "tmp": tmp_path}


@pytest.fixture
def sim_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Both providers on the simulator, polled briskly (call `fast(sim)` after any shapes of
    a test's own: the first rule that matches shapes a created task)."""
    from tui.sim.video_host import VideoHost

    keys = {"kyy": "sk-sim-kyy-submit", "newapi": "sk-sim-newapi-submit"}
    with VideoHost() as host, Simulator(keys=keys, video_host=host) as sim:
        config = tmp_path / "config.toml"
        common = "min_interval = 0.3\nmax_interval = 0.6\nrate_limit = 20\ntimeout = 2\n"
        config.write_text(
            f'[providers.kyy]\nkind = "kyy"\nbase_url = "{sim.provider_url("kyy")}"\n'
            f'api_key_env = "SUBMIT_SIM_KYY"\n{common}\n'
            f'[providers.anyfast]\nkind = "newapi"\nbase_url = "{sim.provider_url("newapi")}"\n'
            f'api_key_env = "SUBMIT_SIM_NEWAPI"\nmax_attempts = 2\n{common}\n'
            f'[download]\ndir = "{tmp_path / "videos"}"\n'
        )
        monkeypatch.setenv("SEEDANCE_TUI_CONFIG", str(config))
        monkeypatch.setenv("SEEDANCE_TUI_DB", str(tmp_path / "tasks.db"))
        monkeypatch.setenv("SUBMIT_SIM_KYY", keys["kyy"])
        monkeypatch.setenv("SUBMIT_SIM_NEWAPI", keys["newapi"])
        yield sim, {"config": config, "db": tmp_path / "tasks.db", "tmp": tmp_path}


def fast(sim: Simulator) -> None:
    """Tasks made by a create finish in a fraction of a second."""
    sim.shape_creates(queue_s=0.1, run_s=0.3)


# --- checking the input ---------------------------------------------------------------------


def test_every_bad_line_is_named_and_nothing_is_recorded(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = env["tmp"] / "bad.jsonl"
    good = json.dumps({"request": newapi_body(1), "provider": "anyfast", "name": "shot-001"})
    path.write_bytes(
        b"\n".join(
            [
                good.encode(),  # 1
                b"{not json",  # 2
                json.dumps({"prompt": "no model", "provider": "x"}).encode(),  # 3
                b"\xff\xfe\x00binary\x00junk",  # 4
                json.dumps({"model": "m", "prompt": "x" * (1 << 21)}).encode(),  # 5
                json.dumps({"request": newapi_body(6), "provider": "nope"}).encode(),  # 6
                json.dumps({"request": kyy_body(7), "provider": "kyy"}).encode(),  # 7: no key
                b"[1, 2]",  # 8
            ]
        )
    )
    code, out, err = run(["submit", "--yes", str(path)], capsys)
    assert code == 2 and out == ""
    for number, words in [
        (2, "not valid JSON"),
        (3, "no 'model'"),
        (4, "not UTF-8"),
        (5, "MB on one line"),
        (6, "unknown provider 'nope'"),
        (7, "SUBMIT_TEST_KYY"),
        (8, "must be a JSON object"),
    ]:
        assert any(f"line {number}: " in line and words in line for line in err.splitlines()), (
            number,
            err,
        )
    assert "line 1:" not in err
    assert "nothing recorded: fix the 7 bad line(s)" in err
    assert len(err) < 5000  # the huge line is not echoed back
    assert requests_json(capsys) == []


def test_several_providers_and_no_provider_named_is_exit_2_naming_them(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_lines(env["tmp"] / "plain.jsonl", [newapi_body(1)])
    code, _, err = run(["submit", "--yes", str(path)], capsys)
    assert code == 2 and "several are configured (anyfast, kyy)" in err
    code, _, err = run(["submit", "--yes", "--provider", "nope", str(path)], capsys)
    assert code == 2 and "unknown provider 'nope'" in err
    code, _, err = run(["submit", "--yes", str(env["tmp"] / "missing.jsonl")], capsys)
    assert code == 2 and "no such file" in err
    assert requests_json(capsys) == []


def test_a_real_process_reads_stdin_and_exits_2_on_a_bad_line(env: dict[str, Path]) -> None:
    sub = {**os.environ}
    lines = json.dumps(newapi_body(1)) + "\nnot json\n"
    result = subprocess.run(
        [sys.executable, "-m", "tui", "submit", "--provider", "anyfast", "-"],
        input=lines, capture_output=True, text=True, env=sub, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "stdin, line 2: not valid JSON" in result.stderr and SECRET not in result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "tui", "submit", "--provider", "anyfast", "-"],
        input=json.dumps(newapi_body(1)) + "\n", capture_output=True, text=True, env=sub,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0 and result.stdout == "recorded 1\n", result.stderr


# --- recording ------------------------------------------------------------------------------


def test_dry_run_prints_the_plan_and_records_nothing(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [newapi_body(n) for n in range(3)] + [
        {"request": {**newapi_body(9), "model": "doubao-seedance-1-5-pro-251215"}, "name": "x"}
    ]
    path = write_lines(env["tmp"] / "batch.jsonl", lines)
    code, out, _ = run(["submit", "--provider", "anyfast", "--dry-run", str(path)], capsys)
    assert code == 0
    assert "plan: 4 create request(s)" in out and "dry run: nothing recorded" in out
    rows = {tuple(line.split()) for line in out.splitlines()}
    assert ("anyfast", "doubao-seedance-2-0-260128", "3") in rows
    assert ("anyfast", "doubao-seedance-1-5-pro-251215", "1") in rows
    assert requests_json(capsys) == []


def test_the_same_file_twice_skips_every_line_and_again_records_copies(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    named = {"request": newapi_body(1), "provider": "anyfast", "name": "shot-001"}
    path = write_lines(env["tmp"] / "batch.jsonl", [named, newapi_body(2), newapi_body(2)])
    code, out, _ = run(["submit", "--provider", "anyfast", "--batch", "ads", str(path)], capsys)
    assert (code, out) == (
        0,
        "recorded 2, skipped 1 already submitted (use --again to send copies)\n",
    )
    code, out, _ = run(["submit", "--provider", "anyfast", "--batch", "ads", str(path)], capsys)
    assert (code, out) == (
        0,
        "recorded 0, skipped 3 already submitted (use --again to send copies)\n",
    )
    code, out, _ = run(["submit", "--provider", "anyfast", "--dry-run", str(path)], capsys)
    assert "3 already submitted: skipped (use --again to send copies)" in out
    code, out, _ = run(["submit", "--provider", "anyfast", "--again", str(path)], capsys)
    assert (code, out) == (0, "recorded 3\n")
    found = requests_json(capsys)
    assert len(found) == 5 and {r["state"] for r in found} == {"pending"}
    first = found[0]
    assert set(first) == {
        "provider", "fingerprint", "name", "batch", "state", "task_id", "attempt",
        "previous_id", "created_at", "sent_at", "answered_at", "http_status", "error", "body",
    }  # fmt: skip
    assert (
        first["name"] == "shot-001"
        and first["batch"] == "ads"
        and first["body"] == named["request"]
    )
    assert str(first["fingerprint"]).startswith("sha256:") and first["attempt"] == 1
    assert str(first["created_at"]).endswith("Z") and first["task_id"] is None
    assert requests_json(capsys, "--batch", "ads", "--state", "pending") == found[:2]
    code, out, _ = run(["requests"], capsys)
    assert code == 0 and "shot-001" in out and "5 requests: 5 pending" in out


def test_on_a_terminal_it_asks_first(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tui.cli.submit as submit

    path = write_lines(env["tmp"] / "batch.jsonl", [newapi_body(1), newapi_body(2)])
    monkeypatch.setattr(submit, "interactive", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    code, out, _ = run(["submit", "--provider", "anyfast", str(path)], capsys)
    assert code == 0 and "plan: 2 create request(s)" in out and "nothing recorded" in out
    assert requests_json(capsys) == []
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    code, out, _ = run(["submit", "--provider", "anyfast", str(path)], capsys)
    assert code == 0 and "recorded 2" in out
    monkeypatch.setattr("builtins.input", lambda prompt: pytest.fail("asked despite --yes"))
    code, out, _ = run(["submit", "--provider", "anyfast", "--yes", "--again", str(path)], capsys)
    assert code == 0 and "recorded 2" in out


def test_request_filters_refuse_typos(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["requests", "--state", "done"], capsys)
    assert code == 2 and "unknown request state 'done'" in err
    code, _, err = run(["requests", "--batch", "nope"], capsys)
    assert code == 2 and "no batch 'nope'" in err
    code, out, _ = run(["requests"], capsys)
    assert code == 0 and "no requests recorded yet" in out


def test_request_state_words_match_the_core() -> None:
    assert set(REQUEST_STATE_WORDS) == {str(s) for s in RequestState}


# --- sending: submit --watch, requests, retry, resend ---------------------------------------


def test_submit_watch_creates_polls_and_downloads_to_the_end(
    sim_env, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, env = sim_env
    fast(sim)
    lines = [{"request": kyy_body(n), "name": f"shot-{n:03d}"} for n in range(3)]
    path = write_lines(env["tmp"] / "kyy.jsonl", lines)
    code, out, err = run(
        ["submit", "--provider", "kyy", "--batch", "kites", "--yes", "--watch", "--timeout", "60",
         str(path)],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert out.splitlines()[0] == "recorded 3"
    assert sim.create_counts("kyy") == {fingerprint(line["request"]): 1 for line in lines}
    created = [line for line in out.splitlines() if " request " in line and "-> created" in line]
    assert len(created) == 3
    assert any(" kyy shot-000 " in line and "sending -> created video_" in line for line in created)
    assert "3 succeeded" in out.splitlines()[-1] and "downloads: 3 done" in out.splitlines()[-1]
    tasks = json.loads(run(["status", "--json"], capsys)[1])
    assert {t["batch"] for t in tasks} == {"kites"} and len(tasks) == 3
    assert all(t["download"]["state"] == "done" for t in tasks)
    assert sorted(t["request"]["name"] for t in tasks) == ["shot-000", "shot-001", "shot-002"]
    # nothing is sent again by a second run
    code, _, _ = run(["submit", "--provider", "kyy", "--batch", "kites", "--yes", "--watch",
                      "--no-download", str(path)], capsys)  # fmt: skip
    assert code == 0 and len(sim.created("kyy")) == 3


def test_submit_watch_exit_status_counts_rejected_requests(
    sim_env, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, env = sim_env
    sim.faults.add(400, kind="newapi")
    fast(sim)
    path = write_lines(env["tmp"] / "a.jsonl", [newapi_body(1), newapi_body(2)])
    argv = ["submit", "--provider", "anyfast", "--yes", "--watch", "--json", "--no-download",
            "--exit-status", "--timeout", "60", str(path)]  # fmt: skip
    code, out, err = run(argv, capsys)
    assert code == 1, err
    assert "recorded 2" in err and "1 request(s) rejected or uncertain" in err
    events = [json.loads(line) for line in out.splitlines()]  # stdout: only the events
    rejected = [e for e in events if e["event"] == "request" and e["to"] == "rejected"]
    assert len(rejected) == 1 and rejected[0]["http_status"] == 400
    assert rejected[0]["error"]["code"] == "invalid_parameter"
    assert events[-1]["event"] == "summary" and events[-1]["counts"] == {"succeeded": 1}
    [bad] = requests_json(capsys, "--state", "rejected")
    assert bad["error"]["message"] and bad["task_id"] is None


def test_retry_sends_transient_failures_again_linked_to_the_attempt_before(
    sim_env, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, env = sim_env
    sim.shape_creates(
        "newapi", count=1, outcome="failed", failure=TRANSIENT, queue_s=0.1, run_s=0.2
    )
    sim.shape_creates("newapi", count=1, outcome="failed", failure=POLICY, queue_s=0.1, run_s=0.2)
    fast(sim)
    path = write_lines(
        env["tmp"] / "a.jsonl",
        [{"request": newapi_body(1), "name": "flaky"}, {"request": newapi_body(2), "name": "nsfw"}],
    )
    watch = ["--no-download", "--timeout", "60"]
    code, _, err = run(["submit", "--provider", "anyfast", "--yes", "--watch", *watch, str(path)],
                       capsys)  # fmt: skip
    assert code == 0, err
    first = {r["name"]: r for r in requests_json(capsys)}
    assert first["flaky"]["state"] == first["nsfw"]["state"] == "created"
    added = sim.add_task("newapi", queue_s=0.0, run_s=0.0, outcome="failed", failure=TRANSIENT)
    run(["add", "--provider", "anyfast", added], capsys)
    run(["watch", *watch], capsys)

    code, out, err = run(["retry", "--yes"], capsys)
    assert code == 0, err
    assert "1 task(s) will be retried (attempt 2: 1)" in out and "2 skipped:" in out
    assert "not a transient failure (OutputVideoSensitiveContentDetected" in out
    assert "pass --all" in out and "added by id" in out and "recorded 1 retry" in out
    code, _, err = run(["watch", *watch], capsys)
    assert code == 0, err
    chain = [r for r in requests_json(capsys) if r["name"] == "flaky"]
    assert [(r["attempt"], r["previous_id"]) for r in chain] == [
        (1, None), (2, first["flaky"]["task_id"]),
    ]  # fmt: skip
    assert chain[1]["state"] == "created" and chain[1]["fingerprint"] == chain[0]["fingerprint"]
    tasks = {t["id"]: t for t in json.loads(run(["status", "--json"], capsys)[1])}
    retried = tasks[str(chain[1]["task_id"])]
    assert retried["state"] == "succeeded"
    assert retried["request"] == {
        "name": "flaky", "fingerprint": chain[0]["fingerprint"], "attempt": 2,
        "previous_id": first["flaky"]["task_id"],
    }  # fmt: skip

    code, out, err = run(["retry", "--yes", added], capsys)
    assert code == 1 and "added by id: no stored request" in out
    code, out, _ = run(["retry", "--yes", "--all", str(first["nsfw"]["task_id"])], capsys)
    assert code == 0 and "1 task(s) will be retried (attempt 2: 1)" in out
    code, out, _ = run(["retry", "--yes", str(first["flaky"]["task_id"])], capsys)
    assert code == 1 and "succeeded, not failed" in out  # its chain's newest attempt worked


def test_retry_stops_at_max_attempts(sim_env, capsys: pytest.CaptureFixture[str]) -> None:
    sim, env = sim_env
    sim.shape_creates(
        "newapi", count=2, outcome="failed", failure=TRANSIENT, queue_s=0.1, run_s=0.2
    )
    fast(sim)
    path = write_lines(env["tmp"] / "a.jsonl", [newapi_body(1)])
    watch = ["--no-download", "--timeout", "60"]
    run(["submit", "--provider", "anyfast", "--yes", "--watch", *watch, str(path)], capsys)
    assert run(["retry", "--yes"], capsys)[0] == 0
    run(["watch", *watch], capsys)
    code, out, _ = run(["retry", "--yes"], capsys)  # max_attempts = 2 at anyfast
    assert code == 1 and "already tried 2 times (max_attempts = 2)" in out
    assert len(sim.created("newapi")) == 2


def test_uncertain_requests_are_loud_and_resent_only_when_asked(
    sim_env, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, env = sim_env
    sim.faults.add(502, kind="newapi", after_create=True)
    fast(sim)
    path = write_lines(env["tmp"] / "a.jsonl", [{"request": newapi_body(1), "name": "maybe"}])
    argv = ["submit", "--provider", "anyfast", "--yes", "--watch", "--no-download",
            "--exit-status", "--timeout", "60", str(path)]  # fmt: skip
    code, out, err = run(argv, capsys)
    assert code == 1, err
    assert any(
        "maybe  sending -> uncertain" in line and "HTTP 502" in line for line in out.splitlines()
    )
    code, out, _ = run(["requests"], capsys)
    assert "UNCERTAIN" in out and "!! 1 UNCERTAIN" in out and "--resend-uncertain" in out
    run(["watch", "--no-download", "--timeout", "30"], capsys)
    assert sim.create_counts("newapi") == {fingerprint(newapi_body(1)): 1}  # never by itself

    code, out, err = run(["submit", "--resend-uncertain", "--yes", "--watch", "--no-download",
                          "--exit-status", "--timeout", "60"], capsys)  # fmt: skip
    assert code == 0, err
    assert out.splitlines()[0] == "marked 1 uncertain request(s) pending again"
    [again] = requests_json(capsys)
    assert again["state"] == "created" and again["name"] == "maybe"
    assert sim.create_counts("newapi") == {fingerprint(newapi_body(1)): 2}  # the user asked
    code, out, _ = run(["submit", "--resend-uncertain", "--yes"], capsys)
    assert code == 0 and "no uncertain requests" in out
    code, _, err = run(["submit", "--resend-uncertain", str(path)], capsys)
    assert code == 2 and "takes no FILE" in err


def test_watch_sends_a_batch_that_has_no_task_yet(
    sim_env, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, env = sim_env
    fast(sim)
    path = write_lines(env["tmp"] / "a.jsonl", [kyy_body(1)])
    assert run(["submit", "--provider", "kyy", "--batch", "fresh", str(path)], capsys)[0] == 0
    code, out, err = run(["watch", "--batch", "fresh", "--no-download", "--timeout", "60"], capsys)
    assert code == 0, err
    assert "nothing to watch" not in err and "1 succeeded" in out.splitlines()[-1]


# --- what watch and export show -------------------------------------------------------------


def test_request_events_read_as_one_line_for_people() -> None:
    ts = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    data = {"fingerprint": "sha256:" + "ab" * 32, "name": "shot-012", "from": "sending",
            "to": "created", "id": "asyntask_1", "http_status": 200, "error": None}  # fmt: skip
    line = output.event_line(Event("request", "anyfast", "asyntask_1", data, ts=ts))
    assert line.endswith("request  anyfast shot-012  sending -> created asyntask_1")
    refused = {**data, "name": None, "to": "rejected", "id": None, "http_status": 400,
               "error": {"code": "InvalidParameter", "message": "bad \x1b[31mratio"}}  # fmt: skip
    line = output.event_line(Event("request", "anyfast", None, refused, ts=ts))
    assert "anyfast sha256:abababab  sending -> rejected  HTTP 400: InvalidParameter: bad" in line
    assert "\x1b" not in line


def test_csv_export_carries_the_request_chain() -> None:
    link = {"name": "shot-1", "fingerprint": "sha256:x", "attempt": 2, "previous_id": "cgt-1"}
    out = io.StringIO()
    objects = [
        {"provider": "ark", "id": "cgt-2", "request": link},
        {"provider": "ark", "id": "cgt-3", "request": None},
    ]
    output.write_csv_objects(out, objects)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[0]["request_name"] == "shot-1" and rows[0]["request_attempt"] == "2"
    assert (
        rows[0]["request_previous_id"] == "cgt-1" and rows[0]["request_fingerprint"] == "sha256:x"
    )
    assert rows[1]["request_name"] == "" and rows[1]["request_attempt"] == ""
    assert list(rows[0])[-4:] == [
        "request_name", "request_attempt", "request_previous_id", "request_fingerprint",
    ]  # fmt: skip


def test_watch_options_need_watch_and_a_running_poller_sends_instead(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from tui.core.lock import PollerLock

    path = write_lines(env["tmp"] / "a.jsonl", [newapi_body(1)])
    code, _, err = run(["submit", "--provider", "anyfast", "--json", "--timeout", "5", str(path)],
                       capsys)  # fmt: skip
    assert code == 2 and "--json, --timeout: only with --watch" in err
    lock = PollerLock(env["db"])
    lock.acquire("seedance-tui watch")
    try:
        code, _, err = run(["submit", "--provider", "anyfast", "--watch", str(path)], capsys)
        assert code == 2 and f"pid {os.getpid()} (`seedance-tui watch`) polls this store" in err
        assert requests_json(capsys) == []
        code, out, err = run(["submit", "--provider", "anyfast", str(path)], capsys)
        assert (code, out) == (0, "recorded 1\n")
        assert "polls this store: it sends them now" in err
    finally:
        lock.release()
