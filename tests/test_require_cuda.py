"""NEMO_REQUIRE_CUDA=1: a GPU CI job fails, not skips, when CUDA cannot run (issue 16). Runs pytest
on one CUDA test in a subprocess, with and without the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REQUIRE_CUDA_ENV, cuda_unusable

ROOT = Path(__file__).resolve().parent.parent
CUDA_TEST = "tests/renderer/compose/test_composite.py::test_torch_warp_matches_opencv_on_cuda"


def _pytest(require: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != REQUIRE_CUDA_ENV}
    if require:
        env[REQUIRE_CUDA_ENV] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", CUDA_TEST, "-q", "-p", "no:randomly"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_cuda_test_fails_when_cuda_is_required_and_skips_otherwise() -> None:
    required, relaxed = _pytest(require=True), _pytest(require=False)
    if cuda_unusable() is None:  # a GPU machine: the test simply runs and passes both ways
        assert required.returncode == relaxed.returncode == 0, required.stdout + relaxed.stdout
        return
    assert required.returncode == 1, required.stdout
    # failed in setup: pytest counts it as an error, and the run exits 1 like a failure
    assert "1 error" in required.stdout and REQUIRE_CUDA_ENV in required.stdout
    assert relaxed.returncode == 0, relaxed.stdout
    assert "1 skipped" in relaxed.stdout
