"""A client of Harbor Pluggable Scanner adapters (API v1.2; v1.0 and v1.1 adapters work too).

One scan is the protocol's three steps: ``GET /api/v1/metadata`` (can this adapter read
this artifact, and which report type will it produce?), ``POST /api/v1/scan`` (202 with a
scan id), then ``GET /api/v1/scan/{id}/report`` until it answers 200 with the report,
waiting ``Refresh-After`` seconds (within bounds) on every 302. The whole scan runs under
one deadline; each request has its own timeout. Any failure is a `ScannerError`, temporary
when asking again later may help (5xx, timeouts, a scan the adapter lost), permanent when
the adapter refused what was asked or answered with something that is not the protocol.
"""

from __future__ import annotations

import asyncio
import base64
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from proxy.scanning.backends._document import Malformed, age_seconds
from proxy.scanning.backends.base import ScannerError, ScanTarget
from proxy.scanning.backends.harbor_report import (
    DB_UPDATED_PROPERTY,
    METADATA_ACCEPT,
    SCAN_REQUEST_TYPE,
    SCAN_RESPONSE_TYPE,
    SUPPORTED_REPORT_TYPES,
    AdapterMetadata,
    error_message,
    parse_metadata,
    parse_report,
    parse_scan_id,
)
from proxy.scanning.model import ScanReport

__all__ = ["HarborAdapterBackend", "HarborAdapterConfig", "refresh_delay"]

_CHUNK = 64 * 1024
_MAX_SMALL_BODY = 1024 * 1024  # metadata, scan responses, errors


@dataclass(frozen=True, kw_only=True)
class HarborAdapterConfig:
    name: str  # pullgate's name for this adapter; reports say "harbor:<name>"
    url: str  # adapter base URL (the API is under <url>/api/v1)
    bearer_token: str | None = field(default=None, repr=False)  # adapter auth, or username/password
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    request_timeout: float = 30.0  # seconds for any one HTTP request
    deadline: float = 900.0  # seconds for the whole scan, adapter queueing included
    poll_interval: float = 5.0  # used when a 302 has no usable Refresh-After
    min_poll_interval: float = 1.0  # Refresh-After is honoured within [min, max]
    max_poll_interval: float = 60.0
    max_report_bytes: int = 32 * 1024 * 1024
    report_types: tuple[str, ...] = SUPPORTED_REPORT_TYPES  # in order of preference

    def __post_init__(self) -> None:
        url = URL(self.url)
        if url.scheme not in ("http", "https") or not url.host or url.user or url.query_string:
            raise ValueError(f"adapter URL {self.url!r} must be http(s)://host[:port][/path]")
        if self.bearer_token and (self.username or self.password):
            raise ValueError("give the adapter a bearer token or a username and password, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("a username needs a password and a password a username")
        timings = (self.request_timeout, self.deadline, self.poll_interval, self.max_poll_interval)
        if min(timings) <= 0 or self.min_poll_interval < 0 or self.max_report_bytes <= 0:
            raise ValueError("timeouts, intervals and sizes must be positive")
        if self.min_poll_interval > self.max_poll_interval:
            raise ValueError("min_poll_interval is above max_poll_interval")

    @property
    def authorization(self) -> str | None:
        if self.bearer_token:
            return f"Bearer {self.bearer_token}"
        if self.username is not None and self.password is not None:
            return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return None


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


class HarborAdapterBackend:
    """`ScannerBackend` for one adapter; `session` is the application's client session."""

    def __init__(self, config: HarborAdapterConfig, *, session: aiohttp.ClientSession) -> None:
        self.name = f"harbor:{config.name}"
        self.config = config
        self._session = session
        self._api = str(URL(config.url)).rstrip("/") + "/api/v1"

    async def scan(self, target: ScanTarget) -> ScanReport:
        try:
            async with asyncio.timeout(self.config.deadline):
                return await self._scan(target)
        except TimeoutError:
            raise self._error(
                f"no report within the {self.config.deadline:g}s deadline", temporary=True
            ) from None

    async def metadata(self) -> dict[str, object]:
        meta = await self._metadata()
        info: dict[str, object] = {
            "name": self.name,
            "scanner": meta.name,
            "vendor": meta.vendor,
            "version": meta.version,
            "db_version": _db_version(meta),
        }
        updated = meta.properties.get(DB_UPDATED_PROPERTY)
        if updated:
            info["db_updated_at"] = updated
            info["db_age_seconds"] = age_seconds(updated)
        return info

    async def _scan(self, target: ScanTarget) -> ScanReport:
        meta = await self._metadata()
        report_type = meta.report_type_for(target.media_type, self.config.report_types)
        if report_type is None:
            raise self._error(
                f"the adapter produces no supported report for {target.media_type}", temporary=False
            )
        scan_id = await self._submit(target)
        body = await self._report(scan_id, report_type)
        try:
            findings = parse_report(body, digest=target.digest)
        except Malformed as error:
            raise self._error(f"the report is garbled: {error}", temporary=False) from None
        return ScanReport(self.name, _db_version(meta), datetime.now(UTC), findings)

    async def _metadata(self) -> AdapterMetadata:
        answer = await self._call("GET", "/metadata", what="metadata", accept=METADATA_ACCEPT)
        if answer.status != 200:
            raise self._refusal("metadata", answer)
        try:
            return parse_metadata(answer.body)
        except Malformed as error:
            raise self._error(f"the metadata is garbled: {error}", temporary=False) from None

    async def _submit(self, target: ScanTarget) -> str:
        registry: dict[str, str] = {"url": target.registry_url}
        if target.authorization is not None:
            registry["authorization"] = target.authorization
        artifact = {"repository": target.repository, "digest": target.digest, "mime_type": target.media_type}
        answer = await self._call(
            "POST",
            "/scan",
            what="scan request",
            accept=SCAN_RESPONSE_TYPE,
            json={"registry": registry, "artifact": artifact},
        )
        if answer.status != 202:
            raise self._refusal("scan request", answer)
        try:
            return parse_scan_id(answer.body)
        except Malformed as error:
            raise self._error(f"the scan response is garbled: {error}", temporary=False) from None

    async def _report(self, scan_id: str, report_type: str) -> bytes:
        path = f"/scan/{quote(scan_id, safe='')}/report"
        while True:
            answer = await self._call("GET", path, what="report", accept=report_type)
            if answer.status == 200:
                return answer.body
            if answer.status != 302:
                break
            config = self.config
            await asyncio.sleep(
                refresh_delay(
                    answer.headers.get("Refresh-After"),
                    default=config.poll_interval,
                    low=config.min_poll_interval,
                    high=config.max_poll_interval,
                )
            )
        if answer.status == 404:  # the adapter lost the scan (a restart): submitting again may work
            raise self._error(f"the adapter does not know scan {scan_id!r}", temporary=True)
        if answer.status == 500:  # the spec's "the scan failed"
            raise self._error(
                f"scan failed: {error_message(answer.body) or 'no reason given'}", temporary=True
            )
        raise self._refusal("report", answer)

    async def _call(
        self, method: str, path: str, *, what: str, accept: str, json: object | None = None
    ) -> _Answer:
        headers = {"Accept": accept}
        if json is not None:
            headers["Content-Type"] = SCAN_REQUEST_TYPE
        authorization = self.config.authorization
        if authorization is not None:
            headers["Authorization"] = authorization
        timeout = aiohttp.ClientTimeout(total=self.config.request_timeout)
        limit = self.config.max_report_bytes if what == "report" else _MAX_SMALL_BODY
        try:
            # Redirects are never followed: 302 is the protocol's "not yet", and the adapter's
            # credentials must not travel to wherever a Location header points.
            async with self._session.request(
                method, self._api + path, headers=headers, json=json, timeout=timeout, allow_redirects=False
            ) as response:
                return _Answer(response.status, response.headers, await self._read(response, limit, what))
        except (aiohttp.ClientError, TimeoutError) as error:
            raise self._error(f"{what}: {type(error).__name__}: {error}", temporary=True) from None

    async def _read(self, response: aiohttp.ClientResponse, limit: int, what: str) -> bytes:
        chunks, size = [], 0
        while chunk := await response.content.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise self._error(f"the {what} is larger than {limit} bytes", temporary=False)
            chunks.append(chunk)
        return b"".join(chunks)

    def _refusal(self, what: str, answer: _Answer) -> ScannerError:
        reason = error_message(answer.body) or "no reason given"
        # 5xx but 501 ("no capability"), 408 and 429 may pass; any other answer will not change.
        temporary = answer.status in (408, 429) or (answer.status >= 500 and answer.status != 501)
        return self._error(f"{what} answered HTTP {answer.status}: {reason}", temporary=temporary)

    def _error(self, message: str, *, temporary: bool) -> ScannerError:
        return ScannerError(f"{self.name}: {message}", temporary=temporary)


def refresh_delay(header: str | None, *, default: float, low: float, high: float) -> float:
    """Seconds to wait after a 302: ``Refresh-After`` (integer seconds per the spec) within
    [low, high]; `default` when the header is missing or not a number."""
    try:
        seconds = float(header) if header is not None else default
    except ValueError:
        seconds = default
    if not math.isfinite(seconds):
        seconds = default
    return min(max(seconds, low), high)


def _db_version(meta: AdapterMetadata) -> str:
    scanner = f"{meta.name} {meta.version}".strip()
    updated = meta.properties.get(DB_UPDATED_PROPERTY)
    return f"{scanner}, DB updated {updated}" if updated else scanner
