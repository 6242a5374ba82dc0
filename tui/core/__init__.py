"""The headless engine: no Textual import anywhere below here (import-linter checks it)."""
