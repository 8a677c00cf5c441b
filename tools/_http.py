"""http_get: the one real network tool, guarded against server-side request forgery.

``make_http_get(client=None, *, allow_private=False, allow=(), resolver=None)`` builds
the tool; ``http_get`` is the default instance. What it guarantees, unless
``allow_private=True``:

- only ``http`` and ``https`` URLs;
- the host is resolved first and *every* address it resolves to must be global:
  private, loopback, link-local, multicast, reserved, unspecified and every other range
  of IANA's special-purpose address registries (our own table, :data:`SPECIAL_NETWORKS`,
  not only Python's ``ipaddress`` flags, which call some of them global) are refused;
  IPv4 inside IPv6 (mapped, 6to4, Teredo, NAT64) is checked as IPv4. ``allow`` lists
  networks that may be fetched all the same (``["10.1.2.0/24", "127.0.0.1"]``): a
  developer opens one internal service, not all of them;
- the request goes to the address that was checked (the URL is pinned to it, the
  ``Host`` header and TLS server name keep the original host name, and the
  connection is not kept alive), so DNS answering differently a second time
  ("rebinding") cannot redirect it;
- redirects are followed by hand, at most ``MAX_REDIRECTS``, each hop checked again.

Limits: ``max_bytes`` of body (after gzip/deflate decoding, decompressed in bounded
steps, so a small compressed bomb cannot fill memory) and ``timeout`` seconds for
the whole call, redirects included. Refusals and bad arguments raise
:class:`~reasoner.errors.ToolRetry` (the planner can pick another URL); transport
failures raise :class:`~reasoner.errors.ToolError`; running out of time raises
:class:`TimeoutError`. HTTP error statuses (404, 500, ...) are returned, not raised.
The default client ignores proxy environment variables; pass your own
``httpx.AsyncClient`` to use a proxy (the address check then still applies to the
URL's host, not to the proxy).
"""

from __future__ import annotations

import ipaddress
import socket
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated

import anyio
import httpx
from pydantic import BaseModel, ConfigDict, Field

from reasoner.errors import ToolError, ToolRetry, UsageError
from reasoner.tools._decorator import tool  # not the package: reasoner.tools re-exports this module

__all__ = ["HttpResponse", "http_get", "make_http_get"]

MAX_BYTES_LIMIT = 10_000_000
MAX_TIMEOUT = 60.0
MAX_REDIRECTS = 5
USER_AGENT = "reasoner-http_get/0.1"

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_TEXT_TYPES = ("json", "xml", "javascript", "ecmascript", "x-www-form-urlencoded", "csv", "yaml", "markdown")


class HttpResponse(BaseModel):
    """What a GET returned: final URL, status, content type and (possibly truncated) text."""

    model_config = ConfigDict(frozen=True)

    url: str
    status: int
    content_type: str
    text: str
    truncated: bool
    size: int


async def _system_resolve(host: str, port: int) -> list[str]:
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# IANA IPv4 and IPv6 special-purpose address registries (the ranges that are not global unicast)
SPECIAL_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.31.196.0/24", "192.52.193.0/24", "192.88.99.0/24",
        "192.168.0.0/16", "192.175.48.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
        "224.0.0.0/4", "240.0.0.0/4",
        "::/128", "::1/128", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
        "2620:4f:8000::/48", "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    )
)  # fmt: skip


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, 6to4, Teredo or NAT64 IPv6 address reaches, if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _refusal(address: IPAddress) -> str | None:
    """Why ``address`` may not be fetched, or None when it is a global unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            why = _refusal(embedded)
            return None if why is None else f"{why} ({embedded}) inside IPv6"
    checks = (
        ("is_unspecified", "an unspecified"),
        ("is_loopback", "a loopback"),
        ("is_link_local", "a link-local"),
        ("is_multicast", "a multicast"),
        ("is_private", "a private"),
        ("is_reserved", "a reserved"),
    )
    for attribute, kind in checks:
        if getattr(address, attribute):
            return f"{kind} address"
    special = next((n for n in SPECIAL_NETWORKS if address.version == n.version and address in n), None)
    if special is not None:
        return f"a special-purpose address (in {special})"
    if not address.is_global:
        return "a special-purpose (non-global) address"
    return None


@dataclass(frozen=True, slots=True)
class _Target:
    """One hop: the URL to request and how to address the original host."""

    url: httpx.URL
    headers: dict[str, str]
    extensions: dict[str, str]


Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def _allowed(address: IPAddress, allow: Networks) -> bool:
    return any(address.version == n.version and address in n for n in allow)


async def _target(url: httpx.URL, allow_private: bool, resolve: Resolver, allow: Networks = ()) -> _Target:
    if url.scheme not in ("http", "https"):
        raise ToolRetry(f"http_get: refusing {str(url)!r}: only http:// and https:// URLs can be fetched")
    host = url.raw_host.decode("ascii")
    if not host:
        raise ToolRetry(f"http_get: {str(url)!r} has no host name")
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"}
    if allow_private:
        return _Target(url, headers, {})
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        addresses = [ipaddress.ip_address(host)]
        literal = True
    except ValueError:
        literal = False
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in await resolve(host, port)]
        except OSError as exc:
            raise ToolRetry(f"http_get: cannot resolve host {host!r}: {exc}; check the URL") from None
    if not addresses:
        raise ToolRetry(f"http_get: host {host!r} resolved to no address; check the URL")
    for address in addresses:
        why = None if _allowed(address, allow) else _refusal(address)
        if why is not None:
            raise ToolRetry(
                f"http_get: refusing {str(url)!r}: {host} resolves to {address}, {why}; "
                "only public internet addresses can be fetched (a developer can allow a network "
                "with make_http_get(allow=[...]), or every address with allow_private=True)"
            )
    if literal:
        return _Target(url, headers, {})
    extensions = {"sni_hostname": host} if url.scheme == "https" else {}
    headers |= {"Host": url.netloc.decode("ascii"), "Connection": "close"}
    return _Target(url.copy_with(host=str(addresses[0])), headers, extensions)


def _is_text(content_type: str) -> bool:
    mime = content_type.split(";", 1)[0].strip().lower()
    return not mime or mime.startswith("text/") or any(part in mime for part in _TEXT_TYPES)


def _decode(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return body.decode("utf-8", errors="replace")


async def _read(response: httpx.Response, max_bytes: int) -> tuple[bytes, bool]:
    """Read at most ``max_bytes`` of the decoded body; the flag says whether more was left."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
        raise ToolError(f"http_get: {response.url} sent content-encoding {encoding!r}, which is not supported", tool="http_get")
    if response.is_stream_consumed:  # a transport (e.g. httpx.MockTransport) that handed over a body already read
        return response.content[:max_bytes], len(response.content) > max_bytes
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 32) if encoding not in ("", "identity") else None
    body = bytearray()
    async for raw in response.aiter_raw():
        room = max_bytes - len(body)
        try:
            chunk = inflater.decompress(raw, room + 1) if inflater is not None else raw
        except zlib.error as exc:
            raise ToolError(f"http_get: the {encoding} body from {response.url} is corrupt: {exc}", tool="http_get") from exc
        if len(chunk) > room:
            body += chunk[:room]
            return bytes(body), True
        body += chunk
    return bytes(body), False


async def _fetch(
    client: httpx.AsyncClient,
    url: str,
    max_bytes: int,
    timeout: float,
    allow_private: bool,
    resolve: Resolver,
    allow: Networks = (),
) -> HttpResponse:
    try:
        current = httpx.URL(url.strip())
    except httpx.InvalidURL as exc:
        raise ToolRetry(f"http_get: {url!r} is not a valid URL: {exc}") from None
    for _ in range(MAX_REDIRECTS + 1):
        target = await _target(current, allow_private, resolve, allow)
        request = client.build_request("GET", target.url, headers=target.headers, timeout=timeout, extensions=target.extensions)
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            if response.has_redirect_location:
                try:
                    current = current.join(response.headers["location"])
                except httpx.InvalidURL as exc:
                    raise ToolError(f"http_get: {current} redirected to an invalid URL: {exc}", tool="http_get") from exc
                continue
            content_type = response.headers.get("content-type", "")
            body, truncated = await _read(response, max_bytes)
        finally:
            with anyio.move_on_after(1, shield=True):  # release the connection even when cancelled
                await response.aclose()
        text = _decode(body, response.charset_encoding) if _is_text(content_type) else ""
        return HttpResponse(
            url=str(current), status=response.status_code, content_type=content_type, text=text, truncated=truncated, size=len(body)
        )
    raise ToolRetry(f"http_get: {url!r} redirected more than {MAX_REDIRECTS} times; try the final address directly")


def make_http_get(
    client: httpx.AsyncClient | None = None,
    *,
    allow_private: bool = False,
    allow: Sequence[str | ipaddress.IPv4Network | ipaddress.IPv6Network] = (),
    resolver: Resolver | None = None,
) -> Callable[..., Awaitable[HttpResponse]]:
    """Build an ``http_get`` tool.

    Args:
        client: The client to send requests with (not closed by the tool); by default a
            fresh ``httpx.AsyncClient(trust_env=False)`` per call.
        allow_private: Also fetch private, loopback and other non-public addresses
            (for local development only: it lets a planner reach internal services).
        allow: Networks (``"10.1.2.0/24"``) or addresses that may be fetched although they
            are not public; everything else non-public stays refused.
        resolver: ``async (host, port) -> [address, ...]``; defaults to the system resolver.
    """
    resolve = resolver or _system_resolve
    try:
        networks: Networks = tuple(ipaddress.ip_network(n, strict=False) for n in allow)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"make_http_get(allow=...): {exc}; give networks such as '10.1.2.0/24' or addresses") from exc

    @tool(timeout=MAX_TIMEOUT + 5)
    async def http_get(
        url: str,
        max_bytes: Annotated[int, Field(ge=1, le=MAX_BYTES_LIMIT)] = 1_000_000,
        timeout: Annotated[float, Field(gt=0, le=MAX_TIMEOUT)] = 10.0,
    ) -> HttpResponse:
        """Fetch a web page over HTTP(S) and return its status, content type and text.

        Args:
            url: The http:// or https:// address to fetch.
            max_bytes: Stop reading the body after this many bytes (at most 10,000,000).
            timeout: Seconds allowed for the whole request, redirects included (at most 60).

        Raises:
            ToolRetry: a bad URL or argument, or an address that is not on the public internet.
            ToolError: the connection failed. TimeoutError: the time limit ran out.
        """
        if not 1 <= max_bytes <= MAX_BYTES_LIMIT:
            raise ToolRetry(f"http_get: max_bytes must be between 1 and {MAX_BYTES_LIMIT:,}, got {max_bytes}")
        if not 0 < timeout <= MAX_TIMEOUT:
            raise ToolRetry(f"http_get: timeout must be more than 0 and at most {MAX_TIMEOUT:g} seconds, got {timeout}")
        try:
            with anyio.fail_after(timeout):
                if client is not None:
                    return await _fetch(client, url, max_bytes, timeout, allow_private, resolve, networks)
                async with httpx.AsyncClient(trust_env=False) as own:
                    return await _fetch(own, url, max_bytes, timeout, allow_private, resolve, networks)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise TimeoutError(f"http_get: GET {url} did not finish within {timeout:g} s") from exc
        except httpx.TransportError as exc:
            raise ToolError(f"http_get: GET {url} failed: {type(exc).__name__}: {exc}", tool="http_get") from exc

    return http_get


http_get = make_http_get()
