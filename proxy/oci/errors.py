"""The one table of registry error codes and the exception that carries them.

Every error a client sees is a `RegistryError` rendered by one middleware into the
OCI error envelope: ``{"errors": [{"code", "message", "detail"}]}``.
Codes follow the OCI distribution spec (section "Error Codes"); the two upstream codes are
pullgate's own, as the spec allows, so that clients can tell a gateway failure from a
missing image; so is TOKEN_REQUEST_INVALID, which the token endpoint answers to a
request it cannot read (the specification leaves that body to the implementation), and so
are the four the listener answers before a request reaches a handler (malformed, too long,
too large, too slow), which the spec has no codes for.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

__all__ = ["ErrorCode", "RegistryError"]


@dataclass(frozen=True)
class _Code:
    status: int
    message: str


class ErrorCode(Enum):
    BLOB_UNKNOWN = _Code(404, "blob unknown to registry")
    BLOB_UPLOAD_INVALID = _Code(400, "blob upload invalid")
    BLOB_UPLOAD_UNKNOWN = _Code(404, "blob upload unknown to registry")
    DIGEST_INVALID = _Code(400, "provided digest did not match uploaded content")
    MANIFEST_BLOB_UNKNOWN = _Code(404, "manifest references a manifest or blob unknown to registry")
    MANIFEST_INVALID = _Code(400, "manifest invalid")
    MANIFEST_UNKNOWN = _Code(404, "manifest unknown to registry")
    NAME_INVALID = _Code(400, "invalid repository name")
    NAME_UNKNOWN = _Code(404, "repository name not known to registry")
    SIZE_INVALID = _Code(400, "provided length did not match content length")
    UNAUTHORIZED = _Code(401, "authentication required")
    DENIED = _Code(403, "requested access to the resource is denied")
    UNSUPPORTED = _Code(405, "the operation is unsupported")
    TOOMANYREQUESTS = _Code(429, "too many requests")
    RANGE_INVALID = _Code(416, "invalid content range")
    PAGINATION_NUMBER_INVALID = _Code(400, "invalid number of results requested")
    TAG_INVALID = _Code(400, "manifest tag did not match URI")
    UNAVAILABLE = _Code(503, "service unavailable")
    UNKNOWN = _Code(500, "unknown error")
    TOKEN_REQUEST_INVALID = _Code(400, "invalid token request")
    UPSTREAM_ERROR = _Code(502, "the upstream registry failed")
    UPSTREAM_TIMEOUT = _Code(504, "the upstream registry did not answer in time")
    BAD_REQUEST = _Code(400, "malformed HTTP request")
    REQUEST_TIMEOUT = _Code(408, "the request did not arrive in time")
    REQUEST_LINE_TOO_LONG = _Code(414, "the request line is too long")
    HEADERS_TOO_LARGE = _Code(431, "the request headers are too large")

    @property
    def status(self) -> int:
        return self.value.status

    @property
    def default_message(self) -> str:
        return self.value.message


class RegistryError(Exception):
    """An error answered to a registry client; `headers` are added to the response."""

    def __init__(
        self,
        code: ErrorCode,
        message: str | None = None,
        *,
        detail: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.code = code
        self.message = message or code.default_message
        self.detail = detail
        self.headers = dict(headers or {})
        super().__init__(f"{code.name}: {self.message}")

    @property
    def status(self) -> int:
        return self.code.status

    def body(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"code": self.code.name, "message": self.message}
        if self.detail is not None:
            entry["detail"] = self.detail
        return {"errors": [entry]}
