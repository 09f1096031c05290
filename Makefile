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

.PHONY: setup lock system-deps demo test lint bench clean

# The venv is exactly the lock (requirements.lock: every dependency and extra, exact versions, sha256
# hashes; made by `make lock` with pip-tools from pyproject.toml). torch is the 2.13.0 CPU wheel
# (from pip's find-links on these machines), never a CUDA build. The marker keeps a copy of the lock it
# installed: a changed lock reinstalls.
$(BIN)/.installed: requirements.lock pyproject.toml
	@echo "setup: creating $(VENV) and installing the locked dependencies (a few minutes on a fresh machine)…"
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes --no-deps -r requirements.lock
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	@# pip compiles what it installs, but not an editable project: compile it once here
	$(BIN)/python -m compileall -q -j 0 foundation qa dobae crawler augment train infer db
	cp requirements.lock $@

setup: $(BIN)/.installed

# Refresh the lock on purpose: after adding, removing or re-ranging a dependency in pyproject.toml, or
# to take newer releases on purpose (then run `make test`). Everything else installs from the lock as
# it is. uv (itself locked, in the dev extra) resolves for these machines: CPython 3.11 on x86_64 Linux,
# with torch's CPU wheel from pip's find-links folder (lock-constraints.txt).
lock: setup
	$(BIN)/uv pip compile pyproject.toml --upgrade --generate-hashes --custom-compile-command "make lock" \
	  --extra postgres --extra browser --extra serve --extra gemma --extra dev --group build \
	  --find-links $${PIP_FIND_LINKS:-/opt/wheels} --constraint lock-constraints.txt \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 -o requirements.lock

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
# The suite runs in parallel (pytest-xdist: a worker per core and one more — many tests wait on real
# processes, servers and sites — each with its own PostgreSQL database and Redis index, tests/conftest.py),
# whole files per worker, the longest files first (tests/file_order.py); `make test PYTEST_XDIST=` runs
# it serially. Every run prints its 25 slowest tests. (nproc counts OMP_NUM_THREADS, set to 1 above: not here.)
# Bytecode is written even where PYTHONDONTWRITEBYTECODE is set: the suite starts a few hundred Python
# processes (crawls, commands, servers) and each xdist worker collects every test file, so without
# cached bytecode every one of them compiles the project and pytest re-rewrites every test file.
PYTEST_ARGS ?=
PYTEST_XDIST ?= -n $$(( $$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc) + 1 )) --dist loadfile --no-loadscope-reorder
test: setup system-deps
	source .ci/pg.sh && source .ci/redis.sh && { pg_start || { echo "make test: could not start PostgreSQL (see above)" >&2; exit 1; }; } && \
	  trap 'pg_stop; redis_stop' EXIT && { redis_start || { echo "make test: could not start Redis (see above)" >&2; exit 1; }; } && \
	  CI=$${CI:-true} PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q $(PYTEST_XDIST) --durations=25 $(PYTEST_ARGS)

# DEMO_ARGS, e.g. `make demo DEMO_ARGS="--train ../shared/data/dacon/dev.csv --test ../shared/data/dacon/test.csv"`
DEMO_ARGS ?=
demo: setup system-deps
	rc=0; $(BIN)/dobae demo $(DEMO_ARGS) || rc=$$?; \
	  $(BIN)/dobae status && $(BIN)/dobae report --force --out data/report.html && exit $$rc

# ruff, then the type checker on the lower layers (mypy: the database, the QA core, the foundation;
# configured in pyproject.toml's [tool.mypy]; tests/test_lint.py runs it in the suite too).
lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy foundation qa db

bench: setup
	for b in benchmarks/*_bench.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) data/dobae.db* data/cache
