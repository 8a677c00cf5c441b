"""http_get: public addresses only (unless allowed), bounded size and time, checked redirects."""

from __future__ import annotations

import gzip
import ipaddress
import re
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio
import httpx
import pytest

from reasoner.errors import ToolError, ToolRetry
from reasoner.tools._http import HttpResponse, http_get, make_http_get

PUBLIC = "93.184.216.34"


def _resolver(table: dict[str, Sequence[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> Sequence[str]:
        if host not in table:
            raise OSError(f"no such host {host}")
        return table[host]

    return resolve


class _Recorder:
    """A MockTransport handler that answers by Host header and remembers every request."""

    def __init__(self, routes: dict[str, httpx.Response]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = f"{request.headers['host']}{request.url.raw_path.decode()}"
        return self.routes.get(key, httpx.Response(404, text="not found"))


def _tool(handler, hosts: dict[str, Sequence[str]] | None = None, **options):  # type: ignore[no-untyped-def]
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    resolver = _resolver(hosts if hosts is not None else {"example.com": [PUBLIC], "other.org": ["8.8.8.8"]})
    return make_http_get(client, resolver=resolver, **options)


async def test_fetches_text_from_a_public_host_pinned_to_the_checked_address() -> None:
    handler = _Recorder({"example.com/page": httpx.Response(200, text="hello", headers={"content-type": "text/plain; charset=utf-8"})})
    result = await _tool(handler)("https://example.com/page")
    assert result == HttpResponse(
        url="https://example.com/page", status=200, content_type="text/plain; charset=utf-8", text="hello", truncated=False, size=5
    )
    (request,) = handler.requests
    assert request.url.host == PUBLIC  # the address that was checked, not a second DNS answer
    assert request.headers["host"] == "example.com"
    assert request.extensions["sni_hostname"] == "example.com"  # TLS still verifies example.com


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.0.0.5", "172.16.3.4", "192.168.1.1", "169.254.169.254", "0.0.0.0", "224.0.0.1",
     "100.64.0.1", "240.0.0.1", "::1", "fe80::1", "fc00::1", "ff02::1", "::", "::ffff:127.0.0.1", "64:ff9b::a00:1"],
)  # fmt: skip
async def test_hosts_resolving_to_non_public_addresses_are_refused_before_any_request(address: str) -> None:
    handler = _Recorder({})
    shown = re.escape(str(ipaddress.ip_address(address)))
    with pytest.raises(ToolRetry, match=rf"internal\.example resolves to {shown}, an? .*allow_private=True"):
        await _tool(handler, {"internal.example": [address]})("http://internal.example/")
    assert handler.requests == []


async def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    handler = _Recorder({})
    with pytest.raises(ToolRetry, match="private address"):
        await _tool(handler, {"mixed.example": [PUBLIC, "10.1.2.3"]})("http://mixed.example/")
    assert handler.requests == []


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/", "http://[::1]/", "http://169.254.169.254/latest/meta-data/", "http://0x7f000001/"]
)
async def test_literal_non_public_addresses_are_refused(url: str) -> None:
    handler = _Recorder({})
    with pytest.raises(ToolRetry, match="refusing|cannot resolve"):
        await _tool(handler, {})(url)
    assert handler.requests == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://example.com/", "example.com/page"])
async def test_only_http_and_https_urls(url: str) -> None:
    with pytest.raises(ToolRetry, match="only http:// and https://|no host"):
        await _tool(_Recorder({}))(url)


async def test_a_redirect_to_a_private_address_is_refused() -> None:
    handler = _Recorder({"example.com/go": httpx.Response(302, headers={"location": "http://127.0.0.1/admin"})})
    with pytest.raises(ToolRetry, match="127.0.0.1 resolves to 127.0.0.1, a loopback address"):
        await _tool(handler)("http://example.com/go")
    assert len(handler.requests) == 1


async def test_redirects_between_public_hosts_are_followed_and_the_final_url_reported() -> None:
    handler = _Recorder(
        {
            "example.com/old": httpx.Response(301, headers={"location": "/new"}),
            "example.com/new": httpx.Response(307, headers={"location": "https://other.org/final"}),
            "other.org/final": httpx.Response(200, text="done"),
        }
    )
    result = await _tool(handler)("http://example.com/old")
    assert (result.url, result.status, result.text) == ("https://other.org/final", 200, "done")
    assert [r.url.host for r in handler.requests] == [PUBLIC, PUBLIC, "8.8.8.8"]


async def test_redirect_loops_stop() -> None:
    handler = _Recorder({"example.com/loop": httpx.Response(302, headers={"location": "/loop"})})
    with pytest.raises(ToolRetry, match="redirected more than 5 times"):
        await _tool(handler)("http://example.com/loop")
    assert len(handler.requests) == 6


async def test_an_endless_body_is_cut_at_max_bytes_without_reading_on() -> None:
    produced = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal produced
        while True:
            produced += 1
            yield b"x" * 1000

    result = await _tool(lambda request: httpx.Response(200, content=endless()))("http://example.com/", max_bytes=2500)
    assert (result.size, result.truncated, result.text) == (2500, True, "x" * 2500)
    assert produced == 3


async def test_a_body_of_exactly_max_bytes_is_not_truncated() -> None:
    result = await _tool(lambda request: httpx.Response(200, content=b"y" * 100))("http://example.com/", max_bytes=100)
    assert (result.size, result.truncated) == (100, False)


async def test_a_compressed_bomb_is_inflated_only_up_to_max_bytes() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)
    assert len(bomb) < 100_000

    async def stream() -> AsyncIterator[bytes]:
        yield bomb  # one network read that would inflate to 50 MB

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=stream(), headers={"content-encoding": "gzip", "content-type": "text/plain"})

    result = await _tool(handler)("http://example.com/", max_bytes=10_000)
    assert (result.size, result.truncated) == (10_000, True)


async def test_gzip_bodies_are_decoded() -> None:
    async def stream() -> AsyncIterator[bytes]:
        data = gzip.compress(b'{"a": 1}')
        yield data[:5]
        yield data[5:]

    def handler(request: httpx.Request) -> httpx.Response:
        assert "gzip" in request.headers["accept-encoding"]
        return httpx.Response(200, content=stream(), headers={"content-encoding": "gzip", "content-type": "application/json"})

    assert (await _tool(handler)("http://example.com/")).text == '{"a": 1}'


async def test_charset_from_the_content_type_is_used_and_binary_bodies_are_not_decoded() -> None:
    routes = {
        "example.com/latin": httpx.Response(200, content="café".encode("latin-1"), headers={"content-type": "text/html; charset=iso-8859-1"}),
        "example.com/logo.png": httpx.Response(200, content=b"\x89PNG\r\n\x1a\n" + bytes(100), headers={"content-type": "image/png"}),
    }
    fetch = _tool(_Recorder(routes))
    assert (await fetch("http://example.com/latin")).text == "café"
    image = await fetch("http://example.com/logo.png")
    assert (image.text, image.size, image.content_type) == ("", 108, "image/png")


async def test_error_statuses_are_returned_for_the_planner_to_read() -> None:
    result = await _tool(_Recorder({}))("http://example.com/missing")
    assert (result.status, result.text) == (404, "not found")


async def test_the_time_limit_covers_the_whole_call() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(30)
        return httpx.Response(200)

    with pytest.raises(TimeoutError, match="did not finish within 0.2 s"):
        await _tool(slow)("http://example.com/", timeout=0.2)


async def test_connection_failures_are_tool_errors() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ToolError, match="GET http://example.com/ failed: ConnectError"):
        await _tool(refuse)("http://example.com/")


async def test_unresolvable_hosts_are_sent_back_to_the_planner() -> None:
    with pytest.raises(ToolRetry, match="cannot resolve host 'nowhere.invalid'"):
        await _tool(_Recorder({}), {})("http://nowhere.invalid/")


@pytest.mark.parametrize(("max_bytes", "timeout"), [(0, 10.0), (10_000_001, 10.0), (100, 0.0), (100, 61.0)])
async def test_limits_outside_the_allowed_range_are_refused(max_bytes: int, timeout: float) -> None:
    with pytest.raises(ToolRetry, match="max_bytes must be|timeout must be"):
        await _tool(_Recorder({}))("http://example.com/", max_bytes=max_bytes, timeout=timeout)


def test_the_default_tool_is_registered_as_http_get() -> None:
    spec = http_get.__reasoner_tool__  # type: ignore[attr-defined]
    assert spec.name == "http_get"
    assert set(spec.input_schema["properties"]) == {"url", "max_bytes", "timeout"}
    assert spec.input_schema["properties"]["max_bytes"]["maximum"] == 10_000_000


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"z" * 200_000
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading at max_bytes, as it should

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def loopback_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/data"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_a_real_loopback_server_is_refused_by_default(loopback_url: str) -> None:
    with pytest.raises(ToolRetry, match="loopback address"):
        await http_get(loopback_url)


async def test_a_real_loopback_server_is_read_up_to_max_bytes_when_allowed(loopback_url: str) -> None:
    result = await make_http_get(allow_private=True)(loopback_url, max_bytes=1000, timeout=10)
    assert (result.status, result.size, result.truncated, result.text) == (200, 1000, True, "z" * 1000)
