"""The one error renderer, plus request ids, the JSON access log and request metrics.

Every error a registry client sees leaves through `errors`: a `RegistryError` becomes the OCI
envelope; anything unexpected becomes 500 `UNKNOWN` naming the request id (the traceback goes
to the log, never to the client).
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler

from proxy.api.context import ABORTED, BYTES_KIND, REQUEST_ID, ROUTE, SERVICES, UPSTREAM
from proxy.oci.errors import ErrorCode, RegistryError

__all__ = ["access_log", "errors", "stamp_request_id"]

log = logging.getLogger("pullgate.access")
errlog = logging.getLogger(__name__)

_MAX_REASON = 512
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_HTTP_TO_CODE = {401: ErrorCode.UNAUTHORIZED, 403: ErrorCode.DENIED, 405: ErrorCode.UNSUPPORTED}


def render(error: RegistryError) -> web.Response:
    headers = {"Docker-Distribution-API-Version": "registry/2.0", **error.headers}
    if error.code is ErrorCode.DENIED:
        # A HEAD answer has no body, and containerd resolves with HEAD and prints only the
        # status line: the reason phrase carries the explanation so the operator sees it.
        reason = _status_reason(error.message)
        return web.json_response(error.body(), status=error.status, headers=headers, reason=reason)
    return web.json_response(error.body(), status=error.status, headers=headers)


def _status_reason(message: str) -> str:
    # A reason phrase is one line of visible ASCII (RFC 9112 allows little else reliably).
    ascii_text = message.replace("\u2014", "-").encode("ascii", "replace").decode()
    return " ".join(ascii_text.split())[:_MAX_REASON]


@web.middleware
async def access_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    # A caller's id is kept (to follow a pull across proxies) only when it is plainly an id.
    offered = request.headers.get("X-Request-Id", "")
    request_id = offered if _REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    started = time.perf_counter()
    status = 500
    response: web.StreamResponse | None = None
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        elapsed = time.perf_counter() - started
        _record(request, response, status, elapsed)


def _record(request: web.Request, response: web.StreamResponse | None, status: int, elapsed: float) -> None:
    route = request.get(ROUTE, "other")
    sent = response.body_length if response is not None and response.prepared else 0
    services = request.app.get(SERVICES)
    aborted = request.get(ABORTED)
    if services is not None:
        services.metrics.requests.labels(route, request.method, str(status)).inc()
        services.metrics.latency.labels(route).observe(elapsed)
        if BYTES_KIND in request:
            services.metrics.client_bytes.labels(request[BYTES_KIND]).inc(sent)
        if aborted == "client":
            services.metrics.client_aborts.labels(route).inc()
    if services is not None and not services.access_log:
        return
    log.info(
        "request",
        extra={
            "request_id": request[REQUEST_ID],
            "method": request.method,
            "path": request.rel_url.raw_path,
            "query": request.rel_url.raw_query_string,
            "status": status,
            "bytes": sent,
            "duration_ms": round(elapsed * 1000, 2),
            "remote": request.remote,
            "user_agent": request.headers.get("User-Agent", ""),
            "upstream": request.get(UPSTREAM),
            "aborted": aborted,  # null, "server" (cut on purpose) or "client" (went away)
        },
    )


async def stamp_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: every response, streamed ones too, names its request id."""
    request_id = request.get(REQUEST_ID)
    if request_id:
        response.headers["X-Request-Id"] = request_id


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RegistryError as exc:
        return render(exc)
    except web.HTTPException as exc:
        if not request.path.startswith("/v2") or exc.status < 400:
            raise
        code = _HTTP_TO_CODE.get(
            exc.status, ErrorCode.UNSUPPORTED if exc.status == 404 else ErrorCode.UNKNOWN
        )
        return render(RegistryError(code, exc.reason))
    except Exception:
        request_id = request.get(REQUEST_ID)
        errlog.exception(
            "unhandled error answering %s %s (request %s)", request.method, request.path, request_id
        )
        return render(
            RegistryError(ErrorCode.UNKNOWN, f"internal error; quote request id {request_id} to the operator")
        )
