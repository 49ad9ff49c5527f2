"""Short-lived grants that let one external scanner read one image from the scanner endpoint.

A grant names exactly what may be read (the manifest, its children for an index, and the
blobs of all of them) and carries a random secret that the scanner presents as its
password. Grants live in memory, per replica: the scan that creates one runs the scanner
against this replica's endpoint and revokes it when done, and the expiry bounds what a
scan that never revokes leaves behind.

This module does no I/O and imports no HTTP code, so the scan service may hold a
`ScanGrants` (or a Protocol of it) without depending on the HTTP layer.
"""

from __future__ import annotations

import base64
import hmac
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from proxy.cache.keys import RepoKey
from proxy.oci.digest import Digest

__all__ = ["SCANNER_USERNAME", "Grant", "ScanGrants"]

SCANNER_USERNAME = "scanner"  # the Basic user name; the grant's secret is the password


@dataclass(frozen=True, slots=True)
class Grant:
    """Read access to one image, as ``scan/<id>``, until `expires_at` (on the grants' clock)."""

    id: str
    secret: str = field(repr=False, compare=False)
    key: RepoKey  # where the mirror finds the image; never shown to the scanner
    digest: Digest
    blobs: frozenset[Digest]
    children: frozenset[Digest]
    expires_at: float

    @property
    def repository(self) -> str:
        # A name of its own per grant: two scans never collide, and the scanner (and its
        # logs and reports) learn nothing of the upstream or the repository.
        return f"scan/{self.id}"

    @property
    def manifests(self) -> frozenset[Digest]:
        return self.children | {self.digest}

    @property
    def authorization(self) -> str:
        """The ``Authorization`` value a scanner presents (`ScanTarget.authorization`)."""
        pair = f"{SCANNER_USERNAME}:{self.secret}".encode()
        return "Basic " + base64.b64encode(pair).decode()


class ScanGrants:
    """The live grants of this replica."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._grants: dict[str, Grant] = {}

    def grant(
        self,
        key: RepoKey,
        digest: Digest,
        blobs: frozenset[Digest],
        children: frozenset[Digest],
        ttl: float,
    ) -> Grant:
        if not (math.isfinite(ttl) and ttl > 0):
            raise ValueError(f"a grant needs a positive, finite lifetime, not {ttl!r}")
        self._purge()
        # Hex keeps the id inside the repository-name grammar (lowercase, no '-' or '_').
        grant = Grant(
            id=secrets.token_hex(16),
            secret=secrets.token_urlsafe(32),
            key=key,
            digest=digest,
            blobs=frozenset(blobs),
            children=frozenset(children),
            expires_at=self._clock() + ttl,
        )
        self._grants[grant.id] = grant
        return grant

    def revoke(self, grant: Grant) -> None:
        self._grants.pop(grant.id, None)

    def find(self, secret: str) -> Grant | None:
        """The live grant whose secret this is, if any."""
        offered = secret.encode("utf-8", "replace")
        now = self._clock()
        found = None
        # Every live grant is compared, in constant time each: how long the answer takes
        # says nothing about how close a guess came.
        for grant in self._grants.values():
            if hmac.compare_digest(offered, grant.secret.encode()) and grant.expires_at > now:
                found = grant
        return found

    def _purge(self) -> None:
        now = self._clock()
        for expired in [g.id for g in self._grants.values() if g.expires_at <= now]:
            del self._grants[expired]
