"""The API's documentation works with no internet (an on-prem product), and the studio at `/` links to it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def _assets(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html) + re.findall(
        r"""\burl\s*:\s*["']([^"']+)["']""", html
    )


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_everything_from_this_server(client: httpx.Client, page: str) -> None:
    answer = client.get(page)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assets = [a for a in _assets(answer.text) if not a.startswith("data:")]
    assert assets, answer.text
    base = str(client.base_url)
    for asset in assets:
        url = urljoin(base + page, asset)
        assert urlsplit(url).netloc == urlsplit(base).netloc, f"{page} loads {asset} from another host"
        fetched = client.get(url)
        assert fetched.status_code == 200, url
    scripts = [a for a in assets if a.endswith(".js")]
    assert scripts and all(len(client.get(urljoin(base + page, s)).content) > 500_000 for s in scripts)


def test_openapi_yaml_is_served_and_is_the_repository_file(client: httpx.Client) -> None:
    answer = client.get("/openapi.yaml")
    assert answer.status_code == 200 and "yaml" in answer.headers["content-type"]
    assert answer.text == (ROOT / "openapi.yaml").read_text()


def test_the_root_is_the_studio_which_links_to_the_docs(client: httpx.Client) -> None:
    # the studio wins `/` (issue 18); a person finds the docs from it
    answer = client.get("/", follow_redirects=False)
    assert answer.status_code == 200 and "Nemo Studio" in answer.text
    docs = re.search(r'<a [^>]*href="([^"]+)"[^>]*>API</a>', answer.text)
    assert docs is not None and docs.group(1) == "/docs"
    assert "swagger-ui" in client.get(docs.group(1)).text


def test_the_docs_work_under_a_path_prefix(client: httpx.Client) -> None:
    answer = client.get("/nemo/docs")
    assert answer.status_code == 200
    assert "/nemo/docs/static/swagger-ui-bundle.js" in answer.text and "/nemo/openapi.json" in answer.text
    assert client.get("/nemo/docs/static/swagger-ui-bundle.js").status_code == 200
    assert client.get("/nemo/openapi.json").json()["info"]["title"]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Swagger UI's colours for GET and POST operations: a page that rendered shows blocks of both.
GET_BLUE, POST_GREEN = (97, 175, 254), (73, 204, 144)


def _share_near(pixels: np.ndarray, colour: tuple[int, int, int]) -> float:
    return float((np.abs(pixels.astype(int) - colour).max(axis=2) <= 12).mean())


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (make test installs Debian's)")
def test_swagger_ui_renders_in_a_browser_that_reaches_nothing_but_this_server(
    client: httpx.Client, tmp_path: Path
) -> None:
    assert CHROMIUM is not None
    shot = tmp_path / "docs.png"
    subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            # every host but this server's is unresolvable: the internet is gone
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            "--window-size=1280,1600", "--virtual-time-budget=15000",
            f"--screenshot={shot}", f"{client.base_url}/docs",
        ],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.std() > 20, "the page is blank"
    assert _share_near(pixels, GET_BLUE) > 0.002 and _share_near(pixels, POST_GREEN) > 0.002
