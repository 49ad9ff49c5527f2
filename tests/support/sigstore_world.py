"""A test Sigstore made with `cryptography`: Fulcio-like CA, CT log, Rekor, TSA, trusted_root.json.

Everything is real: leaves carry an SCT signed by the test CT log over the RFC 6962 precert
input (the leaf is first built without it to get the TBS the log signs, then reissued with the
SCT list; `tbs_precertificate_bytes` must give that TBS back), SETs and checkpoints are signed
by the test Rekor, inclusion proofs come from a real Merkle tree (`sigstore_log`) and RFC 3161
timestamps from a test timestamp authority (`tsa`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.sigstore_log import Logged, TestLog, compact, spki_id
from tests.support.tsa import TestTSA

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)  # when test leaves are issued
ISSUER = "https://issuer.corp.example"
ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
USERNAME = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.7")
SCT_LIST = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")


def der(tag: int, content: bytes) -> bytes:
    n = len(content)
    length = (
        bytes([n])
        if n < 128
        else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")
    )
    return bytes([tag]) + length + content


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "corp.example"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _ca(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    path_length: int | None,
) -> x509.Certificate:
    issuer_name, issuer_key = issuer or (_name(name), key)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2035, 1, 1, tzinfo=UTC))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(issuer_key, hashes.SHA384())
    )


@dataclass(frozen=True)
class Leaf:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(Encoding.PEM).decode()

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))


@dataclass
class World:
    root_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP384R1())
    )
    inter_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP384R1())
    )
    ct_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    rekor: TestLog = field(default_factory=TestLog)
    tsa: TestTSA = field(default_factory=TestTSA)
    root_path_length: int | None = 1

    def __post_init__(self) -> None:
        self.root = _ca("test-root", self.root_key, None, self.root_path_length)
        self.intermediate = _ca("test-intermediate", self.inter_key, (self.root.subject, self.root_key), 0)

    # -- Fulcio --------------------------------------------------------------------------------

    def leaf(
        self,
        subject: str = "ci@corp.example",
        *,
        kind: str = "email",
        issuer: str | None = ISSUER,
        issuer_oids: tuple[x509.ObjectIdentifier, ...] = (ISSUER_V2,),
        code_signing: bool = True,
        not_before: datetime = T0,
        lifetime: timedelta = timedelta(minutes=10),
        ct_key: ec.EllipticCurvePrivateKey | None = None,
        sct: bool = True,
    ) -> Leaf:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.intermediate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_before + lifetime)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
            )
            .add_extension(x509.SubjectAlternativeName([_san(kind, subject)]), critical=True)
        )
        if code_signing:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
            )
        for oid in issuer_oids if issuer is not None else ():
            value = issuer.encode() if oid == ISSUER_V1 else der(0x0C, issuer.encode())  # type: ignore[union-attr]
            builder = builder.add_extension(x509.UnrecognizedExtension(oid, value), critical=False)
        precert = builder.sign(self.inter_key, hashes.SHA384())
        if not sct:
            return Leaf(key, precert)
        sct_list = self._sct(precert.tbs_certificate_bytes, not_before, ct_key or self.ct_key)
        cert = builder.add_extension(
            x509.UnrecognizedExtension(SCT_LIST, der(0x04, sct_list)), critical=False
        ).sign(self.inter_key, hashes.SHA384())
        assert cert.tbs_precertificate_bytes == precert.tbs_certificate_bytes
        return Leaf(key, cert)

    def _sct(self, tbs: bytes, at: datetime, key: ec.EllipticCurvePrivateKey) -> bytes:
        millis = int(at.timestamp() * 1000)
        issuer_key_hash = hashlib.sha256(
            self.intermediate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        ).digest()
        signed = (
            struct.pack(">BBQH", 0, 0, millis, 1)
            + issuer_key_hash
            + len(tbs).to_bytes(3, "big")
            + tbs
            + b"\0\0"
        )
        signature = key.sign(signed, ec.ECDSA(hashes.SHA256()))
        sct = b"\0" + spki_id(key.public_key()) + struct.pack(">QH", millis, 0) + b"\x04\x03"
        sct += struct.pack(">H", len(signature)) + signature
        entry = struct.pack(">H", len(sct)) + sct
        return struct.pack(">H", len(entry)) + entry

    # -- Rekor -------------------------------------------------------------------------------

    def log_hashedrekord(
        self, leaf: Leaf, signature: bytes, digest: bytes, *, at: datetime | None = None, **kw: object
    ) -> Logged:
        body = hashedrekord(leaf.pem, signature, digest)
        return self.rekor.append(body, int((at or T0 + timedelta(minutes=1)).timestamp()), **kw)  # type: ignore[arg-type]

    # -- trusted_root.json -------------------------------------------------------------------

    def trusted_root(
        self,
        *,
        ca_valid: tuple[datetime | None, datetime | None] = (datetime(2020, 1, 1, tzinfo=UTC), None),
        tlog_valid: tuple[datetime | None, datetime | None] = (datetime(2020, 1, 1, tzinfo=UTC), None),
        tlog_key: ec.EllipticCurvePublicKey | None = None,
        tsa_valid: tuple[datetime | None, datetime | None] = (datetime(2020, 1, 1, tzinfo=UTC), None),
        timestamp_authorities: Sequence[dict[str, object]] | None = None,
    ) -> str:
        """The world's trusted root; `timestamp_authorities` (`TestTSA.authority_entry`s) replace its TSA."""
        rekor_key = tlog_key or self.rekor.key.public_key()
        if timestamp_authorities is None:
            timestamp_authorities = [self.tsa.authority_entry(tsa_valid)]
        return json.dumps(
            {
                "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
                "tlogs": [_log("https://rekor.test", _spki(rekor_key), spki_id(rekor_key), tlog_valid)],
                "certificateAuthorities": [
                    {
                        "subject": {"organization": "corp.example", "commonName": "test-root"},
                        "uri": "https://fulcio.test",
                        "certChain": {
                            "certificates": [
                                {"rawBytes": _b64(c.public_bytes(Encoding.DER))}
                                for c in (self.intermediate, self.root)
                            ]
                        },
                        "validFor": _period(ca_valid),
                    }
                ],
                "ctlogs": [
                    _log(
                        "https://ctfe.test",
                        _spki(self.ct_key.public_key()),
                        spki_id(self.ct_key.public_key()),
                        (None, None),
                    )
                ],
                "timestampAuthorities": list(timestamp_authorities),
            }
        )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _spki(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _san(kind: str, subject: str) -> x509.GeneralName:
    if kind == "email":
        return x509.RFC822Name(subject)
    if kind == "uri":
        return x509.UniformResourceIdentifier(subject)
    return x509.OtherName(USERNAME, der(0x0C, subject.encode()))


def _period(valid: tuple[datetime | None, datetime | None]) -> dict[str, str]:
    names = ("start", "end")
    return {
        n: v.isoformat().replace("+00:00", "Z") for n, v in zip(names, valid, strict=True) if v is not None
    }


def _log(
    url: str, der_key: bytes, log_id: bytes, valid: tuple[datetime | None, datetime | None]
) -> dict[str, object]:
    return {
        "baseUrl": url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {
            "rawBytes": base64.b64encode(der_key).decode(),
            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
            "validFor": _period(valid),
        },
        "logId": {"keyId": base64.b64encode(log_id).decode()},
    }


def hashedrekord(pem: str, signature: bytes, digest: bytes) -> bytes:
    return compact(
        {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
                "signature": {"content": _b64(signature), "publicKey": {"content": _b64(pem.encode())}},
            },
        }
    )


def dsse_body(pem: str, signature: bytes, payload: bytes) -> bytes:
    return compact(
        {
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {"algorithm": "sha256", "value": "00" * 32},
                "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
                "signatures": [{"signature": _b64(signature), "verifier": _b64(pem.encode())}],
            },
        }
    )
