"""Themes: TOML files -> textual Theme, the user's folder, the palette, remembered in the config."""

from __future__ import annotations

import tomllib
from pathlib import Path

from conftest import Dash, notifications, screen_text, settle
from rich.color import Color as RichColor
from rich.color import ColorSystem

from tui.app.themes import (
    DEFAULT_THEME,
    THEMES_ENV,
    ThemeFileError,
    bundled_theme_dirs,
    load_theme_file,
    load_themes,
    theme_dirs,
    user_theme_dir,
)
from tui.core.config import UIConfig

REPO = Path(__file__).resolve().parents[2]
BUNDLED = ("seedance-dark", "seedance-light", "seedance-contrast")


def test_bundled_themes_are_found_from_the_checkout() -> None:
    assert REPO / "themes" in bundled_theme_dirs()
    found = load_themes(bundled_theme_dirs())
    assert found.errors == []
    assert set(BUNDLED) <= set(found.themes)
    assert found.themes["seedance-dark"].dark is True
    assert found.themes["seedance-light"].dark is False
    assert found.sources["seedance-contrast"] == REPO / "themes" / "seedance-contrast.toml"
    assert DEFAULT_THEME in found.themes


def _luminance(hex_colour: str) -> float:
    r, g, b = RichColor.parse(hex_colour).get_truecolor()

    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def test_high_contrast_theme_is_exact_in_256_colours_and_high_contrast() -> None:
    theme = load_theme_file(REPO / "themes" / "seedance-contrast.toml")
    colours = [
        getattr(theme, name)
        for name in (
            "primary",
            "secondary",
            "accent",
            "warning",
            "error",
            "success",
            "foreground",
            "background",
            "surface",
            "panel",
        )
    ] + [v for v in theme.variables.values() if v.startswith("#")]
    for colour in colours:
        exact = RichColor.parse(colour)
        downgraded = exact.downgrade(ColorSystem.EIGHT_BIT)
        assert downgraded.get_truecolor() == exact.get_truecolor(), (
            f"{colour} is not an xterm-256 colour (becomes {downgraded.get_truecolor()})"
        )
    fg, bg = _luminance(theme.foreground), _luminance(theme.background)
    assert (max(fg, bg) + 0.05) / (min(fg, bg) + 0.05) >= 7.0  # WCAG AAA
    for name in ("error", "warning", "success", "primary"):
        c = _luminance(getattr(theme, name))
        assert (c + 0.05) / (bg + 0.05) >= 4.5, name


def test_user_themes_and_bad_files(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text('name = "mine"\nprimary = "#123456"\ndark = false\n')
    (tmp_path / "broken.toml").write_text('name = "broken"\nprimary = "not a colour"\n')
    (tmp_path / "nameless.toml").write_text('primary = "#ffffff"\n')
    (tmp_path / "typo.toml").write_text('name = "typo"\nprimery = "#ffffff"\n')
    (tmp_path / "notes.txt").write_text("ignored")
    found = load_themes([tmp_path])
    assert set(found.themes) == {"mine"}
    assert found.themes["mine"].dark is False
    errors = "\n".join(found.errors)
    assert 'broken.toml: primary = "not a colour" is not a colour' in errors
    assert "nameless.toml: a theme needs a name" in errors
    assert "typo.toml: unknown key 'primery'" in errors


def test_a_later_folder_wins_and_env_folder_is_searched(tmp_path: Path) -> None:
    (tmp_path / "dark.toml").write_text('name = "seedance-dark"\nprimary = "#ff0000"\n')
    found = load_themes([*bundled_theme_dirs(), tmp_path])
    assert found.themes["seedance-dark"].primary == "#ff0000"
    dirs = theme_dirs({THEMES_ENV: str(tmp_path)})
    assert dirs[-2] == tmp_path and dirs[-1] == user_theme_dir()
    try:
        load_theme_file(tmp_path / "missing.toml")
    except ThemeFileError as exc:
        assert "cannot read the theme" in str(exc)
    else:
        raise AssertionError("a missing file must raise ThemeFileError")


async def test_app_uses_the_configured_theme_and_remembers_a_switch(make_dash) -> None:
    dash: Dash = make_dash(ui=UIConfig(theme="seedance-light"))
    config_file = dash.tmp / "config.toml"
    config_file.write_text(
        '# my config\n[ui]\ntheme = "seedance-light"\n\n[download]\nenabled = true\n'
    )
    app = dash.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.theme == "seedance-light"
        assert not app.current_theme.dark
        app.theme = "seedance-contrast"
        await settle(pilot)
        saved = tomllib.loads(config_file.read_text())
        assert saved["ui"]["theme"] == "seedance-contrast"
        assert saved["download"]["enabled"] is True
        assert config_file.read_text().startswith("# my config")
        assert "asyntask_ultra1" in screen_text(app)  # still drawn after the switch


async def test_theme_from_the_palette(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.theme == DEFAULT_THEME
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"theme")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press(*"seedance-contrast")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert app.theme == "seedance-contrast"
        saved = tomllib.loads((dash.tmp / "config.toml").read_text())
        assert saved["ui"]["theme"] == "seedance-contrast"


async def test_user_theme_folder_and_unknown_theme_warning(make_dash, tmp_path: Path) -> None:
    folder = tmp_path / "user-themes"
    folder.mkdir()
    (folder / "ocean.toml").write_text('name = "ocean"\nprimary = "#0077be"\n')
    (folder / "bad.toml").write_text("name = [\n")
    dash: Dash = make_dash(ui=UIConfig(theme="nope"), theme_dirs=[*bundled_theme_dirs(), folder])
    app = dash.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "ocean" in app.available_themes
        assert app.theme == DEFAULT_THEME
        said = "\n".join(notifications(app))
        assert "theme 'nope' (from [ui] theme) is not installed" in said
        assert "bad.toml: not valid TOML" in said
        app.theme = "ocean"
        await settle(pilot)
        assert app.current_theme.primary == "#0077be"


def _contrast(segment) -> float:
    """WCAG contrast ratio of a drawn segment's text colour against its background."""
    fg = _luminance(segment.style.color.triplet.hex)
    bg = _luminance(segment.style.bgcolor.triplet.hex)
    return (max(fg, bg) + 0.05) / (min(fg, bg) + 0.05)


def _segment(strips, row_text: str, text: str):
    """The first drawn segment holding `text` on the first screen row that holds `row_text`."""
    strip = next(s for s in strips if row_text in s.text)
    return next(seg for seg in strip if text in seg.text)


async def test_bundled_themes_show_borders_and_one_running_colour(make_dash) -> None:
    dash: Dash = make_dash()
    app = dash.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("down")  # the cursor off the running task: its row shows its colour
        for theme in BUNDLED:
            app.theme = theme
            app.table.focus()
            await settle(pilot)
            strips = app.screen._compositor.render_strips()
            # running reads in one colour: the summary's count, the table's state
            in_summary = next(
                seg for seg in next(s for s in strips if "running 1" in s.text) if seg.text == "1"
            )
            in_table = _segment(strips, "◐ running", "running")
            assert in_table.style.color == in_summary.style.color, theme
            # an unfocused pane's border stands out from the background (WCAG 1.4.11: 3:1)
            assert _contrast(_segment(strips, "log: info", "──")) >= 3.0, theme
            app.log_panel.focus()
            await settle(pilot)
            strips = app.screen._compositor.render_strips()
            assert _contrast(_segment(strips, "9 of 9 tasks", "──")) >= 3.0, theme
            # muted labels are quieter than the numbers they name
            label = _segment(strips, "queued 1  running 1", "queued")
            value = _segment(strips, "queued 1  running 1", "1  ")
            assert _contrast(label) < _contrast(value), theme
