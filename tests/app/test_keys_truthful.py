"""Every key tells the truth (issue 9, points 6, 7, 9 and the enlarge key of point 1).

What the user sees is asserted: the screen, the footer, the notifications. A provider that
refuses its key is the simulator with a wrong key; the paused engine is the fixtures' default;
viewer mode is a second process holding the lock (the `holder` fixture of test_viewer).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import (
    INVALID,
    Dash,
    applied,
    at,
    notifications,
    screen_text,
    settle,
    wait_until,
)
from test_detail import open_detail, pane_text
from test_viewer import holder  # noqa: F401  the fixture: another process polls the store
from textual.widgets import Button, TextArea

from tui.app.clipboard import CopyResult, copy_message
from tui.app.screens.add_tasks import AddTasksScreen
from tui.app.screens.confirm import ConfirmScreen
from tui.app.widgets.detail import body_content, hang
from tui.core.clock import ScaledClock
from tui.core.config import ProviderConfig
from tui.core.model import Event, State, Task
from tui.sim import Simulator


def footer_text(app) -> str:
    """The footer line as drawn: the last row of the screen."""
    return screen_text(app).rstrip("\n").splitlines()[-1]


async def footer_now(pilot, app) -> str:
    """The footer once drawn: a footer whose keys changed is composed again, blank meanwhile."""
    assert await wait_until(pilot, lambda: bool(footer_text(app).strip()), timeout=5)
    return footer_text(app)


def flat(text: str) -> str:
    """The pane's words with the wrapping undone: one space between words."""
    return " ".join(text.split())


# -- r on a stopped provider, and the detail pane says why -----------------------------------


async def test_r_on_a_provider_that_refused_its_key_says_why_and_what_to_fix(make_dash) -> None:
    clock = ScaledClock(1.0)
    with Simulator(clock=clock) as sim:
        task_id = sim.add_task("newapi", queue_s=0, run_s=3600)
        providers = {
            "anyfast": ProviderConfig(
                "anyfast",
                "newapi",
                sim.provider_url("newapi"),
                api_key="sk-wrong-key",
                api_key_env="ANYFAST_API_KEY",
                min_interval=1.0,
            )
        }
        first_look = datetime.fromtimestamp(clock.now() - 30, UTC)
        task = Task("anyfast", task_id, state=State.QUEUED, created_at=first_look)
        dash: Dash = make_dash([task], providers=providers, clock=clock, paused=False)
        app = dash.app
        async with app.run_test(size=(120, 40)) as pilot:
            health = lambda: str(app.engine.health().get("anyfast", ("",))[0])  # noqa: E731
            assert await wait_until(pilot, lambda: health() == "auth failed", timeout=10)
            await pilot.press("enter")
            await settle(pilot)
            pane = flat(pane_text(app.detail))
            assert "provider state auth failed: anyfast refused the API key (HTTP 401)" in pane
            assert "check ANYFAST_API_KEY" in pane and "restart" in pane
            assert "polling now" not in " ".join(notifications(app))
            sent = len(sim.requests_for(task_id=task_id))
            await pilot.press("r")
            await applied(pilot)
            said = notifications(app)[-1]
            assert said.startswith(f"{task_id} is not polled: anyfast refused the API key")
            assert "check ANYFAST_API_KEY" in said and "restart" in said
            assert "polling now" not in said
            assert len(sim.requests_for(task_id=task_id)) == sent  # nothing was sent
            assert "sk-wrong-key" not in screen_text(app)


async def test_r_on_a_provider_without_a_key_names_the_setting(make_dash) -> None:
    providers = {
        "anyfast": ProviderConfig("anyfast", "newapi", "http://127.0.0.1:9", api_key="sk-test"),
        "kyy": ProviderConfig("kyy", "kyy", "http://127.0.0.1:9", api_key_env="KYY_API_KEY"),
    }
    dash: Dash = make_dash(providers=providers)
    app = dash.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_detail(pilot, app, "video_run1")
        await pilot.press("w")  # the detail pane: r acts on the task it shows
        await pilot.press("r")
        await applied(pilot)
        said = notifications(app)[-1]
        assert said.startswith("video_run1 is not polled: kyy has no API key: set KYY_API_KEY")
        # the pane was loaded again: the provider's state is there now
        assert "provider state auth failed: kyy has no API key" in flat(pane_text(app.detail))


async def test_the_detail_pane_shows_the_last_http_error_of_the_task(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    dash.store.append_events(
        [
            Event("http_error", "kyy", "video_run1", {"status": 502, "message": "a"}, ts=at(-50)),
            Event(
                "http_error",
                "kyy",
                "video_run1",
                {"status": 429, "retry_after": 12.0, "message": "kyy: HTTP 429 rate limited"},
                ts=at(-5),
            ),
        ]
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        text = pane_text(await open_detail(pilot, app, "video_run1"))
        row = flat(text.split("HTTP error", 1)[1].split("last polled")[0])
        assert "HTTP 429 rate limited" in row and "(5s ago)" in row
        assert "502" not in row  # the last one, not the first


# -- the footer: viewer mode, dialogs, paused -------------------------------------------------


async def test_the_viewer_footer_hides_what_would_change_the_store(make_dash, holder) -> None:  # noqa: F811
    dash: Dash = make_dash(viewer=True)
    app = dash.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        footer = await footer_now(pilot, app)
        for hidden in ("Add", "Poll now", "Pause", "Resume"):
            assert hidden not in footer, footer
        assert "Quit" in footer and "Filter" in footer and "Export" in footer
        await pilot.press("r")  # pressed anyway: it says why
        await settle(pilot)
        assert "polling is up to that process" in notifications(app)[-1]
        said = len(notifications(app))
        await pilot.press("slash", "a", "r")  # typed into the filter: text, not refused keys
        await settle(pilot)
        assert app.screen.query_one("#filter").value == "ar"
        assert len(notifications(app)) == said


async def test_while_paused_the_footer_reads_resume(make_dash) -> None:
    dash: Dash = make_dash(paused=False)
    app = dash.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "p Pause" in await footer_now(pilot, app)
        await pilot.press("p")
        await settle(pilot)
        assert app.engine.paused
        footer = await footer_now(pilot, app)
        assert "p Resume" in footer and "Pause" not in footer
        await pilot.press("p")
        await settle(pilot)
        assert "p Pause" in await footer_now(pilot, app)


async def test_started_paused_the_footer_reads_resume_from_the_start(make_dash) -> None:
    dash: Dash = make_dash()  # the fixtures start paused
    app = dash.app
    async with app.run_test(size=(120, 24)) as pilot:
        assert await wait_until(pilot, lambda: "p Resume" in footer_text(app), timeout=5)


async def test_the_confirm_dialog_shows_its_keys(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        text = screen_text(app)
        assert "y yes · n or esc no" in text
        footer = await footer_now(pilot, app)
        assert "y Yes" in footer and "n No" in footer
        assert "Quit" not in footer and "Poll now" not in footer  # the dashboard's, not here
        await pilot.press("n")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)


async def test_the_add_dialog_footer_shows_only_its_own_keys(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        footer = await footer_now(pilot, app)
        assert "^a Select all" in footer and "^s Add" in footer and "esc Cancel" in footer
        assert "Quit" not in footer and "Export" not in footer


# -- moving in the detail pane, enlarging a panel ---------------------------------------------


async def test_j_k_g_G_scroll_the_detail_pane(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        pane = await open_detail(pilot, app, "asyntask_ultra1")
        pane.focus()
        await settle(pilot)
        assert pane.scroll_y == 0 and pane.max_scroll_y > 5
        await pilot.press("j", "j", "j")
        assert await wait_until(pilot, lambda: pane.scroll_y == 3)
        await pilot.press("k")
        assert await wait_until(pilot, lambda: pane.scroll_y == 2)
        await pilot.press("G")
        assert await wait_until(pilot, lambda: pane.scroll_y == pane.max_scroll_y)
        assert "upstream body (raw)" in screen_text(app) or "}" in screen_text(app)
        await pilot.press("g")
        assert await wait_until(pilot, lambda: pane.scroll_y == 0)
        assert app.table.cursor_key == ("anyfast", "asyntask_ultra1")  # the table stayed


@pytest.mark.parametrize("size", [(120, 40), (80, 24), (60, 24)])
async def test_z_enlarges_the_focused_panel_and_back(make_dash, size) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await open_detail(pilot, app, "asyntask_bad1")
        app.detail.focus()
        await pilot.press("z")
        await settle(pilot)
        lines = screen_text(app).splitlines()
        assert lines[0].startswith("┌─ asyntask_bad1")  # the pane from the top: no summary
        assert "failure" in lines[1]
        assert not any("9 of 9 tasks" in line or "─log" in line for line in lines)
        assert "Quit" in await footer_now(pilot, app)  # the footer stays
        assert app.detail.outer_size.width == size[0]
        await pilot.press("z")
        await settle(pilot)
        text = screen_text(app)
        assert "─log" in text and "PAUSED" in text
        app.log_panel.focus()
        await pilot.press("z")
        await settle(pilot)
        lines = screen_text(app).splitlines()
        assert lines[0].startswith("─log")
        assert app.log_panel.outer_size.height == size[1] - 1  # everything but the footer
        await pilot.press("escape")  # esc puts it back too
        await settle(pilot)
        assert "PAUSED" in screen_text(app)


# -- the detail pane at 80x24 -----------------------------------------------------------------


async def test_a_failed_task_reads_failure_first_with_aligned_wrapped_values(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_detail(pilot, app, "asyntask_bad1")
        assert await wait_until(pilot, lambda: app.detail.text_width is not None)
        await settle(pilot)
        text = pane_text(app.detail)
        assert text.index("code           InvalidParameter") < text.index("state          ✖")
        lines = text.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("message"))
        assert lines[start + 1].startswith(" " * 15)  # the message wraps under itself
        assert lines[start + 1].strip() in INVALID
        assert "message" not in lines[start + 1]
        width = app.detail.text_width
        assert all(len(line) <= width for line in lines[: lines.index("upstream body (raw)")])
        # on screen, too: the failure is the first thing in the pane
        screen = screen_text(app)
        assert "failure" in screen and "InvalidParameter" in screen


def test_json_keeps_its_indentation_when_a_long_string_wraps() -> None:
    raw = {"data": {"error": {"message": "word " * 30}}}
    content, _ = body_content(raw, width=40)
    lines = content.plain.splitlines()
    start = next(i for i, line in enumerate(lines) if '"message"' in line)
    assert lines[start].startswith('      "message": ')
    assert lines[start + 1].startswith(" " * 8) and lines[start + 1].strip().startswith("word")
    assert all(len(line) <= 40 for line in lines)
    unwrapped, _ = body_content(raw)
    assert len(unwrapped.plain.splitlines()) < len(lines)


def test_provider_rows_say_down_and_held_and_nothing_when_ok() -> None:
    from tui.app.widgets.detail import provider_rows

    held = (
        "kyy: HTTP 429 rate limited (Retry-After 60 s); holding all its requests (holding for 42 s)"
    )
    text = " ".join(row.plain for row in provider_rows(("backing off", held), None, 0.0))
    assert text.startswith("provider state backing off: kyy: HTTP 429") and "42 s" in text
    down = "kyy is down after 5 failed requests in a row: next try in 30 s"
    text = " ".join(row.plain for row in provider_rows(("down", down), None, 0.0))
    assert "down: kyy is down" in text and "next try in 30 s" in text
    assert provider_rows(("ok", None), None, 0.0) == []
    assert provider_rows(("idle", None), None, 0.0) == []


def test_hang_leaves_short_values_alone() -> None:
    from textual.content import Content

    row = hang(Content("label  "), Content("short"), 40, 7)
    assert row.plain == "label  short"
    row = hang(Content("label  "), Content("a b c d e f g h i j k l m n o"), 20, 7)
    assert [line[:7] for line in row.plain.splitlines()[1:]] == ["       "] * 2


# -- 60 columns --------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [60, 80, 120])
async def test_the_dashboard_works_at_60_80_and_120_columns(make_dash, width) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=(width, 24)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "needs a terminal" not in text
        assert "asyntask_bad0" in text or "asyntask_b" in text
        assert await wait_until(pilot, lambda: "Quit" in footer_text(app))
        await pilot.press("6")  # failed
        await settle(pilot)
        await open_detail(pilot, app, "asyntask_bad1")
        await settle(pilot)
        text = screen_text(app)
        # the failure text is never dropped: the pane shows it, whole words at any width
        assert "InvalidParameter" in text and "img_url must be set" in text
        if width < 80:  # the narrowest layout drops the table while the pane is open
            assert app.detail.outer_size.width == width
            assert "state▲" not in text
            await pilot.press("escape")
            await settle(pilot)
            assert "state▲" in screen_text(app) or "4 of 9 tasks" in screen_text(app)


async def test_below_60_columns_says_how_big_it_needs(make_dash) -> None:
    dash: Dash = make_dash()
    async with dash.app.run_test(size=(59, 24)) as pilot:
        await settle(pilot)
        assert "at least 60×24" in screen_text(dash.app)


# -- add: the valid lines, the bad ones by number, an explicit choice ---------------------------


async def test_add_offers_the_valid_ids_and_lists_bad_lines_by_number(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        area = app.screen.query_one(TextArea)
        area.text = "asyntask_ok1\nnot an id\nvideo_ok2\ncgt-2026ark\n# note\nasyntask_ok3"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, AddTasksScreen)
        text = screen_text(app)
        assert "Nothing added yet: 2 problems; 3 ids are fine" in text
        assert "line 2: contains spaces" in text
        assert "line 4: cgt-2026ark: a ark id, but no such provider is configured" in text
        assert text.index("line 2:") < text.index("line 4:")
        assert dash.store.get("anyfast", "asyntask_ok1") is None  # nothing until chosen
        button = app.screen.query_one("#add-valid", Button)
        assert str(button.label) == "Add the 3 valid ids, skip 2 bad lines"
        await pilot.click("#add-valid")
        await settle(pilot)
        assert not isinstance(app.screen, AddTasksScreen)
        for provider, task_id in (
            ("anyfast", "asyntask_ok1"),
            ("kyy", "video_ok2"),
            ("anyfast", "asyntask_ok3"),
        ):
            assert dash.store.get(provider, task_id) is not None
        assert any("Added 3 tasks" in n for n in notifications(app))


async def test_ctrl_a_selects_all_the_pasted_text(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        area = app.screen.query_one(TextArea)
        area.text = "old_one\nold_two"
        await pilot.press("ctrl+a")
        await pilot.press("v", "i", "d", "e", "o", "_", "n")
        await settle(pilot)
        assert area.text == "video_n"


# -- the demo keeps to itself, copying in tmux -----------------------------------------------


async def test_a_theme_picked_in_the_demo_never_touches_the_users_config(
    tmp_path: Path, monkeypatch
) -> None:
    from tui.app.demo import demo_session
    from tui.core.clock import FrozenClock
    from tui.core.config import load_config, resolve_config_path

    user_config = tmp_path / "config.toml"
    user_config.write_text('[ui]\ntheme = "seedance-dark"\n')
    user_config.chmod(0o600)
    monkeypatch.setenv("SEEDANCE_TUI_CONFIG", str(user_config))
    assert resolve_config_path(None) == user_config
    before = user_config.read_bytes()
    config = load_config(user_config)
    with demo_session(
        12, config=config, clock=FrozenClock(1_777_288_500.0), paused=True
    ) as session:
        app = session.build()
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            assert app.theme == "seedance-dark"  # the user's [ui] is read
            app.theme = "seedance-light"
            await settle(pilot)
            assert app.theme == "seedance-light"
    assert user_config.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_copying_inside_tmux_names_set_clipboard() -> None:
    result = CopyResult(path=Path("/tmp/clip.txt"), osc52_likely=True)
    inside = copy_message("the task id", result, {"TERM": "tmux-256color", "TMUX": "/tmp/t,1,0"})
    assert "set -g set-clipboard on" in inside and "/tmp/clip.txt" in inside
    outside = copy_message("the task id", result, {"TERM": "xterm-256color"})
    assert "set-clipboard" not in outside


async def test_the_copy_notification_in_tmux_says_so(make_dash, monkeypatch) -> None:
    monkeypatch.setenv("TERM", "tmux-256color")
    monkeypatch.setenv("TMUX", "/tmp/tmux-1000/default,1,0")
    monkeypatch.delenv("TERM_PROGRAM", raising=False)
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert "set -g set-clipboard on" in notifications(app)[-1]


def test_the_detail_panes_keys_can_be_remapped() -> None:
    from tui.app.app import binding_owners
    from tui.app.keymap import keymap_from_config

    keymap, warnings = keymap_from_config({"detail.down": "ctrl+n"}, owners=binding_owners())
    assert warnings == [] and keymap == {"detail.down": "ctrl+n"}


def test_the_readme_keys_table_names_only_real_binding_ids() -> None:
    import re

    from tui.app.app import SeedanceApp, binding_owners
    from tui.app.keymap import binding_ids

    known = binding_ids((SeedanceApp, *binding_owners()))
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    table = readme.split("### Keys", 1)[1].split("\n\n", 2)[1]
    named = set()
    for row in table.splitlines()[2:]:
        named |= set(re.findall(r"`([a-z_.*]+)`", row.rsplit("|", 2)[1]))
    assert len(named) > 30
    for binding_id in named:
        if binding_id.endswith(".*"):
            assert any(k.startswith(binding_id[:-1]) for k in known), binding_id
        else:
            assert binding_id in known, binding_id
    # and every dashboard key is in the table
    for binding_id in ("enlarge", "poll_now", "pause", "add", "remove", "detail.down"):
        assert binding_id in named
