# apilink: `make demo` runs a real sync on the built-in demo; `make test` runs the tests.
# Both work on a fresh machine with only Python and pip: uv is bootstrapped when missing, and
# .venv is created from uv.lock.

PYTHON ?= python3
BOOTSTRAP := .tools
UV := $(shell command -v uv 2>/dev/null || echo $(BOOTSTRAP)/bin/uv)
VENV := .venv
BIN := $(VENV)/bin
PREFECT_PORT ?= 4200
WORK_POOL ?= apilink

export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export GX_ANALYTICS_ENABLED ?= False

.PHONY: install demo test lint format bench server worker deploy clean

$(BOOTSTRAP)/bin/uv:
	$(PYTHON) -m venv $(BOOTSTRAP)
	$(BOOTSTRAP)/bin/python -m pip install --quiet --disable-pip-version-check uv

$(VENV)/.installed: pyproject.toml uv.lock Makefile | $(UV)
	$(UV) sync --locked --quiet --compile-bytecode
	@touch $@

install: $(VENV)/.installed

# Third-party APIs the tests run against (json-server), from the lock file.
THIRDPARTY := tests/thirdparty
$(THIRDPARTY)/node_modules/.installed: $(THIRDPARTY)/package.json $(THIRDPARTY)/package-lock.json
	npm ci --prefix $(THIRDPARTY) --no-audit --no-fund --loglevel=error
	@touch $@

demo: install
	$(BIN)/apilink demo

test: install $(THIRDPARTY)/node_modules/.installed
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.hostile
	$(BIN)/python -m bench.plan_apply

server: install
	$(BIN)/prefect config set PREFECT_API_URL=http://127.0.0.1:$(PREFECT_PORT)/api
	$(BIN)/prefect server start --host 127.0.0.1 --port $(PREFECT_PORT)

worker: install
	$(BIN)/prefect worker start --pool $(WORK_POOL) --type process --limit $${WORKER_LIMIT:-4}

deploy: install
	$(BIN)/prefect block register -m blocks
	$(BIN)/prefect work-pool create $(WORK_POOL) --type process --overwrite
	APILINK_HOME=$(CURDIR) $(BIN)/prefect --no-prompt deploy --all

clean:
	rm -rf $(VENV) $(BOOTSTRAP) .pytest_cache .mypy_cache .ruff_cache
