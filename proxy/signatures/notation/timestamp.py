"""Step 6 of trust-store-trust-policy.md "Signature Verification": Validate Trusted Timestamp.

The moment at which the signing certificate chain must be valid:
  - notary.x509.signingAuthority: the authentic signing time the signing authority vouches
    for (a countersignature is then not read, as in notation-go);
  - notary.x509 when a timestamp is required: the RFC 3161 countersignature's genTime, widened
    by its accuracy — what lets a signature outlive its certificate;
  - otherwise now: "in the absence of an Authentic Timestamp, each and every certificate ...
    must be valid ... at the time of signature verification" (signature-specification.md).

A timestamp is required when the policy names a ``tsa`` trust store, unless its
``verifyTimestamp`` is ``afterCertExpiry`` and no certificate has expired yet: the chain then
only has to be valid now (notation-go's ``verifyTimestamp``). A countersignature nobody asked
for is not read either, so a broken one cannot fail a policy without ``tsa`` stores.

The countersignature, the unprotected ``io.cncf.notary.timestampSignature`` header (JWS: base64
DER; COSE: a byte string), is a bare RFC 3161 TimeStampToken over the envelope's primitive
signature (signing-and-verification-workflow.md, "Generate signature"). Under notary.x509,
the spec's steps:
  6.1.1 the countersignature is present;
  6.1.2 its messageImprint is the hash of the signature (`rfc3161.verify_token`, with the
        messageDigest and CMS signature checks);
  6.1.3 the TSA certificate meets the certificate requirements (`check_timestamping_requirements`);
  6.1.4 its key is one the algorithm requirements allow (RSA 2048/3072/4096, EC P-256/384/521,
        checked with 6.1.3); the CMS signature scheme is the TSA's own (RSA PKCS #1 v1.5 or
        ECDSA with SHA-2), as notation-go's tspclient-go accepts;
  6.1.5 the ESS signing-certificate(-v2) attribute names the TSA certificate (`rfc3161`);
  6.1.6 the TSA certificate chains to a certificate of the policy's ``tsa`` stores, every
        certificate valid at genTime, with id-kp-timeStamping; the token's own certificates
        serve as intermediates only;
  6.1.7 the TSA chain's revocation status: unknowable offline, so `verify_notation` reports it
        with the signing chain's, under the policy's revocation setting (notation-go counts an
        unknown status against this step; pullgate could then never accept a real TSA offline);
  6.1.8 genTime, and 6.1.9 its accuracy: TSTInfo.accuracy, else 1 s under the baseline
        time-stamp policy (RFC 3628, ETSI 0.4.0.2023.1.1), else 0;
  6.1.10 the range genTime ± accuracy (RFC 3161 §2.4.2),
  6.2 which must lie entirely within every certificate's validity period.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from proxy.signatures.errors import SignatureInvalid
from proxy.signatures.notation.certs import check_timestamping_requirements, check_valid_at
from proxy.signatures.notation.envelope import Envelope
from proxy.signatures.notation.stores import Stores, policy_certificates
from proxy.signatures.notation.trust_policy import TrustPolicy
from proxy.signatures.rfc3161 import verify_token
from proxy.signatures.rfc3161_token import parse_timestamp, timestamp_accuracy
from proxy.signatures.x509chain import describe

__all__ = ["ProvenTime", "authentic_timestamp"]

AFTER_CERT_EXPIRY = "afterCertExpiry"
BASELINE_POLICY = "0.4.0.2023.1.1"  # ETSI TS 102 023 baseline time-stamp policy (RFC 3628 §5.2)
_NO_TIME = timedelta(0)


@dataclass(frozen=True, slots=True)
class ProvenTime:
    """When the signature was made, as vouched for by someone other than its signer."""

    at: datetime  # genTime, or the authentic signing time
    accuracy: timedelta = _NO_TIME
    tsa_chain: tuple[x509.Certificate, ...] = ()  # the TSA's path, signer first

    def describe(self) -> str:
        if not self.accuracy:
            return self.at.isoformat()
        return f"{self.at.isoformat()} ± {self.accuracy.total_seconds():g}s"


def authentic_timestamp(
    content: Envelope,
    policy: TrustPolicy,
    certificates: Sequence[x509.Certificate],
    stores: Stores,
    now: datetime,
) -> ProvenTime | None:
    """The proven signing time, None when the chain was checked at `now`; `SignatureInvalid` if not valid."""
    if content.authentic_signing_time is not None:  # notary.x509.signingAuthority, 6.1-6.3
        check_valid_at(certificates, content.authentic_signing_time, "when it was signed")
        return ProvenTime(content.authentic_signing_time)
    tsa = [f"tsa:{name}" for kind, name in policy.trust_stores if kind == "tsa"]
    expired = any(now > cert.not_valid_after_utc for cert in certificates)
    if not tsa or (policy.verify_timestamp == AFTER_CERT_EXPIRY and not expired):
        check_valid_at(certificates, now, "now")
        return None
    if content.timestamp_signature is None:  # 6.1.1
        raise SignatureInvalid(
            f"the signature has no timestamp countersignature, which trust policy {policy.name!r} requires ({', '.join(tsa)})"
        )
    proven = _countersignature(content.timestamp_signature, content.signature, policy, stores)
    _check_within(certificates, proven)  # 6.2
    return proven


def _countersignature(token: bytes, signature: bytes, policy: TrustPolicy, stores: Stores) -> ProvenTime:
    anchors = policy_certificates(stores, policy, "tsa")
    try:
        parsed = parse_timestamp(token, token_only=True)
        path = verify_token(parsed, signature, anchors)  # 6.1.2, 6.1.5, 6.1.6
        check_timestamping_requirements(path)  # 6.1.3, 6.1.4
        timestamp_policy, accuracy = timestamp_accuracy(parsed)  # 6.1.9
    except SignatureInvalid as exc:
        raise SignatureInvalid(f"the timestamp countersignature is not valid: {exc}") from None
    except (ValueError, TypeError, UnsupportedAlgorithm, x509.DuplicateExtension) as exc:
        # A store certificate cryptography cannot use: the path cannot be validated.
        raise SignatureInvalid(f"the timestamp countersignature cannot be validated: {exc}") from None
    if accuracy is None:
        accuracy = timedelta(seconds=1) if timestamp_policy == BASELINE_POLICY else _NO_TIME
    return ProvenTime(parsed.gen_time, accuracy, path)


def _check_within(certificates: Sequence[x509.Certificate], proven: ProvenTime) -> None:
    earliest, latest = proven.at - proven.accuracy, proven.at + proven.accuracy  # 6.1.10
    for cert in certificates:
        if earliest < cert.not_valid_before_utc:
            raise SignatureInvalid(
                f"the timestamp ({proven.describe()}) may be before certificate {describe(cert)!r} was valid (from {cert.not_valid_before_utc.isoformat()})"
            )
        if latest > cert.not_valid_after_utc:
            raise SignatureInvalid(
                f"the timestamp ({proven.describe()}) may be after certificate {describe(cert)!r} expired ({cert.not_valid_after_utc.isoformat()})"
            )
