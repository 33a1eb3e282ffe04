"""README.md's shell blocks work as written, for a newcomer who runs them top to bottom.

Every shell block in the README carries a marker on the line before it:

- `<!-- readme-test: run -->`: run here, in order, in one bash session (variables carry over, as
  in the reader's terminal), against a live server on 127.0.0.1. When the block is followed by
  `<!-- readme-test: output -->` and a `text` block, its output must match that block, where `…`
  stands for anything.
- `<!-- readme-test: server -->`: starts the server (`make serve`); the test starts it the same way
  (`python -m server` from the installed venv, settings from NEMO_ variables only).
- `<!-- readme-test: skip (why) -->`: not run here, for the reason given (GPU, other hosts, ...).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ffprobe import ffprobe
from tests.server_process import ServerProcess

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SHELLS = ("sh", "bash", "shell", "console")
MARKER = re.compile(r"^<!-- readme-test: (run|server|output|skip)(?: \((.+)\))? -->$")
README_BASE = "http://127.0.0.1:8000"


@dataclass
class Block:
    line: int
    marker: str | None
    language: str
    code: str
    reason: str | None = None
    expected: str | None = None


def parse(text: str) -> list[Block]:
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        found = MARKER.match(lines[i - 1]) if i > 0 else None
        marker = found[1] if found else None
        block = Block(
            i + 1, marker, fence[1], "\n".join(lines[i + 1 : end]) + "\n", found[2] if found else None
        )
        if marker == "output":
            assert blocks and blocks[-1].marker == "run", f"README.md:{i + 1}: output of no run block"
            blocks[-1].expected = block.code
        else:
            blocks.append(block)
        i = end + 1
    return blocks


def _pattern(expected: str) -> re.Pattern[str]:
    parts = [re.escape(part) for part in expected.strip().split("…")]
    return re.compile(".*?".join(parts), re.DOTALL)


def test_every_shell_block_says_whether_the_test_runs_it() -> None:
    blocks = parse(README.read_text())
    unmarked = [b.line for b in blocks if b.language in SHELLS and b.marker is None]
    assert not unmarked, f"README.md shell blocks at lines {unmarked} need a readme-test marker"
    assert sum(b.marker == "run" for b in blocks) >= 6
    assert all(b.language in SHELLS for b in blocks if b.marker in ("run", "server"))
    assert all(b.reason for b in blocks if b.marker == "skip"), "say why a block is not run"


def test_the_readme_keeps_its_links_inside_the_repository() -> None:
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README.read_text()):
        if re.match(r"^[a-z]+://", target):
            continue
        path = (ROOT / target).resolve()
        assert path.is_relative_to(ROOT) and path.exists(), f"README.md links to {target}, outside a clone"


@pytest.mark.skipif(
    not (shutil.which("curl") and shutil.which("jq")), reason="the walkthrough needs curl and jq"
)
def test_the_walkthrough_runs_against_a_live_server(tmp_path: Path) -> None:
    blocks = parse(README.read_text())
    assert [b.marker for b in blocks].count("server") == 1
    runs = [b for b in blocks if b.marker == "run"]
    server = ServerProcess.in_tmp(tmp_path)
    base = server.url
    script = ["set -u", f"cd {ROOT}"]
    for n, block in enumerate(runs):
        # the reader's server is on port 8000 and their venv at .venv; here: this test's
        code = block.code.replace(README_BASE, base).replace(".venv/bin/python ", f"{sys.executable} ")
        script += ["{", code, f"}} > {tmp_path}/out{n} 2>&1"]
    script += [f'echo "$W" > {tmp_path}/W']
    server.start()
    try:
        done = subprocess.run(
            ["bash", "-c", "\n".join(script)], capture_output=True, text=True, timeout=1500, cwd=ROOT
        )
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    for n, block in enumerate(runs):
        output = (tmp_path / f"out{n}").read_text()
        if block.expected is not None:
            expected = block.expected.replace(README_BASE, base)
            assert _pattern(expected).fullmatch(output.strip()), (
                f"README.md:{block.line}: the output\n{output}\ndoes not match\n{expected}"
            )
    # the walkthrough's video is a real MP4 of the draft's size, not a saved error message
    video = Path((tmp_path / "W").read_text().strip()) / "summer.mp4"
    streams = {s["codec_type"]: s for s in ffprobe(video)["streams"]}
    assert (streams["video"]["width"], streams["video"]["height"]) == (1080, 1920)
    assert streams["audio"]["codec_name"] == "aac"
    shutil.rmtree(video.parent, ignore_errors=True)


def test_operators_learn_to_point_the_skills_claim_links_here() -> None:
    # The contract: the official skill builds its claim link from NEMO_WEB_URL (default: the
    # cloud), "so a self-hosted deployment documents setting it to its own address".
    contract = (ROOT / "docs" / "api-contract.md").read_text()
    assert "NEMO_WEB_URL" in contract
    readme = README.read_text()
    section = readme[readme.index("### Pointing a skill at this server") :]
    assert re.search(r"NEMO_WEB_URL=https?://", section), "say what to set NEMO_WEB_URL to"
