# Two commands do all set-up on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Some shells here set PYTHONDONTWRITEBYTECODE: then every pytest worker rewrites and compiles
# every test module again (4.3 s against 1.3 s to collect) and every `python -m tui` a test
# starts compiles the package afresh. Bytecode goes to __pycache__/, which git ignores.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: demo test lint typecheck bench bench-smoke soak screenshots clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

## Open the dashboard on the embedded simulator: no key, no network.
demo: $(STAMP)
	$(BIN)/seedance-tui demo

## Lint, check the architecture contract, run every test: first eight at a time, handed out one
## by one (two cores, but a sixth of the tests mostly wait on subprocesses and the simulator's
## clock: eight workers overlap those waits with the tests that need the CPU; tests/conftest.py
## spreads the waiting ones early), then alone the few marked `serial` (they assert on real
## elapsed time, which a busy core stretches).
test: $(STAMP) lint
	$(BIN)/python -m pytest -q -m "not serial" -n 8 --maxschedchunk 1
	$(BIN)/python -m pytest -q -m serial

lint: $(STAMP)
	$(BIN)/ruff check tui tests
	$(BIN)/ruff format --check tui tests
	$(BIN)/lint-imports
	$(BIN)/mypy

## Type-check the package alone (strict for tui.core; see [tool.mypy] in pyproject.toml).
typecheck: $(STAMP)
	$(BIN)/mypy

## Print the full-size benchmark figures that the README's Performance section shows.
bench: $(STAMP)
	$(BIN)/python tests/bench/bench_store.py
	$(BIN)/python tests/bench/bench_schedule.py
	$(BIN)/python tests/bench/bench_cli.py
	$(BIN)/python tests/bench/bench_download.py
	$(BIN)/python tests/bench/bench_table.py
	$(BIN)/python tests/bench/bench_dashboard.py
	$(BIN)/python tests/bench/bench_memory.py
	$(BIN)/python tests/bench/bench_eta.py --full
	$(BIN)/python tests/bench/bench_submit.py --full
	$(BIN)/python tests/bench/bench_slow_fsync.py

## The soak at full size: `watch` over 20,000 simulated tasks with provider faults, the store's
## disk filled twice and the store locked twice; every outcome checked (needs root: a tmpfs).
soak: $(STAMP)
	$(BIN)/python tests/bench/bench_soak.py --full

## Every benchmark at small sizes, one at a time: they still run and print their figures.
bench-smoke: $(STAMP)
	$(BIN)/python -m pytest -q -s tests/bench/bench_*.py

## Render the README's screenshots (SVG) from the simulator with a frozen clock.
screenshots: $(STAMP)
	$(BIN)/python -m tui.app.screenshots screenshots

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .import_linter_cache build *.egg-info
