"""The config file: defaults, presets, keys, and errors that name file, line and key."""

from __future__ import annotations

import dataclasses
import os
import stat
import tomllib
from pathlib import Path

import pytest

from tui.core.config import (
    Config,
    ConfigError,
    DownloadConfig,
    ProviderConfig,
    StoreConfig,
    load_config,
    mask_key,
    masked,
    resolve_config_path,
    resolve_db_path,
    save_ui_theme,
    starter_config,
    write_private,
)

SECRET = "sk-live-0123456789abcdef"


def write(tmp_path: Path, text: str, mode: int = 0o644) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


def error_of(path: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {})
    return str(info.value)


# --- defaults and presets ---------------------------------------------------------------------


def test_a_missing_file_means_defaults_with_the_two_presets(tmp_path: Path) -> None:
    config = load_config(tmp_path / "nope.toml", env={"ANYFAST_API_KEY": SECRET})
    assert config.path is None
    assert set(config.providers) == {"anyfast", "kyy"}
    anyfast = config.providers["anyfast"]
    assert (anyfast.kind, anyfast.base_url, anyfast.api_key_env) == (
        "newapi",
        "https://www.anyfast.ai",
        "ANYFAST_API_KEY",
    )
    assert anyfast.api_key == SECRET
    kyy = config.providers["kyy"]
    assert (kyy.kind, kyy.base_url, kyy.api_key_env, kyy.api_key) == (
        "kyy",
        "https://zcbservice.aizfw.cn/kyyReactApiServer",
        "KYY_API_KEY",
        None,
    )
    assert (kyy.rate_limit, kyy.concurrency, kyy.min_interval, kyy.max_interval, kyy.timeout) == (
        5.0,
        8,
        10.0,
        120.0,
        30.0,
    )
    assert config.download.enabled is True
    assert config.download.template == "{provider}/{id}.mp4"
    assert config.download.concurrency == 2
    assert config.download.dir.name == "videos"
    assert config.download.dir.parent.name == "seedance-tui"
    assert config.ui.theme is None and config.ui.keys == {}


def test_presets_apply_only_without_a_providers_table(tmp_path: Path) -> None:
    only_download = write(tmp_path, "[download]\nenabled = false\n")
    config = load_config(only_download, env={})
    assert set(config.providers) == {"anyfast", "kyy"}
    assert config.download.enabled is False

    empty_providers = write(tmp_path, "[providers]\n")
    assert load_config(empty_providers, env={}).providers == {}

    one = write(
        tmp_path,
        '[providers.ark]\nkind = "ark"\nbase_url = "https://ark.example/api/v3/"\n'
        'api_key_env = "ARK_KEY"\nrate_limit = 2\nmin_interval = 15\n',
    )
    config = load_config(one, env={"ARK_KEY": SECRET})
    assert list(config.providers) == ["ark"]
    ark = config.providers["ark"]
    assert ark.base_url == "https://ark.example/api/v3"  # trailing slash dropped
    assert ark.api_key == SECRET and ark.rate_limit == 2.0 and ark.min_interval == 15.0
    assert isinstance(ark.rate_limit, float)


def test_the_starter_config_loads_and_matches_the_presets(tmp_path: Path) -> None:
    path = write(tmp_path, starter_config())
    config = load_config(path, env={"KYY_API_KEY": SECRET})
    presets = load_config(tmp_path / "missing.toml", env={"KYY_API_KEY": SECRET})
    assert config.providers == presets.providers
    assert config.download.enabled and config.download.template == "{provider}/{id}.mp4"


def test_paths_follow_flag_then_environment_then_platform_dirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEEDANCE_TUI_CONFIG", str(tmp_path / "env.toml"))
    monkeypatch.setenv("SEEDANCE_TUI_DB", str(tmp_path / "env.db"))
    assert resolve_config_path("~/flag.toml") == Path.home() / "flag.toml"
    assert resolve_config_path(None) == tmp_path / "env.toml"
    assert resolve_db_path(str(tmp_path / "flag.db")) == tmp_path / "flag.db"
    assert resolve_db_path(None) == tmp_path / "env.db"
    monkeypatch.delenv("SEEDANCE_TUI_CONFIG")
    monkeypatch.delenv("SEEDANCE_TUI_DB")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    assert resolve_config_path(None) == tmp_path / "xdg-config" / "seedance-tui" / "config.toml"
    assert resolve_db_path(None) == tmp_path / "xdg-data" / "seedance-tui" / "tasks.db"


def test_download_dir_is_expanded_and_relative_to_the_config_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[download]\ndir = "clips"\ntemplate = "{batch}/{date}/{id}.mp4"\n')
    config = load_config(path, env={})
    assert config.download.dir == tmp_path / "clips"
    assert config.download.template == "{batch}/{date}/{id}.mp4"
    home = write(tmp_path, '[download]\ndir = "~/clips"\n')
    assert load_config(home, env={}).download.dir == Path.home() / "clips"


def test_ui_theme_and_key_remaps(tmp_path: Path) -> None:
    path = write(tmp_path, '[ui]\ntheme = "nord"\n[ui.keys]\nrefresh = "ctrl+r"\nquit = "q"\n')
    config = load_config(path, env={})
    assert config.ui.theme == "nord"
    assert config.ui.keys == {"refresh": "ctrl+r", "quit": "q"}


# --- keys --------------------------------------------------------------------------------------


def test_a_key_in_the_file_needs_mode_0600(tmp_path: Path) -> None:
    text = f'[providers.relay]\nkind = "newapi"\nbase_url = "https://r.x"\napi_key = "{SECRET}"\n'
    path = write(tmp_path, text, mode=0o644)
    message = error_of(path)
    assert f"chmod 600 {path}" in message and "api_key_env" in message
    assert f"{path}, line 4" in message
    assert SECRET not in message

    path.chmod(0o600)
    config = load_config(path, env={})
    assert config.providers["relay"].api_key == SECRET


def test_config_show_prints_the_store_settings_in_effect(tmp_path: Path) -> None:
    """`config show` prints every table it reads, `[store]` too, as TOML that loads again."""
    path = write(tmp_path, "[store]\nbusy_timeout = 3\n")
    shown = tomllib.loads(masked(load_config(path, env={})))
    assert shown["store"] == {"busy_timeout": 3.0, "give_up_after": 600.0}


def test_a_key_never_shows_in_repr_or_config_show(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f'[providers.relay]\nkind = "newapi"\nbase_url = "https://r.x"\napi_key = "{SECRET}"\n'
        '[providers.env]\nkind = "kyy"\nbase_url = "https://k.example"\napi_key_env = "K"\n',
        mode=0o600,
    )
    config = load_config(path, env={"K": "kk-" + SECRET})
    assert SECRET not in repr(config)
    shown = masked(config)
    assert SECRET not in shown
    assert 'api_key = "sk-l…(masked)"' in shown
    assert "# $K: set (kk-s…(masked))" in shown
    # what `config show` prints is TOML again, keys included as their masked form
    data = tomllib.loads(shown)
    assert data["providers"]["relay"]["api_key"] == "sk-l…(masked)"
    assert data["download"]["template"] == "{provider}/{id}.mp4"


def test_short_keys_are_masked_whole() -> None:
    assert mask_key("abc123") == "…(masked)"
    assert mask_key(None) is None


def test_both_api_key_and_api_key_env_is_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[providers.r]\nkind = "kyy"\nbase_url = "https://x.example"\n'
        f'api_key_env = "X"\napi_key = "{SECRET}"\n',
        mode=0o600,
    )
    message = error_of(path)
    assert "line 5" in message and "keep one" in message and SECRET not in message


def test_a_key_written_into_api_key_env_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = write(
        tmp_path, f'[providers.r]\nkind = "kyy"\nbase_url = "https://x"\napi_key_env = "{SECRET}"\n'
    )
    message = error_of(path)
    assert "line 4" in message and "not an environment variable name" in message
    assert SECRET not in message and SECRET[:12] not in message


def test_a_wrongly_typed_api_key_is_not_echoed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[providers.r]\nkind = "kyy"\nbase_url = "https://x"\napi_key = 123456789\n',
        0o600,
    )
    message = error_of(path)
    assert "line 4" in message and "123456789" not in message


# --- errors name file, line and key and say what to do --------------------------------------------


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        ('kind = "foo"\nbase_url = "https://x"\n', 2, ['kind = "foo"', "kyy, newapi or ark"]),
        ('kind = "kyy"\nbase_url = "https://x"\nrate_limt = 3\n', 4, ["did you mean rate_limit?"]),
        ('kind = "kyy"\nbase_url = "https://x"\nrate_limit = "fast"\n', 4,
         ['rate_limit = "fast" is not a number', "rate_limit = 5.0"]),
        ('kind = "kyy"\nbase_url = "https://x"\nconcurrency = 0\n', 4,
         ["concurrency = 0", "1 or more"]),
        ('kind = "kyy"\nbase_url = "https://x"\nconcurrency = 2.5\n', 4, ["whole number"]),
        ('kind = "kyy"\nbase_url = "https://x"\ntimeout = true\n', 4, ["not a number"]),
        ('kind = "kyy"\nbase_url = "https://x"\nmin_interval = 60\nmax_interval = 30\n', 5,
         ["min_interval (60) is above max_interval (30)"]),
        ('kind = "kyy"\nbase_url = "ftp://x"\n', 3, ["not an http(s) URL"]),
        ('base_url = "https://x"\n', 1, ["has no kind", 'kind = "newapi"']),
        ('kind = "kyy"\n', 1, ["has no base_url"]),
    ],
)  # fmt: skip
def test_provider_errors(tmp_path: Path, body: str, line: int, words: list[str]) -> None:
    path = write(tmp_path, "[providers.relay]\n" + body)
    message = error_of(path)
    assert message.startswith(f"{path}, line {line}, [providers.relay]: "), message
    for word in words:
        assert word in message


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("[provider.a]\nkind = 'kyy'\n", 1, ["unknown key 'provider'", "did you mean providers?"]),
        ("[download]\nenabeld = true\n", 2, ["did you mean enabled?"]),
        ("[download]\nenabled = 'yes'\n", 2, ["true or false"]),
        ("[download]\ntemplate = '{provider}/{name}.mp4'\n", 2, ["{name} is unknown"]),
        ("[download]\ntemplate = '/abs/{id}.mp4'\n", 2, ["relative path"]),
        ("[download]\ntemplate = '{provider}/../{id}.mp4'\n", 2, ["relative path"]),
        ("[download]\ntemplate = '{provider}.mp4'\n", 2, ["contains {id}"]),
        ("[download]\ntemplate = '{id'\n", 2, ["not a valid template"]),
        ("[download]\nconcurrency = -1\n", 2, ["1 or more"]),
        ("[ui]\ntheme = 3\n", 2, ["non-empty string"]),
        ("[ui]\nkeys = {quit = 3}\n", 2, ["must name keys in quotes"]),
        ("[ui]\ntheem = 'x'\n", 2, ["did you mean theme?"]),
        ("download = 3\n", 1, ["must be a table"]),
        ("# comment\n[providers]\nr = {kind = 'kyy', base_url = 'https://x', timeout = -1}\n", 3,
         ["timeout = -1 must be above 0"]),
        ("[providers.'my relay']\nkind = 'kyy'\nbase_url = 'https://x'\n", 1,
         ["provider name 'my relay'"]),
    ],
)  # fmt: skip
def test_section_errors(tmp_path: Path, text: str, line: int, words: list[str]) -> None:
    path = write(tmp_path, text)
    message = error_of(path)
    assert message.startswith(f"{path}, line {line}"), message
    for word in words:
        assert word in message, message


# --- numbers that are numbers -----------------------------------------------------------------

PROVIDER_NUMBERS = ("rate_limit", "concurrency", "min_interval", "max_interval", "timeout")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "+inf", "-nan", "-3", "-0.5"])
@pytest.mark.parametrize("key", PROVIDER_NUMBERS)
def test_every_provider_number_refuses_nan_inf_and_negatives(
    tmp_path: Path, key: str, value: str
) -> None:
    path = write(
        tmp_path, f'[providers.relay]\nkind = "kyy"\nbase_url = "https://x"\n{key} = {value}\n'
    )
    message = error_of(path)
    assert message.startswith(f"{path}, line 4, [providers.relay]: {key} = "), message
    refusals = ("is not a finite number", "must be above 0", "not a whole number", "1 or more")
    assert any(words in message for words in refusals), message


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "-2.5"])
def test_download_concurrency_refuses_nan_inf_and_negatives(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, f"# videos\n[download]\nenabled = true\nconcurrency = {value}\n")
    message = error_of(path)
    assert message.startswith(f"{path}, line 4, [download]: concurrency = "), message


@pytest.mark.parametrize(
    ("value", "words"),
    [("nan", "rate_limit = nan is not a finite number"),
     ("inf", "rate_limit = inf is not a finite number"),
     ("-inf", "rate_limit = -inf is not a finite number"),
     ("-1", "rate_limit = -1 must be above 0")],
)  # fmt: skip
def test_a_refused_number_says_what_it_is_and_what_to_write(
    tmp_path: Path, value: str, words: str
) -> None:
    path = write(
        tmp_path,
        f"[providers]\nr = {{kind = 'kyy', base_url = 'https://x', rate_limit = {value}}}\n",
    )
    message = error_of(path)
    assert message.startswith(f"{path}, line 2, [providers.r]: {words}"), message


def test_an_infinite_max_interval_is_refused_not_taken_as_never(tmp_path: Path) -> None:
    path = write(
        tmp_path, "[providers.r]\nkind = 'kyy'\nbase_url = 'https://x'\nmax_interval = inf\n"
    )
    assert "max_interval = inf is not a finite number" in error_of(path)
    below = write(
        tmp_path, "[providers.r]\nkind = 'kyy'\nbase_url = 'https://x'\nmax_interval = 5\n"
    )
    assert "min_interval (10) is above max_interval (5)" in error_of(below)


@pytest.mark.parametrize("key", ["min_interval", "max_interval", "timeout"])
def test_seconds_beyond_a_year_are_refused_before_they_overflow_a_date(
    tmp_path: Path, key: str
) -> None:
    body = "[providers.r]\nkind = 'kyy'\nbase_url = 'https://x'\n"
    path = write(tmp_path, body + f"{key} = 1e12\n")
    message = error_of(path)
    assert message.startswith(f"{path}, line 4, [providers.r]: {key} = 1000000000000.0 is more")
    settings = {"max_interval": 31536000, key: 31536000}
    year = write(tmp_path, body + "".join(f"{k} = {v}\n" for k, v in settings.items()))
    assert getattr(load_config(year, env={}).providers["r"], key) == 31536000.0


# --- defaults are written once ------------------------------------------------------------------


def _defaults(cls: type) -> dict[str, object]:
    return {
        f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING
    }


def test_the_starter_file_and_the_checker_use_the_dataclass_defaults(tmp_path: Path) -> None:
    """A default changed in the dataclass shows in the starter file and in what a file that
    leaves the key out gets: the three cannot drift apart."""
    provider_defaults = _defaults(ProviderConfig)
    assert {"rate_limit", "concurrency", "min_interval", "max_interval", "timeout"} <= set(
        provider_defaults
    )
    starter = tomllib.loads(starter_config())
    first = next(iter(starter["providers"].values()))
    for key in PROVIDER_NUMBERS:
        assert first[key] == provider_defaults[key], key
    download_defaults = _defaults(DownloadConfig)
    for key in ("enabled", "template", "concurrency"):
        assert starter["download"][key] == download_defaults[key], key
    assert starter["store"] == _defaults(StoreConfig)

    bare = write(tmp_path, "[providers.r]\nkind = 'kyy'\nbase_url = 'https://x'\n[download]\n")
    config = load_config(bare, env={})
    provider = config.providers["r"]
    for key in PROVIDER_NUMBERS:
        assert getattr(provider, key) == provider_defaults[key], key
    for key in ("enabled", "template", "concurrency"):
        assert getattr(config.download, key) == download_defaults[key], key
    assert config.download == DownloadConfig()


def test_toml_syntax_errors_name_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.a]\nkind = "kyy"\nbase_url = \n')
    message = error_of(path)
    assert message.startswith(f"{path}, line 3: not valid TOML"), message
    assert "(at line" not in message  # said once, up front


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    folder = tmp_path / "dir.toml"
    folder.mkdir()
    assert "is a directory" in error_of(folder)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"x = '\xff'\n")
    assert "UTF-8" in error_of(binary)


# --- writing -----------------------------------------------------------------------------------


def test_save_ui_theme_keeps_comments_and_other_keys(tmp_path: Path) -> None:
    path = write(tmp_path, starter_config())
    save_ui_theme(path, "nord")
    text = path.read_text()
    assert "# seedance-tui configuration" in text  # comments kept
    assert load_config(path, env={}).ui.theme == "nord"
    save_ui_theme(path, "gruvbox")
    assert load_config(path, env={}).ui.theme == "gruvbox"
    assert text.count("[ui]") == path.read_text().count("[ui]") == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_save_ui_theme_keeps_comments_other_tables_and_key_order(tmp_path: Path) -> None:
    original = (
        "# my settings, by hand\n"
        "\n"
        "[providers.relay]   # the one I use\n"
        'kind = "newapi"\n'
        'base_url = "https://relay.example"  # their new host\n'
        'api_key_env = "RELAY_KEY"\n'
        "rate_limit = 2\n"
        "\n"
        "[ui]\n"
        'theme = "nord"  # dark, for the evening\n'
        "\n"
        "# keys I changed\n"
        "[ui.keys]\n"
        'quit = "ctrl+q"\n'
        "\n"
        "[download]\n"
        "concurrency = 3\n"
        "enabled = true   # keep them all\n"
    )
    path = write(tmp_path, original, 0o600)
    save_ui_theme(path, "gruvbox")
    text = path.read_text()
    assert text == original.replace('theme = "nord"', 'theme = "gruvbox"')
    config = load_config(path, env={})
    assert config.ui.theme == "gruvbox" and config.ui.keys == {"quit": "ctrl+q"}
    assert list(tomllib.loads(text)) == ["providers", "ui", "download"]


def test_save_ui_theme_adds_a_ui_table_after_the_rest(tmp_path: Path) -> None:
    original = "# mine\n[download]\nconcurrency = 3  # three at once\nenabled = false"
    path = write(tmp_path, original)
    save_ui_theme(path, "nord")
    text = path.read_text()
    assert text.startswith(original + "\n")
    assert tomllib.loads(text) == {
        "download": {"concurrency": 3, "enabled": False},
        "ui": {"theme": "nord"},
    }


def test_save_ui_theme_creates_or_appends(tmp_path: Path) -> None:
    fresh = tmp_path / "sub" / "config.toml"
    save_ui_theme(fresh, "dracula")
    assert tomllib.loads(fresh.read_text()) == {"ui": {"theme": "dracula"}}
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600

    other = write(tmp_path, "[download]\nenabled = false\n")
    save_ui_theme(other, 'we"ird')
    data = tomllib.loads(other.read_text())
    assert data == {"download": {"enabled": False}, "ui": {"theme": 'we"ird'}}


def test_save_ui_theme_falls_back_to_a_rewrite_for_odd_layouts(tmp_path: Path) -> None:
    path = write(tmp_path, 'ui = { theme = "old", keys = { quit = "q" } }\n')
    save_ui_theme(path, "new")
    assert tomllib.loads(path.read_text()) == {"ui": {"theme": "new", "keys": {"quit": "q"}}}


def test_save_ui_theme_refuses_a_broken_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[ui\n")
    with pytest.raises(ConfigError, match="line 1"):
        save_ui_theme(path, "nord")
    assert path.read_text() == "[ui\n"


def test_write_private_is_0600_even_with_a_loose_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        target = tmp_path / "a" / "config.toml"
        write_private(target, "x = 1\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text() == "x = 1\n"
    assert [p.name for p in target.parent.iterdir()] == ["config.toml"]  # no temp file left


def test_config_values_are_plain_frozen_dataclasses() -> None:
    provider = ProviderConfig(name="a", kind="kyy", base_url="https://x", api_key=SECRET)
    assert SECRET not in repr(provider)
    config = Config(providers={"a": provider})
    with pytest.raises(AttributeError):
        config.path = Path("x")  # type: ignore[misc]


def test_create_and_store_keys_have_their_contract_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[providers.a]\nkind = "newapi"\nbase_url = "https://a.example"\n'
        '[providers.k]\nkind = "kyy"\nbase_url = "https://k.example"\ncreate_path = "/v2/make"\n'
        "max_live = 20\ncreate_rate = 6.5\nmax_attempts = 5\n"
        '[providers.r]\nkind = "ark"\nbase_url = "https://r.example"\n'
    )
    config = load_config(path, env={})
    a, k, r = config.providers["a"], config.providers["k"], config.providers["r"]
    assert (a.max_live, a.create_rate, a.max_attempts) == (10, 30.0, 3)
    assert a.create_endpoint == "/v1/video/generations"
    assert r.create_endpoint == "/contents/generations/tasks"
    assert (k.create_endpoint, k.max_live, k.create_rate, k.max_attempts) == (
        "/v2/make",
        20,
        6.5,
        5,
    )
    assert (config.store.give_up_after, config.store.busy_timeout) == (600.0, 15.0)
    assert load_config(tmp_path / "none.toml", env={}).providers["kyy"].create_endpoint == (
        "/v1/kyyvideo2/videos"
    )


@pytest.mark.parametrize(
    ("table", "line", "needle"),
    [
        ("[store]", "give_up_after = nan", "give_up_after = nan is not a finite number"),
        ("[store]", "give_up_after = -5", "must be above 0"),
        ("[store]", "give_up = 5", "did you mean give_up_after?"),
        ("[store]", "busy_timeout = 0", "busy_timeout = 0 must be above 0"),
        ("[store]", "busy_timeout = '15'", "is not a number"),
        (
            '[providers.a]\nkind = "newapi"\nbase_url = "https://a.example"',
            "max_live = 0",
            "1 or more",
        ),
        (
            '[providers.a]\nkind = "newapi"\nbase_url = "https://a.example"',
            "create_rate = inf",
            "finite",
        ),
        (
            '[providers.a]\nkind = "newapi"\nbase_url = "https://a.example"',
            'create_path = "v1/x"',
            "starts with '/'",
        ),
    ],
)
def test_bad_create_and_store_values_name_the_key(
    tmp_path: Path, table: str, line: str, needle: str
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"{table}\n{line}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert needle in str(caught.value) and str(path) in str(caught.value)
