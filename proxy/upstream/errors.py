"""Upstream failures, classified once, and their translation into registry errors.

Modelled on go-containerregistry's ``remote/transport/error.go``: every failure gets a kind,
`temporary` alone decides whether a retry may help, error bodies are read at most 64 KiB,
and URLs in messages are redacted so no credential or signed query string leaks into logs.
"""

from __future__ import annotations

import json
import math
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Literal

import aiohttp
from yarl import URL

from proxy.oci.errors import ErrorCode, RegistryError

__all__ = [
    "MAX_ERROR_BODY_BYTES",
    "Subject",
    "UpstreamError",
    "UpstreamErrorKind",
    "error_from_response",
    "kind_for_status",
    "parse_error_code",
    "parse_retry_after",
    "protocol_error",
    "read_body",
    "read_limited",
    "redact_url",
    "to_registry_error",
    "translate_client_errors",
]

# ggcr reads no more than this of an error body: enough for any real error document,
# and an upstream cannot make us buffer an arbitrarily large one.
MAX_ERROR_BODY_BYTES = 64 * 1024
_MAX_QUOTED_MESSAGE = 200

Subject = Literal["manifest", "blob", "tags", "referrers"]


class UpstreamErrorKind(Enum):
    NOT_FOUND = "not found"
    UNAUTHORIZED = "unauthorized"
    RATE_LIMITED = "rate limited"
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"  # unresolvable host, connection refused or reset, body cut short, 5xx
    PROTOCOL = "protocol"  # malformed or too large response; untrusted TLS
    CREDENTIALS = "credentials"  # our stored credentials for it cannot be used (key missing here)


_TEMPORARY = frozenset(
    {UpstreamErrorKind.TIMEOUT, UpstreamErrorKind.UNAVAILABLE, UpstreamErrorKind.RATE_LIMITED}
)


class UpstreamError(Exception):
    """An upstream registry did not give us what we asked for.

    `message` is safe to log and to show: it names the upstream and a redacted URL, never
    a header, credential, token or query string.
    """

    def __init__(
        self,
        upstream: str,
        kind: UpstreamErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        upstream_code: str | None = None,
        circuit_open: bool = False,
    ) -> None:
        self.upstream = upstream
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.upstream_code = upstream_code
        # Raised by the circuit breaker without asking the upstream: retrying cannot help
        # before the breaker lets a trial through.
        self.circuit_open = circuit_open
        super().__init__(f"upstream {upstream}: {message}")

    @property
    def temporary(self) -> bool:
        """Whether the same request may succeed if tried again later."""
        return self.kind in _TEMPORARY

    def __repr__(self) -> str:
        return (
            f"UpstreamError(upstream={self.upstream!r}, kind={self.kind.name}, status={self.status}, "
            f"upstream_code={self.upstream_code!r}, message={self.message!r})"
        )


def redact_url(url: URL | str) -> str:
    """The URL without userinfo, query or fragment: signed object-storage URLs carry secrets there."""
    parsed = url if isinstance(url, URL) else URL(url)
    if not parsed.absolute:
        return parsed.path
    return str(parsed.with_user(None).with_password(None).with_query(None).with_fragment(None))


def kind_for_status(status: int) -> UpstreamErrorKind:
    if status == 404:
        return UpstreamErrorKind.NOT_FOUND
    if status in (401, 403):
        return UpstreamErrorKind.UNAUTHORIZED
    if status == 429:
        return UpstreamErrorKind.RATE_LIMITED
    if status == 408:
        return UpstreamErrorKind.TIMEOUT
    if status >= 500:
        return UpstreamErrorKind.UNAVAILABLE
    return UpstreamErrorKind.PROTOCOL


def parse_error_code(body: bytes) -> tuple[str | None, str | None]:
    """The first (code, message) of an OCI error envelope, or (None, None) for anything else."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None, None
    errors = document.get("errors") if isinstance(document, dict) else None
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return None, None
    code, message = errors[0].get("code"), errors[0].get("message")
    return (
        code if isinstance(code, str) else None,
        message[:_MAX_QUOTED_MESSAGE] if isinstance(message, str) else None,
    )


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date, RFC 9110 10.2.3)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


async def read_limited(resp: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """At most `limit` bytes of the body, and whether more was left unread.

    Reading stops at `limit + 1` bytes, so an upstream cannot make us buffer more than that
    whatever it declares or sends.
    """
    buffer = bytearray()
    while len(buffer) <= limit:
        chunk = await resp.content.read(limit + 1 - len(buffer))
        if not chunk:
            return bytes(buffer), False
        buffer += chunk
    return bytes(buffer[:limit]), True


async def read_body(upstream: str, response: aiohttp.ClientResponse, limit: int, what: str) -> bytes:
    """The whole body, refused as PROTOCOL (before reading, if declared) when over `limit`."""
    declared = response.content_length
    if declared is not None and declared > limit:
        raise protocol_error(upstream, response, f"{what} of {declared} bytes exceeds the {limit} byte limit")
    body, truncated = await read_limited(response, limit)
    if truncated:
        raise protocol_error(upstream, response, f"{what} exceeds the {limit} byte limit")
    return body


def protocol_error(upstream: str, response: aiohttp.ClientResponse, problem: str) -> UpstreamError:
    where = f"{response.method} {redact_url(response.url)}"
    return UpstreamError(upstream, UpstreamErrorKind.PROTOCOL, f"{where}: {problem}")


async def error_from_response(
    upstream: str, method: str, resp: aiohttp.ClientResponse, *, what: str | None = None
) -> UpstreamError:
    """Classify an unsuccessful response, keeping the upstream's OCI error code if it sent one."""
    body = b""
    # The status alone classifies the failure; a body that fails to arrive only loses detail.
    with suppress(TimeoutError, aiohttp.ClientError):
        if method != "HEAD":
            body, _ = await read_limited(resp, MAX_ERROR_BODY_BYTES)
    code, detail = parse_error_code(body)
    status = resp.status
    message = f"{what + ' ' if what else ''}{method} {redact_url(resp.url)} returned {status}"
    if code is not None:
        message += f" ({code}: {detail})" if detail else f" ({code})"
    retry_after = parse_retry_after(resp.headers.get("Retry-After")) if status in (429, 503) else None
    return UpstreamError(
        upstream, kind_for_status(status), message, status=status, retry_after=retry_after, upstream_code=code
    )


@contextmanager
def translate_client_errors(upstream: str, method: str, url: URL | str) -> Iterator[None]:
    """Turn aiohttp and socket exceptions into classified `UpstreamError`s.

    Order matters: aiohttp's timeout and TLS errors are subclasses of its connection error.
    Response errors are not chained (``from None``) because aiohttp's carry request headers.
    """
    where = f"{method} {redact_url(url)}"
    try:
        yield
    except UpstreamError:
        raise
    except aiohttp.ClientConnectorDNSError as exc:
        host = (url if isinstance(url, URL) else URL(url)).host
        reason = exc.os_error.strerror or type(exc.os_error).__name__
        raise UpstreamError(
            upstream, UpstreamErrorKind.UNAVAILABLE, f"{where}: cannot resolve host {host} ({reason})"
        ) from exc
    except aiohttp.ClientConnectorCertificateError as exc:
        reason = getattr(exc.certificate_error, "verify_message", None) or "certificate verify failed"
        raise UpstreamError(
            upstream, UpstreamErrorKind.PROTOCOL, f"{where}: TLS certificate not trusted ({reason})"
        ) from exc
    except (aiohttp.ClientSSLError, ssl.SSLError) as exc:
        raise UpstreamError(upstream, UpstreamErrorKind.PROTOCOL, f"{where}: TLS handshake failed") from exc
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise UpstreamError(upstream, UpstreamErrorKind.TIMEOUT, f"{where}: timed out") from exc
    except aiohttp.ClientPayloadError as exc:
        raise _payload_error(upstream, where, exc) from exc
    except (aiohttp.ClientConnectionError, OSError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise UpstreamError(
            upstream, UpstreamErrorKind.UNAVAILABLE, f"{where}: connection failed ({reason})"
        ) from exc
    except aiohttp.TooManyRedirects:
        raise UpstreamError(upstream, UpstreamErrorKind.PROTOCOL, f"{where}: too many redirects") from None
    except aiohttp.ClientError as exc:
        raise UpstreamError(
            upstream, UpstreamErrorKind.PROTOCOL, f"{where}: invalid response ({type(exc).__name__})"
        ) from None


def to_registry_error(err: UpstreamError, subject: Subject) -> RegistryError:
    """What a registry client is told when the upstream failed while we fetched `subject`."""
    kind = err.kind
    if kind is UpstreamErrorKind.NOT_FOUND:
        return RegistryError(_unknown_code(err, subject))
    if kind is UpstreamErrorKind.UNAUTHORIZED:
        # Hub answers 401 for repositories that do not exist; passing a 401 on would make the
        # client try to log in to us, so say what `docker pull` says instead.
        return RegistryError(
            ErrorCode.NAME_UNKNOWN,
            f"repository does not exist or requires authorization at upstream {err.upstream}",
        )
    if kind is UpstreamErrorKind.RATE_LIMITED:
        headers = {} if err.retry_after is None else {"Retry-After": str(math.ceil(err.retry_after))}
        return RegistryError(
            ErrorCode.TOOMANYREQUESTS, f"upstream {err.upstream} is rate limiting requests", headers=headers
        )
    if kind is UpstreamErrorKind.TIMEOUT:
        return RegistryError(ErrorCode.UPSTREAM_TIMEOUT, f"upstream {err.upstream} did not answer in time")
    # An upstream that said when to come back (503 Retry-After, an open circuit): say it on.
    headers = {} if err.retry_after is None else {"Retry-After": str(max(1, math.ceil(err.retry_after)))}
    return RegistryError(
        ErrorCode.UPSTREAM_ERROR, f"upstream {err.upstream} failed: {err.message}", headers=headers
    )


def _payload_error(upstream: str, where: str, exc: aiohttp.ClientPayloadError) -> UpstreamError:
    """A body that broke off: a transport failure, worth a retry while nothing was handed on.

    aiohttp says the same ("not enough data") for a reset, an early close and a chunked
    body that stops, so they are not told apart; a malformed body costs at most the retries.
    """
    cause = exc.args[1] if len(exc.args) > 1 else exc.__cause__
    detail = (getattr(cause, "message", None) or type(cause).__name__) if cause is not None else None
    suffix = f" ({detail})" if detail else ""
    return UpstreamError(
        upstream, UpstreamErrorKind.UNAVAILABLE, f"{where}: response body was cut short{suffix}"
    )


def _unknown_code(err: UpstreamError, subject: Subject) -> ErrorCode:
    if err.upstream_code == ErrorCode.NAME_UNKNOWN.name or subject == "tags":
        return ErrorCode.NAME_UNKNOWN
    if subject == "blob":
        return ErrorCode.BLOB_UNKNOWN
    # Referrers are asked about a manifest, so an unknown subject is an unknown manifest.
    return ErrorCode.MANIFEST_UNKNOWN
