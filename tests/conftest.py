"""Fixtures shared by several test files (the real faults of tests/faults.py)."""

pytest_plugins = ["faults"]
