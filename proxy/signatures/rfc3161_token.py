"""Reading an RFC 3161 time-stamp token: the DER structure, checked, turned into plain values.

A token (RFC 3161 §2.4.2) is a CMS ContentInfo (RFC 5652) holding SignedData whose signed content
is a TSTInfo: the hash of what was timestamped (messageImprint) and the time (genTime). Sigstore
ships the whole ``TimeStampResp`` (PKIStatusInfo + token, as the TSA answered); a bare token is
accepted too. Structure checked here, before any cryptography (`proxy.signatures.rfc3161` does that):

  1. TimeStampResp: the status is granted or grantedWithMods and a token is present (§2.4.2);
  2. ContentInfo: contentType id-signedData (RFC 5652 §3);
  3. SignedData: eContentType id-ct-TSTInfo, eContent present and DER (RFC 3161 §2.4.2);
  4. exactly one SignerInfo: a token carries the TSA's signature and no other (§2.4.2);
  5. signedAttrs present, contentType and messageDigest each exactly once with one value, the
     contentType equal to eContentType (RFC 5652 §5.3, §11.1-11.2);
  6. an ESS signingCertificate (RFC 2634 §5.4) or signingCertificateV2 (RFC 5035) attribute,
     which RFC 3161 §2.4.1 and RFC 5816 require, naming the TSA's certificate;
  7. TSTInfo version 1, a messageImprint and a genTime with a time zone.

`timestamp_accuracy` reads the TSTInfo's policy and accuracy for the callers that use them
(Notation); Sigstore does not, so an odd accuracy cannot fail a token it accepted.

Parsing is `asn1crypto`'s, confined to this module; anything malformed is a `SignatureInvalid`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from asn1crypto import cms, core, tsp  # type: ignore[import-untyped]
from cryptography import x509

from proxy.signatures.errors import SignatureInvalid
from proxy.signatures.x509chain import load_certificate

__all__ = ["MAX_TOKEN_BYTES", "CertificateId", "TimestampToken", "parse_timestamp", "timestamp_accuracy"]

MAX_TOKEN_BYTES = 64 * 1024  # sigstore's tokens are under 1 KiB; a long RSA chain a few KiB
_MAX_CERTIFICATES = 8  # certificates a token may carry (the TSA's chain)
_GRANTED = frozenset({"granted", "granted_with_mods"})
# What asn1crypto (or malformed input reaching it) raises while decoding.
_DECODE_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError)
_SET_OF = 0x31  # the universal SET OF tag that signedAttrs' [0] IMPLICIT replaces
_ID_SIGNED_DATA = "1.2.840.113549.1.7.2"
_ID_CT_TST_INFO = "1.2.840.113549.1.9.16.1.4"
_ID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_ID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_ID_SIGNING_CERTIFICATE = "1.2.840.113549.1.9.16.2.12"  # ESSCertID: SHA-1 (RFC 2634)
_ID_SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"  # ESSCertIDv2: hash named (RFC 5035)
_SUBSECOND = range(1, 1000)  # RFC 3161 §2.4.2: millis and micros are INTEGER (1..999)


class _TimeStampResp(core.Sequence):  # type: ignore[misc]
    """RFC 3161 §2.4.2, whose token is OPTIONAL (asn1crypto's requires it): a rejection has none."""

    # A list because asn1crypto's Sequence machinery indexes into it when it builds the class.
    _fields = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


@dataclass(frozen=True, slots=True)
class CertificateId:
    """An ESSCertID(v2): the hash of the certificate that signed the token."""

    algorithm: str  # asn1crypto hash name: sha1 (ESSCertID), sha256, sha384, sha512
    digest: bytes


@dataclass(frozen=True, slots=True)
class TimestampToken:
    gen_time: datetime
    imprint_algorithm: str  # hash name of the messageImprint
    imprint: bytes
    content: bytes  # eContent: the DER TSTInfo exactly as signed
    digest_algorithm: str  # the SignerInfo's digestAlgorithm
    message_digest: bytes  # its messageDigest attribute
    signed_attributes: bytes  # DER SET OF the signed attributes: what the signature covers
    signature_algorithm: str  # ecdsa, rsassa_pkcs1v15, rsassa_pss, ed25519, ...
    signature_hash: str  # the hash the signature algorithm names, else digest_algorithm
    signature: bytes
    signer_issuer: bytes | None  # sid: issuerAndSerialNumber (DER Name) ...
    signer_serial: int | None
    signer_key_id: bytes | None  # ... or subjectKeyIdentifier
    signing_certificate: CertificateId
    certificates: tuple[x509.Certificate, ...]  # those the token carries


def parse_timestamp(data: bytes, *, token_only: bool = False) -> TimestampToken:
    """Steps 1-7 of the module docstring; `SignatureInvalid` for anything malformed.

    `token_only` refuses a TimeStampResp, for formats that store the bare TimeStampToken
    (Notation's countersignature): accepting both would be a second reading of the same field.
    """
    if len(data) > MAX_TOKEN_BYTES:
        raise SignatureInvalid(f"timestamp is larger than {MAX_TOKEN_BYTES} bytes")
    try:
        return _read(_content_info(data, token_only=token_only))
    except _DECODE_ERRORS as exc:
        raise SignatureInvalid(f"timestamp is not a valid RFC 3161 token: {exc}") from None


def _content_info(data: bytes, *, token_only: bool) -> Any:
    # A TimeStampResp begins with its PKIStatusInfo (a SEQUENCE), a ContentInfo with an OID.
    if len(data) < 4 or data[0] != 0x30:
        raise SignatureInvalid("timestamp is not DER (expected a SEQUENCE)")
    header = 2 if data[1] < 0x80 else 2 + (data[1] & 0x7F)
    if header >= len(data) or data[header] == 0x06:
        return cms.ContentInfo.load(data, strict=True)
    response = _TimeStampResp.load(data, strict=True)
    status = response["status"]["status"].native  # 1.
    if token_only:  # only now: it did parse as a response, so say so rather than "malformed"
        raise SignatureInvalid("timestamp is a TimeStampResp, not the bare TimeStampToken expected here")
    if status not in _GRANTED:
        raise SignatureInvalid(f"timestamp response status is {status}, not granted")
    token = response["time_stamp_token"]
    if not token:
        raise SignatureInvalid("timestamp response carries no token")
    return token


def _read(content_info: Any) -> TimestampToken:
    if content_info["content_type"].dotted != _ID_SIGNED_DATA:  # 2.
        raise SignatureInvalid(f"timestamp token is {content_info['content_type'].native}, not signed data")
    signed_data = content_info["content"]
    encapsulated = signed_data["encap_content_info"]
    if encapsulated["content_type"].dotted != _ID_CT_TST_INFO:  # 3.
        raise SignatureInvalid(f"timestamp token signs {encapsulated['content_type'].native}, not a TSTInfo")
    content = _econtent(encapsulated["content"])
    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:  # 4.
        raise SignatureInvalid(f"timestamp token has {len(signer_infos)} signatures, expected exactly one")
    signer = signer_infos[0]
    message_digest, signing_certificate = _attributes(signer)  # 5-6.
    info = tsp.TSTInfo.load(content, strict=True)  # 7.
    imprint = info["message_imprint"]
    issuer, serial, key_id = _sid(signer["sid"])
    signature_algorithm = signer["signature_algorithm"]
    return TimestampToken(
        gen_time=_gen_time(info),
        imprint_algorithm=imprint["hash_algorithm"]["algorithm"].native,
        imprint=imprint["hashed_message"].native,
        content=content,
        digest_algorithm=signer["digest_algorithm"]["algorithm"].native,
        message_digest=message_digest,
        signed_attributes=bytes([_SET_OF]) + signer["signed_attrs"].dump()[1:],
        signature_algorithm=_signature_algorithm(signature_algorithm),
        signature_hash=_signature_hash(signature_algorithm, signer["digest_algorithm"]),
        signature=signer["signature"].native,
        signer_issuer=issuer,
        signer_serial=serial,
        signer_key_id=key_id,
        signing_certificate=signing_certificate,
        certificates=_certificates(signed_data["certificates"]),
    )


def _econtent(value: Any) -> bytes:
    if not value:
        raise SignatureInvalid("timestamp token has no TSTInfo content")
    if value.method != 0:  # a constructed (BER) OCTET STRING is not DER
        raise SignatureInvalid("timestamp token content is not DER")
    contents: bytes = value.contents
    return contents


def _attributes(signer: Any) -> tuple[bytes, CertificateId]:
    """The messageDigest and the ESS certificate id among the signed attributes."""
    attributes = signer["signed_attrs"]
    if not attributes:  # 5. Required whenever the content is not id-data (RFC 5652 §5.3).
        raise SignatureInvalid("timestamp signature has no signed attributes")
    found: dict[str, list[Any]] = {}
    for attribute in attributes:
        if len(attribute["values"]) != 1:
            raise SignatureInvalid(f"timestamp attribute {attribute['type'].native} must have one value")
        found.setdefault(attribute["type"].dotted, []).append(attribute["values"][0])
    if any(len(values) > 1 for values in found.values()):
        raise SignatureInvalid("timestamp signed attributes repeat an attribute")
    content_types, digests = found.get(_ID_CONTENT_TYPE), found.get(_ID_MESSAGE_DIGEST)
    if not content_types or not digests:
        raise SignatureInvalid("timestamp signed attributes lack contentType or messageDigest")
    if content_types[0].dotted != _ID_CT_TST_INFO:  # the eContentType, checked in step 3
        raise SignatureInvalid("timestamp contentType attribute does not match the signed content")
    digest: bytes = digests[0].native
    return digest, _certificate_id(found)


def _certificate_id(found: dict[str, list[Any]]) -> CertificateId:
    # 6. The first ESSCertID identifies the signer's certificate (RFC 2634 §5.4).
    if _ID_SIGNING_CERTIFICATE_V2 in found:  # hashAlgorithm DEFAULT sha256 when absent
        first = found[_ID_SIGNING_CERTIFICATE_V2][0]["certs"][0]
        return CertificateId(first["hash_algorithm"]["algorithm"].native, first["cert_hash"].native)
    if _ID_SIGNING_CERTIFICATE in found:
        return CertificateId("sha1", found[_ID_SIGNING_CERTIFICATE][0]["certs"][0]["cert_hash"].native)
    raise SignatureInvalid(
        "timestamp signed attributes do not name the TSA certificate (ESS signingCertificate)"
    )


def _sid(sid: Any) -> tuple[bytes | None, int | None, bytes | None]:
    if sid.name == "issuer_and_serial_number":
        return sid.chosen["issuer"].dump(), sid.chosen["serial_number"].native, None
    return None, None, sid.chosen.native


def _signature_algorithm(algorithm: Any) -> str:
    try:
        name: str = algorithm.signature_algo
    except ValueError:  # an OID asn1crypto does not know: not one we verify either
        name = algorithm["algorithm"].dotted
    return name


def _signature_hash(signature_algorithm: Any, digest_algorithm: Any) -> str:
    try:  # ecdsa-with-SHA384, sha256WithRSAEncryption, PSS parameters: the hash is named
        name: str = signature_algorithm.hash_algo
    except ValueError:  # rsaEncryption, Ed25519: the digest algorithm's, if any
        name = digest_algorithm["algorithm"].native
    return name


def _gen_time(info: Any) -> datetime:
    if info["version"].native != "v1":
        raise SignatureInvalid(f"TSTInfo version {info['version'].native} is not 1")
    gen_time = info["gen_time"].native
    if not isinstance(gen_time, datetime) or gen_time.utcoffset() is None:
        raise SignatureInvalid("TSTInfo genTime is not a time in UTC")
    return gen_time


def timestamp_accuracy(token: TimestampToken) -> tuple[str, timedelta | None]:
    """The TSTInfo's policy (dotted OID) and accuracy, None when it states none (RFC 3161 §2.4.2)."""
    try:
        info = tsp.TSTInfo.load(token.content, strict=True)
        return info["policy"].dotted, _accuracy(info["accuracy"])
    except _DECODE_ERRORS as exc:
        raise SignatureInvalid(f"TSTInfo accuracy cannot be read: {exc}") from None


def _accuracy(accuracy: Any) -> timedelta | None:
    if not accuracy:  # absent: what that means is the caller's rule (Notation: by policy)
        return None
    seconds, millis, micros = (accuracy[name].native for name in ("seconds", "millis", "micros"))
    if (seconds is not None and seconds < 0) or any(
        value is not None and value not in _SUBSECOND for value in (millis, micros)
    ):
        raise SignatureInvalid(f"TSTInfo accuracy is out of range: {seconds}s {millis}ms {micros}us")
    return timedelta(seconds=seconds or 0, milliseconds=millis or 0, microseconds=micros or 0)


def _certificates(choices: Any) -> tuple[x509.Certificate, ...]:
    if not choices:
        return ()
    if len(choices) > _MAX_CERTIFICATES:
        raise SignatureInvalid(f"timestamp token carries {len(choices)} certificates")
    return tuple(
        _certificate(choice.chosen.dump())
        for choice in choices
        if choice.name == "certificate"  # attribute and other certificate formats say nothing here
    )


def _certificate(der: bytes) -> x509.Certificate:
    # cryptography decodes names, extensions and keys lazily: read them now, while a failure
    # is still a malformed token, not an exception in the middle of verification.
    try:
        return load_certificate(der)
    except ValueError as exc:
        raise SignatureInvalid(f"timestamp token carries a certificate that cannot be read: {exc}") from None
