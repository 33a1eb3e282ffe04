"""The studio's page and assets as HTTP answers: the one HTML shell (studio at `/`, and claim
links), its static files, and the headers every studio answer carries.

No inline script anywhere (CSP `script-src 'self'`); the page learns where the API lives from a
`<meta>` tag (the path prefix it was reached under), never from a token or a query string.
`Referrer-Policy: no-referrer` keeps a claim link's secret out of the Referer of everything the
page loads.
"""

from __future__ import annotations

import html
import re
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from fastapi.responses import FileResponse, HTMLResponse

STATIC_DIR = Path(__file__).parent / "static" / "studio"
# The renderer's CJK font (SIL OFL, renderer/fonts/LICENSE-NotoSansCJK.txt), the studio's fallback
# for Chinese on machines without a CJK system font: the stylesheet names it after the system's
# own fonts and limits it to CJK code points, so a browser downloads it only when it must.
SHARED_FILES = {"cjk.otf": Path(__file__).parent.parent / "renderer" / "fonts" / "NotoSansCJKsc-Bold.otf"}
ASSET_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,80}\.(js|css|svg|png|ico|txt|otf)$")
ASSET_TYPES = {
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",
    "png": "image/png",
    "ico": "image/x-icon",
    "txt": "text/plain; charset=utf-8",
    "otf": "font/otf",
}


def csp(public_url: str | None) -> str:
    """Same origin only; images and video also from blob: (pictures fetched with the token) and
    from the configured public URL's origin (cdn_url and outputUrl point there)."""
    extra = ""
    if public_url:
        parts = urlsplit(public_url)
        if parts.scheme in ("http", "https") and parts.netloc:
            extra = f" {parts.scheme}://{parts.netloc}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' blob: data:{extra}; media-src 'self' blob:{extra}; connect-src 'self'{extra}; "
        "font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def security_headers(public_url: str | None) -> dict[str, str]:
    return {
        "Content-Security-Policy": csp(public_url),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
    }


@cache
def _template() -> str:
    return (STATIC_DIR / "index.html").read_text(encoding="utf-8")


def page(
    root: str, public_url: str | None, *, title: str = "", summary: str = "", status: int = 200
) -> HTMLResponse:
    """The studio shell. `root`: the path prefix the page was reached under (assets and the API
    live under it). `summary`: server-made HTML shown until the script takes over (claim links
    stay readable without JavaScript)."""
    text = (
        _template()
        .replace("{{root}}", html.escape(root, quote=True))
        .replace("{{title}}", html.escape(f"{title} · Nemo Studio" if title else "Nemo Studio"))
        .replace("{{summary}}", summary)
    )
    headers = {**security_headers(public_url), "Cache-Control": "no-cache"}
    return HTMLResponse(text, status_code=status, headers=headers)


def asset(name: str, public_url: str | None) -> FileResponse | None:
    if not ASSET_NAME.match(name):
        return None
    path = SHARED_FILES.get(name, STATIC_DIR / name)
    if not path.is_file():
        return None
    kind = name.rsplit(".", 1)[1]
    # Scripts and styles change with the server (revalidate); the font never does (17 MB).
    cache = "public, max-age=604800" if kind == "otf" else "no-cache"
    headers = {**security_headers(public_url), "Cache-Control": cache}
    return FileResponse(path, media_type=ASSET_TYPES[kind], headers=headers)
