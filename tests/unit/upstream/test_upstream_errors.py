"""Classifying upstream failures and translating them for registry clients."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from proxy.oci.errors import ErrorCode
from proxy.upstream import UpstreamError, UpstreamErrorKind, to_registry_error
from proxy.upstream.errors import kind_for_status, parse_error_code, parse_retry_after, redact_url

K = UpstreamErrorKind


def _err(kind: UpstreamErrorKind, status: int | None = None, code: str | None = None, **kw) -> UpstreamError:
    return UpstreamError(
        "registry.example", kind, "GET https://registry.example/v2/x", status=status, upstream_code=code, **kw
    )


@pytest.mark.parametrize(
    ("err", "subject", "code", "status"),
    [
        (_err(K.NOT_FOUND, 404, "MANIFEST_UNKNOWN"), "manifest", ErrorCode.MANIFEST_UNKNOWN, 404),
        (_err(K.NOT_FOUND, 404), "manifest", ErrorCode.MANIFEST_UNKNOWN, 404),
        (_err(K.NOT_FOUND, 404, "NAME_UNKNOWN"), "manifest", ErrorCode.NAME_UNKNOWN, 404),
        (_err(K.NOT_FOUND, 404, "BLOB_UNKNOWN"), "blob", ErrorCode.BLOB_UNKNOWN, 404),
        (_err(K.NOT_FOUND, 404, "NAME_UNKNOWN"), "blob", ErrorCode.NAME_UNKNOWN, 404),
        (_err(K.NOT_FOUND, 404), "tags", ErrorCode.NAME_UNKNOWN, 404),
        (_err(K.NOT_FOUND, 404), "referrers", ErrorCode.MANIFEST_UNKNOWN, 404),
        (_err(K.UNAUTHORIZED, 401, "UNAUTHORIZED"), "manifest", ErrorCode.NAME_UNKNOWN, 404),
        (_err(K.UNAUTHORIZED, 403, "DENIED"), "blob", ErrorCode.NAME_UNKNOWN, 404),
        (_err(K.RATE_LIMITED, 429, retry_after=7.2), "manifest", ErrorCode.TOOMANYREQUESTS, 429),
        (_err(K.TIMEOUT), "blob", ErrorCode.UPSTREAM_TIMEOUT, 504),
        (_err(K.UNAVAILABLE, 503), "manifest", ErrorCode.UPSTREAM_ERROR, 502),
        (_err(K.UNAVAILABLE), "tags", ErrorCode.UPSTREAM_ERROR, 502),
        (_err(K.PROTOCOL), "referrers", ErrorCode.UPSTREAM_ERROR, 502),
    ],
)
def test_to_registry_error(err: UpstreamError, subject, code: ErrorCode, status: int) -> None:
    translated = to_registry_error(err, subject)
    assert (translated.code, translated.status) == (code, status)


def test_denied_access_names_the_upstream() -> None:
    translated = to_registry_error(_err(K.UNAUTHORIZED, 401), "manifest")
    assert translated.message == (
        "repository does not exist or requires authorization at upstream registry.example"
    )


def test_rate_limit_passes_retry_after_on() -> None:
    assert to_registry_error(_err(K.RATE_LIMITED, 429, retry_after=7.2), "blob").headers == {
        "Retry-After": "8"
    }
    assert to_registry_error(_err(K.RATE_LIMITED, 429), "blob").headers == {}


def test_gateway_errors_name_the_upstream() -> None:
    for kind in (K.UNAVAILABLE, K.PROTOCOL, K.TIMEOUT):
        assert "registry.example" in to_registry_error(_err(kind), "manifest").message


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (404, K.NOT_FOUND),
        (401, K.UNAUTHORIZED),
        (403, K.UNAUTHORIZED),
        (429, K.RATE_LIMITED),
        (408, K.TIMEOUT),
        (500, K.UNAVAILABLE),
        (503, K.UNAVAILABLE),
        (400, K.PROTOCOL),
        (405, K.PROTOCOL),
    ],
)
def test_kind_for_status(status: int, kind: UpstreamErrorKind) -> None:
    assert kind_for_status(status) is kind


def test_temporary_kinds() -> None:
    assert {kind for kind in K if _err(kind).temporary} == {K.TIMEOUT, K.UNAVAILABLE, K.RATE_LIMITED}


def test_redact_url_drops_credentials_and_query() -> None:
    url = "https://user:secret@bucket.example:8443/blobs/sha256:abc?X-Amz-Signature=deadbeef#frag"
    assert redact_url(url) == "https://bucket.example:8443/blobs/sha256:abc"


def test_parse_error_code() -> None:
    assert parse_error_code(b'{"errors":[{"code":"NAME_UNKNOWN","message":"no such repo"}]}') == (
        "NAME_UNKNOWN",
        "no such repo",
    )
    for body in (b"", b"<html/>", b"[]", b'{"errors": []}', b'{"errors": [1]}', b"\xff"):
        assert parse_error_code(body) == (None, None)


def test_parse_retry_after() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after(later, now=now.timestamp()) == 30.0
    for value in (None, "", "soon", "Mon, 99 Foo 2024"):
        assert parse_retry_after(value) is None


def test_error_repr_and_str_name_upstream() -> None:
    err = _err(K.NOT_FOUND, 404, "MANIFEST_UNKNOWN")
    assert str(err) == "upstream registry.example: GET https://registry.example/v2/x"
    assert "NOT_FOUND" in repr(err)
