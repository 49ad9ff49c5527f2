"""The scanner endpoint: a read-only OCI registry that serves external scanners one image per grant.

Trivy and Harbor scanner adapters read the image being scanned from pullgate's own content
store, through the mirror, on a listener of its own. They do not go around the gate (to the
upstream) and not through it (as a client that the gate could block): nothing here consults
the gate or the policy, and nothing is audited as a pull, because a scan is not a pull.
What a scanner may read is exactly what its `Grant` names, by digest.

Authentication is HTTP Basic, user ``scanner`` and the grant's secret as password; a
``Bearer <secret>`` is accepted too, as Harbor adapters may pass a value straight through.
Basic rather than a bearer-token flow because Trivy 0.76 (go-containerregistry's SSRF guard)
refuses a bearer realm on a private address other than the registry's own host:port.

Answers: ``/v2/`` (200 with a valid secret), ``GET/HEAD /v2/scan/<id>/manifests/<digest>``
and ``GET/HEAD /v2/scan/<id>/blobs/<digest>``. Every refusal is an OCI error body: 401
UNAUTHORIZED for a missing, wrong or expired secret, 403 DENIED for a digest outside the
grant, 404 for a tag or any other name, 405 for anything but GET and HEAD.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import re
from urllib.parse import unquote

from aiohttp import web
from aiohttp.typedefs import Handler
from yarl import URL

from proxy.api.middlewares import render
from proxy.api.ranges import parse_range
from proxy.cache.blobs import BlobSource
from proxy.cache.mirror import Mirror
from proxy.gate.scans.grants import SCANNER_USERNAME, Grant, ScanGrants
from proxy.oci.digest import Digest, InvalidDigestError
from proxy.oci.errors import ErrorCode, RegistryError

# Grant and ScanGrants are re-exported: callers wiring the endpoint need nothing else.
__all__ = ["SCANNER_REALM", "Grant", "ScanGrants", "scanner_app", "start_scanner_endpoint"]

log = logging.getLogger(__name__)

SCANNER_REALM = "pullgate-scanner"
_API_VERSION = {"Docker-Distribution-API-Version": "registry/2.0"}
_CHALLENGE = {"WWW-Authenticate": f'Basic realm="{SCANNER_REALM}"'}
_OBJECT = re.compile(r"(?P<name>.+)/(?P<endpoint>manifests|blobs)/(?P<reference>[^/]+)")

_MIRROR = web.AppKey("scanner_mirror", Mirror)
_GRANTS = web.AppKey("scanner_grants", ScanGrants)


def scanner_app(mirror: Mirror, grants: ScanGrants) -> web.Application:
    app = web.Application(middlewares=[_errors], client_max_size=64 * 1024)
    app[_MIRROR] = mirror
    app[_GRANTS] = grants
    app.router.add_route("*", "/v2", _ping)
    app.router.add_route("*", "/v2/", _ping)
    app.router.add_route("*", "/v2/{tail:.+}", _serve)
    app.router.add_route("*", "/{tail:.*}", _elsewhere)
    return app


async def start_scanner_endpoint(
    mirror: Mirror, grants: ScanGrants, host: str, port: int
) -> tuple[web.AppRunner, str]:
    """Serve `scanner_app` on ``host:port`` (0: any free port); the runner (``cleanup()`` it
    on shutdown) and the base URL to put in `ScanTarget.registry_url`."""
    address = ipaddress.ip_address(host)  # ValueError for a name
    # The URL names the one address listened on: a host name could bind several addresses
    # (each on its own free port), and an unspecified address is no place to connect to.
    if address.is_unspecified:
        raise ValueError(f"the scanner endpoint needs an address scanners can connect to, not {host}")
    runner = web.AppRunner(scanner_app(mirror, grants), access_log=None)  # handlers log at debug
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_port = runner.addresses[0][1]
    url = str(URL.build(scheme="http", host=str(address), port=bound_port))
    log.info("scanner endpoint listening on %s", url)
    return runner, url


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RegistryError as exc:
        log.debug("scanner endpoint: %s %s refused: %s", request.method, request.path, exc)
        return render(exc)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("scanner endpoint: unhandled error answering %s %s", request.method, request.path)
        return render(RegistryError(ErrorCode.UNKNOWN, "internal error; see the pullgate log"))


async def _ping(request: web.Request) -> web.StreamResponse:
    _authenticate(request)
    _read_only(request)
    return web.json_response({}, headers=_API_VERSION)


async def _elsewhere(request: web.Request) -> web.StreamResponse:
    raise RegistryError(ErrorCode.NAME_UNKNOWN, "the scanner endpoint answers under /v2/ only")


async def _serve(request: web.Request) -> web.StreamResponse:
    grant = _authenticate(request)
    _read_only(request)
    match = _OBJECT.fullmatch(request.rel_url.raw_path[len("/v2/") :])
    # A secret opens its own grant's name only; any other name (another grant's included)
    # does not exist as far as this caller is concerned.
    if match is None or match["name"] != grant.repository:
        raise RegistryError(
            ErrorCode.NAME_UNKNOWN, f"the scanner endpoint serves {grant.repository} to this credential only"
        )
    reference = unquote(match["reference"])
    if match["endpoint"] == "manifests":
        return await _manifest(request, grant, reference)
    return await _blob(request, grant, reference)


def _authenticate(request: web.Request) -> Grant:
    secret = _offered_secret(request.headers.get("Authorization"))
    grant = request.app[_GRANTS].find(secret) if secret else None
    if grant is None:
        why = "missing" if secret is None else "wrong or expired"
        raise RegistryError(
            ErrorCode.UNAUTHORIZED, f"scanner credentials are {why}", headers=dict(_CHALLENGE)
        )
    return grant


def _offered_secret(header: str | None) -> str | None:
    """The grant secret in ``Basic scanner:<secret>`` or ``Bearer <secret>``; None otherwise."""
    scheme, _, value = (header or "").strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() != "basic":
        return None
    try:
        username, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return password if sep and username == SCANNER_USERNAME else None


def _read_only(request: web.Request) -> None:
    if request.method not in ("GET", "HEAD"):
        raise RegistryError(
            ErrorCode.UNSUPPORTED,
            f"{request.method} is not supported: the scanner endpoint is read-only",
            headers={"Allow": "GET, HEAD"},
        )


def _granted(grant: Grant, digest: Digest, allowed: frozenset[Digest], what: str) -> None:
    if digest not in allowed:
        raise RegistryError(
            ErrorCode.DENIED, f"{what} {digest} is not part of the image granted as {grant.repository}"
        )


async def _manifest(request: web.Request, grant: Grant, reference: str) -> web.StreamResponse:
    if ":" not in reference:  # digests always carry an algorithm; a tag never does
        raise RegistryError(
            ErrorCode.MANIFEST_UNKNOWN, "the scanner endpoint serves manifests by digest only, not by tag"
        )
    digest = _digest(reference)
    _granted(grant, digest, grant.manifests, "manifest")
    cached = await request.app[_MIRROR].cached_manifest(grant.key, digest)
    log.debug("scanner endpoint: %s manifest %s of %s", request.method, digest, grant.repository)
    headers = {
        **_API_VERSION,
        "Content-Type": cached.media_type,
        "Docker-Content-Digest": str(cached.digest),
        "ETag": f'"{cached.digest}"',
    }
    if request.method == "HEAD":
        return web.Response(headers={**headers, "Content-Length": str(len(cached.data))})
    return web.Response(body=cached.data, headers=headers)


async def _blob(request: web.Request, grant: Grant, reference: str) -> web.StreamResponse:
    digest = _digest(reference)
    _granted(grant, digest, grant.blobs, "blob")
    # HEAD does not start a fetch from upstream for a blob that is not cached yet.
    source = await request.app[_MIRROR].blob(grant.key, digest, fetch=request.method == "GET")
    log.debug("scanner endpoint: %s blob %s of %s", request.method, digest, grant.repository)
    try:
        return await _send_blob(request, source)
    finally:
        source.release()


def _digest(reference: str) -> Digest:
    try:
        return Digest.parse(reference)
    except InvalidDigestError as exc:
        raise RegistryError(ErrorCode.DIGEST_INVALID, f"invalid digest: {exc}") from exc


async def _send_blob(request: web.Request, source: BlobSource) -> web.StreamResponse:
    headers = {
        **_API_VERSION,
        "Content-Type": "application/octet-stream",
        "Docker-Content-Digest": str(source.digest),
        "Accept-Ranges": "bytes",
        "ETag": f'"{source.digest}"',
    }
    if request.method == "HEAD":
        if source.size is not None:
            headers["Content-Length"] = str(source.size)
        return web.Response(headers=headers)
    start, end, status = 0, None, 200
    range_header = request.headers.get("Range")
    if range_header is not None:
        # A range is cut only from verified content: wait for an upstream fill to commit.
        await source.settle()
        size = source.size if source.size is not None else 0
        byte_range = parse_range(range_header, size)
        if byte_range is not None:  # None: a unit we do not serve, or an empty blob: all of it
            start, end, status = byte_range.start, byte_range.end, 206
            headers["Content-Range"] = byte_range.content_range(size)
    response = web.StreamResponse(status=status, headers=headers)
    if end is not None:
        response.content_length = end - start
    elif source.size is not None:
        response.content_length = source.size
    await response.prepare(request)
    await _pump(request, response, source, start, end)
    return response


async def _pump(
    request: web.Request, response: web.StreamResponse, source: BlobSource, start: int, end: int | None
) -> None:
    """Copy the source (bounded chunks from the store or a fill) to the scanner; on a failure
    cut the connection, so that no truncated or unverified body looks complete."""
    try:
        async for chunk in source.stream(start, end):
            await response.write(chunk)
    except ConnectionResetError:
        return
    except Exception as exc:
        log.error("scanner endpoint: aborting blob %s after a failure: %s", source.digest, exc)
        if request.transport is not None:
            request.transport.abort()
        return
    await response.write_eof()
