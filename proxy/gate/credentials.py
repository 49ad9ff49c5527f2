"""Storing upstream credentials: checked, sealed with the key ring's primary key, re-sealed on rotation.

Shared by the admin API (`proxy.gate.manage.credentials`) and the CLI (`pullgate upstream
credentials`, `pullgate secrets rotate`), which audit each change in their own way. What is
refused is an `AdminError` either way: a clear message, naming the field, never the secret.
"""

from __future__ import annotations

from collections.abc import Collection

from db.credential_queries import CredentialStore, Resealed, StoredCredential
from proxy.gate.manage.errors import AdminError, AdminErrorKind, not_found
from proxy.secrets import KeyRing, Sealed, open_password, seal_password

__all__ = ["MAX_PASSWORD_CHARS", "MAX_USERNAME_CHARS", "NO_KEY_RING", "CredentialKeeper"]

MAX_USERNAME_CHARS = 255
# Google's `_json_key` password is a whole service-account key (about 2.4 kB): room to spare.
MAX_PASSWORD_CHARS = 16 * 1024
NO_KEY_RING = (
    "no secrets key ring is configured (secrets.key_file or PULLGATE_SECRETS__KEYS; "
    "`pullgate secrets generate-key` makes a key): credentials are never stored in clear"
)


class CredentialKeeper:
    def __init__(self, store: CredentialStore, ring: KeyRing | None, upstreams: Collection[str]) -> None:
        self._store = store
        self._ring = ring
        self._upstreams = frozenset(upstreams)

    @property
    def key_ring(self) -> KeyRing | None:
        return self._ring

    async def get(self, upstream: str) -> StoredCredential | None:
        return await self._store.get(upstream)

    async def all(self) -> list[StoredCredential]:
        return await self._store.all()

    async def put(
        self, upstream: str, username: str, password: str
    ) -> tuple[StoredCredential, StoredCredential | None]:
        """Seal and store; (stored, what it replaced)."""
        if upstream not in self._upstreams:
            raise not_found(f"upstream {upstream!r} is configured")
        _check(username, password)
        if self._ring is None:
            raise AdminError(AdminErrorKind.NOT_CONFIGURED, NO_KEY_RING)
        sealed = seal_password(self._ring, upstream, username, password)
        return await self._store.put(upstream, username, sealed.key_id, sealed.blob)

    async def delete(self, upstream: str) -> StoredCredential:
        """Remove (whether or not the upstream is still configured); what was removed."""
        removed = await self._store.delete(upstream)
        if removed is None:
            raise not_found(f"credentials are stored for upstream {upstream!r}")
        return removed

    async def rotate(self) -> Resealed:
        """Re-seal every stored secret under the primary key, in one transaction.

        Each secret is opened first, those already under the primary key too, so a rotation
        that succeeds has proven every secret readable with this ring. One that cannot be
        opened (its key missing, or the row altered) aborts the whole rotation: nothing changes.
        """
        ring = self._ring
        if ring is None:
            raise AdminError(AdminErrorKind.NOT_CONFIGURED, NO_KEY_RING)

        def reseal(row: StoredCredential) -> tuple[str, bytes] | None:
            password = open_password(ring, row.upstream, row.username, Sealed(row.key_id, row.sealed))
            if row.key_id == ring.primary.id:
                return None
            sealed = seal_password(ring, row.upstream, row.username, password)
            return sealed.key_id, sealed.blob

        return await self._store.reseal(reseal)


def _check(username: str, password: str) -> None:
    # Basic authentication (RFC 7617 section 2) cannot carry a colon in the user-id, and a
    # control character in either would corrupt the header or the token request.
    if not username or len(username) > MAX_USERNAME_CHARS:
        raise _invalid("username", f"the username must be 1-{MAX_USERNAME_CHARS} characters")
    if ":" in username or not username.isprintable():
        raise _invalid("username", "the username may not contain ':' or control characters")
    if not password or len(password) > MAX_PASSWORD_CHARS:
        raise _invalid("password", f"the password must be 1-{MAX_PASSWORD_CHARS} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in password):
        raise _invalid("password", "the password may not contain control characters (a trailing newline?)")


def _invalid(field: str, message: str) -> AdminError:
    return AdminError(AdminErrorKind.INVALID, message, field=field)
