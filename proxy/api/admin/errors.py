"""The admin API's errors: one table of codes, one envelope, one middleware that renders it.

Registry clients on /v2 get OCI errors (`proxy.api.middlewares`); admin clients get

    {"error": {"code": "invalid_field", "message": "...", "field": "match.tag",
               "details": [{"field": ..., "message": ...}], "request_id": "..."}}

from `errors` below, whatever went wrong: a refusal of the admin service, a validation
error, an unknown route, or a bug (500, the traceback in the log, never in the answer).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from enum import Enum
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from proxy.api.context import REQUEST_ID, ROUTE
from proxy.gate.admin import AdminError, AdminErrorKind
from proxy.oci.errors import ErrorCode, RegistryError

__all__ = ["PREFIX", "ApiError", "Code", "errors", "is_admin_path"]

log = logging.getLogger(__name__)

PREFIX = "/api/v1"


@dataclass(frozen=True)
class _Entry:
    status: int
    code: str


class Code(Enum):
    MALFORMED_REQUEST = _Entry(400, "malformed_request")  # not JSON/YAML at all, or no body
    UNAUTHORIZED = _Entry(401, "unauthorized")
    FORBIDDEN = _Entry(403, "forbidden")
    NOT_FOUND = _Entry(404, "not_found")
    METHOD_NOT_ALLOWED = _Entry(405, "method_not_allowed")
    NOT_ACCEPTABLE = _Entry(406, "not_acceptable")
    CONFLICT = _Entry(409, "conflict")
    BUSY = _Entry(409, "busy")
    NOT_CONFIGURED = _Entry(409, "not_configured")  # the server lacks a setting this needs
    REQUEST_TIMEOUT = _Entry(408, "request_timeout")  # the body did not arrive in time
    PRECONDITION_FAILED = _Entry(412, "precondition_failed")
    PAYLOAD_TOO_LARGE = _Entry(413, "payload_too_large")
    UNSUPPORTED_MEDIA_TYPE = _Entry(415, "unsupported_media_type")
    INVALID_FIELD = _Entry(422, "invalid_field")
    PRECONDITION_REQUIRED = _Entry(428, "precondition_required")
    TOO_MANY_REQUESTS = _Entry(429, "too_many_requests")  # failed authentications from this address
    UPSTREAM_RATE_LIMITED = _Entry(429, "upstream_rate_limited")
    INTERNAL = _Entry(500, "internal")
    UPSTREAM_ERROR = _Entry(502, "upstream_error")
    UNAVAILABLE = _Entry(503, "unavailable")
    UPSTREAM_TIMEOUT = _Entry(504, "upstream_timeout")

    @property
    def status(self) -> int:
        return self.value.status


class ApiError(Exception):
    def __init__(
        self,
        code: Code,
        message: str,
        *,
        field: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.details = details or []
        self.headers = headers or {}


_FROM_ADMIN = {
    AdminErrorKind.NOT_FOUND: Code.NOT_FOUND,
    AdminErrorKind.CONFLICT: Code.CONFLICT,
    AdminErrorKind.PRECONDITION_FAILED: Code.PRECONDITION_FAILED,
    AdminErrorKind.INVALID: Code.INVALID_FIELD,
    AdminErrorKind.BUSY: Code.BUSY,
    AdminErrorKind.NOT_CONFIGURED: Code.NOT_CONFIGURED,
}
_FROM_HTTP = {
    400: Code.MALFORMED_REQUEST,
    404: Code.NOT_FOUND,
    405: Code.METHOD_NOT_ALLOWED,
    413: Code.PAYLOAD_TOO_LARGE,
    415: Code.UNSUPPORTED_MEDIA_TYPE,
}
# A registry error reaching the admin API comes from the mirror (a dry run resolving a tag).
_FROM_REGISTRY = {
    ErrorCode.TOOMANYREQUESTS: Code.UPSTREAM_RATE_LIMITED,
    ErrorCode.UPSTREAM_TIMEOUT: Code.UPSTREAM_TIMEOUT,
    ErrorCode.UNAVAILABLE: Code.UNAVAILABLE,
}


def is_admin_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not is_admin_path(request.path):
        return await handler(request)
    request[ROUTE] = "admin"  # one label for the request metrics, not one per rule id
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return render(request, _from_http(request, exc))
    except Exception as exc:
        return render(request, _translate(request, exc))


def _translate(request: web.Request, exc: Exception) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, AdminError):
        return ApiError(_FROM_ADMIN[exc.kind], exc.message, field=exc.field)
    if isinstance(exc, RegistryError):
        return _from_registry(exc)
    log.exception("unhandled error answering %s %s (request %s)", request.method, request.path, _id(request))
    return ApiError(Code.INTERNAL, f"internal error; quote request id {_id(request)} to the operator")


def render(request: web.Request, error: ApiError) -> web.Response:
    body = {
        "error": {
            "code": error.code.value.code,
            "message": error.message,
            "field": error.field,
            "details": error.details,
            "request_id": _id(request),
        }
    }
    if error.code is Code.REQUEST_TIMEOUT:
        return _Final(request, text=json.dumps(body), status=error.code.status, headers=error.headers)
    return web.json_response(body, status=error.code.status, headers=error.headers)


class _Final(web.Response):
    """An answer after which the connection closes at once. After a stalled body aiohttp would
    otherwise keep the connection up to 10 s more, reading the rest nobody will send."""

    def __init__(self, request: web.Request, **kwargs: Any) -> None:
        super().__init__(content_type="application/json", **kwargs)
        self.force_close()
        self._protocol = request.protocol

    async def write_eof(self, data: bytes = b"") -> None:
        await super().write_eof(data)
        self._protocol.force_close()  # after the answer is written: closing flushes it first


def _from_http(request: web.Request, exc: web.HTTPException) -> ApiError:
    code = _FROM_HTTP.get(exc.status, Code.MALFORMED_REQUEST if exc.status < 500 else Code.INTERNAL)
    allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    message = exc.reason
    if code in (Code.NOT_FOUND, Code.METHOD_NOT_ALLOWED):  # raised by the router: no such operation
        message = f"no admin API operation {request.method} {request.path}; see {PREFIX}/openapi.json"
    return ApiError(code, message, headers=allow)


def _from_registry(exc: RegistryError) -> ApiError:
    code = _FROM_REGISTRY.get(exc.code)
    if code is None:
        code = Code.NOT_FOUND if exc.status == 404 else Code.UPSTREAM_ERROR
    return ApiError(code, exc.message)


def _id(request: web.Request) -> str | None:
    return request.get(REQUEST_ID)
