# Thuisplus signal hub. Quick start: `make demo`, then `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
OUT    ?= out

.PHONY: demo test lint bench clean install test-deps

$(VENV)/.installed: pyproject.toml
	scripts/ensure-python.sh $(PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

## demo: replay the shipped two-day recording of three apartments; print and write signals
demo: install
	rm -rf $(OUT)/demo-state
	$(BIN)/thuisplus replay edge/data/demo.jsonl --signals-out $(OUT)/demo-signals.jsonl \
		--state-dir $(OUT)/demo-state

## test-deps: the services the tests start for themselves (Mosquitto), installed when missing
test-deps:
	scripts/install-test-deps.sh
	PYTHON=$(PYTHON) scripts/install-homeassistant.sh

## test: install everything, then run every test (real Mosquitto on a free loopback port)
test: install test-deps
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check edge detectors integrations simulators tests
	$(BIN)/mypy

## bench: replay throughput against the JSON-parsing floor; live fall-to-signal latency
bench: install test-deps
	$(PY) benchmarks/bench_replay.py
	$(PY) benchmarks/bench_latency.py

clean:
	rm -rf $(VENV) $(OUT) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
