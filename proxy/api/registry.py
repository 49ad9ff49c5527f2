"""The OCI distribution API, pull side: /v2/ ping, manifests, blobs, tags list, referrers.

Handlers parse and route, ask the mirror service, and write the answer; they never decide
cache or upstream questions themselves. Push, delete and mount answer 405 `UNSUPPORTED`.
"""

from __future__ import annotations

import contextlib
import json
import logging
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from multidict import CIMultiDict

from proxy.api.context import ABORTED, BYTES_KIND, IDENTITY, ROUTE, SERVICES, UPSTREAM
from proxy.api.pull_auth import authorize, require_principal
from proxy.api.ranges import ByteRange, parse_range
from proxy.api.routing import RegistryRequest
from proxy.cache.blobs import BlobSource
from proxy.gate.decision import warning_header
from proxy.gate.service import ClientInfo
from proxy.oci import mediatypes
from proxy.oci.errors import ErrorCode, RegistryError
from proxy.oci.reference import InvalidReferenceError, Tag
from proxy.policy.model import Outcome

__all__ = ["routes"]

log = logging.getLogger(__name__)

API_VERSION = {"Docker-Distribution-API-Version": "registry/2.0"}
MAX_PAGE = 10_000
routes = web.RouteTableDef()


@routes.route("*", "/v2")
@routes.route("*", "/v2/")
async def ping(request: web.Request) -> web.StreamResponse:
    _read_only(request)
    require_principal(request)
    return web.json_response({}, headers=API_VERSION)


@routes.route("*", r"/v2/{tail:.+}")
async def registry(request: web.Request) -> web.StreamResponse:
    _read_only(request)
    services = request.app[SERVICES]
    tail = request.rel_url.raw_path[len("/v2/") :]
    target = services.router.route(tail, request.query.get("ns"))
    request[ROUTE] = target.endpoint
    request[UPSTREAM] = target.key.upstream
    authorize(request, target)  # the routed repository, whichever way the client named it
    if target.endpoint == "manifests":
        return await _manifest(request, target)
    if target.endpoint == "blobs":
        return await _blob(request, target)
    if target.endpoint == "tags":
        return await _tags(request, target)
    if target.endpoint == "referrers":
        return await _referrers(request, target)
    raise RegistryError(ErrorCode.UNSUPPORTED, "pullgate is a read-only mirror: pushing is not supported")


def _read_only(request: web.Request) -> None:
    if request.method not in ("GET", "HEAD"):
        raise RegistryError(
            ErrorCode.UNSUPPORTED,
            f"{request.method} is not supported: pullgate is a read-only mirror (push, delete and mount are refused)",
            headers={"Allow": "GET, HEAD"},
        )


async def _manifest(request: web.Request, target: RegistryRequest) -> web.StreamResponse:
    reference = target.manifest_reference()
    gated = await request.app[SERVICES].gate.manifest(target.key, reference, client_info(request))
    served = gated.served
    accepted = mediatypes.parse_accept(request.headers.getall("Accept", []))
    if not mediatypes.accepts(accepted, served.media_type):
        raise RegistryError(
            ErrorCode.MANIFEST_UNKNOWN,
            f"{target.display_name}:{target.reference} is a {served.media_type}, which the request's Accept "
            "header does not list",
            detail={"mediaType": served.media_type},
        )
    headers = CIMultiDict(
        {
            **API_VERSION,
            "Content-Type": served.media_type,
            "Docker-Content-Digest": str(served.digest),
            "ETag": f'"{served.digest}"',
        }
    )
    if served.warning:
        headers.add("Warning", served.warning)
    if gated.decision.outcome is Outcome.WARN:
        headers.add("Warning", warning_header(gated.decision))
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(served.data))
        return web.Response(headers=headers)
    request[BYTES_KIND] = "manifest"
    return web.Response(body=served.data, headers=headers)


def client_info(request: web.Request) -> ClientInfo:
    return ClientInfo(
        address=request.remote,
        user_agent=request.headers.get("User-Agent", "")[:512] or None,
        identity=request.get(IDENTITY),
    )


async def _blob(request: web.Request, target: RegistryRequest) -> web.StreamResponse:
    digest = target.digest()
    source = await request.app[SERVICES].gate.blob(target.key, digest, fetch=request.method == "GET")
    try:
        return await _send_blob(request, source)
    finally:
        source.release()


async def _send_blob(request: web.Request, source: BlobSource) -> web.StreamResponse:
    headers = {
        **API_VERSION,
        "Content-Type": "application/octet-stream",
        "Docker-Content-Digest": str(source.digest),
        "Accept-Ranges": "bytes",
        "ETag": f'"{source.digest}"',
    }
    range_header = request.headers.get("Range")
    if request.method == "HEAD":
        if source.size is not None:
            headers["Content-Length"] = str(source.size)
        return web.Response(headers=headers)
    redirect = await source.redirect_url()
    if redirect is not None:  # the gate has decided; the object store sends the bytes
        return web.Response(status=307, headers={**headers, "Location": redirect})
    request[BYTES_KIND] = "blob"
    if range_header is not None:
        return await _send_range(request, source, range_header, headers)
    if source.fill is None and source.local_path is not None:
        file_response = _SentFile(source.local_path, chunk_size=256 * 1024, headers=headers)
        try:
            await file_response.prepare(request)
        except (ConnectionError, RuntimeError) as exc:
            # sendfile raises RuntimeError when the transport closed before it began.
            if not isinstance(exc, ConnectionError) and not _client_gone(request):
                raise
            request[ABORTED] = "client"
        return file_response
    response = web.StreamResponse(headers=headers)
    if source.size is not None:
        response.content_length = source.size
    await response.prepare(request)
    await _pump(request, response, source, 0, None)
    return response


class _SentFile(web.FileResponse):
    """A file the handler sends itself, so the blob stays in use (safe from eviction) until the
    last byte is out. aiohttp prepares a returned response again, and `FileResponse.prepare` is
    not idempotent (aiohttp 3.14: it reopens the file and asserts), which logged an error and
    dropped the keep-alive connection after every cache hit: here the second call is a no-op."""

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        if self.prepared:
            return await web.StreamResponse.prepare(self, request)
        return await super().prepare(request)


async def _send_range(
    request: web.Request, source: BlobSource, header: str, headers: dict[str, str]
) -> web.StreamResponse:
    # A range is served only from verified content: wait for a fill to commit first.
    await source.settle()
    size = source.size if source.size is not None else 0
    byte_range = parse_range(header, size)
    if byte_range is None:  # a range unit we do not serve, or an empty blob: the whole blob
        byte_range, status = ByteRange(0, size), 200
    else:
        status, headers = 206, {**headers, "Content-Range": byte_range.content_range(size)}
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = byte_range.length
    await response.prepare(request)
    await _pump(request, response, source, byte_range.start, byte_range.end)
    return response


async def _pump(
    request: web.Request, response: web.StreamResponse, source: BlobSource, start: int, end: int | None
) -> None:
    """Copy the source to the client; on any failure cut the connection so no body looks complete.

    A client that goes away only ends its own response: a fill goes on without it. Only a
    failed write counts as that; a source failing with a connection error is ours to report.
    """
    chunks = source.stream(start, end)
    sent = 0
    try:
        async with contextlib.aclosing(chunks):  # closes a spool file now, not at collection
            async for chunk in chunks:
                if not await _write(request, response, chunk):
                    return
                sent += len(chunk)
        if response.content_length is not None and sent != response.content_length:
            # A short body must fail loudly: left open, the client would wait for the rest forever.
            raise RuntimeError(f"the source ended after {sent} of {response.content_length} bytes")
    except Exception as exc:
        log.error("aborting %s of %s after a failure: %s", request.path, source.digest, exc)
        if request.transport is not None:
            request.transport.abort()
        request[ABORTED] = "server"
        return
    await _write(request, response, None)


async def _write(request: web.Request, response: web.StreamResponse, chunk: bytes | None) -> bool:
    """Send a chunk (None: the end of the body); False when the client has gone away."""
    try:
        await (response.write(chunk) if chunk is not None else response.write_eof())
    except ConnectionError:
        request[ABORTED] = "client"
        return False
    return True


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def _tags(request: web.Request, target: RegistryRequest) -> web.StreamResponse:
    n, last = _pagination(request)
    page = await request.app[SERVICES].gate.mirror.tags(target.key, n, last)
    headers = dict(API_VERSION)
    if page.next_last is not None:
        query = {"n": str(n), "last": page.next_last} if n is not None else {"last": page.next_last}
        if "ns" in request.query:
            query["ns"] = request.query["ns"]
        headers["Link"] = f'</v2/{target.display_name}/tags/list?{urlencode(query)}>; rel="next"'
    if page.warning:
        headers["Warning"] = page.warning
    body = {"name": target.display_name, "tags": page.tags}
    return web.json_response(body, headers=headers, dumps=_compact)


def _pagination(request: web.Request) -> tuple[int | None, str | None]:
    raw_n, last = request.query.get("n"), request.query.get("last")
    n = None
    if raw_n is not None:
        if not raw_n.isdigit() or int(raw_n) > MAX_PAGE:
            raise RegistryError(
                ErrorCode.PAGINATION_NUMBER_INVALID, f"n must be a whole number from 0 to {MAX_PAGE}"
            )
        n = int(raw_n)
    if last is not None:
        try:
            Tag.parse(last)
        except InvalidReferenceError as exc:
            raise RegistryError(
                ErrorCode.PAGINATION_NUMBER_INVALID, f"invalid last parameter: {exc}"
            ) from exc
    return n, last


async def _referrers(request: web.Request, target: RegistryRequest) -> web.StreamResponse:
    subject = target.digest()
    artifact_type = request.query.get("artifactType")
    data = await request.app[SERVICES].gate.mirror.referrers(target.key, subject, artifact_type)
    headers = {**API_VERSION, "Content-Type": mediatypes.OCI_INDEX}
    if artifact_type is not None:
        headers["OCI-Filters-Applied"] = "artifactType"
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(data))
        return web.Response(headers=headers)
    return web.Response(body=data, headers=headers)


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))
