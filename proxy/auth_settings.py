"""Settings of authentication (part of `proxy.settings`): pull-side authentication of
registry clients, and what every authentication shares — the slow hash of stored secrets,
the cache of verified ones, and the limit on failed attempts per client address."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from proxy.config_values import Duration, PositiveDuration
from proxy.policy.patterns import PolicyError, compile_registry_glob, compile_repository_glob

__all__ = ["AuthSettings", "KdfSettings", "PullAuthSettings", "RateLimitSettings", "ScopeSettings"]

MIN_SIGNING_KEY_BYTES = 32


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KdfSettings(_Section):
    # scrypt for admin tokens and robot secrets made from now on; older hashes keep their
    # own parameters and are re-hashed with these when next used.
    log2_n: int = Field(default=15, ge=10, le=20)  # N = 2^log2_n; memory is 128 * r * N bytes
    r: int = Field(default=8, ge=1, le=32)
    p: int = Field(default=1, ge=1, le=16)


class RateLimitSettings(_Section):
    enabled: bool = True
    # Failed authentications per client address: a bucket of `max_failures`, refilled over
    # `window`. Empty: 429 until it refills, without looking at the credentials.
    max_failures: int = Field(default=10, ge=1)
    window: PositiveDuration = 60.0
    max_addresses: int = Field(default=10_000, ge=1)  # addresses tracked; the oldest are forgotten


class AuthSettings(_Section):
    kdf: KdfSettings = KdfSettings()
    # A verified admin token or robot secret is trusted this long without hashing it again
    # (0: never cached). A revocation made on this replica takes effect at once; made on
    # another, an admin token may work up to this long after it (robots: see pull_auth).
    cache_ttl: Duration = 10.0
    rate_limit: RateLimitSettings = RateLimitSettings()


class ScopeSettings(_Section):
    """Repositories, by the same globs as policy rules: registry (an upstream name) and repository."""

    registry: str = "*"
    repository: str

    @field_validator("registry")
    @classmethod
    def _registry(cls, value: str) -> str:
        try:
            compile_registry_glob(value)
        except PolicyError as exc:
            raise ValueError(str(exc)) from exc
        return value.lower()

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        try:
            compile_repository_glob(value)
        except PolicyError as exc:
            raise ValueError(str(exc)) from exc
        return value


class PullAuthSettings(_Section):
    enabled: bool = False  # off: anonymous pulls, as before
    # The token endpoint's URL as clients must reach it (challenges name it). Unset: built
    # from each request's scheme and Host (http://<host>/auth/token); set it behind a proxy
    # that terminates TLS.
    realm: str | None = None
    service: str = Field(default="pullgate", min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")
    issuer: str = Field(default="pullgate", min_length=1, max_length=255)
    token_ttl: PositiveDuration = Field(default=300.0, le=86_400.0)  # lifetime of issued pull tokens
    # Repositories anyone may pull without credentials; everything else needs a robot.
    anonymous: tuple[ScopeSettings, ...] = ()
    # A file holding the token signing key (at least 32 bytes, the same file on every
    # replica). Unset: a key kept in the database, made on first start.
    signing_key_file: Path | None = None
    # How stale a replica's view of robot revocations, expiries and rotations may be: a
    # robot revoked elsewhere is refused here at most this much later, tokens included.
    revocation_check_interval: PositiveDuration = Field(default=5.0, le=300.0)

    @field_validator("realm")
    @classmethod
    def _realm(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
            raise ValueError(f"realm {value!r} must be an http:// or https:// URL")
        if '"' in value or "\\" in value:
            raise ValueError("realm must not contain quotes or backslashes")
        return value

    @field_validator("signing_key_file")
    @classmethod
    def _key_file(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        try:
            size = len(value.read_bytes().strip())
        except OSError as exc:
            raise ValueError(f"signing_key_file {value}: {exc.strerror}") from exc
        if size < MIN_SIGNING_KEY_BYTES:
            raise ValueError(
                f"signing_key_file {value} holds {size} bytes; at least {MIN_SIGNING_KEY_BYTES} are needed"
            )
        return value

    def signing_key(self) -> bytes | None:
        return self.signing_key_file.read_bytes().strip() if self.signing_key_file else None
