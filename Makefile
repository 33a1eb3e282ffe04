# Two commands do everything on a fresh machine: `make serve` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install serve test lint demo bench soak load ffprobe clean eval-agent

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

lint: install
	$(BIN)/ruff check server agent renderer tests bench scripts evals
	$(BIN)/ruff format --check server agent renderer tests bench scripts evals
	$(BIN)/mypy server agent renderer evals

# The agent evaluation set (evals/agent/FORMAT.md): accuracy per language, kind and register on the
# visible families; EVAL_ARGS=--withheld adds the withheld third (the coordinator's run), -v says why.
eval-agent: install
	$(BIN)/python -m evals.agent $(EVAL_ARGS)

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
