"""The `seedance-tui` command: every command in-process (`main(argv)`) over a real SQLite file,
and the parts only a real process shows (exit codes, start-up, imports, pipes) as subprocesses.
`watch`/`status --refresh`/`download` run against the real simulator over loopback."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tui.cli import main
from tui.core.lock import PollerLock
from tui.core.model import (
    Download,
    DownloadState,
    Event,
    Failure,
    State,
    Task,
    Tokens,
)
from tui.core.store import Store

SECRET = "sk-cli-test-0123456789abcdef"
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A config file with one provider of each kind, and a store path, through the environment."""
    config = tmp_path / "config.toml"
    config.write_text(
        '[providers.anyfast]\nkind = "newapi"\nbase_url = "https://relay.invalid"\n'
        'api_key_env = "CLI_TEST_NEWAPI"\n\n'
        '[providers.kyy]\nkind = "kyy"\nbase_url = "https://kyy.invalid"\n'
        'api_key_env = "CLI_TEST_KYY"\n\n'
        f'[download]\ndir = "{tmp_path / "videos"}"\n'
    )
    db = tmp_path / "tasks.db"
    monkeypatch.setenv("SEEDANCE_TUI_CONFIG", str(config))
    monkeypatch.setenv("SEEDANCE_TUI_DB", str(db))
    monkeypatch.setenv("CLI_TEST_NEWAPI", SECRET)
    monkeypatch.delenv("CLI_TEST_KYY", raising=False)
    return {"config": config, "db": db, "tmp": tmp_path}


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def seed(db: Path, tasks: list[Task]) -> None:
    """Put tasks in the store as the engine would leave them."""
    with Store.open(db) as store:
        for task in tasks:
            store.add_tasks(task.provider, [task.id], batch=task.batch, now=NOW)
            store.save(task)
            if task.download != Download():
                store.set_download(task.provider, task.id, task.download)


def finished(provider: str, task_id: str, **changes: object) -> Task:
    base = Task(
        provider=provider,
        id=task_id,
        state=State.SUCCEEDED,
        upstream_status="SUCCESS",
        model="doubao-seedance-2-0-260128",
        progress=100,
        created_at=NOW - timedelta(hours=2),
        finished_at=NOW - timedelta(hours=1),
        video_url=f"https://cdn.invalid/{task_id}.mp4",
        tokens=Tokens(total=108900, completion=108900),
        polls=3,
        last_polled_at=NOW,
        raw={"code": "success", "data": {"task_id": task_id, "status": "SUCCESS"}},
        added_at=NOW - timedelta(hours=2),
    )
    return base.evolve(**changes)


def cli(*args: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "tui", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


# --- the parser ---------------------------------------------------------------------------------


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    for name in ("demo", "add", "status", "watch", "export", "download", "remove", "config"):
        assert f"    {name} " in out
    assert "--paused" in out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["status", "--state", "done"], ["unknown state 'done'", "queued, running, succeeded"]),
        (["watch", "--timeout", "soon"], ["not a number of seconds"]),
        (["watch", "--timeout", "0"], ["must be above 0"]),
        (["watch", "--timeout", "-1"], ["argument --timeout: -1 must be above 0"]),
        (["watch", "--timeout=-0.5"], ["-0.5 must be above 0"]),
        (["watch", "--timeout=-inf"], ["-inf must be above 0"]),
        (["watch", "--timeout", "nan"], ["'nan' is not a number of seconds"]),
        (["watch", "--timeout", "NaN"], ["'NaN' is not a number of seconds"]),
        (["watch", "--timeout", "inf"], ["inf is not a finite number of seconds"]),
        (["watch", "--timeout", "1e999"], ["1e999 is not a finite number of seconds"]),
        (["export", "--format", "xml"], ["invalid choice: 'xml'"]),
        (["frobnicate"], ["invalid choice"]),
        (["remove"], ["nothing to remove: give ids, --file or a filter"]),
        (["demo", "--tasks", "0"], ["between 1 and 100000"]),
        (["demo", "--tasks", "-3"], ["between 1 and 100000"]),
        (["demo", "--tasks", "nan"], ["'nan' is not a whole number"]),
        (["config"], ["config needs an action"]),
    ],
)
def test_usage_errors_exit_2_and_say_what_to_fix(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str], argv: list[str], words: list[str]
) -> None:
    code, out, err = run(argv, capsys)
    assert code == 2
    assert out == ""
    for word in words:
        assert word in err


def test_config_and_db_are_accepted_before_and_after_the_command(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    other_db = tmp_path / "other.db"
    other_config = tmp_path / "elsewhere.toml"
    assert run(["--db", str(other_db), "add", "asyntask_before"], capsys)[0] == 0
    assert run(["add", "asyntask_after", "--db", str(other_db)], capsys)[0] == 0
    code, out, _ = run(["status", "--json", "--db", str(other_db)], capsys)
    assert [t["id"] for t in json.loads(out)] == ["asyntask_before", "asyntask_after"]
    code, out, _ = run(["--db", str(other_db), "status", "--json"], capsys)
    assert len(json.loads(out)) == 2
    # nothing went to the environment's store
    code, out, _ = run(["status", "--json"], capsys)
    assert json.loads(out) == []

    assert run(["--config", str(other_config), "config", "path"], capsys)[1].strip() == str(
        other_config
    )
    assert run(["config", "path", "--config", str(other_config)], capsys)[1].strip() == str(
        other_config
    )
    assert run(["config", "--config", str(other_config), "path"], capsys)[1].strip() == str(
        other_config
    )
    # after the command wins over before it
    code, out, _ = run(
        ["--config", "/nowhere/a.toml", "config", "path", "--config", "b.toml"], capsys
    )
    assert (code, out.strip()) == (0, "b.toml")


def test_config_path_defaults_to_the_environment(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["config", "path"], capsys)[1].strip() == str(env["config"])


# --- add ----------------------------------------------------------------------------------------


def test_add_picks_the_provider_by_prefix_and_counts_skips(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLI_TEST_KYY", SECRET)  # no missing-key warning: stderr stays empty
    code, out, err = run(["add", "video_a", "asyntask_b", "task_c", "--batch", "spring"], capsys)
    assert (code, out, err) == (0, "added 3 (kyy 1, anyfast 2)\n", "")
    code, out, _ = run(["add", "video_a", "asyntask_b", "asyntask_d"], capsys)
    assert (code, out) == (0, "added 1, skipped 2 already tracked\n")
    with Store.open(env["db"]) as store:
        tasks = {t.id: t for t in store.query()}
    assert {k: (t.provider, t.batch) for k, t in tasks.items()} == {
        "video_a": ("kyy", "spring"),
        "asyntask_b": ("anyfast", "spring"),
        "task_c": ("anyfast", "spring"),
        "asyntask_d": ("anyfast", None),
    }


def test_add_from_a_file_and_from_stdin(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ids_file = env["tmp"] / "ids.txt"
    ids_file.write_text(
        "# from the create calls\n"
        + json.dumps({"code": "success", "data": {"task_id": "asyntask_1"}})
        + "\n\nvideo_2\n"
        + json.dumps({"id": "video_3", "status": "queued"})
        + "\n"
    )
    code, out, _ = run(["add", "--file", str(ids_file)], capsys)
    assert (code, out) == (0, "added 3 (anyfast 1, kyy 2)\n")

    monkeypatch.setattr("sys.stdin", io.StringIO("asyntask_4\nvideo_2\n"))
    code, out, _ = run(["add", "--file", "-", "asyntask_5"], capsys)
    assert (code, out) == (0, "added 2, skipped 1 already tracked\n")
    with Store.open(env["db"]) as store:
        assert [t.id for t in store.query()] == [
            "asyntask_1", "video_2", "video_3", "asyntask_5", "asyntask_4",
        ]  # fmt: skip


def test_add_with_a_bad_line_adds_nothing_and_names_every_bad_line(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    ids_file = env["tmp"] / "ids.txt"
    ids_file.write_text('video_ok\nnot an id\n{"status": "queued"}\nvideo_fine\n../x\n')
    code, out, err = run(["add", "--file", str(ids_file)], capsys)
    assert code == 2 and out == ""
    assert f"{ids_file}, line 2: 'not an id': contains spaces" in err
    assert f"{ids_file}, line 3:" in err and "no id, task_id or data.task_id" in err
    assert f"{ids_file}, line 5: '../x'" in err
    assert "line 1" not in err and "line 4" not in err
    assert "nothing added: fix the 3 bad line(s)" in err
    assert "Traceback" not in err
    with Store.open(env["db"]) as store:
        assert store.query() == []


def test_add_bad_arguments_are_named_too(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["add", "video_a", "bad/id"], capsys)
    assert code == 2 and "argument 2: 'bad/id'" in err


def test_add_without_a_matching_provider_names_the_choices(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["add", "cgt-20260427-abc"], capsys)
    assert code == 2
    assert "has the id prefix of the ark dialect but no provider of that kind" in err
    assert "anyfast (newapi), kyy (kyy)" in err
    code, _, err = run(["add", "weird123"], capsys)
    assert code == 2 and "prefix names no dialect" in err and "--provider" in err
    code, _, err = run(["add", *(f"weird{n}" for n in range(25))], capsys)
    assert code == 2 and err.count("prefix names no dialect") == 20 and "(5 more like these)" in err
    code, _, err = run(["add", "--provider", "nope", "video_a"], capsys)
    assert code == 2 and "unknown provider 'nope'" in err and "anyfast, kyy" in err
    with Store.open(env["db"]) as store:
        assert store.query() == []


def test_add_with_several_providers_of_the_kind_asks_which(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    with env["config"].open("a") as handle:
        handle.write('\n[providers.relay2]\nkind = "newapi"\nbase_url = "https://r2.invalid"\n')
    code, _, err = run(["add", "asyntask_x"], capsys)
    assert code == 2
    assert "several providers could track it (anyfast, relay2)" in err
    code, out, _ = run(["add", "--provider", "relay2", "asyntask_x"], capsys)
    assert (code, out) == (0, "added 1\n")
    code, out, err = run(["add", "--provider", "relay2", "video_x"], capsys)
    assert code == 0 and "warning: 1 id(s) look like another dialect's" in err


def test_add_needs_ids(env: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["add"], capsys)
    assert code == 2 and "give task ids, or --file PATH" in err
    empty = env["tmp"] / "empty.txt"
    empty.write_text("# nothing yet\n\n")
    code, _, err = run(["add", "--file", str(empty)], capsys)
    assert code == 2 and "no task ids in the input" in err
    code, _, err = run(["add", "--file", str(env["tmp"] / "missing.txt")], capsys)
    assert code == 2 and "no such file" in err


# --- status -------------------------------------------------------------------------------------


@pytest.fixture
def stocked(env: dict[str, Path]) -> dict[str, Path]:
    seed(
        env["db"],
        [
            finished(
                "anyfast",
                "asyntask_done",
                batch="spring",
                tokens=Tokens(total=50638, completion=50638, super_resolution=114441),
                download=Download(DownloadState.DONE, "/v/asyntask_done.mp4", 1_048_576),
            ),
            finished(
                "anyfast",
                "asyntask_bad",
                state=State.FAILED,
                upstream_status="FAILURE",
                video_url=None,
                failure=Failure("InvalidParameter", "=HYPERLINK(\"x\") img_url must be set"),
                tokens=Tokens(),
            ),
            Task(provider="kyy", id="video_run", state=State.RUNNING, progress=40,
                 model="seedance_2_0_fast", created_at=NOW - timedelta(minutes=3),
                 raw={"status": "processing", "note": "中文 \x9b31m"}),
            Task(provider="kyy", id="video_q", batch="spring", added_at=NOW),
        ],
    )  # fmt: skip
    return env


def test_status_table_for_people(
    stocked: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["status"], capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == [
        "STATE", "ID", "PROVIDER", "BATCH", "MODEL", "PROGRESS", "AGE", "TOKENS", "DOWNLOAD",
        "FAILURE",
    ]  # fmt: skip
    rows = {line.split()[1]: line for line in lines[1:5]}
    assert "succeeded" in rows["asyntask_done"] and "100%" in rows["asyntask_done"]
    assert "114,441" in rows["asyntask_done"]  # the billed (super-resolution) tokens
    assert "done 1.0 MB" in rows["asyntask_done"]
    assert "2 hours" in rows["asyntask_done"]
    assert "40%" in rows["video_run"] and " minutes" in rows["video_run"]
    # columns line up: every row's ID starts where the header's does
    start = lines[0].index("ID")
    assert all(line[start - 2 : start] == "  " and line[start] != " " for line in lines[1:5])
    assert lines[5] == ""
    assert lines[6] == "4 tasks: 1 queued, 1 running, 1 succeeded, 1 failed"


def test_status_filters(stocked: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    def ids(*argv: str) -> list[str]:
        code, out, err = run(["status", "--json", *argv], capsys)
        assert code == 0, err
        return [t["id"] for t in json.loads(out)]

    assert ids("--state", "failed,succeeded") == ["asyntask_done", "asyntask_bad"]
    assert ids("--state", "live") == ["video_run", "video_q"]
    assert ids("--state", "Terminal") == ["asyntask_done", "asyntask_bad"]
    assert ids("--provider", "kyy") == ["video_run", "video_q"]
    assert ids("--batch", "spring") == ["asyntask_done", "video_q"]
    assert ids("--batch", "spring", "--provider", "kyy", "--state", "queued") == ["video_q"]
    assert ids("--state", "expired") == []


def test_status_filter_typos_exit_2_naming_what_exists(
    stocked: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["status", "--provider", "anyfst"], capsys)
    assert code == 2 and "unknown provider 'anyfst': use one of anyfast, kyy" in err
    code, _, err = run(["status", "--batch", "sprung"], capsys)
    assert code == 2 and "no batch 'sprung'" in err and "spring" in err
    # a configured provider with no tasks yet is not a typo
    with env_config_append(
        stocked["config"], '[providers.ark]\nkind = "ark"\nbase_url = "https://a.invalid"\n'
    ):
        code, out, _ = run(["status", "--json", "--provider", "ark"], capsys)
        assert (code, json.loads(out)) == (0, [])


class env_config_append:
    def __init__(self, path: Path, text: str) -> None:
        self.path, self.text = path, text

    def __enter__(self) -> None:
        self.before = self.path.read_text()
        self.path.write_text(self.before + "\n" + self.text)

    def __exit__(self, *exc: object) -> None:
        self.path.write_text(self.before)


def test_status_json_is_the_contract_task_object_with_raw(
    stocked: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["status", "--json"], capsys)
    assert code == 0
    tasks = {t["id"]: t for t in json.loads(out)}
    done = tasks["asyntask_done"]
    assert list(done) == list(finished("a", "b").to_json())
    assert done["raw"] == {
        "code": "success",
        "data": {"task_id": "asyntask_done", "status": "SUCCESS"},
    }
    assert done["download"] == {
        "state": "done", "path": "/v/asyntask_done.mp4", "bytes": 1048576, "error": None,
    }  # fmt: skip
    assert done["finished_at"].endswith("Z")
    # upstream text survives as data; a C1 control is escaped, never sent raw to a terminal
    assert tasks["video_run"]["raw"]["note"] == "中文 \x9b31m"
    assert "\x9b" not in out


def test_status_json_and_export_show_the_request_a_task_came_from(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from tui.core.request_lines import PlannedRequest
    from tui.core.request_store import mark_created, mark_sending, next_pending, record_requests
    from tui.core.requests import fingerprint

    body = {"model": "doubao-seedance-2-0-260128", "content": [{"type": "text", "text": "a"}]}
    fp = fingerprint("anyfast", body, "shot-012")
    seed(env["db"], [finished("anyfast", "asyntask_by_id")])
    with Store.open(env["db"]) as store:
        record_requests(
            store, [PlannedRequest(1, "anyfast", body, "shot-012", fp)], batch="ads", now=NOW
        )
        [request] = next_pending(store, "anyfast", NOW)
        mark_sending(store, request, NOW)
        mark_created(store, request, "asyntask_made", 200, NOW)
    expected = {"name": "shot-012", "fingerprint": fp, "attempt": 1, "previous_id": None}
    code, out, _ = run(["status", "--json"], capsys)
    tasks = {t["id"]: t for t in json.loads(out)}
    assert code == 0 and tasks["asyntask_made"]["request"] == expected
    assert tasks["asyntask_made"]["batch"] == "ads" and tasks["asyntask_by_id"]["request"] is None
    code, out, _ = run(["export", "--format", "jsonl"], capsys)
    exported = {t["id"]: t for t in map(json.loads, out.splitlines())}
    assert code == 0 and exported["asyntask_made"]["request"] == expected


def test_status_on_an_empty_store(env: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["status"], capsys)
    assert code == 0 and "no tasks tracked yet" in out
    code, out, _ = run(["status", "--json"], capsys)
    assert (code, json.loads(out)) == (0, [])


def test_status_table_lines_up_wide_characters_by_terminal_cell(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A CJK model name takes two cells a character: the columns after it still line up."""
    from tui.core.text_width import cell_width

    seed(env["db"], [finished("kyy", "video_wide", model="视频模型"), finished("kyy", "video_n")])
    code, out, _ = run(["status"], capsys)
    header, *rows = out.splitlines()[:3]
    assert code == 0 and "视频模型" in rows[0]
    progress_end = cell_width(header[: header.index("PROGRESS") + len("PROGRESS")])
    assert [cell_width(row[: row.index("100%") + 4]) for row in rows] == [progress_end] * 2


def test_watch_lines_on_a_terminal_are_cut_to_its_width(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui.cli.watch import print_event_line
    from tui.core.text_width import cell_width

    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    event = Event("state", "kyy", "video_" + "長" * 30, data={"from": "queued", "to": "running"})
    print_event_line(event, as_json=False)
    print_event_line(Event("poll", "kyy", "video_1"), as_json=False)
    cut, whole = capsys.readouterr().out.splitlines()
    assert cut.endswith("…") and cell_width(cut) <= 40 and "kyy video_長" in cut
    assert whole.endswith(" poll     kyy video_1")  # a line that fits is left whole


def test_status_table_never_prints_control_sequences(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    seed(env["db"], [Task(provider="kyy", id="video_evil", model="m\x1b]52;c;aGk=\x07\x1b[2Jx")])
    code, out, _ = run(["status"], capsys)
    assert code == 0 and "\x1b" not in out and "\x07" not in out
    assert "mx" in out


# --- export -------------------------------------------------------------------------------------


def test_export_csv_is_flat_and_spreadsheet_safe(
    stocked: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    target = stocked["tmp"] / "out.csv"
    code, out, err = run(["export", "--output", str(target)], capsys)  # format from the suffix
    assert code == 0 and out == "" and "exported 4 task(s)" in err
    rows = list(csv.DictReader(target.open(newline="")))
    assert [r["id"] for r in rows] == ["asyntask_done", "asyntask_bad", "video_run", "video_q"]
    assert "raw" not in rows[0] and "tokens" not in rows[0]
    assert rows[0]["tokens_super_resolution"] == "114441"
    assert rows[0]["download_state"] == "done" and rows[0]["download_bytes"] == "1048576"
    assert rows[0]["failure_code"] == "" and rows[0]["batch"] == "spring"
    assert rows[1]["failure_code"] == "InvalidParameter"
    assert rows[1]["failure_message"].startswith("'=HYPERLINK")  # not run as a formula
    assert rows[3]["download_state"] == "none" and rows[3]["progress"] == ""
    assert [p.name for p in target.parent.iterdir() if p.name.startswith("out.csv")] == ["out.csv"]


def test_export_json_and_jsonl(
    stocked: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["export"], capsys)  # JSON to stdout by default
    as_json = json.loads(out)
    assert code == 0 and len(as_json) == 4 and as_json[0]["raw"]["code"] == "success"
    code, out, _ = run(["export", "--format", "jsonl", "--state", "failed"], capsys)
    lines = [json.loads(line) for line in out.splitlines()]
    assert [t["id"] for t in lines] == ["asyntask_bad"]
    assert lines[0]["failure"]["code"] == "InvalidParameter"
    code, out, _ = run(["export", "--format", "csv", "--provider", "kyy"], capsys)
    assert out.splitlines()[0].startswith("provider,id,batch,state")
    assert len(out.splitlines()) == 3


def test_export_to_an_unwritable_place_says_so(
    stocked: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["export", "-o", str(stocked["tmp"] / "no" / "such" / "dir.json")], capsys)
    assert code == 2 and "cannot write it" in err and "Traceback" not in err


def test_a_failed_export_leaves_no_file_behind(
    stocked: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = stocked["tmp"] / "exports"
    (folder / "taken.json").mkdir(parents=True)  # a folder where the file should go
    code, _, err = run(["export", "-o", str(folder / "taken.json")], capsys)
    assert code == 2 and "cannot write it" in err
    assert [p.name for p in folder.iterdir()] == ["taken.json"]  # no temporary file left
    assert (folder / "taken.json").is_dir()


# --- remove -------------------------------------------------------------------------------------


def test_remove(stocked: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["remove", "video_q", "asyntask_bad", "video_never"], capsys)
    assert (code, out) == (0, "removed 2\n")
    assert "not tracked: video_never" in err
    with Store.open(stocked["db"]) as store:
        assert [t.id for t in store.query()] == ["asyntask_done", "video_run"]
    code, _, err = run(["remove", "a/b"], capsys)
    assert code == 2 and "not a task id" in err
    code, out, _ = run(["remove", "--provider", "kyy", "asyntask_done"], capsys)
    assert out == "removed 0\n"


# --- config -------------------------------------------------------------------------------------


def test_config_init_writes_0600_and_refuses_to_overwrite(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    target = env["tmp"] / "fresh" / "config.toml"
    code, out, _ = run(["config", "init", "--config", str(target)], capsys)
    assert (code, out) == (0, f"wrote {target}\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    target.write_text("# mine\n")
    code, _, err = run(["config", "init", "--config", str(target)], capsys)
    assert code == 2 and "exists already" in err and "--force" in err
    assert target.read_text() == "# mine\n"
    code, _, _ = run(["--config", str(target), "config", "init", "--force"], capsys)
    assert code == 0 and "[providers.anyfast]" in target.read_text()


def test_config_show_masks_keys(env: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["config", "show"], capsys)
    assert code == 0
    assert SECRET not in out
    assert "# $CLI_TEST_NEWAPI: set (sk-c…(masked))" in out
    assert "# $CLI_TEST_KYY: not set" in out
    env["config"].write_text(
        f'[providers.r]\nkind = "kyy"\nbase_url = "https://x.invalid"\napi_key = "{SECRET}"\n'
    )
    env["config"].chmod(0o600)
    code, out, _ = run(["config", "show"], capsys)
    assert code == 0 and SECRET not in out and 'api_key = "sk-c…(masked)"' in out


def test_config_show_without_a_file_shows_defaults(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    env["config"].unlink()
    code, out, err = run(["config", "show"], capsys)
    assert code == 0 and "[providers.anyfast]" in out and "built-in defaults" in err


def test_a_broken_config_is_exit_2_with_file_line_and_key(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    env["config"].write_text('[providers.r]\nkind = "kyy"\nbase_url = "https://x"\nrate_limt = 3\n')
    for argv in (["config", "show"], ["add", "video_a"], ["status", "--refresh"]):
        code, out, err = run(argv, capsys)
        assert (code, out) == (2, ""), argv
        assert f"{env['config']}, line 4, [providers.r]: unknown key 'rate_limt'" in err
        assert "did you mean rate_limit?" in err and "Traceback" not in err


def test_a_key_in_a_world_readable_config_is_refused(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    env["config"].write_text(
        f'[providers.r]\nkind = "kyy"\nbase_url = "https://x"\napi_key = "{SECRET}"\n'
    )
    env["config"].chmod(0o644)
    code, _, err = run(["config", "show"], capsys)
    assert code == 2 and f"chmod 600 {env['config']}" in err and SECRET not in err


# --- store and lock errors ----------------------------------------------------------------------


def test_a_file_that_is_not_a_store_is_exit_2_without_traceback(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    env["db"].write_text("this is not sqlite, it is a note to self\n" * 100)
    code, _, err = run(["status"], capsys)
    assert code == 2 and "not a seedance-tui store" in err and "Traceback" not in err


def test_watch_while_another_process_polls_names_the_holder(
    stocked: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    lock = PollerLock(stocked["db"])
    lock.acquire("seedance-tui watch")
    try:
        code, out, err = run(["watch", "--no-download"], capsys)
        assert code == 2
        assert f"pid {os.getpid()}" in err and "seedance-tui watch" in err
        assert "stop it" in err
        code, _, err = run(["download"], capsys)
        assert code == 2 and f"pid {os.getpid()}" in err
        # status --refresh still shows the store, which the holder keeps fresh
        code, out, err = run(["status", "--refresh", "--json"], capsys)
        assert code == 0 and "not refreshing" in err and len(json.loads(out)) == 4
    finally:
        lock.release()


# --- processes: imports, start-up, pipes, terminals -----------------------------------------------


# `python -m tui` started as a shell starts a foreground job: SIGINT at its default, whatever
# this test run inherited. A test run started with SIGINT ignored (a script's background job)
# would pass that on, and a process that starts with SIGINT ignored keeps ignoring it (see
# test_a_background_watch_ignores_the_ctrl_c_meant_for_its_script); a shell cannot undo it.
TUI_IN_FOREGROUND = [
    sys.executable,
    "-c",
    "import runpy, signal\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "runpy.run_module('tui', run_name='__main__', alter_sys=True)\n",
]


def _sub_env(env: dict[str, Path]) -> dict[str, str]:
    return {
        **os.environ,
        "SEEDANCE_TUI_CONFIG": str(env["config"]),
        "SEEDANCE_TUI_DB": str(env["db"]),
    }


def test_headless_commands_never_import_textual(stocked: dict[str, Path]) -> None:
    probe = (
        "import sys\n"
        "from tui.cli import main\n"
        "for argv in (['--help'], ['status'], ['status', '--json'], ['export', '--format', 'csv'],"
        " ['add', 'asyntask_probe'], ['config', 'show'], ['remove', 'asyntask_probe']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print('LOADED', bad, 'tui.app' in sys.modules, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=_sub_env(stocked)
    )
    assert result.returncode == 0, result.stderr
    assert "LOADED [] False" in result.stderr


def test_help_imports_almost_nothing(env: dict[str, Path]) -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "tui", "--help"],
        capture_output=True, text=True, env=_sub_env(env),
    )  # fmt: skip
    assert result.returncode == 0
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()}
    for heavy in ("textual", "rich", "httpx", "sqlite3", "asyncio", "humanize", "tomllib"):
        assert heavy not in imported, heavy


def test_exit_codes_from_a_real_process(env: dict[str, Path]) -> None:
    sub = _sub_env(env)
    assert cli("--help", env=sub).returncode == 0
    assert cli("--version", env=sub).stdout.startswith("seedance-tui ")
    bad = cli("status", "--state", "nope", env=sub)
    assert bad.returncode == 2 and "unknown state" in bad.stderr
    added = cli("add", "--file", "-", env=sub, stdin="asyntask_1\nvideo_2\nvideo_2\n")
    assert (added.returncode, added.stdout) == (0, "added 2 (anyfast 1, kyy 1)\n")


def test_status_into_a_closed_pipe_is_quiet(stocked: dict[str, Path]) -> None:
    seed(stocked["db"], [Task(provider="kyy", id=f"video_{n}") for n in range(3000)])
    result = subprocess.run(
        f"{sys.executable} -m tui status | head -n 1",
        shell=True, capture_output=True, text=True, env=_sub_env(stocked),
    )  # fmt: skip
    assert result.stdout.startswith("STATE")
    assert result.stderr == ""


def test_the_dashboard_needs_a_terminal(env: dict[str, Path]) -> None:
    for argv in ((), ("--paused",), ("demo",)):
        result = cli(*argv, env=_sub_env(env), stdin="")
        assert result.returncode == 2, result.stderr
        assert "needs a terminal" in result.stderr


# --- against the simulator ------------------------------------------------------------------------


@pytest.fixture
def sim_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from tui.sim import Simulator
    from tui.sim.video_host import VideoHost

    keys = {"kyy": "sk-sim-kyy-cli", "newapi": "sk-sim-newapi-cli"}
    with VideoHost() as host, Simulator(keys=keys, video_host=host) as sim:
        config = tmp_path / "config.toml"
        config.write_text(
            f'[providers.kyy]\nkind = "kyy"\nbase_url = "{sim.provider_url("kyy")}"\n'
            'api_key_env = "CLI_SIM_KYY"\nmin_interval = 0.3\nmax_interval = 0.6\n'
            "rate_limit = 20\ntimeout = 5\n\n"
            f'[providers.anyfast]\nkind = "newapi"\nbase_url = "{sim.provider_url("newapi")}"\n'
            'api_key_env = "CLI_SIM_NEWAPI"\nmin_interval = 0.3\nmax_interval = 0.6\n'
            "rate_limit = 20\ntimeout = 5\n\n"
            f'[download]\ndir = "{tmp_path / "videos"}"\n'
        )
        monkeypatch.setenv("SEEDANCE_TUI_CONFIG", str(config))
        monkeypatch.setenv("SEEDANCE_TUI_DB", str(tmp_path / "tasks.db"))
        monkeypatch.setenv("CLI_SIM_KYY", "sk-sim-kyy-cli")
        monkeypatch.setenv("CLI_SIM_NEWAPI", "sk-sim-newapi-cli")
        yield sim, {"config": config, "db": tmp_path / "tasks.db", "tmp": tmp_path}


def test_watch_prints_lines_for_people_and_a_summary(
    sim_env, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, env = sim_env
    ok = sim.add_task("kyy", queue_s=0.1, run_s=0.4, video_bytes=2048)
    bad = sim.add_task(
        "newapi", queue_s=0.1, run_s=0.3,
        failure=("InvalidParameter", "img_url must be set for image to video method"),
        outcome="failed",
    )  # fmt: skip
    assert run(["add", ok, bad], capsys)[0] == 0
    code, out, err = run(["watch", "--timeout", "30"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    failed = next(line for line in lines if bad in line and "-> failed" in line)
    assert " state " in failed and "anyfast" in failed
    assert "InvalidParameter: img_url must be set for image to video method" in failed
    assert any(ok in line and "-> succeeded" in line for line in lines)
    assert any(" download " in line and ok in line and "done" in line for line in lines)
    assert "summary" in lines[-1] and "1 succeeded, 1 failed" in lines[-1]
    assert "downloads: 1 done" in lines[-1]
    video = env["tmp"] / "videos" / "kyy" / f"{ok}.mp4"
    assert video.stat().st_size == 2048


def test_watch_json_exit_status_and_filters(sim_env, capsys: pytest.CaptureFixture[str]) -> None:
    sim, _ = sim_env
    ok = sim.add_task("kyy", queue_s=0.1, run_s=0.3)
    bad = sim.add_task("kyy", queue_s=0.1, run_s=0.3, outcome="failed", failure="nope")
    other = sim.add_task("newapi", queue_s=0.1, run_s=0.3)
    run(["add", "--batch", "one", ok, bad], capsys)
    run(["add", "--batch", "two", other], capsys)

    code, out, err = run(
        ["watch", "--json", "--exit-status", "--no-download", "--batch", "one"], capsys
    )
    assert code == 1, err
    events = [json.loads(line) for line in out.splitlines()]
    assert events[-1]["event"] == "summary"
    assert events[-1]["counts"] == {"succeeded": 1, "failed": 1}
    assert all(e.get("id") != other for e in events)
    states = [e for e in events if e["event"] == "state"]
    assert {(e["id"], e["to"]) for e in states} >= {(ok, "succeeded"), (bad, "failed")}
    assert all(e["ts"].endswith("Z") for e in events)

    code, out, _ = run(
        ["watch", "--json", "--exit-status", "--no-download", "--batch", "two"], capsys
    )
    assert code == 0
    assert json.loads(out.splitlines()[-1])["counts"] == {"succeeded": 1}


def test_watch_timeout_is_exit_3_and_keeps_what_it_saw(
    sim_env, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, env = sim_env
    slow = sim.add_task("kyy", queue_s=0.1, run_s=600)
    run(["add", slow], capsys)
    started = time.monotonic()
    code, out, err = run(["watch", "--timeout", "1.5", "--json"], capsys)
    assert code == 3, err
    assert time.monotonic() - started < 10
    assert "--timeout 1.5 s reached" in err
    assert json.loads(out.splitlines()[-1])["event"] == "summary"
    with Store.open(env["db"]) as store:
        task = store.get("kyy", slow)
    assert task is not None and task.polls >= 1 and task.state in (State.QUEUED, State.RUNNING)


def test_watch_when_every_provider_refuses_its_key_is_exit_2(
    sim_env, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, _ = sim_env
    task_id = sim.add_task("kyy", queue_s=0.1, run_s=60)
    run(["add", task_id], capsys)
    monkeypatch.setenv("CLI_SIM_KYY", "sk-wrong-key-000000")
    code, _, err = run(["watch", "--timeout", "30", "--no-download"], capsys)
    assert code == 2, err
    assert "refused its key" in err and "kyy:" in err
    assert "sk-wrong-key-000000" not in err

    monkeypatch.delenv("CLI_SIM_KYY")  # no key at all: the same answer, no request needed
    code, _, err = run(["watch", "--timeout", "30", "--no-download"], capsys)
    assert code == 2 and "CLI_SIM_KYY" in err


def test_status_refresh_polls_each_live_task_once(
    sim_env, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, _ = sim_env
    live = [sim.add_task("kyy", queue_s=0.0, run_s=600) for _ in range(3)]
    done = sim.add_task("newapi", queue_s=0.0, run_s=0.0)
    run(["add", *live, done], capsys)
    code, out, err = run(["status", "--refresh", "--json"], capsys)
    assert code == 0, err
    tasks = {t["id"]: t for t in json.loads(out)}
    assert all(tasks[i]["state"] == "running" and tasks[i]["polls"] == 1 for i in live)
    assert tasks[done]["state"] == "succeeded"
    assert sorted(r.task_id for r in sim.requests) == sorted([*live, done])
    # the terminal one is not asked again
    sim.clear_requests()
    time.sleep(0.35)  # past min_interval
    run(["status", "--refresh"], capsys)
    assert sorted(r.task_id for r in sim.requests) == sorted(live)


def test_status_refresh_says_why_a_provider_was_not_asked(
    sim_env, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, _ = sim_env
    task_id = sim.add_task("kyy", queue_s=0.0, run_s=600)
    run(["add", task_id], capsys)
    monkeypatch.delenv("CLI_SIM_KYY")
    code, out, err = run(["status", "--refresh", "--json"], capsys)
    assert code == 0 and json.loads(out)[0]["polls"] == 0
    assert "kyy: auth failed" in err and "CLI_SIM_KYY" in err
    assert not sim.requests


def test_download_fetches_what_is_not_on_disk(sim_env, capsys: pytest.CaptureFixture[str]) -> None:
    sim, env = sim_env
    a = sim.add_task("kyy", queue_s=0, run_s=0, video_bytes=1000)
    b = sim.add_task("newapi", queue_s=0, run_s=0, video_bytes=3000)
    live = sim.add_task("kyy", queue_s=0, run_s=600)
    run(["add", a, b, live], capsys)
    run(["status", "--refresh"], capsys)  # a and b finish; nothing downloaded yet
    sim.clear_requests()

    code, out, err = run(["download", "--exit-status"], capsys)
    assert code == 0, err
    assert "downloads: 2 done" in out.splitlines()[-1]
    assert not sim.requests  # downloading polls nobody
    video = env["tmp"] / "videos" / "kyy" / f"{a}.mp4"
    assert video.stat().st_size == 1000

    code, out, _ = run(["download"], capsys)
    assert "nothing to download" in out
    video.unlink()  # gone from disk: fetched again
    code, out, _ = run(["download", "--json"], capsys)
    events = [json.loads(line) for line in out.splitlines()]
    assert any(e["event"] == "download" and e["id"] == a and e["state"] == "done" for e in events)
    assert video.stat().st_size == 1000


def test_ctrl_c_exits_130_and_keeps_what_was_saved(sim_env) -> None:
    sim, env = sim_env
    slow = [sim.add_task("kyy", queue_s=0.0, run_s=600) for _ in range(3)]
    sub = {**os.environ}
    assert cli("add", *slow, env=sub).returncode == 0
    proc = subprocess.Popen(
        [*TUI_IN_FOREGROUND, "watch", "--json", "--no-download"],
        env=sub, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while len({r.task_id for r in sim.requests}) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert json.loads(out.splitlines()[-1])["event"] == "summary"
    with Store.open(env["db"]) as store:
        assert all(t.state is State.RUNNING and t.polls >= 1 for t in store.query())
    assert PollerLock(env["db"]).holder() is None  # the lock went with it


def test_a_background_watch_ignores_the_ctrl_c_meant_for_its_script(sim_env) -> None:
    """A script's `watch &` starts with SIGINT ignored (a shell without job control does that
    for background jobs, so Ctrl-C stops only the foreground); watch keeps it ignored, as Unix
    tools do, and still stops on SIGTERM with its lock released."""
    sim, env = sim_env
    slow = [sim.add_task("kyy", queue_s=0.0, run_s=600) for _ in range(2)]
    assert cli("add", *slow, env={**os.environ}).returncode == 0
    proc = subprocess.Popen(
        ["sh", "-c", 'trap "" INT; exec "$@"', "sh",
         sys.executable, "-m", "tui", "watch", "--json", "--no-download"],
        env={**os.environ}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while len({r.task_id for r in sim.requests}) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=2)  # still polling
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + signal.SIGTERM  # ended cleanly (issue 10.6), not killed
    assert "interrupted" not in err and "Traceback" not in err
    assert "stopped by SIGTERM" in err
    assert PollerLock(env["db"]).holder() is None


def test_watch_into_a_closed_pipe_stops_quietly(sim_env) -> None:
    """`watch | head -n 1`: the reader leaves while every line is already in the pipe and the
    tasks have hours to go; watch notices and stops instead of polling on for nobody."""
    sim, _ = sim_env
    slow = [sim.add_task("kyy", queue_s=0.0, run_s=600) for _ in range(5)]
    assert cli("add", *slow, env={**os.environ}).returncode == 0
    began = time.monotonic()
    proc = subprocess.Popen(
        f"{sys.executable} -m tui watch --json --no-download | head -n 1",
        shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ}, start_new_session=True,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # our own process group: no orphan left behind
            proc.communicate()
    assert time.monotonic() - began < 30  # it did not poll the 600 s tasks to the end
    assert json.loads(out)["event"] == "state"
    assert err == ""


def test_watch_lines_carry_no_terminal_sequences_from_upstream(
    sim_env, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, _ = sim_env
    nasty = sim.add_task("newapi", queue_s=0.0, run_s=0.2, outcome="failed", nasty=True)
    run(["add", nasty], capsys)
    for argv in (["watch", "--no-download"], ["status"], ["export", "--format", "csv"]):
        code, out, err = run(argv, capsys)
        assert code == 0, err
        assert not any(ch in out for ch in "\x1b\x07\x9b\x9d"), argv
    code, out, _ = run(["status", "--json"], capsys)
    failure = json.loads(out)[0]["failure"]
    assert failure["message"] and "\x1b" not in failure["message"]


def test_the_dashboard_writers_and_the_cli_export_agree(
    stocked: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The dashboard exports Task objects through `output.WRITERS`; the CLI streams the
    store's rows. Both must give the same task objects."""
    from tui import output

    with Store.open(stocked["db"]) as store:
        tasks = store.query(with_raw=True)
    for fmt in ("json", "jsonl", "csv"):
        _, cli_text, _ = run(["export", "--format", fmt], capsys)
        buffer = io.StringIO()
        assert output.WRITERS[fmt](buffer, tasks) == 4
        if fmt == "json":
            assert json.loads(buffer.getvalue()) == json.loads(cli_text)
        elif fmt == "jsonl":
            parsed = [json.loads(line) for line in buffer.getvalue().splitlines()]
            assert parsed == [json.loads(line) for line in cli_text.splitlines()]
        else:
            assert buffer.getvalue() == cli_text


@pytest.mark.parametrize("n", [0, 1, 511, 512, 513, 1500])
def test_json_writers_stream_in_batches_without_losing_a_separator(n: int) -> None:
    from tui import output

    texts = [json.dumps({"i": i}) for i in range(n)]
    buffer = io.StringIO()
    assert output.write_json_texts(buffer, iter(texts)) == n
    assert json.loads(buffer.getvalue()) == [{"i": i} for i in range(n)]
    buffer = io.StringIO()
    assert output.write_jsonl_texts(buffer, iter(texts)) == n
    assert buffer.getvalue() == "".join(text + "\n" for text in texts)


def test_an_http_error_line_says_each_thing_once() -> None:
    from tui import output
    from tui.core.model import Event

    gateway = Event(
        "http_error", "a", "task_1", {"status": 502, "message": "a: HTTP 502: Bad Gateway"}
    )
    assert output.event_detail(gateway) == "HTTP 502: Bad Gateway"
    limited = Event(
        "http_error",
        "a",
        "task_1",
        {"status": 429, "retry_after": 12.0, "message": "a: HTTP 429 rate limited (12 s); holding"},
    )
    assert output.event_detail(limited) == "HTTP 429 rate limited (12 s); holding"
    bare = Event(
        "http_error", "a", "task_1", {"status": 500, "retry_after": 3.0, "message": "timeout"}
    )
    assert output.event_detail(bare) == "HTTP 500 (retry after 3 s): timeout"


def test_core_warnings_reach_stderr_as_one_clean_line(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from tui.cli import log_to_stderr

    log_to_stderr.install()
    log_to_stderr.install()  # once only
    try:
        raise OSError("disk said \x1b[31mno\x1b[0m")
    except OSError:
        logging.getLogger("tui.core.engine").exception("could not store an event")
    logging.getLogger("tui.core.engine").info("not shown")
    err = capsys.readouterr().err
    assert err == "seedance-tui: error: could not store an event: OSError: disk said no\n"
