"""Request heads over the parser's limits (request line, header size, header count) and
malformed ones: each gets its own status and an OCI error body, and the connection closes.

Sent over raw sockets to a real `pullgate serve`: aiohttp's client would refuse to send them.
"""

from __future__ import annotations

from tests.integration.listener.conftest import StartPullgate
from tests.integration.listener.wire import Answer, closed_by_server, connect, exchange, request_bytes
from tests.support.http import http_get
from tests.support.pullgate import upstream_entry
from tests.support.pullgate_process import PullgateProcess
from tests.support.registry import RunningRegistry

SECRET = "Bearer " + "s3cr3t" * 500  # a header value the error must not echo back


async def _once(pullgate: PullgateProcess, raw: bytes) -> tuple[Answer, bytes]:
    """Send one request on a fresh connection: the answer, then what follows until it closes."""
    reader, writer = await connect("127.0.0.1", pullgate.port)
    try:
        answer = await exchange(reader, writer, raw)
        return answer, await closed_by_server(reader)
    finally:
        writer.close()


async def test_oversized_request_heads_get_414_431_or_400(
    serve_pullgate: StartPullgate, upstream_registry: RunningRegistry
) -> None:
    pullgate = await serve_pullgate(
        [upstream_entry(upstream_registry)], server={"max_header_size": "2KiB", "max_headers": 20}
    )
    cases = [
        (request_bytes("GET", "/v2/" + "a" * 9000), 414, "REQUEST_LINE_TOO_LONG", "longer than 8192 bytes"),
        (
            request_bytes("GET", "/v2/", {"Authorization": SECRET}),
            431,
            "HEADERS_TOO_LARGE",
            "longer than 2048",
        ),
        (
            request_bytes("GET", "/v2/", {f"X-Many-{i}": "1" for i in range(21)}),
            431,
            "HEADERS_TOO_LARGE",
            "more than 20 headers",
        ),
        (b"GET /v2/ HTTP/1.1\r\nHost pullgate\r\n\r\n", 400, "BAD_REQUEST", "malformed HTTP request"),
    ]
    for raw, status, code, words in cases:
        answer, rest = await _once(pullgate, raw)
        assert (answer.status, answer.oci_code) == (status, code), answer
        assert words in answer.json["errors"][0]["message"]
        assert answer.headers["Content-Type"].startswith("application/json")
        assert answer.headers["Connection"] == "close" and rest == b""
        assert b"s3cr3t" not in answer.body and b"aaaa" not in answer.body
    # Just inside the limits is served.
    fits = {"Authorization": "Bearer " + "t" * 1900, **{f"X-Many-{i}": "1" for i in range(17)}}
    reader, writer = await connect("127.0.0.1", pullgate.port)
    assert (await exchange(reader, writer, request_bytes("GET", "/v2/", fits))).status == 200
    long_line = await exchange(reader, writer, request_bytes("GET", "/v2/" + "a" * 8000 + "/tags/list"))
    assert long_line.oci_code == "NAME_INVALID"  # it reached the registry API, which judges the name
    writer.close()
    metrics = (await http_get(f"{pullgate.url}/metrics"))[2].decode()
    for reason in ("request_line_too_long", "header_too_large", "too_many_headers", "malformed"):
        assert f'pullgate_listener_refusals_total{{reason="{reason}"}} 1.0' in metrics, reason
