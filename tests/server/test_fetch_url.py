"""server/fetch_url.py, the guarded downloader, and URL uploads through it.

No traffic leaves the machine: names resolve through a test resolver, and the connect step is a
transport that raises for any address outside 127.0.0.0/8 (so a guard bug fails the test instead of
reaching a network). Loopback is allowed only where a test says so (`allow_loopback`), and then
only for addresses the resolver returned. Local servers count the requests that got through.
"""

from __future__ import annotations

import contextlib
import gzip
import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from server.config import Settings
from server.fetch_url import FetchError, FetchPolicy, UrlFetcher, parse_ip_literal, refusal_reason
from tests import media_factory as mf
from tests.conftest import bearer

# ------------------------------------------------------------------ the boundary doubles


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class Upstream:
    """An HTTP server on 127.0.0.1 serving fixed routes and counting what reaches it."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str]] = []  # (path, Host header)
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                upstream.requests.append((self.path, self.headers.get("Host", "")))
                route = upstream.routes.get(self.path, Route(404, b"SECRET upstream page"))
                self.send_response(route.status)
                for key, value in route.headers.items():
                    self.send_header(key, value)
                if "Content-Length" not in route.headers:
                    self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(route.body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str, host: str = "media.test") -> str:
        return f"http://{host}:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class LoopbackOnlyTransport(httpx.AsyncHTTPTransport):
    """The connect step: refuses (raises) anything but an IP literal in 127.0.0.0/8, and logs."""

    def __init__(self, log: list[tuple[str, str]]) -> None:
        super().__init__(retries=0)
        self.log = log

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        address = ipaddress.ip_address(host)  # a name here would mean a second lookup: fails the test
        if address not in ipaddress.ip_network("127.0.0.0/8"):
            raise AssertionError(f"test network guard: connection to {address} attempted")
        self.log.append((host, request.headers["host"]))
        return await super().handle_async_request(request)


def make_resolver(table: dict[str, list[str]], calls: list[str]) -> Callable[[str, int], Any]:
    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        if host not in table:
            raise socket.gaierror(f"test resolver: unknown name {host}")
        return table[host]

    return resolve


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.close()


@dataclass
class Rig:
    fetcher: UrlFetcher
    connects: list[tuple[str, str]]
    lookups: list[str]


NAMES = {
    "media.test": ["127.0.0.1"],
    "other.test": ["127.0.0.1"],
    "private.test": ["10.0.0.1"],
    "metadata.test": ["169.254.169.254"],
    "mixed.test": ["127.0.0.1", "10.1.2.3"],
    "mapped.test": ["::ffff:127.0.0.1"],
    "cgnat.test": ["100.64.0.7"],
    "localhost": ["127.0.0.1"],
}


def rig(upstream: Upstream, *, allow_loopback: bool, max_bytes: int = 5 * 1024 * 1024, **policy: Any) -> Rig:
    connects: list[tuple[str, str]] = []
    lookups: list[str] = []
    fetcher = UrlFetcher(
        FetchPolicy(
            max_bytes=max_bytes,
            allowed_ports=frozenset({80, 443, upstream.port}),
            allow_loopback=allow_loopback,
            **policy,
        ),
        resolver=make_resolver(NAMES, lookups),
        transport_factory=lambda: LoopbackOnlyTransport(connects),
    )
    return Rig(fetcher, connects, lookups)


def fetch(r: Rig, url: str, dest: Path) -> Any:
    return anyio.run(r.fetcher.fetch_to_file, url, dest)


# ------------------------------------------------------------------ the address rules


@pytest.mark.parametrize(
    ("spelling", "address"),
    [
        ("127.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("169.254.169.254", "169.254.169.254"),
        ("media.test", None),
        ("1.2.3.example", None),
    ],
)
def test_ip_literals_are_parsed_in_every_spelling(spelling: str, address: str | None) -> None:
    parsed = parse_ip_literal(spelling)
    assert (str(parsed) if parsed else None) == address


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("93.184.216.34", False),
        ("2606:2800:220:1:248:1893:25c8:1946", False),
        ("127.0.0.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("::127.0.0.1", True),
        ("64:ff9b::7f00:1", True),
        ("2002:7f00:1::", True),
        ("169.254.169.254", True),
        ("fe80::1", True),
        ("fd00:ec2::254", True),
        ("10.0.0.1", True),
        ("192.168.1.1", True),
        ("172.16.0.1", True),
        ("100.64.0.1", True),
        ("0.0.0.0", True),
        ("224.0.0.1", True),
        ("255.255.255.255", True),
    ],
)
def test_only_globally_routable_addresses_pass(address: str, refused: bool) -> None:
    assert (refusal_reason(address) is not None) is refused


def test_private_ranges_only_by_setting_and_never_loopback_or_metadata() -> None:
    assert refusal_reason("10.0.0.1", allow_private=True) is None
    assert refusal_reason("192.168.0.10", allow_private=True) is None
    for address in ("127.0.0.1", "::1", "169.254.169.254", "fd00:ec2::254", "100.64.0.1"):
        assert refusal_reason(address, allow_private=True) is not None


# ------------------------------------------------------------------ fetching


def test_fetch_through_the_guard_keeps_host_and_pins_the_address(upstream: Upstream, tmp_path: Path) -> None:
    upstream.routes["/photos/beach.jpg"] = Route(
        body=b"\xff\xd8\xff" + b"x" * 1000, headers={"Content-Type": "image/jpeg"}
    )
    r = rig(upstream, allow_loopback=True)
    dest = tmp_path / "out"
    result = fetch(r, upstream.url("/photos/beach.jpg"), dest)
    assert dest.read_bytes() == b"\xff\xd8\xff" + b"x" * 1000
    assert result.size == 1003 and result.filename == "beach.jpg"
    assert upstream.requests == [("/photos/beach.jpg", f"media.test:{upstream.port}")]
    assert r.connects == [("127.0.0.1", f"media.test:{upstream.port}")]
    assert r.lookups == ["media.test"]  # resolved once


FORBIDDEN = [
    "http://127.1:{port}/x",
    "http://2130706433:{port}/x",
    "http://0177.0.0.1:{port}/x",
    "http://[::ffff:127.0.0.1]:{port}/x",
    "http://127.0.0.1:{port}/x",
    "http://[::1]:{port}/x",
    "http://localhost.:{port}/x",
    "http://localhost:{port}/x",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/x",
    "http://private.test:{port}/x",
    "http://metadata.test/x",
    "http://mixed.test:{port}/x",
    "http://mapped.test:{port}/x",
    "http://cgnat.test:{port}/x",
    "ftp://media.test/x",
    "file:///etc/passwd",
    "gopher://media.test:{port}/x",
    "http://media.test:25/x",
    "http://user:pw@media.test:{port}/x",
    "not a url",
]


@pytest.mark.parametrize("template", FORBIDDEN)
def test_forbidden_targets_are_refused_before_connecting(
    upstream: Upstream, tmp_path: Path, template: str
) -> None:
    r = rig(upstream, allow_loopback=False)
    dest = tmp_path / "out"
    with pytest.raises(FetchError) as err:
        fetch(r, template.format(port=upstream.port), dest)
    assert err.value.code == "refused"
    assert r.connects == []
    assert upstream.requests == []
    assert not dest.exists()


@pytest.mark.parametrize(
    "template", ["http://127.1:{port}/x", "http://localhost.:{port}/x", "http://[::ffff:127.0.0.1]:{port}/x"]
)
def test_loopback_spellings_stay_refused_even_when_the_test_server_is_allowed(
    upstream: Upstream, tmp_path: Path, template: str
) -> None:
    r = rig(upstream, allow_loopback=True)
    with pytest.raises(FetchError):
        fetch(r, template.format(port=upstream.port), tmp_path / "out")
    assert r.connects == [] and upstream.requests == []


def test_redirects_are_followed_by_hand_and_rechecked(upstream: Upstream, tmp_path: Path) -> None:
    upstream.routes["/a"] = Route(302, headers={"Location": upstream.url("/b", "other.test")})
    upstream.routes["/b"] = Route(301, headers={"Location": "/c"})
    upstream.routes["/c"] = Route(307, headers={"Location": upstream.url("/final.mp3")})
    upstream.routes["/final.mp3"] = Route(body=b"ID3" + b"\0" * 100)
    r = rig(upstream, allow_loopback=True)
    result = fetch(r, upstream.url("/a"), tmp_path / "out")
    assert result.redirects == 3 and result.filename == "final.mp3"
    assert [p for p, _ in upstream.requests] == ["/a", "/b", "/c", "/final.mp3"]
    assert upstream.requests[1][1] == f"other.test:{upstream.port}"


def test_a_fourth_redirect_is_refused(upstream: Upstream, tmp_path: Path) -> None:
    for i in range(5):
        upstream.routes[f"/r{i}"] = Route(302, headers={"Location": f"/r{i + 1}"})
    r = rig(upstream, allow_loopback=True)
    with pytest.raises(FetchError) as err:
        fetch(r, upstream.url("/r0"), tmp_path / "out")
    assert err.value.code == "refused"
    assert len(upstream.requests) == 4


@pytest.mark.parametrize(
    "target",
    ["http://127.0.0.1:{port}/x", "http://169.254.169.254/latest/meta-data/", "http://private.test:{port}/x"],
)
def test_a_redirect_to_a_forbidden_address_is_refused(
    upstream: Upstream, tmp_path: Path, target: str
) -> None:
    upstream.routes["/go"] = Route(302, headers={"Location": target.format(port=upstream.port)})
    r = rig(upstream, allow_loopback=True)
    with pytest.raises(FetchError) as err:
        fetch(r, upstream.url("/go"), tmp_path / "out")
    assert err.value.code == "refused"
    assert [p for p, _ in upstream.requests] == ["/go"]  # the hop itself was never requested


def test_gzip_bomb_stops_at_the_decoded_limit(upstream: Upstream, tmp_path: Path) -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 200 * 1024
    upstream.routes["/bomb.jpg"] = Route(body=bomb, headers={"Content-Encoding": "gzip"})
    r = rig(upstream, allow_loopback=True, max_bytes=1024 * 1024)
    dest = tmp_path / "out"
    with pytest.raises(FetchError) as err:
        fetch(r, upstream.url("/bomb.jpg"), dest)
    assert err.value.code == "too_large"
    assert not dest.exists()


def test_gzip_body_within_the_limit_is_decoded(upstream: Upstream, tmp_path: Path) -> None:
    upstream.routes["/z"] = Route(body=gzip.compress(b"abc" * 1000), headers={"Content-Encoding": "gzip"})
    r = rig(upstream, allow_loopback=True)
    fetch(r, upstream.url("/z"), tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == b"abc" * 1000


def test_declared_size_over_the_limit_is_refused_unread(upstream: Upstream, tmp_path: Path) -> None:
    upstream.routes["/big"] = Route(body=b"x" * 4096, headers={"Content-Length": str(50 * 1024 * 1024)})
    r = rig(upstream, allow_loopback=True, max_bytes=1024 * 1024)
    with pytest.raises(FetchError) as err:
        fetch(r, upstream.url("/big"), tmp_path / "out")
    assert err.value.code == "too_large"


def test_upstream_error_body_never_reaches_the_message(upstream: Upstream, tmp_path: Path) -> None:
    r = rig(upstream, allow_loopback=True)
    with pytest.raises(FetchError) as err:
        fetch(r, upstream.url("/missing"), tmp_path / "out")
    assert err.value.code == "failed"
    assert "404" in err.value.message
    assert "SECRET" not in err.value.message


def test_unknown_name_fails_without_connecting(upstream: Upstream, tmp_path: Path) -> None:
    r = rig(upstream, allow_loopback=True)
    with pytest.raises(FetchError) as err:
        fetch(r, upstream.url("/x", "nowhere.test"), tmp_path / "out")
    assert err.value.code == "failed"
    assert r.connects == []


# ------------------------------------------------------------------ URL uploads through the route


@pytest.fixture
def url_client(app: Any, client: httpx.Client, upstream: Upstream) -> tuple[httpx.Client, Rig]:
    # The app's fetcher, with the test boundaries, set where the route looks for it.
    r = rig(upstream, allow_loopback=True, max_bytes=app.state.ctx.settings.max_upload_bytes)
    app.state.ctx.extras["url_fetcher"] = r.fetcher
    return client, r


def test_url_upload_is_fetched_probed_and_added(
    url_client: tuple[httpx.Client, Rig],
    upstream: Upstream,
    anon_token: Callable[..., str],
    new_session: Callable[..., str],
    tmp_path: Path,
    settings: Settings,
) -> None:
    client, r = url_client
    upstream.routes["/holiday/rotated.jpg"] = Route(body=mf.jpeg_exif_rotated(tmp_path).read_bytes())
    upstream.routes["/song.mp3"] = Route(body=mf.mp3_tone(tmp_path).read_bytes())
    upstream.routes["/page.jpg"] = Route(body=b"<html>not a photo</html>")
    token = anon_token(client)
    sid = new_session(client, token)
    answer = client.post(
        f"/api/upload-video/nemo_agent/me/{sid}",
        headers=bearer(token),
        json={
            "urls": [
                upstream.url("/holiday/rotated.jpg"),
                "http://169.254.169.254/latest/meta-data/iam",
                upstream.url("/song.mp3"),
                upstream.url("/page.jpg"),
            ],
            "source_type": "url",
        },
    )
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert [(f["filename"], f["file_type"]) for f in data["files"]] == [
        ("rotated.jpg", "image"),
        ("song.mp3", "audio"),
    ]
    assert (data["files"][0]["width"], data["files"][0]["height"]) == (300, 400)
    assert [(e["filename"], e["code"]) for e in data["errors"]] == [("iam", 4003), ("page.jpg", 4001)]
    assert all(h.startswith("127.") for h, _ in r.connects)
    assert [p for p, _ in upstream.requests] == ["/holiday/rotated.jpg", "/song.mp3", "/page.jpg"]
    got = client.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=bearer(token)).json()["data"]["state"]
    assert len(got["video_infos"]) == 2
    # No upload leftovers (a background photo proxy in progress, `*.proxy`, is not one).
    assert [p for p in (settings.data_dir / "tmp").iterdir() if p.suffix != ".proxy"] == []


def test_url_upload_refused_entirely_is_4003(
    url_client: tuple[httpx.Client, Rig],
    upstream: Upstream,
    anon_token: Callable[..., str],
    new_session: Callable[..., str],
) -> None:
    client, r = url_client
    token = anon_token(client)
    sid = new_session(client, token)
    answer = client.post(
        f"/api/upload-video/nemo_agent/me/{sid}",
        headers=bearer(token),
        json={"urls": [f"http://127.1:{upstream.port}/x", "http://10.0.0.1/y.jpg"], "source_type": "url"},
    )
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == 4003
    assert [e["code"] for e in body["data"]["errors"]] == [4003, 4003]
    assert r.connects == [] and upstream.requests == []


def test_url_upload_of_an_upstream_error_hides_its_body(
    url_client: tuple[httpx.Client, Rig],
    upstream: Upstream,
    anon_token: Callable[..., str],
    new_session: Callable[..., str],
) -> None:
    client, _ = url_client
    token = anon_token(client)
    sid = new_session(client, token)
    answer = client.post(
        f"/api/upload-video/nemo_agent/me/{sid}",
        headers=bearer(token),
        json={"urls": [upstream.url("/gone.jpg")]},
    )
    assert answer.json()["code"] == 4003
    assert "SECRET" not in answer.text
