# Two commands do everything on a fresh machine: `make serve` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install serve test lint demo bench soak ffprobe clean

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
	$(BIN)/ruff check server agent renderer tests bench scripts
	$(BIN)/ruff format --check server agent renderer tests bench scripts

demo: install ffprobe
	$(BIN)/python scripts/demo.py

bench: install ffprobe
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) data demo_out demo.mp4
