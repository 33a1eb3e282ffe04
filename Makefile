# Two commands do everything on a fresh machine: `make serve` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
LINT_PATHS := server agent renderer render_jobs database tests bench scripts

.PHONY: install serve test test-fast fmt lint demo bench soak load ffprobe clean

# torch first, pinned, so pip never pulls the multi-GB CUDA wheels on a CPU machine.
# GPU machines: see README ("GPU install") for the CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

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

test: install ffprobe
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
	$(BIN)/mypy server agent renderer render_jobs database

demo: install ffprobe
	$(BIN)/python scripts/demo.py

bench: install ffprobe
	$(BIN)/python -m bench $(BENCH_ARGS)
	$(BIN)/python -m bench.cold_start

# Load on 127.0.0.1 (not CI): state/credits at 200 req/s with p50/p99, 100 SSE streams, RSS during
# ten concurrent 200 MB uploads. bench/load.py --help for the knobs.
load: install
	$(BIN)/python -m bench.load $(LOAD_ARGS)

# The long versions of the security suite (not CI): 500 mutants per format, 100 kill -9 rounds,
# 100 schemathesis examples per operation.
soak: install ffprobe
	NEMO_FUZZ_CASES=500 NEMO_KILL_ROUNDS=100 NEMO_SCHEMA_EXAMPLES=100 $(BIN)/python -m pytest tests/security $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) data demo_out demo.mp4
