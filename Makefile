# keyless.aws — the two commands in README: `make demo` and `make test`.
# Python entry points run as modules from this directory (python -m demo.run, -m bench.run,
# -m tests.support.moto_server): the checkout's root is then on sys.path, so they import tests.support directly.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv demo test unit scenarios integration sanity lint molecule docs bench bench-smoke clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

demo: venv
	$(PY) -m demo.run

test: venv
	PYTHON=$(PY) bash scripts/test

unit: venv
	PYTHON=$(PY) bash scripts/test unit

scenarios: venv
	PYTHON=$(PY) bash scripts/test scenarios

integration: venv
	PYTHON=$(PY) bash scripts/test integration

sanity: venv
	PYTHON=$(PY) bash scripts/test sanity

lint: venv
	PYTHON=$(PY) bash scripts/test lint

molecule: venv
	PYTHON=$(PY) bash scripts/test molecule

docs: venv
	PYTHON=$(PY) bash scripts/test docs

bench: venv
	$(PY) -m bench.run $(BENCH_ARGS)

bench-smoke: venv
	PYTHON=$(PY) bash scripts/test bench

clean:
	rm -rf .build tests/output
