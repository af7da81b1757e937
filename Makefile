# Two commands do all the set-up on a fresh machine:
#   make demo   creates .venv, installs the package, runs the quickstart
#   make test   creates .venv, installs the package, runs lint, the docs build and
#               the test suite
#   make docs   builds the API reference and example gallery into docs/_build/html
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint docs benchmarks clean

# The CPU build of PyTorch is installed first (requirements/dev.txt pins it) so
# that resolving the package's torch range never pulls a CUDA build.
$(VENV)/.installed: pyproject.toml requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet -c requirements/dev.txt -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/python examples/plot_quickstart.py

lint: $(VENV)/.installed
	$(BIN)/ruff check sklearn_wdist tests examples benchmarks docs
	$(BIN)/ruff format --check sklearn_wdist tests examples benchmarks docs

# Sphinx with warnings as errors; the gallery runs every examples/plot_*.py in
# fast mode (SKLEARN_WDIST_FAST=1, set in docs/conf.py) and re-runs a script only
# when it changed. -E re-reads every page: an incremental build would not repeat
# the warnings of pages it skips, and pass.
docs: $(VENV)/.installed
	$(BIN)/python -m sphinx -E -W --keep-going -b html docs docs/_build/html

test: lint docs
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache docs/_build docs/auto_examples docs/generated \
		docs/gen_modules docs/sg_execution_times.rst
