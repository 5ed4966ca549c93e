# The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
UV_VERSION := 0.9.9
STAMP := $(VENV)/.installed

.PHONY: run test install lint lock clean bench

# Strict editable mode links the package from build/, so providers/ never lands on sys.path (its
# egg-info there would make Airflow see the plugin's entry point twice). In that mode new modules
# appear only after a reinstall, which `make test` does first.
$(STAMP): setup.cfg pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "Headrace needs Python 3.11 ($(PYTHON) not found; set PYTHON=...)"; exit 1; }
	@# The MySQL provider's mysqlclient compiles against MariaDB's client library (Debian: libmariadb-dev).
	@pkg-config --exists libmariadb 2>/dev/null || pkg-config --exists mysqlclient 2>/dev/null || { \
		command -v apt-get >/dev/null || { echo "Headrace needs libmariadb-dev (or libmysqlclient-dev) and pkg-config"; exit 1; }; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libmariadb-dev pkg-config; }
	@# The browser tests (tests/e2e/test_ui.py) drive headless Chromium (Debian: chromium, chromium-driver).
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		command -v apt-get >/dev/null || { echo "Headrace's browser tests need chromium and chromedriver"; exit 1; }; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet uv==$(UV_VERSION)
	$(VENV)/bin/uv pip install --python $(VENV)/bin/python -c constraints.txt \
		--config-settings editable_mode=strict -e '.[test,postgres]'
	touch $(STAMP)

install: $(STAMP)

run: install
	VENV=$(VENV) scripts/run.sh

test: install
	$(VENV)/bin/uv pip install --quiet --python $(VENV)/bin/python -c constraints.txt \
		--config-settings editable_mode=strict --no-deps -e .
	$(VENV)/bin/pytest

# Benchmarks run on demand; see benchmarks/README.md. BENCH picks which (upload starts its own Airflow
# and S3 server; dag_build compares with dag-factory, the `bench` extra), e.g. `make bench BENCH=dag_build`.
BENCH ?= upload dag_build
bench: install
	$(VENV)/bin/uv pip install --quiet --python $(VENV)/bin/python -c constraints.txt \
		--config-settings editable_mode=strict -e '.[bench]'
	set -e; for name in $(BENCH); do $(VENV)/bin/python -m benchmarks.$$name $(BENCH_ARGS); done

lint: install
	$(VENV)/bin/ruff check providers plugins dags tests benchmarks
	$(VENV)/bin/ruff format --check providers plugins dags tests benchmarks

# Re-resolve the pinned dependency set after changing setup.cfg.
lock:
	test -x $(VENV)/bin/uv || { $(PYTHON) -m venv $(VENV) && $(VENV)/bin/python -m pip install -q uv==$(UV_VERSION); }
	$(VENV)/bin/uv pip compile setup.cfg --extra test --extra postgres --extra spark --extra bench --python-version 3.11 \
		--no-emit-package headrace -o constraints.txt

clean:
	rm -rf $(VENV) build providers/*.egg-info .pytest_cache
