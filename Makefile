# Thuisplus signal hub. Quick start: `make demo`, then `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
OUT    ?= out

.PHONY: demo demo-small eval eval-real test lint bench clean install test-deps audit pip-audit

$(VENV)/.installed: pyproject.toml
	scripts/ensure-python.sh $(PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

## demo: simulate a flat of 30 apartments with the standard kit for eight weeks (episodes
## from week 4, after three weeks of ordinary life), replay it through the hub, score the
## signals against the simulator's ground truth, write the last week's agenda
DEMO := $(OUT)/demo
demo: install
	rm -rf $(DEMO)
	$(BIN)/thuisplus simulate --apartments 30 --days 56 --seed 5 --episode-scale 6 --kit \
		--episodes-from-day 21 --out $(DEMO)
	$(BIN)/thuisplus replay $(DEMO)/recording.jsonl.gz --config $(DEMO)/flat.yaml \
		--signals-out $(DEMO)/signals.jsonl --state-dir $(DEMO)/state
	$(BIN)/thuisplus evaluate $(DEMO)/truth.jsonl $(DEMO)/signals.jsonl
	$(BIN)/thuisplus agenda --state-dir $(DEMO)/state --config $(DEMO)/flat.yaml \
		--week 2026-W09 --out $(DEMO)/agenda.html

## demo-small: replay the small hand-made recording that ships with the hub
demo-small: install
	rm -rf $(OUT)/demo-small
	$(BIN)/thuisplus replay edge/data/demo.jsonl --signals-out $(OUT)/demo-small/signals.jsonl \
		--state-dir $(OUT)/demo-small/state

## eval: simulate -> replay -> evaluate over the standard seeds, with the standard kit
## (default world) and without it (no-kit) beside; prints each table, the goals, the worst
## world. EVAL_ARGS: further options, e.g. EVAL_ARGS="--worlds all" (docs/evaluation.md)
EVAL_ARGS ?=
eval: install
	$(BIN)/thuisplus eval-suite --worlds default no-kit --seeds 11 22 33 --apartments 80 --days 120 --out $(OUT)/eval $(EVAL_ARGS) \
		--replay-cmd "$(BIN)/thuisplus replay {recording} --config {config} --signals-out {signals} --quiet --no-progress --jobs 1"

## eval-real: acute episodes put into the shared real recordings (../shared/datasets)
eval-real: install
	$(BIN)/thuisplus eval-real --datasets ../shared/datasets --out $(OUT)/eval-real

## test-deps: what the tests start or run for themselves (Mosquitto, VictoriaMetrics,
## Chromium, Home Assistant in its own venv, debootstrap for the Ansible converge)
test-deps: install
	scripts/install-test-deps.sh
	scripts/install-deploy-test-deps.sh $(VENV)
	PYTHON=$(PYTHON) scripts/install-homeassistant.sh

## test: install everything, then run every test (real Mosquitto on a free loopback port)
test: install test-deps
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	cd deploy/ansible && PATH="$(CURDIR)/$(BIN):$$PATH" yamllint --strict . && PATH="$(CURDIR)/$(BIN):$$PATH" ansible-lint
	$(BIN)/ruff format --check edge detectors integrations simulators tests
	$(BIN)/mypy

## bench: replay throughput against the JSON-parsing floor (one process and --jobs N);
## start-up of a command without detectors; live fall-to-signal latency
## beside a Home Assistant automation; memory and CPU of a 300-apartment flat (~10 min)
bench: install test-deps
	$(PY) benchmarks/bench_replay.py
	$(PY) benchmarks/bench_startup.py
	$(PY) benchmarks/bench_latency.py
	$(PY) benchmarks/bench_resources.py
	$(PY) benchmarks/bench_faults.py
	$(PY) benchmarks/bench_serve.py

## audit: known vulnerabilities in the installed dependencies (PyPI's advisory data, as
## pip-audit reads it; see docs/security.md); fails on a vulnerable release. In CI.
audit: install
	$(PY) scripts/audit.py

## pip-audit: the same with pip-audit itself, where PyPI's per-release JSON is reachable;
## --strict: a dependency it cannot look up fails the audit instead of passing it
pip-audit: install
	$(BIN)/pip-audit --strict --vulnerability-service pypi --skip-editable --progress-spinner off

clean:
	rm -rf $(VENV) $(OUT) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
