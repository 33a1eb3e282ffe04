"""The published NemoVideo CLI (npm `nemovideo-tools` 0.1.8), unchanged, against our server: the
walk a new user takes, each command exiting 0 and saying what the server did, the export an MP4
that ffprobe reads. Once against the server as an operator runs it, once against the fake (what a
client developer's CI would use). Skipped only where node or npm is missing."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image

from server.testing import start_fake, stop_fake
from tests.clients.cli_runner import Cli, cli_or_skip_reason
from tests.ffprobe import ffprobe, stream

COMMAND, WHY_NOT = cli_or_skip_reason()
pytestmark = [
    pytest.mark.skipif(COMMAND is None, reason=WHY_NOT),
    pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe not found (install ffmpeg)"),
]


@pytest.fixture(params=["server", "fake"])
def server_url(
    request: pytest.FixtureRequest,
    make_app: Callable[..., FastAPI],
    make_client: Callable[[FastAPI], httpx.Client],
    tmp_path: Path,
) -> Iterator[str]:
    if request.param == "server":
        yield str(make_client(make_app(start_workers=True)).base_url)
        return
    fake, live = start_fake(tmp_path / "fake-data")
    try:
        yield fake.base_url
    finally:
        stop_fake(fake, live)


def _photos(directory: Path) -> list[Path]:
    paths = []
    for name, colour in (("beach.jpg", (200, 120, 40)), ("hills.jpg", (40, 120, 200))):
        Image.new("RGB", (640, 480), colour).save(directory / name, quality=90)
        paths.append(directory / name)
    return paths


def _balance(base_url: str, key: str) -> dict[str, Any]:
    answer = httpx.get(f"{base_url}/billing/balance", headers={"Authorization": f"Bearer {key}"})
    return dict(answer.json()["data"])


def test_the_published_cli_walks_through_a_project(server_url: str, tmp_path: Path) -> None:
    assert COMMAND is not None
    fake = httpx.get(f"{server_url}/_fake/faults").status_code == 200
    cli = Cli(COMMAND, tmp_path / "home")
    # How a user gets a key from this server (README, "Clients"): the anonymous-token call.
    issued = httpx.post(f"{server_url}/api/auth/anonymous-token", headers={"X-Client-Id": "cli-walk"})
    key = issued.json()["data"]["token"]
    credits = issued.json()["data"]["credits"]

    cli.run("config", "set", "base_url", server_url).ok()
    setup = cli.converse(
        ["setup"],
        [("Registration complete?", ""), ("Billing setup complete?", ""), ("Paste your API Key:", key)],
    ).ok()
    assert "Verification successful!" in setup.output
    assert f"Balance: {credits} credits" in setup.output

    assert f"Available: {credits} | Frozen: 0 | Total consumed: 0" in cli.run("credits").ok().output
    history = cli.run("credits", "history").ok().output
    assert "Welcome gift" in history and f"+{credits}" in history
    assert "No projects found" in cli.run("project", "list").ok().output

    created = cli.run("create", "-p", "a holiday video").ok().output
    found = re.search(r"Project created: (task_[0-9a-f]+)", created)
    assert found, created
    project = found[1]
    assert f"Done! Project: {project}" in created
    assert "> " in created  # the agent's answer, relayed over the socket (no media yet: it asks for some)

    for photo in _photos(cli.workdir):
        assert f"Uploaded {photo.name}" in cli.run("upload", photo.name, "--project", project).ok().output
    chat = cli.run("chat", project, "-p", "turn my photos into a 6 second slideshow").ok().output
    assert "Made a 6 s video from 2 photos" in chat and "Done!" in chat

    shown = cli.run("project", "get", project).ok().output
    assert f"Project: {project}" in shown and "State:   has content" in shown

    exported = cli.run("export", project, "-o", "export.mp4").ok().output
    assert "Render complete" in exported and "Export is free (0 credits)" in exported
    downloaded = cli.run("project", "download", project, "-o", "latest.mp4").ok().output
    assert "Saved" in downloaded and "latest.mp4" in downloaded
    for name in ("export.mp4", "latest.mp4"):
        info = ffprobe(cli.workdir / name)
        assert stream(info, "video")["codec_name"] == "h264"
        # The fake renders the CLI's exports small and fast, as it does the skills'.
        assert stream(info, "video")["height"] == (240 if fake else 1080)
        assert float(info["format"]["duration"]) == pytest.approx(6.0, abs=0.2)
    assert (cli.workdir / "export.mp4").read_bytes() == (cli.workdir / "latest.mp4").read_bytes()

    # Two turns were charged, on the CLI's own screen and on the server's books alike.
    spent = credits - _balance(server_url, key)["available"]
    assert spent > 0
    assert f"Total consumed: {spent}" in cli.run("credits").ok().output
    assert cli.run("credits", "history").ok().output.count("conversation") == 2
    assert project in cli.run("project", "list").ok().output

    if fake:  # what a client developer's CI does next: make the server fail, see the CLI cope
        fault = {"route": "GET /billing/balance", "error": 1001}
        assert httpx.post(f"{server_url}/_fake/faults", json=fault).status_code == 200
        refused = cli.run("credits")
        assert refused.code == 1 and "Authentication failed. Run `nemovideo setup`" in refused.output
