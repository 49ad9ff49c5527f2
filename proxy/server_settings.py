"""Listener settings: event loop, TLS, keep-alive, request and connection limits. Part of
`proxy.settings` (the `server:` section).

The limits exist because every open connection and every byte a client may make pullgate
hold is a resource an unfriendly client can exhaust; `docs/operations.md` lists each one
with the error a client sees when it is reached.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from proxy import tls
from proxy.config_values import PositiveDuration, Size

__all__ = ["ListenerTLSSettings", "ServerSettings"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _version_text(value: Any) -> Any:
    # YAML reads an unquoted 1.2 as a number; the setting means the protocol version's name.
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


class ListenerTLSSettings(_Section):
    cert_file: Path  # PEM: the server certificate first, then any intermediates
    key_file: Path  # PEM, unencrypted (protect it with file permissions)
    min_version: Annotated[Literal["1.2", "1.3"], BeforeValidator(_version_text)] = "1.2"
    ciphers: str = tls.DEFAULT_CIPHERS  # TLS 1.2 suites, OpenSSL syntax; TLS 1.3 suites are fixed

    @field_validator("cert_file")
    @classmethod
    def _certificate(cls, value: Path) -> Path:
        tls.read_certificates(value)
        return value

    @field_validator("key_file")
    @classmethod
    def _key(cls, value: Path) -> Path:
        tls.read_private_key(value)
        return value

    @field_validator("ciphers")
    @classmethod
    def _ciphers(cls, value: str) -> str:
        tls.check_ciphers(value)
        return value

    @model_validator(mode="after")
    def _pair(self) -> ListenerTLSSettings:
        # Runs only once each file is usable on its own: then the two must belong together.
        tls.check_pair(self.cert_file, self.key_file)
        return self

    def context_options(self) -> tls.ContextOptions:
        return tls.ContextOptions(self.cert_file, self.key_file, self.min_version, self.ciphers)


class ServerSettings(_Section):
    # asyncio by default: its loop sends cached blobs with the kernel's sendfile, which uvloop
    # lacks (aiohttp then copies through userspace); measured 2.5x faster for warm blobs.
    # uvloop answers small requests faster; choose it for manifest-heavy, blob-light loads.
    event_loop: Literal["asyncio", "uvloop"] = "asyncio"
    gc_freeze: bool = True  # freeze start-up objects and raise the GC threshold: fewer, shorter pauses
    tls: ListenerTLSSettings | None = None  # None: plain HTTP (behind a TLS-terminating proxy, or loopback)
    # Longer than the idle timeout of a load balancer in front (60 s for most), or the balancer
    # reuses a connection pullgate is closing and answers 502.
    keepalive_timeout: PositiveDuration = 75.0
    max_requests_per_connection: int = Field(default=1000, ge=1)  # the last answer says Connection: close
    # From accepting a connection (or the first byte of a later request on it) to a complete
    # request line and headers; also bounds the TLS handshake. Slow-header clients are cut here.
    request_head_timeout: PositiveDuration = 10.0
    request_body_timeout: PositiveDuration = 60.0  # admin API bodies must arrive whole within it
    max_connections: int = Field(default=10_000, ge=1)  # beyond it: 503 and close
    max_request_line: Size = Field(default=8 * 1024, ge=1024)  # longer: 414
    max_header_size: Size = Field(default=8 * 1024, ge=1024)  # one header line (name and value); longer: 431
    max_headers: int = Field(default=100, ge=16, le=10_000)  # more: 431
