"""Upstream credentials in the envelope: the password sealed, bound to upstream and username.

The username is stored in clear (the admin API shows it; registries treat it as an
identifier, `_json_key`, `oauth2accesstoken`, a robot account's name), and is part of the
associated data, so editing it in the database makes the password unusable rather than
silently pairing it with another account.
"""

from __future__ import annotations

from proxy.secrets.envelope import Sealed, frame, open_sealed, seal
from proxy.secrets.errors import CredentialError, SecretsError
from proxy.secrets.keyring import KeyRing

__all__ = ["open_password", "seal_password"]

_KIND = b"upstream-credentials"


def seal_password(ring: KeyRing, upstream: str, username: str, password: str) -> Sealed:
    return seal(ring, password.encode(), _context(upstream, username))


def open_password(ring: KeyRing, upstream: str, username: str, sealed: Sealed) -> str:
    """The password; `CredentialError` naming the upstream and key id when it cannot be opened."""
    try:
        return open_sealed(ring, sealed, _context(upstream, username)).decode()
    except SecretsError as exc:
        raise CredentialError(upstream, sealed.key_id, exc) from None
    except UnicodeDecodeError:  # authenticated, so written by a bug, not an attacker
        raise CredentialError(upstream, sealed.key_id, SecretsError("the password is not UTF-8")) from None


def _context(upstream: str, username: str) -> bytes:
    return frame(_KIND, upstream.encode(), username.encode())
