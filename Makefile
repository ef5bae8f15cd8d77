# The verbs a newcomer uses. Everything installs into ./.venv from pinned requirements.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8787

.PHONY: serve serve-cluster test check codegen fuzz wheel-check bubblewrap bench-api bench-files \
	bench-runs bench-events bench-store bench-split bench-scale clean

$(STAMP): requirements/runtime.txt requirements/dev.txt constraints.txt pyproject.toml clients/python/pyproject.toml clients/python/sdk/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements/dev.txt -c constraints.txt
	$(BIN)/pip install --quiet --no-deps -e . -e clients/python -e clients/python/sdk
	touch $@

serve: $(STAMP) bubblewrap
	$(BIN)/corral serve --port $(PORT)

# Two API processes on one port that queue runs and two workers that execute them (README
# "Scaling out"); CORRAL_* variables (CORRAL_DATABASE_URL, CORRAL_REDIS_URL, ...) reach all.
serve-cluster: $(STAMP) bubblewrap
	CORRAL=$(BIN)/corral PORT=$(PORT) scripts/serve-cluster

codegen: $(STAMP)
	$(BIN)/datamodel-codegen
	$(BIN)/python codegen/gen_server.py
	$(BIN)/python codegen/gen_client.py
	$(BIN)/python clients/python/sdk/gen_sync.py

check: $(STAMP)
	$(BIN)/python codegen/lint_spec.py
	$(BIN)/datamodel-codegen --check
	$(BIN)/python codegen/gen_server.py --check
	$(BIN)/python codegen/gen_client.py --check
	$(BIN)/python clients/python/sdk/gen_sync.py --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# CI fuzzes with a fixed seed so a landing is reproducible; `make fuzz` alone explores anew
# (or replays a run: `make fuzz FUZZ_SEED=<the seed it printed>`).
# pytest runs last: CI reads the closing line of the last test runner it printed.
test: check bubblewrap wheel-check
	$(MAKE) fuzz FUZZ_SEED=20261123
	$(BIN)/python -m pytest

fuzz: $(STAMP)
	$(BIN)/python conformance/run_schemathesis.py $(if $(FUZZ_SEED),--seed $(FUZZ_SEED))

# The built wheel, installed alone into a clean venv, serves its spec, docs and default runtime.
wheel-check: $(STAMP)
	$(BIN)/python packaging/check_wheel.py

# $(call apt_install,COMMAND,PACKAGE,what goes without it): install a Debian package where this
# machine allows it (root with apt-get); where it cannot, say why and what goes without, and go on.
define apt_install
command -v $(1) >/dev/null 2>&1 || { \
	if [ "$$(id -u)" != 0 ]; then why="not root"; \
	elif ! command -v apt-get >/dev/null 2>&1; then why="no apt-get"; \
	elif apt-get update -qq && apt-get install -y -qq $(2); then why=""; \
	else why="apt-get install $(2) failed"; fi; \
	[ -z "$$why" ] || echo "make: $(2) is not installed and cannot be installed here ($$why): $(3)"; }
endef

# bwrap confines sandbox commands (README, "Sandbox isolation").
bubblewrap:
	@$(call apt_install,bwrap,bubblewrap,sandbox commands cannot be confined by bwrap and the \
	tests that need it skip; install the bubblewrap package to have them)

bench-api: $(STAMP)
	@$(call apt_install,wrk,wrk,bench-api cannot measure)
	$(BIN)/python bench/bench_api.py

bench-files: $(STAMP)
	$(BIN)/python bench/bench_files.py

bench-runs: $(STAMP)
	$(BIN)/python bench/bench_runs.py

bench-events: $(STAMP)
	$(BIN)/python bench/bench_events.py

bench-store: $(STAMP)
	$(BIN)/python bench/bench_store.py

bench-split: $(STAMP)
	$(BIN)/python bench/bench_split.py

# Needs PostgreSQL and Redis (bench/bench_scale.py); exits 1 when a target of issue 13 is missed.
bench-scale: $(STAMP)
	$(BIN)/python bench/bench_scale.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
