"""The headless engine: no Textual import anywhere below here (import-linter checks it)."""

APP_NAME = "seedance-tui"  # the program's name: config and data folders, titles, `--version`
