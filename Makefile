# Two commands do everything on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test demo bench lint clean goldens

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[cnn,dev]"
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q tests

demo: install
	$(BIN)/python -m assb_lmp demo

bench: install
	$(BIN)/python -m assb_lmp bench

lint: install
	$(BIN)/ruff check assb_lmp tests

goldens: install
	$(BIN)/python tests/regen_goldens.py

clean:
	rm -rf runs/*/ .pytest_cache build *.egg-info
