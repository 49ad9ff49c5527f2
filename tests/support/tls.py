"""A throw-away certificate authority for TLS tests, made with ``cryptography``.

`TestCA(dir)` writes ``ca.crt`` (the directory then works as skopeo's ``--src-cert-dir``, and
``ca_file`` as pullgate's ``tls.ca_file``) and issues server certificates: for 127.0.0.1 and
localhost by default, for another name (a wrong-host fault) or already expired, with the
serial number a test asks for so a client can tell which certificate a server presented.
Nothing here touches the system's trust store: a client trusts the CA only when told to.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["Issued", "TestCA", "peer_serial", "server_context"]

_HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Issued:
    cert_file: Path
    key_file: Path
    serial: int


class TestCA:
    __test__ = False  # not a test class, whatever its name says to pytest

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pullgate test CA")])
        now = datetime.now(UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(self._name)
            .issuer_name(self._name)
            .public_key(self._key.public_key())
            .serial_number(1)
            .not_valid_before(now - _HOUR)
            .not_valid_after(now + timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.ca_file = directory / "ca.crt"
        self.ca_file.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))

    def issue(
        self,
        name: str = "server",
        *,
        serial: int | None = None,
        host: str | None = None,
        expired: bool = False,
    ) -> Issued:
        """A server certificate and its key, written as ``<name>.pem`` and ``<name>-key.pem``.

        For 127.0.0.1 and localhost, or for ``host`` alone (an IP address or a DNS name).
        """
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        start, end = (
            (now - 48 * _HOUR, now - timedelta(minutes=5)) if expired else (now - _HOUR, now + 24 * _HOUR)
        )
        names = [_general_name(host)] if host else [x509.DNSName("localhost"), _general_name("127.0.0.1")]
        serial = serial if serial is not None else x509.random_serial_number()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host or "pullgate test server")])
            )
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )
        # Outside the CA directory: skopeo reads every *.key and *.cert in a cert dir as its own.
        folder = self.directory.parent / f"{self.directory.name}-issued"
        folder.mkdir(exist_ok=True)
        cert_file, key_file = folder / f"{name}.pem", folder / f"{name}-key.pem"
        cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return Issued(cert_file, key_file, serial)

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting only this CA."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def server_context(issued: Issued) -> ssl.SSLContext:
    """The context a test server presents ``issued`` with."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(issued.cert_file, issued.key_file)
    return context


def peer_serial(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> int:
    der = ssl_object.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ip_address(host))
    except ValueError:
        return x509.DNSName(host)
