"""Stored upstream credentials at run time: opened with this replica's key ring, handed to the
upstream clients, and kept current.

Every replica reads the (small) credentials table at start and then every
`secrets.refresh_interval`; a change made through this replica's admin API is applied at
once (`refresh`). A change of credentials drops the upstream's cached bearer tokens.

What happens when a stored secret cannot be opened (its key is not in this replica's ring,
or the row was altered) depends on when it is found:

- At start, `start` raises `CredentialsUnusable` and `serve` refuses to start. This is the
  case of a deployment that removed a key still in use (or forgot to add the new one): a
  rolling update then stops at its first replica, which crash-loops with a message naming
  the upstream and key id, while the replicas of the previous version keep serving. Starting
  anyway would turn a configuration mistake into failed pulls on a replica that looks healthy.
- While running (another replica, with a newer ring, sealed a secret under a key this one
  lacks), only that upstream becomes unusable: its requests fail with 502 naming the upstream
  and key id, `GET /api/v1/upstreams` reports it, and the error is logged once. The other
  upstreams keep working; stopping the whole replica would turn one upstream's problem into
  an outage of all of them. It heals at the next refresh after the key (or a restart) arrives.

In neither case does pullgate fall back to the settings' credentials or to anonymous pulls:
that would pull as an account the operator has replaced.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from db.credential_queries import CredentialStore, StoredCredential
from proxy.secrets import CredentialError, KeyRing, Sealed, SecretsError, open_password
from proxy.upstream import Credentials, CredentialSource, UpstreamRegistry

__all__ = ["CredentialSync", "CredentialsInUse", "CredentialsUnusable"]

log = logging.getLogger(__name__)


class CredentialsUnusable(Exception):
    """Stored credentials this replica cannot open; `problems` names each upstream and key id."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(
            "stored upstream credentials cannot be used:\n" + "\n".join(f"  - {p}" for p in problems)
        )


@dataclass(frozen=True, slots=True)
class CredentialsInUse:
    """What one upstream's requests carry on this replica."""

    source: CredentialSource
    username: str | None
    problem: str | None


# What was applied for an upstream; a row that differs in any part is applied anew.
_Applied = tuple[str, str, bytes]


class CredentialSync:
    def __init__(
        self,
        store: CredentialStore,
        ring: KeyRing | None,
        upstreams: Mapping[str, UpstreamRegistry],
        refresh_interval: float,
    ) -> None:
        self._store = store
        self._ring = ring
        self._upstreams = upstreams
        self._interval = refresh_interval
        self._applied: dict[str, _Applied] = {}
        self._orphans: set[str] = set()
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Apply what is stored; raise `CredentialsUnusable` if any of it cannot be opened."""
        rows = await self._store.all()
        problems = []
        for row in rows:
            if row.upstream in self._upstreams:
                try:
                    self._open(row)
                except CredentialError as exc:
                    problems.append(exc.message + self._ring_hint())
        if problems:
            raise CredentialsUnusable(problems)
        async with self._lock:
            self._apply(rows)

    async def refresh(self) -> None:
        """Read the stored credentials now and apply what changed."""
        # Read under the lock too: a refresh that read before a change must not apply after
        # the refresh that read it (the older rows would win until the next interval).
        async with self._lock:
            self._apply(await self._store.all())

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.refresh()
            except Exception as exc:  # the database is away: keep the credentials in use
                log.warning("could not read stored upstream credentials: %s", type(exc).__name__)

    def knows(self, upstream: str) -> bool:
        return upstream in self._upstreams

    def in_use(self, upstream: str) -> CredentialsInUse:
        credentials = self._upstreams[upstream].credentials
        return CredentialsInUse(credentials.in_use, credentials.username, credentials.problem)

    def _apply(self, rows: Sequence[StoredCredential]) -> None:
        present = set()
        for row in rows:
            upstream = self._upstreams.get(row.upstream)
            if upstream is None:
                self._orphan(row)
                continue
            present.add(row.upstream)
            applied = (row.username, row.key_id, row.sealed)
            if self._applied.get(row.upstream) != applied:
                self._applied[row.upstream] = applied
                self._use(upstream, row)
        for name in set(self._applied) - present:
            del self._applied[name]
            self._upstreams[name].credentials.use_stored(None)
            log.info("upstream %s: stored credentials removed; using %s", name, self.in_use(name).source)

    def _use(self, upstream: UpstreamRegistry, row: StoredCredential) -> None:
        try:
            password = self._open(row)
        except CredentialError as exc:
            problem = exc.message + self._ring_hint()
            log.error("%s; requests to upstream %s fail until it is fixed", problem, row.upstream)
            upstream.credentials.refuse(exc.message)
            return
        upstream.credentials.use_stored(Credentials(row.username, password))
        log.info(
            "upstream %s: using stored credentials of %s (key %s)", row.upstream, row.username, row.key_id
        )

    def _open(self, row: StoredCredential) -> str:
        if self._ring is None:
            raise CredentialError(
                row.upstream,
                row.key_id,
                SecretsError("no key ring is configured (secrets.key_file or secrets.keys)"),
            )
        return open_password(self._ring, row.upstream, row.username, Sealed(row.key_id, row.sealed))

    def _orphan(self, row: StoredCredential) -> None:
        if row.upstream not in self._orphans:  # once per process, not every refresh
            self._orphans.add(row.upstream)
            log.warning(
                "credentials are stored for upstream %s, which is not configured; "
                "`pullgate upstream credentials delete %s` removes them",
                row.upstream,
                row.upstream,
            )

    def _ring_hint(self) -> str:
        if self._ring is None:
            return ""
        return f" (this replica's key ring holds {', '.join(map(repr, self._ring.ids))})"
