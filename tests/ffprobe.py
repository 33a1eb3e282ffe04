"""Reading a media file back with the `ffprobe` command (not our code), for tests that check what
a user would get: the streams and the container, as ffprobe's JSON."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any


def ffprobe(path: Path) -> dict[str, Any]:
    """`ffprobe -show_format -show_streams` of `path`, parsed."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(out))


def stream(info: dict[str, Any], kind: str) -> dict[str, Any]:
    """The first stream of `kind` ("video", "audio") in an ffprobe answer."""
    return dict(next(s for s in info["streams"] if s["codec_type"] == kind))
