# ruff: noqa: E501  (the security.md -> test map is a wide table)
"""security.md, "Fetching by URL (uploads and drafts)": every line, as a named test that can fail.

The rig (a test resolver, a connect step that raises for anything outside 127.0.0.0/8, and a local
HTTP server counting what reaches it) is tests/server/test_fetch_url.py's, reused here.

| security.md line                                     | test                                                      |
|------------------------------------------------------|-----------------------------------------------------------|
| only http/https, ports 80/443                        | server/test_fetch_url::test_forbidden_targets_are_refused_before_connecting |
|                                                      | (ftp, file, gopher, port 25)                              |
| ... plus a configurable allow-list                   | test_ports_come_from_the_settings_allow_list              |
| resolve once; every address global; IPv4-mapped;     | server/test_fetch_url::test_only_globally_routable_addresses_pass, |
| 100.64.0.0/10                                        | test_forbidden_targets_are_refused_before_connecting (mixed.test, mapped.test, cgnat.test) |
| connect to that same address (no second lookup)      | server/test_fetch_url::test_fetch_through_the_guard_keeps_host_and_pins_the_address, |
|                                                      | test_dns_rebinding_cannot_switch_the_address              |
| original Host and SNI                                | server/test_fetch_url::test_fetch_through_the_guard_keeps_host_and_pins_the_address, |
|                                                      | test_https_keeps_the_original_name_for_sni_and_host       |
| loopback in every spelling, link-local, metadata,    | server/test_fetch_url::test_ip_literals_are_parsed_in_every_spelling, |
| private: refused with zero connections               | test_forbidden_targets_are_refused_before_connecting, |
|                                                      | test_loopback_spellings_stay_refused_even_when_the_test_server_is_allowed, |
|                                                      | test_url_uploads_to_forbidden_addresses_reach_nothing (through the route) |
| redirects by hand, at most 3, each rechecked         | server/test_fetch_url::test_redirects_are_followed_by_hand_and_rechecked, |
|                                                      | test_a_fourth_redirect_is_refused                         |
| a redirect to loopback is refused                    | server/test_fetch_url::test_a_redirect_to_a_forbidden_address_is_refused |
| tests never let traffic leave; refused before        | the rig itself (LoopbackOnlyTransport raises for any other address); every |
| connecting; listeners count requests                 | test here asserts `connects` and `upstream.requests`      |
| caps: decoded size (gzip bomb)                       | server/test_fetch_url::test_gzip_bomb_stops_at_the_decoded_limit, |
|                                                      | test_declared_size_over_the_limit_is_refused_unread       |
| caps: connect and total time                         | test_a_slow_server_is_cut_at_the_total_time_cap, test_a_silent_server_is_cut_at_the_read_timeout |
| upstream error body never reaches our answer         | server/test_fetch_url::test_upstream_error_body_never_reaches_the_message, |
|                                                      | test_url_upload_of_an_upstream_error_hides_its_body       |
| on-prem private ranges, never loopback or metadata   | server/test_fetch_url::test_private_ranges_only_by_setting_and_never_loopback_or_metadata, |
|                                                      | test_the_on_prem_setting_still_refuses_loopback_and_metadata_by_name |
| drafts: foreign URLs go through the same guard       | server/test_renders::test_foreign_url_in_draft_is_refused_without_fetching |
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from server.config import Settings
from server.fetch_url import FetchError, FetchPolicy, UrlFetcher, policy_from_settings
from tests.conftest import bearer
from tests.server.test_fetch_url import NAMES, LoopbackOnlyTransport, Route, Upstream, make_resolver, rig


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.close()


def test_dns_rebinding_cannot_switch_the_address(upstream: Upstream, tmp_path: Path) -> None:
    # First answer: the (test-allowed) server; every later answer: the metadata address.
    answers = iter([["127.0.0.1"]])
    lookups: list[str] = []
    connects: list[tuple[str, str]] = []

    async def rebinding(host: str, port: int) -> list[str]:
        lookups.append(host)
        return next(answers, ["169.254.169.254"])

    upstream.routes["/clip.mp4"] = Route(body=b"\0\0\0\x18ftypmp42" + b"x" * 100)
    fetcher = UrlFetcher(
        FetchPolicy(max_bytes=1024 * 1024, allowed_ports=frozenset({upstream.port}), allow_loopback=True),
        resolver=rebinding,
        transport_factory=lambda: LoopbackOnlyTransport(connects),
    )
    anyio.run(fetcher.fetch_to_file, upstream.url("/clip.mp4", "rebind.test"), tmp_path / "out")
    assert lookups == ["rebind.test"]
    assert connects == [("127.0.0.1", f"rebind.test:{upstream.port}")]
    assert len(upstream.requests) == 1


class RecordingTransport(httpx.AsyncBaseTransport):
    """The connect step for an https URL: records what would be sent, connects nowhere."""

    def __init__(self) -> None:
        self.seen: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return httpx.Response(200, stream=httpx.ByteStream(b"ID3" + b"\0" * 64))


def test_https_keeps_the_original_name_for_sni_and_host(tmp_path: Path) -> None:
    transport = RecordingTransport()
    fetcher = UrlFetcher(
        FetchPolicy(max_bytes=1024 * 1024),
        resolver=make_resolver({"cdn.example.com": ["93.184.216.34"]}, []),
        transport_factory=lambda: transport,
    )
    anyio.run(fetcher.fetch_to_file, "https://cdn.example.com/a/song.mp3", tmp_path / "out")
    (request,) = transport.seen
    assert request.url.host == "93.184.216.34"  # the pinned address
    assert request.headers["host"] == "cdn.example.com"
    assert request.extensions["sni_hostname"] == "cdn.example.com"


def test_ports_come_from_the_settings_allow_list(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    policy = policy_from_settings(make_settings(fetch_allowed_ports=[443, 8443]), max_bytes=1024)
    assert policy.allowed_ports == frozenset({443, 8443})
    transport = RecordingTransport()
    fetcher = UrlFetcher(
        policy,
        resolver=make_resolver({"cdn.example.com": ["93.184.216.34"]}, []),
        transport_factory=lambda: transport,
    )
    anyio.run(fetcher.fetch_to_file, "https://cdn.example.com:8443/x.mp3", tmp_path / "ok")
    with pytest.raises(FetchError) as err:
        anyio.run(fetcher.fetch_to_file, "http://cdn.example.com/x.mp3", tmp_path / "no")  # port 80
    assert err.value.code == "refused" and "port 80" in err.value.message
    assert len(transport.seen) == 1


def test_the_on_prem_setting_still_refuses_loopback_and_metadata_by_name(
    upstream: Upstream, tmp_path: Path
) -> None:
    r = rig(upstream, allow_loopback=False, allow_private=True)
    for url in (
        "http://metadata.test/x",
        f"http://localhost:{upstream.port}/x",
        f"http://127.1:{upstream.port}/x",
    ):
        with pytest.raises(FetchError) as err:
            anyio.run(r.fetcher.fetch_to_file, url, tmp_path / "out")
        assert err.value.code == "refused"
    assert r.connects == [] and upstream.requests == []


class SlowServer:
    """127.0.0.1: answers headers, then trickles one byte a second (or says nothing at all)."""

    def __init__(self, *, silent: bool) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.silent = silent
        self.accepted = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            with conn:
                conn.recv(65536)
                if not self.silent:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
                while not self.stop.is_set():
                    try:
                        if not self.silent:
                            conn.sendall(b"x")
                    except OSError:
                        break
                    time.sleep(0.5)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.mark.parametrize("silent", [False, True], ids=["trickle", "silent"])
def test_a_slow_server_is_cut_at_the_total_time_cap(tmp_path: Path, silent: bool) -> None:
    server = SlowServer(silent=silent)
    try:
        fetcher = UrlFetcher(
            FetchPolicy(
                max_bytes=10 * 1024 * 1024,
                allowed_ports=frozenset({server.port}),
                allow_loopback=True,
                read_timeout_s=30,
                total_timeout_s=1.5,
            ),
            resolver=make_resolver({"slow.test": ["127.0.0.1"]}, []),
            transport_factory=lambda: LoopbackOnlyTransport([]),
        )
        dest = tmp_path / "out"
        with pytest.raises(FetchError) as err:
            anyio.run(fetcher.fetch_to_file, f"http://slow.test:{server.port}/x", dest)
        assert err.value.code == "failed" and "too long" in err.value.message
        assert not dest.exists()
        assert server.accepted == 1
    finally:
        server.close()


def test_a_silent_server_is_cut_at_the_read_timeout(tmp_path: Path) -> None:
    server = SlowServer(silent=True)
    try:
        fetcher = UrlFetcher(
            FetchPolicy(
                max_bytes=1024,
                allowed_ports=frozenset({server.port}),
                allow_loopback=True,
                read_timeout_s=0.5,
                total_timeout_s=60,
            ),
            resolver=make_resolver({"slow.test": ["127.0.0.1"]}, []),
            transport_factory=lambda: LoopbackOnlyTransport([]),
        )
        with pytest.raises(FetchError) as err:
            anyio.run(fetcher.fetch_to_file, f"http://slow.test:{server.port}/x", tmp_path / "out")
        assert err.value.code == "failed" and "Timeout" in err.value.message
    finally:
        server.close()


def test_url_uploads_to_forbidden_addresses_reach_nothing(
    app: Any, client: httpx.Client, anon_token: Callable[..., str], new_session: Callable[..., str],
    upstream: Upstream,
) -> None:  # fmt: skip
    r = rig(upstream, allow_loopback=True, max_bytes=app.state.ctx.settings.max_upload_bytes)
    app.state.ctx.extras["url_fetcher"] = r.fetcher
    token = anon_token(client)
    sid = new_session(client, token)
    urls = [
        f"http://127.1:{upstream.port}/x.jpg",
        f"http://[::ffff:127.0.0.1]:{upstream.port}/x.jpg",
        f"http://localhost.:{upstream.port}/x.jpg",
        "http://169.254.169.254/latest/meta-data/",
        f"http://private.test:{upstream.port}/x.jpg",
        f"http://cgnat.test:{upstream.port}/x.jpg",
        "file:///etc/passwd",
    ]
    answer = client.post(f"/api/upload-video/nemo_agent/me/{sid}", headers=bearer(token), json={"urls": urls})
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == 4003 and len(body["data"]["errors"]) == len(urls)
    assert {e["code"] for e in body["data"]["errors"]} == {4003}
    assert r.connects == [] and upstream.requests == []
    assert "private.test" in NAMES  # the rig's table is what resolved the names
