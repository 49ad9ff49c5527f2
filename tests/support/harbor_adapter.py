"""A Harbor Pluggable Scanner adapter (API v1.2) that answers over real HTTP on 127.0.0.1.

It implements the adapter side of goharbor/pluggable-scanner-spec
``api/spec/scanner-adapter-openapi-v1.2.yaml``: metadata, accepting scans (validating the
body: 400 for a body that is not a ScanRequest, 422 for an invalid field, 501 for an
artifact type it does not consume), and reports (302 with ``Refresh-After`` a configured
number of times, then 200; 404 for an unknown id; 500 when the scan failed). Like a real
adapter it pulls the manifest from the registry it was given, with the Authorization it was
given, and fails the scan when it cannot: proof that pullgate handed over usable access.

Faults a real adapter cannot be made to produce on demand are switched on per endpoint
(``scan_fault``, ``report_fault``, ``metadata_fault``). It runs in its own thread (see
``serve.ServerThread``) and records every scan request it accepted.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
from aiohttp import web

from tests.support.serve import ServedInThread, ServerThread

__all__ = ["DEFAULT_VULNERABILITIES", "Fault", "HarborAdapter", "ScanRecord"]

VULN_1_1 = "application/vnd.security.vulnerability.report; version=1.1"
HARBOR_1_0 = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
ERROR_TYPE = "application/vnd.scanner.adapter.error+json; version=1.0"
CONSUMES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}")

# bad-request: 400; error: 500; garbage: success status, body not JSON; unknown-id: 404;
# not-implemented: 501; unauthorized: 401; stall: never answer.
Fault = Literal["bad-request", "error", "garbage", "unknown-id", "not-implemented", "unauthorized", "stall"]

# Shaped like harbor-scanner-trivy's report items (aquasecurity/harbor-scanner-trivy,
# pkg/harbor/model.go), ``layer`` included.
DEFAULT_VULNERABILITIES: tuple[dict[str, Any], ...] = (
    {
        "id": "CVE-2023-5678",
        "package": "libssl3",
        "version": "3.0.11-1~deb12u2",
        "fix_version": "3.0.13-1~deb12u1",
        "severity": "Medium",
        "description": "Generating excessively long X9.42 DH keys may be very slow.\nMore text.",
        "links": ["https://avd.aquasec.com/nvd/cve-2023-5678"],
        "layer": {"digest": "sha256:" + "77" * 32, "diff_id": "sha256:" + "7e" * 32},
        "preferred_cvss": {"score_v3": 7.5, "vector_v3": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"},
        "cwe_ids": ["CWE-606"],
        "vendor_attributes": {"CVSS": {"nvd": {"V3Score": 7.5}}},
    },
    {
        "id": "CVE-2023-45853",
        "package": "zlib1g",
        "version": "1:1.2.13.dfsg-1",
        "severity": "Critical",
        "description": "MiniZip in zlib through 1.3 has an integer overflow.",
        "links": [],
        "layer": {"digest": "sha256:" + "77" * 32},
        "preferred_cvss": {"score_v2": 7.5, "vector_v2": "AV:N/AC:L/Au:N/C:P/I:P/A:P"},
    },
    {
        "id": "CVE-2005-2541",
        "package": "tar",
        "version": "1.34+dfsg-1.2",
        "severity": "Negligible",
        "description": "Tar 1.15.1 does not properly warn the user when extracting setuid or setgid files.",
    },
)


@dataclass
class ScanRecord:
    """One accepted ScanRequest and what came of pulling its manifest."""

    scan_id: str
    content_type: str
    registry_url: str
    authorization: str | None
    repository: str
    digest: str
    mime_type: str
    manifest_status: int | None = None  # the registry's answer to the adapter's manifest GET
    manifest_verified: bool = False  # the body hashed to the requested digest
    failure: str | None = None  # why the scan failed, reported as a 500
    polls: int = 0
    accepts: list[str] = field(default_factory=list)


class HarborAdapter(ServedInThread):
    def __init__(
        self,
        *,
        vulnerabilities: tuple[dict[str, Any], ...] = DEFAULT_VULNERABILITIES,
        pending_polls: int = 0,
        refresh_after: str | None = "0",
        authorization: str | None = None,
        consumes: tuple[str, ...] = CONSUMES,
        produces: tuple[str, ...] = (VULN_1_1, HARBOR_1_0),
        fetch_manifest: bool = True,
    ) -> None:
        self.vulnerabilities = vulnerabilities
        self.pending_polls = pending_polls  # 302s before the report is ready
        self.refresh_after = refresh_after  # the Refresh-After header value; None omits it
        self.authorization = authorization  # what clients must send; None: anyone
        self.consumes = consumes
        self.produces = produces
        self.fetch_manifest = fetch_manifest
        self.report_digest: str | None = None  # report for another artifact than requested
        self.metadata_fault: Fault | None = None
        self.scan_fault: Fault | None = None
        self.report_fault: Fault | None = None
        self.scans: dict[str, ScanRecord] = {}
        self.refused: list[int] = []  # statuses of requests refused before reaching a handler
        app = web.Application(middlewares=[self._check_authorization])
        app.router.add_get("/api/v1/metadata", self._metadata)
        app.router.add_post("/api/v1/scan", self._scan)
        app.router.add_get("/api/v1/scan/{scan_id}/report", self._report)
        self._server = ServerThread(app)

    @property
    def records(self) -> list[ScanRecord]:
        return list(self.scans.values())

    @web.middleware
    async def _check_authorization(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.authorization is not None and request.headers.get("Authorization") != self.authorization:
            self.refused.append(401)
            return _error(401, "unauthorized")
        response: web.StreamResponse = await handler(request)
        return response

    async def _metadata(self, request: web.Request) -> web.StreamResponse:
        if self.metadata_fault is not None:
            return await _fault(self.metadata_fault)
        body = {
            "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "0.76.0"},
            "capabilities": [
                {
                    "type": "vulnerability",
                    "consumes_mime_types": list(self.consumes),
                    "produces_mime_types": list(self.produces),
                },
                {
                    "type": "sbom",
                    "consumes_mime_types": list(self.consumes),
                    "produces_mime_types": ["application/vnd.security.sbom.report+json; version=1.0"],
                },
            ],
            "properties": {
                "harbor.scanner-adapter/scanner-type": "os-package-vulnerability",
                "harbor.scanner-adapter/vulnerability-database-updated-at": "2024-06-01T00:00:00Z",
            },
        }
        return _json(body, 200, "application/vnd.scanner.adapter.metadata+json; version=1.1")

    async def _scan(self, request: web.Request) -> web.StreamResponse:
        if self.scan_fault is not None:
            return await _fault(self.scan_fault, success=202)
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _error(400, "request body is not JSON")
        problem, status = _validate(body, self.consumes)
        if problem:
            return _error(status, problem)
        record = ScanRecord(
            scan_id=str(uuid.uuid4()),
            content_type=request.headers.get("Content-Type", ""),
            registry_url=body["registry"]["url"],
            authorization=body["registry"].get("authorization"),
            repository=body["artifact"]["repository"],
            digest=body["artifact"]["digest"],
            mime_type=body["artifact"]["mime_type"],
        )
        if self.fetch_manifest:
            await _pull_manifest(record)
        self.scans[record.scan_id] = record
        return _json(
            {"id": record.scan_id}, 202, "application/vnd.scanner.adapter.scan.response+json; version=1.0"
        )

    async def _report(self, request: web.Request) -> web.StreamResponse:
        record = self.scans.get(request.match_info["scan_id"])
        if record is not None:
            record.polls += 1
            record.accepts.append(request.headers.get("Accept", ""))
        if self.report_fault is not None:
            return await _fault(self.report_fault)
        if record is None:
            return web.Response(status=404)
        accept = request.headers.get("Accept", VULN_1_1)
        if accept not in self.produces:
            return _error(501, f"unsupported report type {accept!r}")
        if record.polls <= self.pending_polls:
            headers = {} if self.refresh_after is None else {"Refresh-After": self.refresh_after}
            return web.Response(status=302, headers=headers)
        if record.failure is not None:
            return _error(500, record.failure)
        return _json(self._report_body(record), 200, accept)

    def _report_body(self, record: ScanRecord) -> dict[str, Any]:
        return {
            "generated_at": "2024-06-01T12:00:00Z",
            "artifact": {"repository": record.repository, "digest": self.report_digest or record.digest},
            "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "0.76.0"},
            "severity": "Critical" if self.vulnerabilities else "None",
            "vulnerabilities": list(self.vulnerabilities),
        }


def _validate(body: Any, consumes: tuple[str, ...]) -> tuple[str | None, int]:
    """(problem, status): 400 for a wrong shape, 422 for an invalid field, 501 for an
    artifact type this adapter has no capability for."""
    if not isinstance(body, dict):
        return "request body is not an object", 400
    registry, artifact = body.get("registry"), body.get("artifact")
    if not isinstance(registry, dict) or not isinstance(artifact, dict):
        return "registry and artifact must be objects", 400
    if not isinstance(registry.get("url"), str) or not registry["url"].startswith(("http://", "https://")):
        return "registry.url must be an http(s) URL", 422
    if not isinstance(registry.get("authorization", ""), str):
        return "registry.authorization must be a string", 400
    if not isinstance(artifact.get("repository"), str) or not artifact["repository"]:
        return "artifact.repository is missing", 422
    if not isinstance(artifact.get("digest"), str) or not _DIGEST.fullmatch(artifact["digest"]):
        return "artifact.digest is not a digest", 422
    if artifact.get("mime_type") not in consumes:
        return f"no capability to scan {artifact.get('mime_type')!r}", 501
    return None, 0


async def _pull_manifest(record: ScanRecord) -> None:
    """What an adapter does first: fetch the manifest with the credential it was given."""
    headers = {"Accept": record.mime_type}
    if record.authorization:
        headers["Authorization"] = record.authorization
    url = f"{record.registry_url.rstrip('/')}/v2/{record.repository}/manifests/{record.digest}"
    try:
        async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
            record.manifest_status = response.status
            body = await response.read()
    except aiohttp.ClientError as error:
        record.failure = f"cannot reach the registry: {error}"
        return
    if response.status != 200:
        record.failure = f"pulling the manifest: registry answered {response.status}"
        return
    record.manifest_verified = "sha256:" + hashlib.sha256(body).hexdigest() == record.digest
    if not record.manifest_verified:
        record.failure = "the manifest does not match its digest"


async def _fault(fault: Fault, *, success: int = 200) -> web.StreamResponse:
    if fault == "stall":
        await asyncio.sleep(3600)
    if fault == "garbage":
        return web.Response(
            status=success, body=b"<html>not json", headers={"Content-Type": "application/json"}
        )
    statuses = {
        "bad-request": 400,
        "error": 500,
        "unknown-id": 404,
        "not-implemented": 501,
        "unauthorized": 401,
    }
    return _error(statuses[fault], f"injected {fault}")


def _error(status: int, message: str) -> web.Response:
    return _json({"error": {"message": message}}, status, ERROR_TYPE)


def _json(body: Any, status: int, content_type: str) -> web.Response:
    # The spec's media types carry a version parameter, so the header is set whole.
    return web.Response(status=status, body=json.dumps(body).encode(), headers={"Content-Type": content_type})
