"""Fixtures of the studio's tests: a live server that renders, photos, and a headless Chromium.

The browser is Debian's Chromium (`apt-get install chromium`; `make test` installs it where it
can), driven by Playwright for Python: Playwright's own browser download cannot reach its host
here. Without either, the browser tests skip and say why.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from server.config import RenderSettings

CHROMIUM = os.environ.get("NEMO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The three photos of the journeys: flat colours with a white card, small (fast uploads and
# renders), so any picture of them is easy to recognise by its pixels.
PHOTO_COLOURS = {"red.jpg": (200, 40, 40), "green.jpg": (40, 170, 70), "blue.jpg": (40, 70, 210)}


def photo_bytes(colour: tuple[int, int, int], size: tuple[int, int] = (480, 640)) -> bytes:
    width, height = size
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:] = colour
    pixels[height // 8 : height // 4, width // 8 : width * 7 // 8] = 255  # a white card near the top
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


@pytest.fixture
def photos() -> dict[str, bytes]:
    return {name: photo_bytes(colour) for name, colour in PHOTO_COLOURS.items()}


@pytest.fixture
def studio_server(make_settings: Any, make_app: Any, make_client: Any) -> httpx.Client:
    """The whole server on 127.0.0.1 with one embedded render worker (CPU), and SSE heartbeats
    every 50 ms (15 s by default), so even a quick turn shows the studio's "still working"."""
    render = RenderSettings(workers=1, device="cpu", poll_seconds=0.05)
    settings = make_settings(render=render, heartbeat_seconds=0.05)
    return make_client(make_app(settings, start_workers=True))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    # Module-scoped: Playwright's sync API keeps an event loop running on this thread while it is
    # open, and later tests' asyncio.run() would fail inside it.
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is missing: pip install -e '.[dev]'")
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set NEMO_CHROMIUM)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class PageWatch:
    """What a page did that a user would notice or that must never happen: console errors,
    uncaught exceptions, and the URLs it requested (a token must never be in one)."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        self.urls: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on("request", lambda r: self.urls.append(r.url))


@pytest.fixture
def open_page(chromium: Any, tmp_path: Path) -> Iterator[Callable[..., tuple[Any, PageWatch]]]:
    """open_page(url, **context_options) -> (page, watch): a fresh browser context (its own
    localStorage: a new visitor) on `url`."""
    contexts: list[Any] = []

    def make(url: str, **options: Any) -> tuple[Any, PageWatch]:
        context = chromium.new_context(**{"viewport": {"width": 1280, "height": 900}, **options})
        contexts.append(context)
        page = context.new_page()
        watch = PageWatch(page)
        page.goto(url)
        return page, watch

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def shots(tmp_path: Path) -> Callable[[Any, str], Path]:
    """shots(page_or_locator, name, **screenshot_options): a PNG screenshot; kept in
    NEMO_STUDIO_SHOTS when set."""
    keep = os.environ.get("NEMO_STUDIO_SHOTS")

    def take(target: Any, name: str, **options: Any) -> Path:
        path = tmp_path / f"{name}.png"
        target.screenshot(path=str(path), **options)
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(keep) / path.name)
        return path

    return take


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float32)
