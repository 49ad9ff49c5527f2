"""A test RFC 3161 timestamp authority issuing real TimeStampTokens.

The DER is written here by hand (a small writer, no ASN.1 library), independently of the code
under test, which parses with asn1crypto: RFC 3161 TSTInfo inside RFC 5652 SignedData, signed
attributes contentType / messageDigest / signingTime / ESS signingCertificateV2 (or the SHA-1
signingCertificate), one SignerInfo, the whole wrapped in a TimeStampResp as sigstore stores it.
The TSA certificate is issued by a TSA root and carries the critical id-kp-timeStamping EKU.
`tamper` breaks one part *after* signing, for the negative tests. `countersigner` hands a
Notation signer a function timestamping its signature the way notation does (a bare token
carrying the TSA's chain).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SIGNED_DATA = "1.2.840.113549.1.7.2"
TST_INFO = "1.2.840.113549.1.9.16.1.4"
CONTENT_TYPE, MESSAGE_DIGEST, SIGNING_TIME = (f"1.2.840.113549.1.9.{n}" for n in (3, 4, 5))
SIGNING_CERTIFICATE, SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.12", "1.2.840.113549.1.9.16.2.47"
POLICY = "1.3.6.1.4.1.57264.2"  # sigstore's TSA policy, any OID does
DIGESTS = {
    "sha1": "1.3.14.3.2.26",
    "sha256": "2.16.840.1.101.3.4.2.1",
    "sha384": "2.16.840.1.101.3.4.2.2",
    "sha512": "2.16.840.1.101.3.4.2.3",
}
KeyType = Literal["ec", "rsa", "ed25519"]
SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
Tamper = Literal["signed-attributes", "content", "signature"]

# -- a minimal DER writer ---------------------------------------------------------------------


def tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    size = (n.bit_length() + 7) // 8
    length = bytes([n]) if n < 0x80 else bytes([0x80 | size]) + n.to_bytes(size, "big")
    return bytes([tag]) + length + content


def seq(*parts: bytes) -> bytes:
    return tlv(0x30, b"".join(parts))


def set_of(*parts: bytes) -> bytes:
    return tlv(0x31, b"".join(sorted(parts)))  # DER orders SET OF by encoding


def integer(value: int) -> bytes:
    return tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def octets(value: bytes) -> bytes:
    return tlv(0x04, value)


def oid(dotted: str) -> bytes:
    first, second, *rest = (int(p) for p in dotted.split("."))
    body = bytearray([40 * first + second])
    for arc in rest:
        chunk = [arc & 0x7F]
        while arc := arc >> 7:
            chunk.insert(0, 0x80 | (arc & 0x7F))
        body += bytes(chunk)
    return tlv(0x06, bytes(body))


def algorithm(dotted: str, *, null: bool = False) -> bytes:
    return seq(oid(dotted), b"\x05\x00" if null else b"")


def generalized_time(at: datetime) -> bytes:
    return tlv(0x18, at.astimezone(UTC).strftime("%Y%m%d%H%M%SZ").encode())


def utc_time(at: datetime) -> bytes:
    return tlv(0x17, at.astimezone(UTC).strftime("%y%m%d%H%M%SZ").encode())


# -- the TSA ----------------------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "corp.example"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _new_key(kind: KeyType) -> SigningKey:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


@dataclass
class TestTSA:
    __test__ = False  # a helper, not a test class for pytest to collect
    name: str = "test-tsa"
    key_type: KeyType = "ec"
    eku: bool = True  # id-kp-timeStamping (critical) on the signing certificate
    not_before: datetime = datetime(2020, 1, 1, tzinfo=UTC)
    not_after: datetime = datetime(2035, 1, 1, tzinfo=UTC)
    root_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP384R1())
    )
    key: SigningKey | None = None
    crl_url: str | None = None  # a CRL distribution point on the signing certificate

    def __post_init__(self) -> None:
        self.key = self.key or _new_key(self.key_type)
        root_name = _name(f"{self.name}-root")
        root = self._builder(root_name, root_name, self.root_key.public_key())
        root = root.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        root = root.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        self.root = root.sign(self.root_key, hashes.SHA384())
        leaf = self._builder(_name(self.name), root_name, self.key.public_key())
        leaf = leaf.add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )
        leaf = leaf.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False
        )
        if self.eku:
            leaf = leaf.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
            )
        if self.crl_url:
            point = x509.DistributionPoint([x509.UniformResourceIdentifier(self.crl_url)], None, None, None)
            leaf = leaf.add_extension(x509.CRLDistributionPoints([point]), critical=False)
        self.cert = leaf.sign(self.root_key, hashes.SHA384())

    def _builder(self, subject: x509.Name, issuer: x509.Name, key: object) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key)  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.not_before)
            .not_valid_after(self.not_after)
        )

    def authority_entry(
        self,
        valid: tuple[datetime | None, datetime | None] = (datetime(2020, 1, 1, tzinfo=UTC), None),
        *,
        with_leaf: bool = True,
    ) -> dict[str, object]:
        """This TSA as a ``timestampAuthorities[]`` entry of a trusted_root.json (leaf first)."""
        chain = (self.cert, self.root) if with_leaf else (self.root,)
        period = {
            n: v.isoformat().replace("+00:00", "Z") for n, v in zip(("start", "end"), valid, strict=True) if v
        }
        return {
            "subject": {"organization": "corp.example", "commonName": self.name},
            "uri": "https://tsa.test/api/v1/timestamp",
            "certChain": {
                "certificates": [
                    {"rawBytes": base64.b64encode(c.public_bytes(Encoding.DER)).decode()} for c in chain
                ]
            },
            "validFor": period,
        }

    def timestamp(
        self,
        data: bytes,
        at: datetime,
        *,
        imprint_hash: str = "sha256",
        response: bool = True,
        embed: bool = False,
        by_key_id: bool = False,
        ess_v1: bool = False,
        ess_cert: x509.Certificate | None = None,
        tamper: Tamper | None = None,
        accuracy: tuple[int, int, int] | None = (1, 0, 0),
        policy: str = POLICY,
    ) -> bytes:
        """A DER TimeStampResp (or, `response=False`, the bare token) over `data` at `at`.

        `accuracy` is (seconds, millis, micros), a zero part left out, None for no accuracy.
        """
        imprint = seq(algorithm(DIGESTS[imprint_hash]), octets(hashlib.new(imprint_hash, data).digest()))
        info = seq(
            integer(1),
            oid(policy),
            imprint,
            integer(x509.random_serial_number()),
            generalized_time(at),
            b"" if accuracy is None else _accuracy(*accuracy),
        )
        attributes = self._attributes(info, at, ess_cert or self.cert, ess_v1=ess_v1)
        signature = self._sign(set_of(*attributes))
        if tamper == "signed-attributes":  # the signingTime a second later: no longer what was signed
            attributes[2] = _attribute(SIGNING_TIME, utc_time(at.replace(second=(at.second + 1) % 60)))
        if tamper == "content":
            info = info.replace(generalized_time(at), generalized_time(at.replace(year=at.year - 1)))
        if tamper == "signature":
            signature = signature[:-1] + bytes([signature[-1] ^ 1])
        token = self._token(info, attributes, signature, embed=embed, by_key_id=by_key_id)
        return seq(seq(integer(0)), token) if response else token

    def countersigner(self, at: datetime, **options: Any) -> Callable[[bytes], bytes]:
        """Timestamps a signature as notation does: the bare token, the TSA chain embedded."""
        return lambda signature: self.timestamp(signature, at, response=False, embed=True, **options)

    def _attributes(
        self, info: bytes, at: datetime, signer: x509.Certificate, *, ess_v1: bool
    ) -> list[bytes]:
        cert = signer.public_bytes(Encoding.DER)
        if ess_v1:
            ess = _attribute(SIGNING_CERTIFICATE, seq(seq(seq(octets(hashlib.sha1(cert).digest())))))
        else:  # hashAlgorithm is omitted: SHA-256 is its DEFAULT
            ess = _attribute(SIGNING_CERTIFICATE_V2, seq(seq(seq(octets(hashlib.sha256(cert).digest())))))
        return [
            _attribute(CONTENT_TYPE, oid(TST_INFO)),
            _attribute(MESSAGE_DIGEST, octets(hashlib.sha256(info).digest())),  # of eContent's value
            _attribute(SIGNING_TIME, utc_time(at)),
            ess,
        ]

    def _sign(self, data: bytes) -> bytes:
        key = self.key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(hashes.SHA256()))
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        assert isinstance(key, ed25519.Ed25519PrivateKey)
        return key.sign(data)

    def _signature_algorithm(self) -> bytes:
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            return algorithm("1.2.840.10045.4.3.2")  # ecdsa-with-SHA256
        if isinstance(self.key, rsa.RSAPrivateKey):
            return algorithm("1.2.840.113549.1.1.11", null=True)  # sha256WithRSAEncryption
        return algorithm("1.3.101.112")  # Ed25519

    def _token(
        self, info: bytes, attributes: list[bytes], signature: bytes, *, embed: bool, by_key_id: bool
    ) -> bytes:
        if by_key_id:
            ski = self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
            version, sid = 3, tlv(0x80, ski)
        else:
            version, sid = 1, seq(self.cert.issuer.public_bytes(), integer(self.cert.serial_number))
        signed_attrs = tlv(0xA0, b"".join(sorted(attributes)))  # [0] IMPLICIT SET OF
        signer = seq(
            integer(version),
            sid,
            algorithm(DIGESTS["sha256"]),
            signed_attrs,
            self._signature_algorithm(),
            octets(signature),
        )
        certificates = (
            tlv(0xA0, self.cert.public_bytes(Encoding.DER) + self.root.public_bytes(Encoding.DER))
            if embed
            else b""
        )
        encapsulated = seq(oid(TST_INFO), tlv(0xA0, octets(info)))
        signed_data = seq(
            integer(3), set_of(algorithm(DIGESTS["sha256"])), encapsulated, certificates, set_of(signer)
        )
        return seq(oid(SIGNED_DATA), tlv(0xA0, signed_data))


def _accuracy(seconds: int, millis: int, micros: int) -> bytes:
    # Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] ..., micros [1] ... }
    return seq(
        integer(seconds) if seconds else b"",
        tlv(0x80, integer(millis)[2:]) if millis else b"",
        tlv(0x81, integer(micros)[2:]) if micros else b"",
    )


def _attribute(kind: str, value: bytes) -> bytes:
    return seq(oid(kind), set_of(value))
