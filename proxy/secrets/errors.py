"""What can go wrong with keys and sealed secrets. Every message is safe to log and to show:
it names key ids, upstreams and positions in a key ring, never key material or a secret."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["CredentialError", "DecryptionError", "KeyRingError", "SecretsError", "UnknownKeyError"]


class SecretsError(Exception):
    """Base class; `message` is the whole, safe explanation."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class KeyRingError(SecretsError):
    """The key ring cannot be used; `problems` lists every reason (one round to fix them all)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class UnknownKeyError(SecretsError):
    """A secret was sealed under a key the ring does not hold (removed too soon, or never added)."""

    def __init__(self, key_id: str, known: Sequence[str]) -> None:
        self.key_id = key_id
        self.known = tuple(known)
        super().__init__(f"key id {key_id!r} is not in the key ring")


class DecryptionError(SecretsError):
    """The envelope is malformed, or does not authenticate: altered, or moved to another context."""


class CredentialError(SecretsError):
    """Stored credentials of one upstream cannot be opened; says which upstream and key id."""

    def __init__(self, upstream: str, key_id: str, cause: SecretsError) -> None:
        self.upstream = upstream
        self.key_id = key_id
        self.cause = cause
        super().__init__(
            f"stored credentials of upstream {upstream} (key id {key_id!r}) cannot be decrypted: {cause.message}"
        )
