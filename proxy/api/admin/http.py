"""Reading admin requests and writing answers: bodies (capped), query strings, preconditions.

Bodies are read from the stream with our own cap rather than through `request.json()`,
whose limit is the application's (sized for the registry API); the policy document may be
larger than any other body, and says so with its own limit.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from proxy.api.admin.errors import ApiError, Code
from proxy.api.context import REQUEST_BODY_TIMEOUT, SERVICES
from proxy.gate.admin import AdminService

__all__ = [
    "BODY_LIMIT",
    "admin",
    "etag",
    "expected_revision",
    "json_body",
    "query",
    "read_body",
    "reply",
    "validated",
]

M = TypeVar("M", bound=BaseModel)

BODY_LIMIT = 64 * 1024
DEFAULT_BODY_TIMEOUT = 60.0  # when the application was built without server settings
_ETAG = re.compile(r'"(\d{1,18})"')


def admin(request: web.Request) -> AdminService:
    service = request.app[SERVICES].admin
    if service is None:  # the app was built without it: a wiring bug, not a client error
        raise ApiError(Code.UNAVAILABLE, "the admin service is not running")
    return service


async def read_body(request: web.Request, limit: int = BODY_LIMIT) -> bytes:
    """The body, at most `limit` bytes (else 413), arriving whole within the body timeout (else 408)."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    # A client sending a byte now and then would otherwise hold its connection, and this
    # handler, for as long as it likes.
    timeout = request.config_dict.get(REQUEST_BODY_TIMEOUT, DEFAULT_BODY_TIMEOUT)
    try:
        async with asyncio.timeout(timeout):
            return await _read_capped(request, limit)
    except TimeoutError:
        raise ApiError(Code.REQUEST_TIMEOUT, f"the body did not arrive within {timeout:g} s") from None


async def _read_capped(request: web.Request, limit: int) -> bytes:
    body = bytearray()
    while chunk := await request.content.read(64 * 1024):
        body += chunk
        if len(body) > limit:  # a chunked body has no Content-Length to refuse up front
            raise _too_large(limit)
    return bytes(body)


async def json_body(request: web.Request, model: type[M], *, limit: int = BODY_LIMIT, **defaults: Any) -> M:
    """The JSON body as `model`; `defaults` fill fields the client left out (path ids)."""
    if request.content_type != "application/json":  # aiohttp reports a missing type as octet-stream
        raise ApiError(Code.UNSUPPORTED_MEDIA_TYPE, f"send application/json, not {request.content_type}")
    data = parse_json(await read_body(request, limit))
    if isinstance(data, dict):
        data = {**defaults, **data}
    return validated(model, data)


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise ApiError(Code.MALFORMED_REQUEST, "a JSON body is required")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(Code.MALFORMED_REQUEST, f"the body is not valid JSON: {exc}") from exc


def validated(model: type[M], data: Any, *, where: str = "body") -> M:
    """`data` as `model`, or 422 naming every offending field (the first in `field`)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(error) for error in exc.errors(include_url=False)]
        first = problems[0]
        message = f"invalid {where}: " + "; ".join(
            f"{p['field']}: {p['message']}" if p["field"] else p["message"] for p in problems
        )
        raise ApiError(Code.INVALID_FIELD, message, field=first["field"], details=problems) from exc


def query(request: web.Request, model: type[M]) -> M:
    """The query string as `model`; a parameter given twice is refused, not silently merged."""
    values: dict[str, str] = {}
    for name in request.query:
        given = request.query.getall(name)
        if len(given) > 1:
            raise ApiError(
                Code.INVALID_FIELD, f"query parameter {name} is given {len(given)} times", field=name
            )
        values[name] = given[0]
    return validated(model, values, where="query")


def reply(view: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(text=view.model_dump_json(), status=status, headers=headers)


def etag(revision: int) -> str:
    return f'"{revision}"'


def expected_revision(request: web.Request, *, required: bool) -> int | None:
    """The revision If-Match names; None for `*` or (when not required) no If-Match.

    Only one strong ETag is understood: a weak one never matches under If-Match
    (RFC 9110 §13.1.1), and a list cannot be checked in one step by the store.
    """
    header = request.headers.get("If-Match")
    if header is None:
        if required:
            raise ApiError(
                Code.PRECONDITION_REQUIRED,
                "If-Match is required: send the ETag of the rule you read, so a concurrent change is not lost",
            )
        return None
    header = header.strip()
    if header == "*":
        return None
    match = _ETAG.fullmatch(header)
    if match is None:
        raise ApiError(
            Code.PRECONDITION_FAILED, f'If-Match {header[:80]!r} is not one ETag of the form "<revision>"'
        )
    return int(match.group(1))


def _too_large(limit: int) -> ApiError:
    return ApiError(Code.PAYLOAD_TOO_LARGE, f"the body is larger than {limit} bytes")


def _problem(error: Any) -> dict[str, Any]:
    field = ".".join(str(part) for part in error["loc"]) or _named_field(str(error["msg"]))
    return {"field": field, "message": str(error["msg"]).removeprefix("Value error, ")}


def _named_field(message: str) -> str | None:
    # A rule's compile check runs on the whole rule (pydantic's loc is empty) but names the
    # field in its message ("rule 'x': match.tag_regex '(' is not a valid ..."): use that.
    found = re.search(r"\b(match\.[a-z_]+)\b", message)
    return found.group(1) if found else None
