# Two commands do everything on a fresh machine: `make serve` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
LINT_PATHS := server agent renderer render_jobs database tests bench scripts evals

.PHONY: install serve test test-fast fmt lint lock lock-check demo bench soak load ffprobe test-tools cli-client clean eval-agent

# torch first, pinned, so pip never pulls the multi-GB CUDA wheels on a CPU machine: pip finds this
# machine's CPU build on disk. It stays out of the hashed lock (README "Installs"): its build is
# per machine (CPU here, CUDA on GPU machines). `make install TORCH=` skips it (CPU renders never
# import torch; only the GPU compositor and its torch-cpu check do).
TORCH ?= torch==2.13.0
# Everything else comes from the lock, every file checked against its sha256.
LOCK := requirements/dev.lock
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
	--excludes requirements/excludes.txt --custom-compile-command "make lock" --quiet

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(if $(TORCH),$(BIN)/python -m pip install -q $(TORCH))
	$(BIN)/python -m pip install -q --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# After changing dependencies in pyproject.toml: rewrites both locks. Versions already locked are
# kept unless pyproject.toml rules them out (uv prefers the output file's pins).
lock: install
	$(UV_COMPILE) -o requirements/runtime.lock
	$(UV_COMPILE) --extra dev -o requirements/dev.lock

# Fails when the locks are not what `make lock` would write from pyproject.toml (CI runs it).
lock-check: install
	@tmp=$$(mktemp -d) && cp requirements/runtime.lock requirements/dev.lock $$tmp/ && \
	$(UV_COMPILE) -o $$tmp/runtime.lock && $(UV_COMPILE) --extra dev -o $$tmp/dev.lock && \
	diff -u requirements/runtime.lock $$tmp/runtime.lock && diff -u requirements/dev.lock $$tmp/dev.lock && \
	echo "locks match pyproject.toml" || { echo "the locks disagree with pyproject.toml: run make lock"; exit 1; }

serve: install
	$(BIN)/python -m server

# Tests check rendered files with the ffprobe command; install Debian's ffmpeg where we can.
ffprobe:
	@command -v ffprobe >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing ffmpeg (for ffprobe) with apt-get"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null) || true; \
	  fi; }
	@command -v ffprobe >/dev/null 2>&1 || echo "WARNING: ffprobe not found; tests that need it will be skipped. Install ffmpeg."

# The official NemoVideo CLI (npm nemovideo-tools, pinned in scripts/cli_client.py) for the tests
# that drive it (tests/clients): Debian's nodejs and npm where we can, then the package into
# .cache/clients (NEMO_CLI_CACHE). Network: apt's mirror and the npm registry only.
cli-client: install
	@{ command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing nodejs and npm (for the official CLI's tests) with apt-get"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null) || true; \
	  fi; }
	$(BIN)/python scripts/cli_client.py install

# The docs test screenshots /docs in headless Chromium with the internet blocked, and tests/studio
# drives the studio in it through Playwright; the README test runs the walkthrough, which uses curl
# and jq. Debian's packages, when root; else the tests skip.
test-tools:
	@missing=""; for tool in chromium jq curl; do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing$$missing (for the docs and README tests) with apt-get"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) || true; \
	fi
	@for tool in chromium jq curl; do command -v $$tool >/dev/null 2>&1 || echo "WARNING: $$tool not found; tests that need it will be skipped."; done

test: install ffprobe test-tools cli-client
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The quick tier (minutes, not the full 17+): the layout rules, the agent, the server over real HTTP,
# the job lease, the plan and media probing. Leaves out full-size renders, the compositor and
# encoder pixel tests, subprocess fleets (scale-out) and the security soak; `make test` runs them.
FAST_TESTS := tests/test_architecture.py tests/agent tests/server tests/fake tests/render_jobs/test_lease.py \
	tests/renderer/test_plan.py tests/renderer/media
test-fast: install
	$(BIN)/python -m pytest -m "not slow" $(FAST_TESTS) --ignore=tests/server/test_scale_out.py $(PYTEST_ARGS)

fmt: install
	$(BIN)/ruff check --fix --quiet $(LINT_PATHS) || true
	$(BIN)/ruff format $(LINT_PATHS)

lint: install
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy server agent renderer render_jobs database evals

# DEMO_ARGS="--base-url http://127.0.0.1:8000 --out DIR": use a running server; write to DIR.
# The agent evaluation set (evals/agent/FORMAT.md): accuracy per language, kind and register on the
# visible families; EVAL_ARGS=--withheld adds the withheld third (the coordinator's run), -v says why.
eval-agent: install
	$(BIN)/python -m evals.agent $(EVAL_ARGS)

demo: install ffprobe
	$(BIN)/python scripts/demo.py $(DEMO_ARGS)

bench: install ffprobe
	$(BIN)/python -m bench $(BENCH_ARGS)
	$(BIN)/python -m bench.cold_start

# Load on 127.0.0.1 (not CI): state/credits at 200 req/s with p50/p99, 100 SSE streams, RSS during
# ten concurrent 200 MB uploads. bench/load.py --help for the knobs.
load: install
	$(BIN)/python -m bench.load $(LOAD_ARGS)

# The long versions of the security suite (not CI): 500 mutants per format, 100 kill -9 rounds,
# 100 schemathesis examples per operation, and the fault loops of tests/security/test_fault_loops.py
# (20 kills spread over uploads, turns and renders; 10 rounds of a small disk filling up, as root;
# 10 damaged database files), which print their figures.
soak: install ffprobe
	NEMO_FUZZ_CASES=500 NEMO_KILL_ROUNDS=100 NEMO_SCHEMA_EXAMPLES=100 \
	NEMO_FAULT_KILLS=20 NEMO_FULL_DISK_ROUNDS=10 NEMO_CORRUPT_ROUNDS=10 \
	$(BIN)/python -m pytest tests/security $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) data .cache/clients
