"""DashboardState: what the dashboard knows, folded in batch by batch, without a screen."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from types import SimpleNamespace

from tui.app.dashboard_state import DashboardState
from tui.app.feeds import FeedBatch
from tui.core.model import Download, DownloadState, Event, State, Task, Tokens

NOW = 1_777_288_500.0


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(NOW + seconds, UTC)


def tasks() -> list[Task]:
    return [
        Task("kyy", "video_1", state=State.RUNNING, tokens=Tokens(total=0)),
        Task(
            "kyy",
            "video_2",
            state=State.SUCCEEDED,
            tokens=Tokens(total=100, super_resolution=40),
            url_expires_at=at(600),
        ),
        Task("anyfast", "task_3", state=State.FAILED, tokens=Tokens(total=7)),
    ]


def state(downloads: bool = True) -> DashboardState:
    loaded = DashboardState(["kyy", "anyfast", "ark"], downloads_enabled=downloads)
    loaded.load(tasks())
    return loaded


class FakeEngine:
    paused = False
    store_outage = None

    def health(self) -> dict[str, tuple[str, str | None]]:
        return {"kyy": ("backing off", "429 \x1b[2J slow down")}

    def requests_per_second(self) -> float:
        return 2.5


def test_state_has_no_textual() -> None:
    import subprocess

    code = "import sys, tui.app.dashboard_state; assert 'textual' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_apply_folds_tasks_removals_and_downloads_and_returns_what_changed() -> None:
    s = state()
    done = s.index.get(("kyy", "video_1")).evolve(state=State.SUCCEEDED, tokens=Tokens(total=50))
    batch = FeedBatch(
        tasks={done.key: done},
        removed={("anyfast", "task_3")},
        downloads={("kyy", "video_2"): Download(DownloadState.DONE, path="/v/2.mp4")},
        events=[Event("notice", data={"message": "hi"})],
    )
    changed = s.apply(batch, owns_downloads=False)
    assert changed == {("kyy", "video_1"), ("kyy", "video_2"), ("anyfast", "task_3")}
    assert ("anyfast", "task_3") not in s.index
    assert s.index.get(("kyy", "video_2")).download.state is DownloadState.DONE
    assert s.stats.tokens_total == 150 and s.stats.tokens_super == 40
    assert s.stats.downloads[DownloadState.DONE] == 1


def test_an_engine_copy_keeps_the_download_the_dashboard_has() -> None:
    s = state()
    key = ("kyy", "video_2")
    s.apply(FeedBatch(downloads={key: Download(DownloadState.DONE)}), owns_downloads=False)
    polled = s.index.get(key).evolve(download=Download(), polls=3)  # no download: engine copy
    s.apply(FeedBatch(tasks={key: polled}), owns_downloads=False)
    assert s.index.get(key).download.state is DownloadState.DONE
    s.apply(FeedBatch(tasks={key: polled}), owns_downloads=True)  # a viewer's store row
    assert s.index.get(key).download.state is DownloadState.NONE


def test_a_reload_replaces_everything() -> None:
    s = state()
    only = Task("ark", "cgt-1", state=State.QUEUED)
    s.apply(FeedBatch(reload=[only]), owns_downloads=True)
    assert list(s.index) == [only.key]
    assert s.stats.tokens_total == 0


def test_running_downloads_are_read_off_the_downloader() -> None:
    s = state()
    key = ("kyy", "video_2")
    progress = SimpleNamespace(state=DownloadState.RUNNING, path="/v/2.part", speed=1e6, bytes=5)
    assert s.read_progress({key: progress}) == {key}
    assert s.index.get(key).download.state is DownloadState.RUNNING
    assert s.read_progress({key: progress}) == set()  # already shown
    data = s.summary_data(NOW, FakeEngine(), "live")
    assert data.download_speed == 1e6 and data.download_bytes == 5
    assert s.read_progress(None) == set() and s.progress == {}


def test_summary_data_counts_health_and_expiry() -> None:
    s = state()
    data = s.summary_data(NOW + 3000, FakeEngine(), "paused")
    assert data.counts[State.RUNNING] == 1 and data.counts[State.SUCCEEDED] == 1
    assert data.mode == "paused" and data.rps == 2.5
    # providers with tasks are "idle" until asked; ark has none here; reasons are cleaned
    assert data.health == {"kyy": ("backing off", "429  slow down"), "anyfast": ("idle", None)}
    assert (data.expired_urls, data.expiring_urls) == (1, 0)
    assert s.summary_data(NOW, FakeEngine(), "live").expiring_urls == 1
    assert state(downloads=False).summary_data(NOW, FakeEngine(), "live").expiring_urls == 0


def test_a_viewer_has_no_engine_figures() -> None:
    data = state().summary_data(NOW, None, "viewer", "pid 42 polls this store")
    assert data.health == {} and data.rps is None
    assert (data.mode, data.mode_note) == ("viewer", "pid 42 polls this store")


def test_the_eta_is_fed_from_apply_and_says_all_done_when_nothing_is_live() -> None:
    s = state()
    data = s.summary_data(NOW, None, "live")
    assert data.eta is not None and data.eta.measuring  # one running task, nothing learned
    assert data.remaining is not None and (data.remaining.live, data.remaining.can_finish) == (
        1,
        1,
    )
    done = s.index.get(("kyy", "video_1")).evolve(state=State.SUCCEEDED)
    s.apply(FeedBatch(tasks={done.key: done}), owns_downloads=True)
    data = s.summary_data(NOW + 10, None, "live")
    assert data.eta is None and data.remaining.live == 0  # nothing live is left


def test_the_bar_names_a_failure_group_by_its_title_never_by_its_members() -> None:
    from tui.app.dashboard_state import scope_label
    from tui.app.task_view import ViewSpec

    keys = frozenset({("a", "task_1"), ("a", "task_2")})
    spec = ViewSpec(group_keys=keys, group_title="InternalError: internal error. <id>")
    assert scope_label(spec) == "failure InternalError: internal error. <id>"
