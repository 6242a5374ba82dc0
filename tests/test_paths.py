"""`[download] template` rendering: every field, and nothing an id, model or batch says can put a
file outside `[download] dir`."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tui.core.atomic import write_atomic
from tui.core.model import State, Task
from tui.core.part_files import meta_path
from tui.core.paths import (
    TEMPLATE_FIELDS,
    TemplateError,
    check_template,
    clean_part,
    part_path,
    render,
    target_path,
)

FINISHED = datetime(2026, 4, 27, 11, 20, 5, tzinfo=UTC)


def task(**changes: object) -> Task:
    base = Task(
        "anyfast",
        "asyntask_0123",
        batch="spring-ads",
        state=State.SUCCEEDED,
        model="doubao-seedance-2-0-260128",
        finished_at=FINISHED,
    )
    return base.evolve(**changes)


def inside(base: Path, path: Path) -> bool:
    base = Path(os.path.abspath(base))
    return os.path.commonpath([base, path]) == str(base) and path != base


def test_default_template(tmp_path: Path) -> None:
    assert target_path(tmp_path, "{provider}/{id}.mp4", task()) == (
        tmp_path / "anyfast" / "asyntask_0123.mp4"
    )


def test_every_field(tmp_path: Path) -> None:
    template = "{batch}/{model}/{date}/{provider}-{id}.mp4"
    assert set(TEMPLATE_FIELDS) == {"provider", "id", "batch", "model", "date"}
    expected = Path("spring-ads", "doubao-seedance-2-0-260128", "2026-04-27")
    assert target_path(tmp_path, template, task()) == (
        tmp_path / expected / "anyfast-asyntask_0123.mp4"
    )


def test_missing_batch_and_model_get_a_readable_placeholder(tmp_path: Path) -> None:
    path = target_path(tmp_path, "{batch}/{model}/{id}.mp4", task(batch=None, model=None))
    assert path == tmp_path / "no-batch" / "unknown-model" / "asyntask_0123.mp4"


def test_date_falls_back_to_when_the_task_was_seen_finished(tmp_path: Path) -> None:
    seen = datetime(2026, 5, 1, 23, 59, tzinfo=UTC)
    path = render("{date}/{id}", task(finished_at=None, first_seen_terminal_at=seen))
    assert path == Path("2026-05-01/asyntask_0123")


def test_format_spec_is_allowed(tmp_path: Path) -> None:
    assert render("{id:.8}.mp4", task()) == Path("asyntask.mp4")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "../../../../etc/passwd"),
        ("id", ".."),
        ("id", "/etc/shadow"),
        ("id", "a\x00b"),
        ("id", "..\\..\\windows"),
        ("model", "../../.ssh/authorized_keys"),
        ("batch", "/absolute/elsewhere"),
        ("batch", "."),
        ("model", "\x1b]52;c;ZXZpbA==\x07x"),
        ("batch", "\u202etxt.exe"),
    ],
)
def test_nasty_values_stay_inside_dir(tmp_path: Path, field: str, value: str) -> None:
    t = task(**{field: value})
    path = target_path(tmp_path / "videos", "{batch}/{model}/{id}.mp4", t)
    assert inside(tmp_path / "videos", path), path
    assert len(path.relative_to(tmp_path / "videos").parts) == 3  # no part added or removed
    for part in path.relative_to(tmp_path / "videos").parts:
        assert part not in ("", ".", "..")
        assert "/" not in part and "\\" not in part and "\x00" not in part
        assert not any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F for ch in part)
        assert "\u202e" not in part


@pytest.mark.parametrize(
    "template",
    ["../{id}.mp4", "/etc/{id}.mp4", "{id}/../../../x.mp4", "./././{id}", "a/../../{id}", "//{id}"],
)
def test_the_template_itself_cannot_leave_dir(tmp_path: Path, template: str) -> None:
    path = target_path(tmp_path / "videos", template, task())
    assert inside(tmp_path / "videos", path), path
    assert ".." not in path.parts


def test_random_garbage_always_stays_inside(tmp_path: Path) -> None:
    """A fuzz over the characters that matter for paths: 2,000 ids/models/batches."""
    rng = random.Random(4)
    alphabet = ["/", "\\", ".", "..", "\x00", "\n", "\x1b", "~", ":", "a", "é", " ", "%2e", "$HOME"]
    base = tmp_path / "videos"
    for _ in range(2000):
        values = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in "ibm"]
        t = task(id=values[0], batch=values[1], model=values[2])
        path = target_path(base, "{batch}/{model}/{id}.mp4", t)
        assert inside(base, path), (values, path)
        assert ".." not in path.relative_to(base).parts


def test_long_values_are_shortened_keeping_the_extension(tmp_path: Path) -> None:
    path = target_path(tmp_path, "{model}/{id}.mp4", task(id="x" * 400, model="m" * 300))
    assert path.name.endswith(".mp4")
    for part in path.relative_to(tmp_path).parts:
        assert len(part.encode()) <= 200
    assert len((path.name + ".part.json").encode()) <= 255


def test_the_longest_name_leaves_room_for_the_resume_metadata_and_its_temp_file(
    tmp_path: Path,
) -> None:
    path = target_path(tmp_path, "{id}.mp4", task(id="x" * 400))
    meta = meta_path(path)
    write_atomic(meta, lambda handle: handle.write("{}"))  # ENAMETOOLONG if a name is too long
    assert meta.read_text() == "{}"
    assert [p.name for p in tmp_path.iterdir()] == [meta.name]


def test_multibyte_values_are_cut_on_a_character_boundary() -> None:
    name = clean_part("視頻" * 200 + ".mp4")
    assert name.endswith(".mp4") and len(name.encode()) <= 200
    name.encode("utf-8")  # no broken character


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ("{provider}/{task}.mp4", ["unknown field {task}", "{provider}, {id}"]),
        ("{id!r}.mp4", ["unknown field"]),
        ("", ["empty"]),
        ("{provider}/", ["directory"]),
        ("a\x00{id}", ["NUL"]),
        ("{id", ["template"]),
        ("{id:>>>}", ["{id:>>>}"]),
    ],
)
def test_bad_templates_say_what_to_fix(template: str, words: list[str]) -> None:
    with pytest.raises(TemplateError) as caught:
        check_template(template)
    for word in words:
        assert word in str(caught.value)


def test_a_template_that_renders_to_nothing_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="empty file name"):
        target_path(tmp_path, "../..", task())


def test_part_path_sits_next_to_the_video(tmp_path: Path) -> None:
    assert part_path(tmp_path / "a" / "b.mp4") == tmp_path / "a" / "b.mp4.part"


def test_clean_part_keeps_ordinary_names() -> None:
    assert clean_part("video_fd35ee52") == "video_fd35ee52"
    assert clean_part("cgt-20260427-abc.def") == "cgt-20260427-abc.def"
    assert clean_part("  ") == "_"
