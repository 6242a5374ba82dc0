"""The failures view grouped by cause, on messy data: request ids in messages, one provider with
codes and one without, Chinese messages. What the user sees and what the group keys do."""

from __future__ import annotations

import csv

from conftest import Dash, at, notifications, screen_text, settle
from textual.widgets import Input, Label

from tui.app import failure_sync
from tui.app.failure_sync import FailureSync, build_index
from tui.app.screens.confirm import ConfirmScreen
from tui.app.screens.export import ExportScreen
from tui.app.task_view import TaskIndex
from tui.core.model import Failure, State, Task

SIZE = (140, 45)
INTERNAL = "InternalServiceError: internal error. Request id: <id>"
CHINESE = "视频生成失败：内容审核未通过（请求ID：<id>）"


def request_id(n: int) -> str:
    return f"{0x9F3A0000 + n * 7919:x}c0ffee{n:04d}"


def messy_tasks() -> list[Task]:
    """30 internal errors with a request id each (20 coded at anyfast, 10 bare at kyy), 4 Chinese
    content-check failures, 2 prompt-too-long, and one running task the view must never touch."""
    tasks = [
        Task(
            "anyfast",
            f"asyntask_int{n:02d}",
            batch="spring",
            state=State.FAILED,
            created_at=at(-n),
            failure=Failure("InternalServiceError", f"internal error. Request id: {request_id(n)}"),
        )
        for n in range(20)
    ]
    tasks += [
        Task(
            "kyy",
            f"video_int{n:02d}",
            batch="summer",
            state=State.FAILED,
            created_at=at(-n),
            failure=Failure(None, f"Internal error. Request id: {request_id(100 + n)}"),
        )
        for n in range(10)
    ]
    tasks += [
        Task(
            "kyy",
            f"video_cn{n}",
            state=State.FAILED,
            created_at=at(-n),
            failure=Failure(None, f"视频生成失败：内容审核未通过（请求ID：{request_id(200 + n)}）"),
        )
        for n in range(4)
    ]
    tasks += [
        Task(
            "kyy",
            f"video_long{n}",
            state=State.FAILED,
            created_at=at(-n),
            failure=Failure(None, "prompt too long"),
        )
        for n in range(2)
    ]
    tasks.append(Task("kyy", "video_run1", state=State.RUNNING, progress=40, created_at=at(0)))
    return tasks


async def open_failures(pilot) -> None:
    await settle(pilot)
    await pilot.press("f")
    await settle(pilot)


def footer_line(app) -> str:
    return screen_text(app).splitlines()[-1]


async def test_request_ids_and_codes_make_one_group_with_providers_batches_example(
    make_dash,
) -> None:
    dash: Dash = make_dash(messy_tasks())
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await open_failures(pilot)
        lines = app.failures.lines()
        assert lines == [f"30×  {INTERNAL}", f" 4×  {CHINESE}", " 2×  prompt too long"]
        text = screen_text(app)
        assert "failures: 36 tasks in 3 groups" in text
        assert f"30×  {INTERNAL}" in text
        assert "     anyfast, kyy · batches spring, summer" in text.splitlines()[6].rstrip(), text
        # one full example, the original text (not normalised)
        assert f"e.g. InternalServiceError: internal error. Request id: {request_id(0)}" in text
        assert f" 4×  {CHINESE}" in text
        assert f"e.g. 视频生成失败：内容审核未通过（请求ID：{request_id(200)}）" in text
        # kyy sends no codes: its failures still get plain words
        assert "in plain words: The provider's content check blocked it." in text
        assert "in plain words: The request itself was wrong" in text


async def test_enter_filters_the_table_to_the_groups_tasks_and_escape_clears(make_dash) -> None:
    dash: Dash = make_dash(messy_tasks())
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await open_failures(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert app.dashboard.query_one("#switcher").current == "table"
        shown = app.table.visible_keys()
        assert len(shown) == 30
        assert {provider for provider, _ in shown} == {"anyfast", "kyy"}
        assert all("nternal error" in app.index.get(k).failure.message for k in shown)
        text = screen_text(app)
        assert "30 of 37 tasks · failure: InternalServiceError: internal error. R" in text, text
        await pilot.press("escape")
        await settle(pilot)
        assert app.table.row_count == 37


async def test_keys_move_in_the_list(make_dash) -> None:
    dash: Dash = make_dash(messy_tasks())
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await open_failures(pilot)
        view = app.failures
        assert view.highlighted_group.count == 30
        await pilot.press("j")
        assert view.highlighted_group.count == 4
        await pilot.press("G")
        assert view.highlighted_group.count == 2
        await pilot.press("k")
        assert view.highlighted_group.count == 4
        await pilot.press("g")
        assert view.highlighted_group.count == 30


async def test_footer_shows_only_what_works_here(make_dash) -> None:
    dash: Dash = make_dash(messy_tasks())
    app = dash.app
    async with app.run_test(size=(200, 45)) as pilot:
        await settle(pilot)
        table_footer = footer_line(app)
        assert "Poll now" in table_footer and "Re-poll group" not in table_footer
        await pilot.press("f")
        await settle(pilot)
        footer = footer_line(app)
        for words in ("Show in table", "Re-poll group", "Stop tracking group", "Copy ids"):
            assert words in footer, footer
        assert "Export group" in footer
        assert "Poll now" not in footer and "Detail" not in footer


async def test_one_task_keys_never_touch_the_hidden_tables_row(make_dash) -> None:
    dash: Dash = make_dash(messy_tasks())
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.table.cursor_key == ("kyy", "video_run1")  # running first
        await pilot.press("f")
        await settle(pilot)
        await pilot.press("u", "y")
        await settle(pilot)
        assert notifications(app) == []
        assert not dash.clipboard_file.exists()
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        question = app.screen.question.plain
        assert question.startswith(f"Stop tracking 30 tasks of group {INTERNAL}?")
        assert "video_run1" not in question
        await pilot.press("n")
        await settle(pilot)
        assert app.index.get(("kyy", "video_run1")) is not None


async def test_x_stops_tracking_the_whole_group_after_saying_how_many(make_dash) -> None:
    dash: Dash = make_dash(messy_tasks())
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await open_failures(pilot)
        await pilot.press("x")
        await settle(pilot)
        assert "Stop tracking 30 tasks of group" in screen_text(app)
        await pilot.press("y")
        await settle(pilot)
        assert len(app.index) == 7
        assert dash.store.get("kyy", "video_int00") is None
        assert dash.store.get("kyy", "video_run1") is not None
        assert "Stopped tracking 30 tasks." in notifications(app)
        assert app.failures.lines() == [f"4×  {CHINESE}", "2×  prompt too long"]
        assert "failures: 6 tasks in 2 groups" in screen_text(app)


async def test_c_copies_the_groups_ids_and_r_says_what_was_scheduled(make_dash) -> None:
    dash: Dash = make_dash(messy_tasks())
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await open_failures(pilot)
        await pilot.press("j", "c")
        await settle(pilot)
        copied = dash.clipboard_file.read_text().splitlines()
        assert copied == [f"video_cn{n}" for n in range(4)]
        assert any(n.startswith("Copied 4 task ids") for n in notifications(app)), notifications(
            app
        )
        await pilot.press("r")
        await settle(pilot)
        said = notifications(app)[-1]
        assert said == (
            "0 of 4 tasks scheduled. Not scheduled: 4 failed: a finished task is not polled again."
        )


async def test_e_exports_the_groups_tasks(make_dash) -> None:
    dash: Dash = make_dash(messy_tasks())
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await open_failures(pilot)
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, ExportScreen)
        label = app.screen.query_one(Label).render().plain
        assert label == f"30 tasks: failure group {INTERNAL}"
        target = dash.tmp / "internal.csv"
        app.screen.query_one("#path", Input).value = str(target)
        await pilot.press("enter")
        for _ in range(40):
            await settle(pilot)
            if target.exists():
                break
        with target.open() as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) == 30
        assert {r["provider"] for r in rows} == {"anyfast", "kyy"}


async def test_new_failures_join_their_group_as_they_arrive(make_dash) -> None:
    from tui.app.feeds import FeedBatch

    dash: Dash = make_dash(messy_tasks())
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await open_failures(pilot)
        new = Task(
            "kyy",
            "video_run1",
            state=State.FAILED,
            created_at=at(0),
            failure=Failure(None, f"internal error. Request id: {request_id(999)}."),
        )
        app.apply_batch(FeedBatch(tasks={new.key: new}))
        await settle(pilot)
        assert app.failures.lines()[0] == f"31×  {INTERNAL}"
        assert "failures: 37 tasks in 3 groups" in screen_text(app)


# -- contrast of the cursor rows, from the colours actually drawn --------------------------------

THEMES = {"seedance-dark": 4.5, "seedance-light": 4.5, "seedance-contrast": 7.0}


def luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG 2 relative luminance."""

    def channel(value: int) -> float:
        v = value / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = rgb
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(one: tuple[int, int, int], two: tuple[int, int, int]) -> float:
    high, low = sorted((luminance(one), luminance(two)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def drawn_contrasts(app, widget, rows: range) -> list[tuple[float, str]]:
    """(contrast, text) of every piece of text drawn on these screen rows inside `widget`."""
    region = widget.region
    strips = app.screen._compositor.render_strips()
    found = []
    for y in rows:
        x = 0
        for segment in strips[y]:
            text, style = segment.text, segment.style
            inside = region.x <= x < region.right
            x += segment.cell_length
            if not inside or not text.strip() or style is None:
                continue
            assert style.color is not None and style.bgcolor is not None, text
            rgb = style.color.get_truecolor(), style.bgcolor.get_truecolor()
            found.append((contrast(*rgb), text.strip()))
    return found


def group_rows(app) -> range:
    """The screen rows of the highlighted group's block."""
    view = app.failures
    lines = view.lines()
    text = screen_text(app).splitlines()
    head = lines[view.highlighted].strip()
    start = next(y for y, line in enumerate(text) if head in line)
    following = [lines[i].strip() for i in range(view.highlighted + 1, len(lines))]
    stop = next(
        (y for y in range(start + 1, len(text)) if any(f in text[y] for f in following)),
        view.region.bottom,
    )
    return range(start, stop)


async def test_cursor_rows_are_readable_in_every_theme(make_dash) -> None:
    dash: Dash = make_dash(messy_tasks())
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for theme, needed in THEMES.items():
            app.theme = theme
            await settle(pilot)
            # the task table's cursor row, focused
            cursor_id = app.table.cursor_key[1]
            row = next(
                y for y, line in enumerate(screen_text(app).splitlines()) if cursor_id in line
            )
            seen = drawn_contrasts(app, app.table, range(row, row + 1))
            assert seen and min(seen)[0] >= needed, (theme, "table", min(seen))
            # the failures view's highlighted group, focused and not, with CJK text too
            await pilot.press("f")
            await settle(pilot)
            view = app.failures.region
            everything = drawn_contrasts(app, app.failures, range(view.y, view.bottom))
            assert min(everything)[0] >= needed, (theme, "every row", min(everything))
            for move in ("", "j"):
                if move:
                    await pilot.press(move)
                    await settle(pilot)
                for focused in (True, False):
                    if not focused:
                        app.log_panel.focus()
                        await settle(pilot)
                    seen = drawn_contrasts(app, app.failures, group_rows(app))
                    assert len(seen) >= 3, seen
                    assert min(seen)[0] >= needed, (theme, move, focused, min(seen))
                    app.failures.focus()
                    await settle(pilot)
            await pilot.press("g", "f")
            await settle(pilot)


# -- FailureSync: built once off the loop, then kept current -------------------------------------


def failed(task_id: str, message: str, provider: str = "kyy", code: str | None = None) -> Task:
    return Task(provider, task_id, state=State.FAILED, failure=Failure(code, message))


def test_sync_builds_once_and_folds_changes_made_meanwhile() -> None:
    index = TaskIndex(
        [failed(f"a{n}", f"internal error. Request id: {request_id(n)}") for n in range(5)]
    )
    sync = FailureSync(index)
    sync.changed({("kyy", "a0")})  # nothing built yet: nothing to keep
    assert sync.groups() is None
    tasks, generation = sync.start_build()
    assert len(tasks) == 5 and sync.start_build() is None  # one build at a time
    # while the thread works: one task recovers, one new failure arrives
    changed = index.upsert(
        [
            Task("kyy", "a0", state=State.RUNNING),
            failed("b0", f"Internal error. Request id: {request_id(77)}."),
        ]
    )
    sync.changed(changed)
    assert sync.finish_build(build_index(tasks), generation)
    (group,) = sync.groups()
    assert (group.count, group.title) == (5, "internal error. Request id: <id>")
    assert ("kyy", "a0") not in group.keys and ("kyy", "b0") in group.keys
    same = sync.groups()
    assert same is sync.groups()  # unchanged: the same list, nothing to redraw
    sync.changed(index.remove([("kyy", "b0")]))
    assert sync.groups()[0].count == 4


def test_a_reload_during_the_build_throws_the_build_away() -> None:
    index = TaskIndex([failed("a0", "boom")])
    sync = FailureSync(index)
    tasks, generation = sync.start_build()
    index.load([failed("c0", "other"), failed("c1", "other")])
    assert not sync.finish_build(build_index(tasks), generation)
    assert sync.groups() is None
    tasks, generation = sync.start_build()
    assert sync.finish_build(build_index(tasks), generation)
    assert [g.count for g in sync.groups()] == [2]


def test_many_failures_regroup_in_a_thread_showing_the_old_groups_meanwhile(monkeypatch) -> None:
    monkeypatch.setattr(failure_sync, "INLINE", 3)
    index = TaskIndex([failed(f"a{n}", "boom") for n in range(5)])
    sync = FailureSync(index)
    tasks, generation = sync.start_build()
    sync.finish_build(build_index(tasks), generation)
    before = sync.groups()
    sync.changed(index.upsert([failed("z0", "new cause")]))
    assert sync.groups() is before and sync.wants_regroup
    regroup = sync.start_regroup()
    sync.changed(index.upsert([failed("z1", "new cause")]))  # waits until the thread is done
    sync.finish_regroup(regroup())
    assert [g.count for g in sync.groups()] == [5, 1]
    assert sync.wants_regroup  # z1 arrived meanwhile
    sync.finish_regroup(sync.start_regroup()())
    assert [g.count for g in sync.groups()] == [5, 2]


def test_a_burst_of_changed_failures_is_normalised_in_the_thread(monkeypatch) -> None:
    monkeypatch.setattr(failure_sync, "INLINE_CHANGES", 2)
    index = TaskIndex([failed("a0", "boom")])
    sync = FailureSync(index)
    tasks, generation = sync.start_build()
    sync.finish_build(build_index(tasks), generation)
    burst = [failed(f"p{n}", f"internal error. Request id: {request_id(n)}") for n in range(3)]
    sync.changed(index.upsert(burst))
    assert [g.count for g in sync.groups()] == [1]  # the old groups while the burst waits
    assert sync.wants_regroup
    sync.finish_regroup(sync.start_regroup()())
    assert [g.count for g in sync.groups()] == [3, 1]


async def repainted(pilot, text: str, tries: int = 100) -> bool:
    """Pause until the screen shows `text` (the loop keeps running meanwhile)."""
    for _ in range(tries):
        await pilot.pause(0.02)
        if text in screen_text(pilot.app):
            return True
    return False


async def test_the_first_grouping_runs_off_the_event_loop(make_dash, monkeypatch) -> None:
    """While the thread normalises, the view says so and the keys keep working."""
    import threading

    from tui.app.widgets import failures as failures_widget

    release = threading.Event()
    real_build = failures_widget.build_index

    def slow_build(tasks):
        assert release.wait(10), "the test never released the build"
        return real_build(tasks)

    monkeypatch.setattr(failures_widget, "build_index", slow_build)
    dash: Dash = make_dash(messy_tasks())
    app = dash.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f")
        # not `settle`: it waits for the thread, which waits for this test
        assert await repainted(pilot, "failures: grouping 36 failed tasks by cause…")
        assert app.log_panel.display
        await pilot.press("l")  # the loop still answers keys while the thread works
        assert await repainted(pilot, "failures: grouping 36 failed tasks by cause…")
        assert not app.log_panel.display
        assert not release.is_set()
        release.set()
        await settle(pilot)
        assert app.failures.lines()[0] == f"30×  {INTERNAL}"
        assert "failures: 36 tasks in 3 groups" in screen_text(app)
