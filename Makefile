# Two commands on a fresh Linux machine with Python 3.11 and make:
#   make run    set up .venv and start the app on the bundled sample room
#   make test   set up .venv and run the whole test suite headless (Xvfb started when there is no display)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench setup system-deps clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel setuptools

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

system-deps:
	@bash scripts/system_deps.sh

run: setup system-deps
	bash scripts/with_display.sh $(PY) main.py $(ARGS)

test: setup system-deps
	bash scripts/with_display.sh $(PY) -m pytest $(PYTEST_ARGS)
	$(VENV)/bin/ruff check .

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
