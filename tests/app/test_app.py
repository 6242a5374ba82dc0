"""The dashboard end to end: press the keys, read the screen, the store and the files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import INVALID, NASTY, Dash, applied, notifications, screen_text, settle, wait_until
from textual.command import CommandPalette
from textual.widgets import Input, TextArea

from tui.app.app import EXIT_HANGUP, SeedanceApp
from tui.app.screens.add_tasks import AddTasksScreen
from tui.app.screens.confirm import ConfirmScreen
from tui.app.screens.export import ExportScreen
from tui.app.screens.help import HelpScreen
from tui.core.clean import clean_line
from tui.core.clock import ScaledClock
from tui.core.config import ProviderConfig, UIConfig
from tui.core.lock import PollerLock
from tui.core.model import DownloadState, State, Task
from tui.sim import Simulator

SIZE = (140, 45)


def cursor_to(app: SeedanceApp, task_id: str) -> None:
    key = next(k for k in app.index if k[1] == task_id)
    assert app.table.move_cursor_to(key), f"{task_id} is not in the view"


# -- what the screen shows ------------------------------------------------------------------


async def test_start_shows_tasks_summary_and_log(make_dash) -> None:
    dash: Dash = make_dash()
    async with dash.app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(dash.app)
        assert "9 of 9 tasks" in text
        assert "7/9 finished" in text  # succeeded, cancelled, missing, 4 failed
        assert "failed 4" in text and "running 1" in text and "succeeded 1" in text
        assert "tokens 50.6k" in text and "super-res 114k" in text
        assert "PAUSED" in text
        assert "asyntask_ultra1" in text
        # the log shows the store's recent events, with the words `watch` prints
        assert "running -> failed" in text


async def test_summary_keeps_four_rows_at_80_columns(make_dash) -> None:
    """The progress bar gives way before anything wraps: PAUSED stays on the first line."""
    dash: Dash = make_dash()
    async with dash.app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        lines = screen_text(dash.app).splitlines()
        assert "7/9" in lines[0] and "‖ PAUSED (p resumes)" in lines[0]
        assert lines[1].split()[:2] == ["queued", "1"]
        assert lines[2].split()[0] == "tokens"
        assert lines[3].split()[0] == "anyfast"
        assert lines[4].startswith("─9 of 9 tasks")
        bar = lines[0].split()[0]
        assert set(bar) <= set("█▏▎▍▌▋▊▉░") and 10 <= len(bar) < 24
        await pilot.resize_terminal(120, 40)  # room again: the whole bar and every word
        await settle(pilot)
        first = screen_text(dash.app).splitlines()[0]
        assert len(first.split()[0]) == 24 and "7/9 finished" in first and "PAUSED" in first


async def test_tiny_terminal_gets_a_message_not_a_crash(make_dash) -> None:
    dash: Dash = make_dash()
    async with dash.app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        text = screen_text(dash.app)
        assert "at least 60×24" in text
        assert "This one is 60×20" in text
        await pilot.resize_terminal(100, 30)
        await settle(pilot)
        text = screen_text(dash.app)
        assert "at least 60×24" not in text
        assert "asyntask_ultra1" in text
        assert dash.app.is_running


# -- state filters, the filter box, the log -------------------------------------------------


async def test_number_keys_and_tab_filter_by_state(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        assert app.table.row_count == 4
        assert "4 of 9 tasks · state: failed" in screen_text(app)
        await pilot.press("2")  # live: running + queued
        await settle(pilot)
        assert app.table.row_count == 2
        await pilot.press("tab")  # live -> running
        await settle(pilot)
        assert app.table.view_spec.state_filter == "running"
        assert app.table.row_count == 1
        await pilot.press("shift+tab", "shift+tab")  # -> live -> all
        await settle(pilot)
        assert app.table.view_spec.state_filter == "all"
        assert app.table.row_count == 9


async def test_slash_filters_and_escape_clears(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"invalidparam")  # keys typed here never reach the bindings
        await settle(pilot)
        assert app.table.row_count == 3
        assert "filter: invalidparam" in screen_text(app)
        assert app.table.view_spec.state_filter == "all"  # the 'a', 'r', 'p'... did nothing
        assert not isinstance(app.screen, AddTasksScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert app.table.row_count == 9
        assert not app.dashboard.query_one("#filter").display


async def test_log_toggles_and_filters_by_level(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        panel = app.log_panel
        before = panel.lines()
        assert any("queued -> running" in line for line in before)
        await pilot.press("L")  # info -> warning
        await settle(pilot)
        assert panel.level == "warning"
        lines = panel.lines()
        assert lines and all(" inf " not in line for line in lines)
        assert any("-> failed" in line for line in lines)
        assert len(lines) < len(before)
        await pilot.press("L", "L")  # error -> debug
        assert panel.level == "debug"
        await pilot.press("l")
        await settle(pilot)
        assert not panel.display
        assert "queued -> running" not in screen_text(app)
        await pilot.press("l")
        await settle(pilot)
        assert panel.display


async def test_log_is_bounded(make_dash) -> None:
    from tui.core.model import Event

    dash: Dash = make_dash(log_lines=50)
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.log_panel.add_events(Event("notice", data={"message": f"line {n}"}) for n in range(500))
        await settle(pilot)
        lines = app.log_panel.lines()
        assert len(lines) == 50
        ours = [line for line in lines if " line " in line]
        assert ours[-1].endswith("line 499")
        assert "line 499" in screen_text(app)


async def test_an_80_column_log_shortens_long_ids_not_what_happened(make_dash) -> None:
    from tui.core.model import Event

    long_id = "video_90c192cf-d3ac-44af-8f21-ddb66cad4a26"
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.log_panel.add_events(
            [Event("state", "kyy", long_id, data={"from": "queued", "to": "running"})]
        )
        await settle(pilot)
        line = next(row for row in screen_text(app).splitlines() if "video_90c" in row)
        assert line.rstrip().endswith("queued -> running"), line
        assert "video_90c1" in line and "cad4a26" in line and "…" in line
        assert long_id in app.log_panel.lines()[-1]  # the whole id is kept, only drawn shorter


# -- actions on tasks -----------------------------------------------------------------------


async def test_x_asks_then_stops_tracking(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        cursor_to(app, "video_run1")
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "Stop tracking video_run1 at kyy?" in screen_text(app)
        await pilot.press("n")
        await settle(pilot)
        assert dash.store.get("kyy", "video_run1") is not None
        await pilot.press("x")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert dash.store.get("kyy", "video_run1") is None
        assert ("kyy", "video_run1") not in app.index
        assert app.table.row_count == 8
        assert "video_run1" not in screen_text(app).split("─log")[0]
        assert any("Stopped tracking 1 task" in n for n in notifications(app))


async def test_a_adds_pasted_ids_by_prefix(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, AddTasksScreen)
        area = app.screen.query_one(TextArea)
        area.text = "\n".join(
            [
                "asyntask_new1",
                '{"code": "success", "data": {"task_id": "asyntask_new2"}}',
                "# a comment",
                "video_new3",
                "video_run1",  # already tracked: skipped
            ]
        )
        app.screen.query_one("#batch", Input).value = "ads"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, AddTasksScreen)
        assert dash.store.get("anyfast", "asyntask_new1").batch == "ads"
        assert dash.store.get("anyfast", "asyntask_new2") is not None
        assert dash.store.get("kyy", "video_new3") is not None
        assert ("kyy", "video_new3") in app.index
        assert any("Added 3 tasks; 1 already tracked" in n for n in notifications(app))


async def test_a_with_a_bad_line_adds_nothing_and_names_it(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        app.screen.query_one(TextArea).text = "asyntask_ok1\nnot an id\ncgt-unknown-kind"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, AddTasksScreen)
        text = screen_text(app)
        assert "Nothing added" in text
        assert "line 2" in text and "contains spaces" in text
        assert dash.store.get("anyfast", "asyntask_ok1") is None
        # the prefix rule: cgt- is an ark id and no ark provider is configured
        app.screen.query_one(TextArea).text = "asyntask_ok1\ncgt-2026"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "no such provider is configured" in screen_text(app)
        assert dash.store.get("anyfast", "asyntask_ok1") is None
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, AddTasksScreen)


async def test_p_pauses_and_resumes(make_dash) -> None:
    dash: Dash = make_dash(paused=False)
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert not app.engine.paused
        assert "PAUSED" not in screen_text(app)
        await pilot.press("p")
        await settle(pilot)
        assert app.engine.paused
        assert "PAUSED" in screen_text(app)
        await pilot.press("p")
        await settle(pilot)
        assert not app.engine.paused
        assert "PAUSED" not in screen_text(app)


async def test_r_polls_the_selected_task_now(tmp_path, make_dash) -> None:
    clock = ScaledClock(1.0)
    with Simulator(clock=clock) as sim:
        task_id = sim.add_task("kyy", queue_s=0, run_s=3600, model="seedance_2_0")
        providers = {
            "kyy": ProviderConfig(
                "kyy",
                "kyy",
                sim.provider_url("kyy"),
                api_key=sim.key("kyy"),
                min_interval=1.0,
                max_interval=600.0,
            ),
        }
        from datetime import UTC, datetime

        just_polled = datetime.fromtimestamp(clock.now() - 2, UTC)
        task = Task(
            "kyy",
            task_id,
            state=State.RUNNING,
            model="seedance_2_0",
            polls=1,
            last_polled_at=just_polled,
            created_at=just_polled,
        )
        dash: Dash = make_dash([task], providers=providers, clock=clock, paused=False)
        app = dash.app
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert sim.requests_for(task_id=task_id) == []  # next regular poll is far away
            await pilot.press("r")
            await wait_until(pilot, lambda: bool(sim.requests_for(task_id=task_id)), timeout=5)
            assert sim.requests_for(task_id=task_id), "r did not poll the task"
            assert any(task_id in n and "polling" in n for n in notifications(app))


async def test_copy_keys_use_osc52_and_a_file(make_dash, monkeypatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("TERM_PROGRAM", raising=False)
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        cursor_to(app, "asyntask_ultra1")
        await pilot.press("c")
        assert app.clipboard == "asyntask_ultra1"
        assert dash.clipboard_file.read_text().strip() == "asyntask_ultra1"
        assert oct(dash.clipboard_file.stat().st_mode & 0o777) == "0o600"
        assert any(str(dash.clipboard_file) in n and "OSC 52" in n for n in notifications(app))
        await pilot.press("u")
        assert app.clipboard == "https://cdn.example/v/ultra1.mp4?X-Tos-Expires=86400"
        await pilot.press("y")
        body = json.loads(dash.clipboard_file.read_text())
        assert body["data"]["data"]["usage"]["super_resolution_tokens"] == 114441
        cursor_to(app, "video_queue1")
        await pilot.press("u")
        assert any("has no video URL" in n for n in notifications(app))


async def test_copy_fallback_says_where_the_text_is(make_dash, monkeypatch) -> None:
    monkeypatch.setenv("TERM", "linux")  # the Linux console has no clipboard
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        cursor_to(app, "video_nasty1")
        await pilot.press("y")
        message = notifications(app)[-1]
        assert "may not take OSC 52" in message
        assert str(dash.clipboard_file) in message
        assert json.loads(dash.clipboard_file.read_text())["error"] == NASTY


async def test_e_exports_the_current_view(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("6")  # failed only
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, ExportScreen)
        assert "4 tasks: the current view" in screen_text(app)
        path_input = app.screen.query_one("#path", Input)
        path_input.value = str(dash.tmp / "failed.csv")
        await pilot.click("#fmt-json")
        await settle(pilot)
        assert path_input.value == str(dash.tmp / "failed.json")  # the suffix follows
        path_input.focus()
        await pilot.press("enter")
        for _ in range(40):
            await settle(pilot)
            if (dash.tmp / "failed.json").exists():
                break
        data = json.loads((dash.tmp / "failed.json").read_text())
        assert sorted(t["id"] for t in data) == sorted(
            ["asyntask_bad0", "asyntask_bad1", "asyntask_bad2", "video_nasty1"]
        )
        assert data[0]["raw"] is not None
        await settle(pilot)
        assert any("Exported 4 tasks" in n for n in notifications(app))


async def test_e_csv_and_radio_switch_the_suffix(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        path_input = app.screen.query_one("#path", Input)
        assert path_input.value.endswith(".csv")
        path_input.value = str(dash.tmp / "all.csv")
        await pilot.press("enter")
        for _ in range(40):
            await settle(pilot)
            if (dash.tmp / "all.csv").exists():
                break
        lines = (dash.tmp / "all.csv").read_text().splitlines()
        assert lines[0].startswith("provider,id,")
        assert len(lines) == 10


async def test_help_lists_keys_with_user_remaps(make_dash) -> None:
    dash: Dash = make_dash(ui=UIConfig(keys={"pause": "ctrl+k", "nonsense": "z"}))
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert any("nonsense is not a binding id" in n for n in notifications(app))
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.query_one("#help-text").render().plain
        assert "Stop tracking" in text and "id: remove" in text
        assert "^k" in text  # the remapped pause key
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("p")  # no longer bound
        assert app.engine.paused  # (started paused; p would have resumed it)
        await pilot.press("ctrl+k")
        assert not app.engine.paused


async def test_ctrl_p_opens_the_palette_with_our_commands(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Theme" in titles and "Failures" in titles and "Export the view" in titles
        await pilot.press("ctrl+p")
        await settle(pilot)
        assert CommandPalette.is_open(app)
        await pilot.press(*"failures")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert app.dashboard.query_one("#switcher").current == "failures"


async def test_q_quits_and_releases_the_lock(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert PollerLock(dash.db_path).holder() is not None
        await pilot.press("q")
        await settle(pilot)
    assert app.return_code == 0
    assert PollerLock(dash.db_path).holder() is None


async def test_a_crashing_engine_is_reported_not_fatal(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app

    async def broken() -> None:
        raise RuntimeError("boom [/] \x1b[2J")

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.run_worker(broken(), group="engine", exit_on_error=False)
        await settle(pilot)
        assert app.is_running
        text = screen_text(app)
        assert "polling stopped: RuntimeError: boom [/]" in text
        assert "\x1b" not in text


# -- markup and escapes from upstream -------------------------------------------------------


async def test_nasty_upstream_text_is_shown_literally_everywhere(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        cursor_to(app, "video_nasty1")
        await pilot.press("enter")
        await settle(pilot)
        text = screen_text(app)
        assert "[/] [@click=app.quit]" in text
        assert "\x1b" not in text and "\x07" not in text
        svg = app.export_screenshot()
        assert "\x1b" not in svg and "@click=app.quit" in svg
        await pilot.press("escape", "f")
        await settle(pilot)
        text = screen_text(app)
        assert "]52;c" not in text and "SGVsbG8" not in text  # the OSC 52 is gone, not shown
        assert f"1×  {clean_line(NASTY)}" in text
        assert f"3×  InvalidParameter: {INVALID}" in text
        # clicking the literal text must not run the action
        await pilot.click("#failures", offset=(30, 1))
        await settle(pilot)
        assert app.is_running


# -- leaving when the terminal goes away ----------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from conftest import make_config, sample_tasks, seed_store
    from tui.app.app import SeedanceApp
    from tui.app.build import build_app
    from tui.core.clock import SystemClock
    from tui.core.store import Store

    tmp = Path({tmp!r})

    class ChildApp(SeedanceApp):
        def start_dashboard(self):
            super().start_dashboard()  # signal handlers are in place from here on
            (tmp / "ready").write_text("1")

    db = tmp / "tasks.db"
    store = Store.open(db)
    seed_store(store, sample_tasks())
    config = make_config(tmp)
    app = build_app(store, config, db, app_class=ChildApp, clock=SystemClock(), paused=True,
                    theme_save_path=None, watch_terminal={watch}, handle_signals=True)
    app.run({run_args})
    app.feed.lock.release()
    store.close()
    (tmp / "exited").write_text(str(app.return_code))  # only on the graceful path
    sys.exit(app.return_code or 0)
    """
)


def _child_script(tmp_path: Path, *, headless: bool, watch: bool) -> str:
    return _CHILD.format(
        tests=str(Path(__file__).parent),
        tmp=str(tmp_path),
        watch=watch,
        run_args="headless=True, size=(100, 30)" if headless else "",
    )


def _wait_ready(tmp_path: Path, drain: int | None = None, timeout: float = 30.0) -> None:
    """Wait for the child's marker file, reading its terminal meanwhile (a full pty blocks)."""
    import select
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (tmp_path / "ready").exists():
            return
        if drain is None:
            time.sleep(0.05)
            continue
        ready, _, _ = select.select([drain], [], [], 0.05)
        if ready:
            try:
                os.read(drain, 65536)
            except OSError:
                break
    raise AssertionError("the dashboard did not start")


def test_sighup_exits_cleanly_and_releases_the_lock(tmp_path: Path) -> None:
    script = _child_script(tmp_path, headless=True, watch=False)
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=Path(__file__).parents[2],
    )
    try:
        _wait_ready(tmp_path)
        assert PollerLock(tmp_path / "tasks.db").holder() is not None
        proc.send_signal(signal.SIGHUP)
        assert proc.wait(timeout=20) == EXIT_HANGUP
        assert (tmp_path / "exited").read_text() == str(EXIT_HANGUP)
        assert PollerLock(tmp_path / "tasks.db").holder() is None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_dropped_terminal_ends_the_dashboard(tmp_path: Path) -> None:
    """A real pty, as sshd gives one: closing its master end is what an SSH drop does."""
    import pty

    script = _child_script(tmp_path, headless=False, watch=True)
    pid, master = pty.fork()
    if pid == 0:  # the child: a session leader on the pty's slave end
        os.environ["TERM"] = "xterm-256color"
        os.chdir(Path(__file__).parents[2])
        os.execv(sys.executable, [sys.executable, "-c", script])
    try:
        import time

        _wait_ready(tmp_path, drain=master)
        assert PollerLock(tmp_path / "tasks.db").holder() is not None
        os.close(master)  # the terminal goes away
        master = -1
        end = time.monotonic() + 20
        status = None
        while time.monotonic() < end:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.1)
        assert status is not None and done, "the dashboard kept running without its terminal"
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == EXIT_HANGUP
        # left through app.run() returning, not through the last-resort watchdog
        assert (tmp_path / "exited").read_text() == str(EXIT_HANGUP)
        assert PollerLock(tmp_path / "tasks.db").holder() is None
    finally:
        if master >= 0:
            os.close(master)
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


# -- the demo ---------------------------------------------------------------------------------


async def test_demo_plays_a_batch_on_the_simulator() -> None:
    from tui.app.demo import DemoSession

    with DemoSession(tasks=40, speed=60) as session:
        app = session.build()
        async with app.run_test(size=SIZE) as pilot:

            def played() -> bool:
                counts = app.index.counts()
                done = app.stats.downloads[DownloadState.DONE]
                return bool(counts[State.SUCCEEDED] and counts[State.FAILED] and done)

            await wait_until(pilot, played, timeout=20)
            counts = app.index.counts()
            assert len(app.index) == 40
            assert counts[State.SUCCEEDED] > 0 and counts[State.FAILED] > 0
            assert app.stats.downloads[DownloadState.DONE] > 0, "no video was kept"
            await applied(pilot)  # one summary tick
            text = screen_text(app)
            assert " 0/40 finished" not in text  # (30/40 is fine)
            assert "anyfast-sim ok" in text or "anyfast-sim backing off" in text
            assert "req/s" in text
            # the simulator's keys reach the providers only as Authorization headers
            for kind in ("newapi", "kyy", "ark"):
                assert session.sim.key(kind) not in text
            assert all(r.auth_ok for r in session.sim.requests)
            await pilot.press("q")
        assert app.return_code == 0


def still_demo(tasks: int):
    """The demo on a frozen clock with its first answers in: nothing moves, same every run."""
    from tui.app.demo import DemoSession
    from tui.core.clock import FrozenClock

    return DemoSession(
        tasks=tasks,
        seed=11,
        clock=FrozenClock(1_777_288_500.0),
        prefill=True,
        app_options={"watch_terminal": False},
    )


async def test_demo_with_a_frozen_clock_draws_the_same_screen_twice() -> None:
    screens = []
    for _ in range(2):
        with still_demo(tasks=30) as session:
            app = session.build()
            async with app.run_test(size=(120, 40)) as pilot:
                from tui.app.screenshots import wait_ready

                await wait_ready(pilot)  # every provider answered once (not `idle` any more)
                await settle(pilot)
                text = screen_text(app)
                screens.append(text.split("─log")[0])  # the log carries wall-clock notices
            assert len(app.index) == 30
    assert screens[0] == screens[1]
    assert "30 of 30 tasks" in screens[0]


async def log_as_read(pilot, app: SeedanceApp) -> list[str]:
    """Every line of the log panel as the screen shows it, scrolled through from the top."""
    panel = app.log_panel
    total = len(panel.lines())
    seen: dict[int, str] = {}
    for _ in range(200):
        if len(seen) >= total:
            break
        top = min(i for i in range(total) if i not in seen)
        panel.scroll_to(y=top, animate=False)
        await settle(pilot)
        region = panel.scrollable_content_region
        rows = screen_text(app).splitlines()[region.y : region.bottom]
        offset = round(panel.scroll_y)
        for i, row in enumerate(rows):
            if offset + i < total:
                seen[offset + i] = row[region.x : region.right].rstrip()
    assert len(seen) == total, f"read {len(seen)} of the log's {total} lines"
    return [seen[i] for i in range(total)]


async def test_demo_prefill_logs_the_providers_one_after_another() -> None:
    """The still demo (screenshots) polls one provider after another: its log reads in the same
    order on every run, each provider's first answers together (never interleaved)."""
    logs = []
    for _ in range(2):
        with still_demo(tasks=60) as session:
            app = session.build()
            async with app.run_test(size=(120, 40)) as pilot:
                # until the log has every event and the pause notice
                panel = app.log_panel
                await wait_until(pilot, lambda: "polling paused" in "".join(panel.lines()[-1:]))  # noqa: B023
                logs.append(await log_as_read(pilot, app))
    log = logs[0]
    assert len(log) > 40 and log[-1].endswith("polling paused")
    providers = [line.split()[3] for line in log if line.split()[2] in ("state", "notice")]
    providers = [name for name in providers if name.endswith("-sim")]
    runs = [name for i, name in enumerate(providers) if i == 0 or providers[i - 1] != name]
    assert runs == ["anyfast-sim", "ark-sim", "kyy-sim"]
    assert logs[0] == logs[1]


# -- warnings and errors logged by the core ---------------------------------------------------


async def test_core_warnings_and_errors_reach_the_log_from_any_thread(make_dash) -> None:
    import logging
    import threading

    dash: Dash = make_dash()
    app = dash.app
    engine_log = logging.getLogger("tui.core.engine")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)

        def from_a_thread() -> None:
            engine_log.warning("provider kyy answered \x1b[2J[bold]oddly[/]")
            try:
                raise OSError("disk full")
            except OSError:
                engine_log.exception("saving a task failed")

        thread = threading.Thread(target=from_a_thread)
        thread.start()
        thread.join()
        engine_log.info("an info line stays out of the panel")
        await settle(pilot)
        lines = app.log_panel.lines()
        assert any("provider kyy answered [bold]oddly[/]" in line for line in lines), lines
        assert any("saving a task failed: OSError: disk full" in line for line in lines)
        assert not any("\x1b" in line for line in lines)
        assert not any("info line" in line for line in lines)
    handlers = logging.getLogger("tui").handlers
    assert not any(type(h).__name__ == "PanelHandler" for h in handlers)  # removed at exit
