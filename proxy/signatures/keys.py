"""Public keys of key-based cosign authorities: loading them, naming them, checking raw signatures.

Accepted material is what ``cosign public-key`` and sigstore's ``UnmarshalPEMToPublicKey`` accept
(https://github.com/sigstore/sigstore/blob/main/pkg/cryptoutils/publickey.go): PEM blocks of PKIX
``PUBLIC KEY`` (cosign's own ``cosign.pub`` is one) and PKCS#1 ``RSA PUBLIC KEY``, several per file.
Key types are those of sigstore's algorithm registry: ECDSA P-256/P-384/P-521, RSA of at least
2048 bits, Ed25519.

Signatures follow the registry's defaults for each key (sigstore ``GetDefaultPublicKeyDetails``):

  ECDSA P-256   ASN.1 DER signature over SHA-256
  ECDSA P-384   SHA-384, else SHA-256
  ECDSA P-521   SHA-512, else SHA-256
  RSA           PKCS#1 v1.5 with SHA-256, else PSS (MGF1-SHA-256, any salt length)
  Ed25519       pure Ed25519 over the message

The SHA-256 fallback for P-384/P-521 is the one sigstore-go keeps as its "compatibility
verifier": cosign loaded every key with SHA-256 until its signers moved to the registry
defaults, so real P-384 signatures exist in both forms. Ed25519ph (pre-hashed) signatures are
not supported: `cryptography` does not implement them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from types import MappingProxyType

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

from proxy.signatures.errors import SignatureInvalid, TrustMaterialError

__all__ = [
    "MAX_KEYS",
    "MIN_RSA_BITS",
    "PublicKey",
    "describe_key",
    "key_id",
    "load_public_keys",
    "verify_signature",
]

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey
# One way a signature may have been made: raises InvalidSignature (or ValueError) when it was not.
_Check = Callable[[bytes, bytes], None]

MIN_RSA_BITS = 2048
# Every signature is tried against every key of an authority: bound the work one artifact costs.
MAX_KEYS = 64

# Curve name -> (display name, digests to try in order); see the module docstring.
_CURVES = MappingProxyType(
    {
        "secp256r1": ("P-256", (hashes.SHA256,)),
        "secp384r1": ("P-384", (hashes.SHA384, hashes.SHA256)),
        "secp521r1": ("P-521", (hashes.SHA512, hashes.SHA256)),
    }
)
_KEY_LABELS = frozenset({"PUBLIC KEY", "RSA PUBLIC KEY"})
# RFC 7468 encapsulation boundaries; the body is matched lazily so consecutive blocks stay apart.
_PEM_BLOCK = re.compile(r"-----BEGIN ([^-\r\n]{1,64})-----(.*?)-----END ([^-\r\n]{1,64})-----", re.DOTALL)
_PEM_BEGIN = re.compile(r"-----BEGIN ([^-\r\n]{1,64})-----")


def load_public_keys(text: str) -> tuple[PublicKey, ...]:
    """Every public key of a PEM text, in order, each once; anything else is refused.

    Text outside the blocks (comments, blank lines) is ignored, as ``pem.Decode`` does.
    Raises `TrustMaterialError` naming the block (counted from 1) that cannot be used.
    """
    labels = _PEM_BEGIN.findall(text)
    # Before anything else, so that the warning is given even when other blocks are broken.
    for number, label in enumerate(labels, start=1):
        if "PRIVATE KEY" in label:
            raise TrustMaterialError(
                f"PEM block {number} ({label}) is a private key: give the public key instead (cosign "
                "public-key --key <key> prints it); a private key must never leave its owner, consider "
                "this one exposed"
            )
    blocks = list(_PEM_BLOCK.finditer(text))
    if not blocks:
        raise TrustMaterialError(
            "no PEM block found: expected -----BEGIN PUBLIC KEY----- ... -----END PUBLIC KEY-----"
        )
    if len(labels) != len(blocks):
        raise TrustMaterialError("a PEM block is not terminated by its -----END ...----- line")
    if len(blocks) > MAX_KEYS:
        raise TrustMaterialError(f"{len(blocks)} PEM blocks: at most {MAX_KEYS} keys may be given at once")
    keys: dict[str, PublicKey] = {}  # by key id: the same key given twice counts once
    for number, block in enumerate(blocks, start=1):
        key = _load_block(number, block)
        keys.setdefault(key_id(key), key)
    return tuple(keys.values())


def _load_block(number: int, block: re.Match[str]) -> PublicKey:
    label, end_label = block.group(1), block.group(3)
    where = f"PEM block {number} ({label})"
    if label != end_label:
        raise TrustMaterialError(f"PEM block {number} begins as {label!r} but ends as {end_label!r}")
    if label == "CERTIFICATE":
        raise TrustMaterialError(
            f"{where} is a certificate, not a public key: a key authority needs the signer's public "
            "key (openssl x509 -pubkey -noout prints it); certificates belong to keyless authorities"
        )
    if label not in _KEY_LABELS:
        raise TrustMaterialError(f"{where} is not supported: expected PUBLIC KEY or RSA PUBLIC KEY")
    try:
        key = load_pem_public_key(block.group(0).encode("ascii"))
    except (ValueError, UnsupportedAlgorithm, UnicodeEncodeError) as exc:
        raise TrustMaterialError(f"{where} could not be read: {exc}") from exc
    return _check_key(where, key)


def _check_key(where: str, key: object) -> PublicKey:
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _CURVES:
            raise TrustMaterialError(
                f"{where}: ECDSA curve {key.curve.name} is not supported (use P-256, P-384 or P-521)"
            )
        return key
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise TrustMaterialError(
                f"{where}: RSA key of {key.key_size} bits is too short (at least {MIN_RSA_BITS})"
            )
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    raise TrustMaterialError(
        f"{where}: {type(key).__name__} keys are not supported (use ECDSA P-256/P-384/P-521, RSA or Ed25519)"
    )


def key_id(key: PublicKey) -> str:
    """``sha256:<hex>`` of the key's DER SubjectPublicKeyInfo.

    The SPKI is re-encoded from the key, so a key reads the same whether it was given as PKIX
    or PKCS#1 PEM; ``openssl pkey -pubin -outform DER | sha256sum`` computes the same value.
    """
    der = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def describe_key(key: PublicKey) -> str:
    """The key's algorithm for messages: ``ECDSA P-256``, ``RSA-3072``, ``Ed25519``."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        known = _CURVES.get(key.curve.name)
        return f"ECDSA {known[0] if known else key.curve.name}"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    return "Ed25519"


def verify_signature(key: PublicKey, signature: bytes, data: bytes) -> None:
    """Check ``signature`` over exactly ``data``; raise `SignatureInvalid` naming key and algorithm.

    A signature of another algorithm, of another length or not DER at all is simply a signature
    that does not verify.
    """
    algorithms, checks = _scheme(key)
    for check in checks:
        try:
            check(signature, data)
        except (InvalidSignature, ValueError):
            continue
        return
    raise SignatureInvalid(f"signature does not verify with key {key_id(key)} ({algorithms})")


def _scheme(key: PublicKey) -> tuple[str, tuple[_Check, ...]]:
    """What may have made a signature with ``key`` (for messages), and how to check each."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _CURVES:
            return f"ECDSA on unsupported curve {key.curve.name}", ()
        name, digests = _CURVES[key.curve.name]
        with_digests = " or ".join(digest.name.upper() for digest in digests)
        return f"ECDSA {name} with {with_digests}", tuple(_ecdsa(key, d) for d in digests)
    if isinstance(key, rsa.RSAPublicKey):
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
        return (
            f"RSA-{key.key_size} PKCS#1 v1.5 or PSS with SHA-256",
            (_rsa(key, padding.PKCS1v15()), _rsa(key, pss)),
        )
    return "pure Ed25519; Ed25519ph signatures are not supported", (key.verify,)


def _ecdsa(key: ec.EllipticCurvePublicKey, digest: type[hashes.HashAlgorithm]) -> _Check:
    def check(signature: bytes, data: bytes) -> None:
        key.verify(signature, data, ec.ECDSA(digest()))

    return check


def _rsa(key: rsa.RSAPublicKey, pad: padding.AsymmetricPadding) -> _Check:
    def check(signature: bytes, data: bytes) -> None:
        key.verify(signature, data, pad, hashes.SHA256())

    return check
