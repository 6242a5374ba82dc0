"""The CLI says what the dashboard says (issue 9, point 8): `status` shows why a task failed and
its batch, tokens count the same way, a config the user named must exist and be well formed for
every command that reads it, `add` warns about a provider without a key, and `remove` takes the
filters and `--file` but never removes everything by accident. Every test runs the real command
(`main(argv)` in-process, or `python -m tui`) over a real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tui.cli import main
from tui.cli.parser import STATE_WORDS
from tui.core.model import Failure, State, Task, Tokens
from tui.core.store import Store
from tui.core.text_width import cell_width

NOW = datetime.now(UTC).replace(microsecond=0)
LONG_MESSAGE = (
    "the prompt or the first frame was judged to break the content policy; change the image "
    "and try again with a different seed, request id 0123456789abcdef0123456789abcdef"
)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A config with a newapi provider (key set) and a kyy provider (key not set)."""
    config = tmp_path / "config.toml"
    config.write_text(
        '[providers.anyfast]\nkind = "newapi"\nbase_url = "https://relay.invalid"\n'
        'api_key_env = "TRUTH_NEWAPI"\n\n'
        '[providers.kyy]\nkind = "kyy"\nbase_url = "https://kyy.invalid"\n'
        'api_key_env = "TRUTH_KYY"\n'
    )
    monkeypatch.setenv("SEEDANCE_TUI_CONFIG", str(config))
    monkeypatch.setenv("SEEDANCE_TUI_DB", str(tmp_path / "tasks.db"))
    monkeypatch.setenv("TRUTH_NEWAPI", "sk-truth-0123456789")
    monkeypatch.delenv("TRUTH_KYY", raising=False)
    return {"config": config, "db": tmp_path / "tasks.db", "tmp": tmp_path}


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def seed(db: Path, tasks: list[Task]) -> None:
    with Store.open(db) as store:
        for task in tasks:
            store.add_tasks(task.provider, [task.id], batch=task.batch, now=NOW)
            store.save(task)


def tracked(db: Path) -> list[str]:
    with Store.open(db) as store:
        return sorted(t.id for t in store.query())


@pytest.fixture
def stocked(env: dict[str, Path]) -> dict[str, Path]:
    seed(
        env["db"],
        [
            Task(
                provider="anyfast", id="asyntask_done", batch="spring", state=State.SUCCEEDED,
                model="doubao-seedance-2-0-260128", progress=100, created_at=NOW,
                tokens=Tokens(total=50638, completion=50638, super_resolution=114441),
            ),
            Task(
                provider="anyfast", id="asyntask_bad", batch="spring", state=State.FAILED,
                created_at=NOW - timedelta(minutes=5),
                failure=Failure("InputImageSensitiveContentDetected", "\x1b[31m" + LONG_MESSAGE),
            ),
            Task(provider="kyy", id="video_run", batch="autumn", state=State.RUNNING),
            Task(provider="kyy", id="video_q", state=State.QUEUED),
            Task(
                provider="kyy", id="video_plain", state=State.FAILED,
                failure=Failure(None, "upstream timed out"), tokens=Tokens(total=108900),
            ),
        ],
    )  # fmt: skip
    return env


def table(out: str) -> tuple[str, dict[str, str]]:
    """The header and each row by its id (the table ends at the blank line before the counts)."""
    lines = out.split("\n\n")[0].splitlines()
    return lines[0], {line.split()[1]: line for line in lines[1:]}


# --- status: the failure and batch columns, tokens ----------------------------------------------


def test_status_shows_the_failure_cleaned_and_cut_and_the_batch(
    stocked: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["status"], capsys)
    assert code == 0 and err == ""
    header, rows = table(out)
    assert header.split()[3] == "BATCH" and header.split()[-1] == "FAILURE"
    assert "\x1b" not in out
    bad = rows["asyntask_bad"]
    failure = bad[header.index("FAILURE") :]
    # piped: the failure text is cut to 60 cells, with `…`, the code first as on the dashboard
    assert failure.startswith("InputImageSensitiveContentDetected: the prompt")
    assert failure.endswith("…") and cell_width(failure) == 60
    assert rows["video_plain"].endswith("  upstream timed out")  # no code: the message alone
    assert rows["video_run"].rstrip().endswith("-")  # no failure: nothing after the download
    assert bad[header.index("BATCH") :].startswith("spring ")
    assert rows["video_run"][header.index("BATCH") :].startswith("autumn ")
    assert rows["video_q"][header.index("BATCH") :].startswith("- ")


@pytest.mark.parametrize("columns", [80, 100, 120])
def test_status_on_a_terminal_cuts_the_failure_to_its_width(
    stocked: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    columns: int,
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    code, out, _ = run(["status", "--state", "failed"], capsys)
    header, rows = table(out)
    assert code == 0 and header.split()[-1] == "FAILURE"
    failure = rows["asyntask_bad"][header.index("FAILURE") :]
    assert max(cell_width(line) for line in out.splitlines()) == columns
    assert failure.endswith("…") and failure.startswith("InputImage")


def test_status_on_a_narrow_terminal_drops_columns_before_the_failure(
    stocked: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 80 columns a table of every task would leave the failure no room: as on the dashboard,
    other columns give way so that a failed row still says why."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    code, out, _ = run(["status"], capsys)
    header, rows = table(out)
    assert code == 0 and header.split()[:2] == ["STATE", "ID"] and "AGE" in header
    assert header.split()[-1] == "FAILURE" and "TOKENS" not in header
    assert max(cell_width(line) for line in out.splitlines()) <= 80
    failure = rows["asyntask_bad"][header.index("FAILURE") :]
    assert cell_width(failure) >= 30 and failure.startswith("InputImage")


def test_status_on_a_wide_terminal_shows_the_whole_failure(
    stocked: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    code, out, _ = run(["status", "--state", "failed"], capsys)
    assert code == 0
    assert out.splitlines()[1].endswith(f"InputImageSensitiveContentDetected: {LONG_MESSAGE}")


def test_status_leaves_out_columns_no_row_has_anything_in(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    seed(
        env["db"],
        [
            Task(provider="kyy", id="video_1", state=State.RUNNING, progress=40, model="m"),
            Task(provider="kyy", id="video_2", state=State.QUEUED, created_at=NOW),
        ],
    )
    code, out, _ = run(["status"], capsys)
    assert code == 0
    assert out.splitlines()[0].split() == ["STATE", "ID", "PROVIDER", "MODEL", "PROGRESS", "AGE"]
    header, rows = table(out)
    assert rows["video_2"][header.index("MODEL") :].startswith("- ")  # one row has none: "-"


def test_status_tokens_are_the_total_with_super_resolution_apart(
    stocked: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The dashboard's tokens column is `tokens.total`, its detail pane adds the super-resolution
    tokens apart: status shows both, the total first, never the SR count in its place."""
    code, out, _ = run(["status"], capsys)
    _, rows = table(out)
    assert code == 0
    assert " 50,638 (+114,441 SR)" in rows["asyntask_done"]
    assert " 108,900 " in rows["video_plain"] and "SR" not in rows["video_plain"]
    code, out, _ = run(["status", "--json", "--state", "succeeded"], capsys)
    assert json.loads(out)[0]["tokens"]["total"] == 50638


# --- the config: a named file must exist, and be well formed, for every command -------------------


COMMANDS_THAT_READ_THE_CONFIG = [
    ["status"],
    ["status", "--json"],
    ["export"],
    ["add", "video_x"],
    ["remove", "video_x"],
    ["watch", "--timeout", "1"],
    ["download"],
    ["config", "show"],
]


@pytest.mark.parametrize("argv", COMMANDS_THAT_READ_THE_CONFIG[:-1], ids=" ".join)
def test_a_config_named_by_option_that_does_not_exist_is_exit_2(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    missing = env["tmp"] / "typo.toml"
    code, out, err = run([*argv, "--config", str(missing)], capsys)
    assert (code, out) == (2, "")
    assert f"--config {missing}: no such file" in err
    assert f"seedance-tui config init --config {missing}" in err
    assert "leave --config out to use the built-in presets" in err
    assert not env["db"].exists()  # found out before the store is touched


def test_a_config_named_by_the_environment_that_does_not_exist_is_exit_2(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = env["tmp"] / "gone.toml"
    monkeypatch.setenv("SEEDANCE_TUI_CONFIG", str(missing))
    code, _, err = run(["status"], capsys)
    assert code == 2 and f"$SEEDANCE_TUI_CONFIG names {missing}, which does not exist" in err
    assert "unset SEEDANCE_TUI_CONFIG" in err
    # `config path` says where it would be; `config init` creates it; then status works
    assert run(["config", "path"], capsys)[:2] == (0, f"{missing}\n")
    assert run(["config", "init"], capsys)[0] == 0 and missing.exists()
    assert run(["status"], capsys)[0] == 0


def test_without_a_named_config_the_default_path_may_be_absent(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SEEDANCE_TUI_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(env["tmp"] / "xdg"))  # nothing there
    monkeypatch.setenv("HOME", str(env["tmp"]))  # platformdirs on macOS: ~/Library/...
    code, out, _ = run(["status"], capsys)
    assert code == 0 and "no tasks tracked yet" in out


@pytest.mark.parametrize("argv", COMMANDS_THAT_READ_THE_CONFIG, ids=" ".join)
def test_every_command_that_reads_the_config_rejects_a_malformed_one(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    env["config"].write_text('[providers.r]\nkind = "kyy"\nbase_url = 5\n')
    code, out, err = run(argv, capsys)
    assert (code, out) == (2, "")
    assert f"{env['config']}, line 3, [providers.r]: base_url = 5" in err


def test_a_missing_config_from_a_real_process(env: dict[str, Path]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tui", "status", "--config", str(env["tmp"] / "nope.toml")],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "SEEDANCE_TUI_DB": str(env["db"])},
    )  # fmt: skip
    assert result.returncode == 2 and result.stdout == ""
    assert "no such file" in result.stderr and "config init --config" in result.stderr


# --- add: a provider without a key ----------------------------------------------------------------


def test_add_warns_once_per_provider_without_a_key_and_still_adds(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["add", "video_a", "video_b", "asyntask_c"], capsys)
    assert (code, out) == (0, "added 3 (kyy 2, anyfast 1)\n")
    assert err.splitlines() == [
        "seedance-tui: warning: TRUTH_KYY is not set: these kyy tasks will not be polled "
        "until it is"
    ]
    assert tracked(env["db"]) == ["asyntask_c", "video_a", "video_b"]
    code, _, err = run(["add", "asyntask_d"], capsys)  # anyfast has its key: nothing to say
    assert (code, err) == (0, "")


# --- remove: filters, --file, nothing matched, never everything -----------------------------------


def test_remove_alone_is_refused_and_removes_nothing(
    stocked: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["remove"], capsys)
    assert (code, out) == (2, "") and "give ids, --file or a filter" in err
    assert len(tracked(stocked["db"])) == 5


def test_remove_by_filter(stocked: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["remove", "--state", "failed"], capsys)
    assert (code, out, err) == (0, "removed 2\n", "")
    assert tracked(stocked["db"]) == ["asyntask_done", "video_q", "video_run"]
    code, out, _ = run(["remove", "--provider", "kyy", "--batch", "autumn"], capsys)
    assert (code, out) == (0, "removed 1\n")
    assert tracked(stocked["db"]) == ["asyntask_done", "video_q"]


def test_remove_ids_and_filters_together_remove_only_what_matches_both(
    stocked: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["remove", "--state", "failed", "asyntask_bad", "video_run"], capsys)
    assert (code, out) == (0, "removed 1\n")
    assert "not tracked matching the filters: video_run" in err
    assert "video_run" in tracked(stocked["db"])


def test_remove_says_when_nothing_matched(
    stocked: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["remove", "--state", "expired"], capsys)
    assert (code, out) == (1, "removed 0\n") and "nothing matched" in err
    code, _, err = run(["remove", "video_never"], capsys)
    assert code == 1 and "not tracked: video_never" in err and "nothing matched" in err
    assert len(tracked(stocked["db"])) == 5


def test_remove_reads_ids_from_a_file_and_from_stdin(
    stocked: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ids_file = stocked["tmp"] / "ids.txt"
    ids_file.write_text('# done with these\nvideo_q\n{"task_id": "asyntask_bad"}\n\n')
    code, out, _ = run(["remove", "--file", str(ids_file)], capsys)
    assert (code, out) == (0, "removed 2\n")
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO("video_run\n"))
    code, out, _ = run(["remove", "--file", "-", "video_plain"], capsys)
    assert (code, out) == (0, "removed 2\n")
    assert tracked(stocked["db"]) == ["asyntask_done"]


def test_remove_with_a_bad_line_or_an_empty_file_removes_nothing(
    stocked: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    ids_file = stocked["tmp"] / "ids.txt"
    ids_file.write_text("video_q\nnot/an/id\n")
    code, out, err = run(["remove", "--file", str(ids_file)], capsys)
    assert (code, out) == (2, "")
    assert f"{ids_file}, line 2: 'not/an/id'" in err and "nothing removed" in err
    # an empty file with a filter must not fall back to "every task the filter selects"
    ids_file.write_text("\n# nothing yet\n")
    code, _, err = run(["remove", "--file", str(ids_file), "--state", "failed"], capsys)
    assert code == 2 and "no task ids in the input" in err
    assert len(tracked(stocked["db"])) == 5


def test_remove_filter_typos_are_exit_2(
    stocked: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["remove", "--batch", "sprung"], capsys)
    assert code == 2 and "no batch 'sprung'" in err
    code, _, err = run(["remove", "--state", "done"], capsys)
    assert code == 2 and "unknown state 'done'" in err
    assert len(tracked(stocked["db"])) == 5


# --- the state words --------------------------------------------------------------------------


def test_the_parsers_state_words_are_the_models_states() -> None:
    """parser.py keeps its own tuple (importing the model costs start-up time): the same words,
    in the same order, as tui.core.model.State."""
    assert tuple(state.value for state in State) == STATE_WORDS
