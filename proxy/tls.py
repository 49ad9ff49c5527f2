"""TLS for the listener: a certificate and key checked before use, swapped on reload.

A reload must neither disturb open connections nor refuse new ones, and a bad new pair must
leave the old one serving. So the listening socket keeps one `SSLContext` for its whole life,
and that context's SNI callback (OpenSSL runs it for every ClientHello, with or without a
server name) hands each new handshake the context built from the newest good pair.
Established connections keep the context they were made with.

The pair is checked with `cryptography` first, because OpenSSL's own errors ("PEM lib",
"key values mismatch") do not tell an operator which file is wrong or why.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

__all__ = [
    "DEFAULT_CIPHERS",
    "CertificateInfo",
    "ContextOptions",
    "ReloadableContext",
    "TLSError",
    "check_ciphers",
    "check_pair",
    "read_certificates",
    "read_private_key",
    "server_context",
]

# TLS 1.2: forward secrecy and AEAD only (no CBC, RSA key exchange, SHA-1 or export suites).
# TLS 1.3 suites are all AEAD and not configurable here.
DEFAULT_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL"
EXPIRY_WARNING = timedelta(days=14)
_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


class TLSError(ValueError):
    """A certificate, key or TLS option that cannot be used; the message says which and why."""


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    subject: str
    serial: int
    not_after: datetime

    def describe(self) -> str:
        return f"{self.subject}, serial {self.serial:x}, valid until {self.not_after:%Y-%m-%d %H:%M} UTC"

    @property
    def expires_soon(self) -> bool:
        return self.not_after - datetime.now(UTC) < EXPIRY_WARNING


@dataclass(frozen=True, slots=True)
class ContextOptions:
    cert_file: Path
    key_file: Path
    min_version: str = "1.2"
    ciphers: str = DEFAULT_CIPHERS


def read_certificates(path: Path) -> list[x509.Certificate]:
    """The PEM certificates in `path`, server certificate first."""
    data = _read(path)
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise TLSError(f"{path} holds no PEM certificate") from None


def read_private_key(path: Path) -> PrivateKeyTypes:
    data = _read(path)
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:  # cryptography's way of saying "this key needs a password"
        raise TLSError(
            f"{path} is an encrypted key; pullgate needs it unencrypted (protect the file with permissions)"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise TLSError(f"{path} holds no PEM private key") from None


def check_pair(cert_file: Path, key_file: Path) -> CertificateInfo:
    """The server certificate's facts, once it and the key belong together and it is valid now."""
    certificate = read_certificates(cert_file)[0]
    key = read_private_key(key_file)
    if _spki(certificate.public_key()) != _spki(key.public_key()):
        raise TLSError(
            f"the key in {key_file} does not belong to the first certificate in {cert_file} "
            "(the server certificate must come first, then its intermediates)"
        )
    info = CertificateInfo(
        subject=certificate.subject.rfc4514_string() or "(empty subject)",
        serial=certificate.serial_number,
        not_after=certificate.not_valid_after_utc,
    )
    if info.not_after <= datetime.now(UTC):
        raise TLSError(f"the certificate in {cert_file} expired on {info.not_after:%Y-%m-%d %H:%M} UTC")
    return info


def check_ciphers(ciphers: str) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.set_ciphers(ciphers)
    except ssl.SSLError:
        raise TLSError(f"{ciphers!r} selects no cipher suite OpenSSL knows") from None


def server_context(options: ContextOptions) -> tuple[ssl.SSLContext, CertificateInfo]:
    """A server context for the pair, with pullgate's protocol settings; or `TLSError`."""
    info = check_pair(options.cert_file, options.key_file)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _VERSIONS[options.min_version]
    context.options |= ssl.OP_NO_RENEGOTIATION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.set_ciphers(options.ciphers)
    context.set_alpn_protocols(["http/1.1"])  # the only protocol the listener speaks
    try:
        # The password callback only stops OpenSSL prompting on a terminal; the key was
        # checked to be unencrypted above, unless the file changed in between.
        context.load_cert_chain(options.cert_file, options.key_file, password=_no_password)
    except (ssl.SSLError, OSError, TLSError) as exc:
        raise TLSError(f"cannot load {options.cert_file} with {options.key_file}: {exc}") from None
    return context, info


class ReloadableContext:
    """The listening socket's context; `reload()` switches new handshakes to a fresh pair."""

    def __init__(self, options: ContextOptions) -> None:
        self.options = options
        self.context, self.info = server_context(options)
        self._current = self.context
        self.context.sni_callback = self._select

    def reload(self) -> CertificateInfo:
        """Load the files again; on `TLSError` the previous pair keeps serving."""
        context, info = server_context(self.options)
        self._current, self.info = context, info
        return info

    def _select(self, connection: ssl.SSLObject, server_name: str | None, initial: ssl.SSLContext) -> None:
        connection.context = self._current


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise TLSError(f"{path} does not exist") from None
    except OSError as exc:
        raise TLSError(f"cannot read {path}: {exc.strerror}") from None


def _spki(public_key: PublicKeyTypes) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _no_password() -> bytes:
    raise TLSError("the key is encrypted")
