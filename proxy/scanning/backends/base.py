"""The contract every scanner backend (Trivy, Harbor scanner adapters, ...) implements.

A backend is handed a `ScanTarget`: an image manifest that a registry endpoint (pullgate's
scanner endpoint) serves to the scanner with a short-lived credential. It answers with a
`ScanReport` or raises `ScannerError`; it never returns an empty report for a failure,
because an image must not look clean when its scanner broke (DESIGN.md, invariant 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from yarl import URL

from proxy.oci.digest import Digest, InvalidDigestError
from proxy.oci.reference import InvalidNameError, RepositoryName
from proxy.scanning.model import ScanReport

__all__ = ["ScanTarget", "ScannerBackend", "ScannerError"]


class ScannerError(Exception):
    """A scan did not produce a trustworthy report.

    `temporary` says whether the same scan may succeed later (scanner busy, registry
    unreachable, deadline hit); a permanent error needs a person (bad configuration, an
    artifact the scanner cannot read, garbled output). The message is safe to log: it never
    carries a credential.
    """

    def __init__(self, message: str, temporary: bool) -> None:
        super().__init__(message)
        self.message = message
        self.temporary = temporary

    def __repr__(self) -> str:
        return f"ScannerError({self.message!r}, temporary={self.temporary})"


@dataclass(frozen=True)
class ScanTarget:
    """One image manifest, as the scanner must fetch it. Validated on construction."""

    registry_url: str  # registry endpoint serving the image to the scanner: http(s)://host[:port]
    repository: str  # repository name in that registry
    digest: str  # manifest digest
    authorization: str | None = field(repr=False)  # Authorization header value ("Bearer ...")
    media_type: str  # the manifest's media type

    def __post_init__(self) -> None:
        url = URL(self.registry_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"registry URL {self.registry_url!r} is not an http(s) URL")
        # Registries answer at /v2/ from their root; a path or query would be silently lost.
        if url.path not in ("", "/") or url.query_string or url.user:
            raise ValueError(f"registry URL {url.origin()} must not carry a path, query or user info")
        try:
            RepositoryName.parse(self.repository)
            Digest.parse(self.digest)
        except (InvalidNameError, InvalidDigestError) as error:
            raise ValueError(str(error)) from None

    @property
    def registry_host(self) -> str:
        """``host[:port]`` as image references write it."""
        url = URL(self.registry_url)
        host = f"[{url.host}]" if ":" in str(url.host) else str(url.host)  # IPv6 literal
        return f"{host}:{url.explicit_port}" if url.explicit_port else host

    @property
    def plain_http(self) -> bool:
        return URL(self.registry_url).scheme == "http"


class ScannerBackend(Protocol):
    """What the scan service drives; one instance per configured scanner."""

    name: str  # "trivy", "harbor:<name>": recorded in every report and audit entry

    async def scan(self, target: ScanTarget) -> ScanReport:
        """Scan one image manifest; raises `ScannerError`, never returns a report for a failure."""
        ...

    async def metadata(self) -> dict[str, object]:
        """Name, version, and vulnerability database version/age when the scanner knows them."""
        ...
