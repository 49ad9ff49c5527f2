"""Secrets at rest: a key ring of named AES-256 keys and the AES-GCM envelope sealed with it.

Pure: bytes and keys in, bytes out, no I/O. The key ring comes from a file or the
environment (`proxy.secrets_settings`); what is sealed (upstream credentials) is stored by
`db.credential_queries` and opened by `proxy.gate.credentials`.
"""

from proxy.secrets.credentials import open_password, seal_password
from proxy.secrets.envelope import Sealed, open_sealed, seal
from proxy.secrets.errors import CredentialError, DecryptionError, KeyRingError, SecretsError, UnknownKeyError
from proxy.secrets.keyring import Key, KeyRing, generate_key, parse_key_ring

__all__ = [
    "CredentialError",
    "DecryptionError",
    "Key",
    "KeyRing",
    "KeyRingError",
    "Sealed",
    "SecretsError",
    "UnknownKeyError",
    "generate_key",
    "open_password",
    "open_sealed",
    "parse_key_ring",
    "seal",
    "seal_password",
]
