# Two commands do all the set-up on a fresh machine:
#   make demo   creates .venv, installs the package, runs the quickstart
#   make test   creates .venv, installs the package, runs lint and the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint benchmarks clean

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
	$(BIN)/ruff check sklearn_wdist tests examples benchmarks
	$(BIN)/ruff format --check sklearn_wdist tests examples benchmarks

test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
