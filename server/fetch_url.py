"""The guarded downloader (security.md, "Fetching by URL"): URL uploads and foreign URLs in drafts.

Per hop: http/https only, an allowed port, no credentials in the URL; the host is resolved ONCE
(IP literals in any spelling are parsed, never resolved) and refused unless every address may be
reached; the request then goes to that same address (the URL's host is replaced by the IP, the
original Host header and TLS SNI are kept, so DNS rebinding cannot switch it). Redirects are
followed by hand, at most `max_redirects`, each hop checked again. The body is decoded by us with
a cap on the decoded size, so a gzip bomb stops at the limit; the upstream body never reaches an
answer of ours. Environment proxies are ignored (they would bypass the pinned address).
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import unquote

import anyio
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
TransportFactory = Callable[[], httpx.AsyncBaseTransport]

_REDIRECTS = {301, 302, 303, 307, 308}
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Cloud metadata / host agents that are globally numbered or sit in private ranges.
_METADATA = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("168.63.129.16"),  # Azure wire server
    ipaddress.ip_address("100.100.100.200"),  # Alibaba
    ipaddress.ip_address("fd00:ec2::254"),  # AWS IPv6
}
_LEGACY_IPV4 = re.compile(r"^[0-9a-fA-Fx.]+$")
_CHUNK = 64 * 1024


class FetchError(Exception):
    """`code`: refused (policy), too_large, failed (network/upstream). `message` is safe to show."""

    def __init__(self, code: Literal["refused", "too_large", "failed"], message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class FetchPolicy:
    max_bytes: int
    allowed_ports: frozenset[int] = frozenset({80, 443})
    allow_private: bool = False  # on-prem: private ranges; never loopback, link-local or metadata
    # Tests only: loopback addresses the RESOLVER returns are allowed (IP literals in URLs and
    # `localhost` names stay refused), so "this test server is allowed" is explicit.
    allow_loopback: bool = False
    max_redirects: int = 3
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 20.0
    total_timeout_s: float = 120.0


@dataclass
class FetchResult:
    url: str
    final_url: str
    size: int
    content_type: str | None
    filename: str
    redirects: int = 0
    hops: list[str] = field(default_factory=list)


def _unwrap(ip: IPAddress) -> IPAddress:
    """The IPv4 address inside IPv4-mapped, -compatible, NAT64 and 6to4 IPv6 forms."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        packed = ip.packed
        if packed[:12] == b"\x00" * 12 and int(ip) > 1:  # ::a.b.c.d (deprecated compatible form)
            return ipaddress.IPv4Address(packed[12:])
        if ip in _NAT64:
            return ipaddress.IPv4Address(packed[12:])
    return ip


def refusal_reason(
    address: str | IPAddress, *, allow_private: bool = False, allow_loopback: bool = False
) -> str | None:
    """None when the address may be fetched from; else why not (for logs and messages)."""
    try:
        ip = _unwrap(ipaddress.ip_address(address))
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.teredo is not None:
        return "Teredo tunnel address"
    if ip.is_loopback:
        return None if allow_loopback else "loopback address"
    if ip in _METADATA or ip.is_link_local:
        return "link-local or metadata address"
    if (
        ip.is_unspecified
        or ip.is_multicast
        or ip.is_reserved
        or (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT)
    ):
        return "address not globally routable"
    if ip.is_global:
        return None
    if allow_private and ip.is_private:
        return None
    return "private address"


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a host string spells, in any form the C resolver would accept (127.1,
    2130706433, 0177.0.0.1, 0x7f.1, [::ffff:127.0.0.1]); None for a name."""
    host = host.strip("[]")
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host)
    if _LEGACY_IPV4.match(host) and any(ch.isdigit() for ch in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
        except OSError:
            return None
    return None


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class _Decoder:
    """Content-Encoding decoding with a cap on the output of every step."""

    def __init__(self, encoding: str) -> None:
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self._z = None
        elif encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._z = zlib.decompressobj()
        else:
            raise FetchError("failed", f"unsupported content encoding {encoding[:20]!r}")

    def decode(self, data: bytes, room: int) -> bytes:
        """Decoded bytes of `data`, at most room + 1 (one more than allowed tells the caller to stop)."""
        if self._z is None:
            return data
        try:
            return self._z.decompress(data, room + 1)
        except zlib.error as exc:
            raise FetchError("failed", "the download is not valid compressed data") from exc

    def more(self, room: int) -> bytes:
        """Output zlib still holds for input already given (a bomb expands over many calls)."""
        if self._z is None or not self._z.unconsumed_tail:
            return b""
        return self.decode(self._z.unconsumed_tail, room)


def _filename_from(url: httpx.URL) -> str:
    last = unquote(url.path.rsplit("/", 1)[-1]) if url.path else ""
    return last or "download"


class UrlFetcher:
    """Downloads one URL to a file under the guard. `resolver` and `transport_factory` are the
    boundaries tests replace (DNS, and the connection to the pinned address)."""

    def __init__(
        self,
        policy: FetchPolicy,
        *,
        resolver: Resolver | None = None,
        transport_factory: TransportFactory | None = None,
    ) -> None:
        self.policy = policy
        self.resolver = resolver or system_resolver
        self.transport_factory = transport_factory or (lambda: httpx.AsyncHTTPTransport(retries=0))

    async def _pin(self, url: httpx.URL) -> tuple[str, int]:
        """Check one hop's URL and resolve it once; the address to connect to, and the port."""
        if url.scheme not in ("http", "https"):
            raise FetchError("refused", "only http and https URLs are fetched")
        if url.userinfo:
            raise FetchError("refused", "URLs with credentials are not fetched")
        host = url.host
        if not host:
            raise FetchError("refused", "the URL has no host")
        port = url.port or (443 if url.scheme == "https" else 80)
        if port not in self.policy.allowed_ports:
            raise FetchError("refused", f"port {port} is not allowed")
        name = host.lower().rstrip(".")
        if name == "localhost" or name.endswith(".localhost"):
            raise FetchError("refused", "the URL points at this machine")
        literal = parse_ip_literal(host)
        if literal is not None:
            # Literals never get the tests' loopback allowance: only resolved names do.
            reason = refusal_reason(literal, allow_private=self.policy.allow_private)
            if reason:
                raise FetchError("refused", f"the URL points at a {reason}")
            return str(literal), port
        try:
            with anyio.fail_after(self.policy.connect_timeout_s):
                addresses = await self.resolver(name, port)
        except (OSError, TimeoutError) as exc:
            raise FetchError("failed", "the URL's host could not be resolved") from exc
        if not addresses:
            raise FetchError("failed", "the URL's host could not be resolved")
        for address in addresses:
            reason = refusal_reason(
                address, allow_private=self.policy.allow_private, allow_loopback=self.policy.allow_loopback
            )
            if reason:
                raise FetchError("refused", f"the URL's host resolves to a {reason}")
        return str(_unwrap(ipaddress.ip_address(addresses[0]))), port

    async def fetch_to_file(self, url: str, dest: Path) -> FetchResult:
        """Download `url` into `dest` (created or truncated). FetchError on any refusal or failure;
        `dest` is removed when the download does not complete."""
        try:
            current = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise FetchError("refused", "not a valid URL") from exc
        timeout = httpx.Timeout(
            connect=self.policy.connect_timeout_s,
            read=self.policy.read_timeout_s,
            write=self.policy.read_timeout_s,
            pool=self.policy.connect_timeout_s,
        )
        result = FetchResult(url=url, final_url=url, size=0, content_type=None, filename="download")
        done = False
        try:
            with anyio.fail_after(self.policy.total_timeout_s):
                async with httpx.AsyncClient(
                    transport=self.transport_factory(),
                    trust_env=False,
                    follow_redirects=False,
                    timeout=timeout,
                ) as client:
                    for hop in range(self.policy.max_redirects + 1):
                        location = await self._one_hop(client, current, dest, result)
                        if location is None:
                            result.final_url = str(current)
                            result.filename = _filename_from(current)
                            result.redirects = hop
                            done = True
                            return result
                        try:
                            current = current.join(location)
                        except (httpx.InvalidURL, ValueError) as exc:
                            raise FetchError("failed", "the URL redirected to an invalid location") from exc
                    raise FetchError("refused", f"more than {self.policy.max_redirects} redirects")
        except TimeoutError as exc:
            raise FetchError("failed", "the download took too long") from exc
        except httpx.HTTPError as exc:
            # Never the upstream's words: only what kind of failure it was.
            raise FetchError("failed", f"could not fetch the URL ({type(exc).__name__})") from exc
        finally:
            if not done:
                with contextlib.suppress(FileNotFoundError):
                    dest.unlink()

    async def _one_hop(
        self, client: httpx.AsyncClient, url: httpx.URL, dest: Path, result: FetchResult
    ) -> str | None:
        """Fetch one hop: the redirect location, or None once the body is in `dest`."""
        address, port = await self._pin(url)
        result.hops.append(str(url))
        host_header = url.host if url.port is None else f"{url.host}:{url.port}"
        pinned = url.copy_with(host=address, port=port)
        request = client.build_request(
            "GET",
            pinned,
            headers={"Host": host_header, "User-Agent": "nemo-backend/0.1", "Accept-Encoding": "identity"},
            extensions={"sni_hostname": url.host} if url.scheme == "https" else {},
        )
        response = await client.send(request, stream=True)
        try:
            if response.status_code in _REDIRECTS:
                location: str | None = response.headers.get("location")
                if not location:
                    raise FetchError(
                        "failed", f"the URL answered HTTP {response.status_code} without a location"
                    )
                return location
            if not 200 <= response.status_code < 300:
                raise FetchError("failed", f"the URL answered HTTP {response.status_code}")
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > self.policy.max_bytes:
                raise FetchError(
                    "too_large", f"the file is larger than {self.policy.max_bytes // (1024 * 1024)} MB"
                )
            result.content_type = response.headers.get("content-type")
            await self._save_body(response, dest, result)
            return None
        finally:
            await response.aclose()

    async def _save_body(self, response: httpx.Response, dest: Path, result: FetchResult) -> None:
        decoder = _Decoder(response.headers.get("content-encoding", ""))
        limit = self.policy.max_bytes
        size = 0
        async with await anyio.open_file(dest, "wb") as out:
            async for raw in response.aiter_raw(_CHUNK):
                data = decoder.decode(raw, limit - size)
                while data:
                    size += len(data)
                    if size > limit:
                        raise FetchError("too_large", f"the file is larger than {limit // (1024 * 1024)} MB")
                    await out.write(data)
                    data = decoder.more(limit - size)
        result.size = size

    def fetch_to_file_sync(self, url: str, dest: Path) -> FetchResult:
        """For threads without an event loop (the render service)."""
        return anyio.run(self.fetch_to_file, url, dest)


def policy_from_settings(settings: object, *, max_bytes: int) -> FetchPolicy:
    return FetchPolicy(
        max_bytes=max_bytes,
        allowed_ports=frozenset(getattr(settings, "fetch_allowed_ports", [80, 443])),
        allow_private=bool(getattr(settings, "fetch_allow_private", False)),
    )


def fetcher_for(ctx: object) -> UrlFetcher:
    """The app's fetcher: `ctx.extras["url_fetcher"]` when set (tests, embedders), else one built
    from the settings and kept there."""
    extras: dict[str, object] = ctx.extras  # type: ignore[attr-defined]
    fetcher = extras.get("url_fetcher")
    if not isinstance(fetcher, UrlFetcher):
        settings = ctx.settings  # type: ignore[attr-defined]
        fetcher = UrlFetcher(policy_from_settings(settings, max_bytes=settings.max_upload_bytes))
        extras["url_fetcher"] = fetcher
    return fetcher
